#!/usr/bin/env python3
"""What each arm did in a recorded episode: a time line from a `gr00t-eval --record` bag.

    source env.sh
    gr00t-eval --episodes 6 --tasks either --inference-delay-ms 200 --record bags/
    python bench/episode_arms.py bags/episode_000000 [--step-s 0.1] [--joint left_wrist_yaw_joint]

One row per --step-s of the episode (from its first joint state): System 1's safety state;
each palm's distance to the named cube (the simulator's judged state, /gr00t_sim/state); per
arm (the embodiment's arm controllers) how far its command and its measured joints are from
where they started (the largest joint, rad); the joint furthest from its command, and by
how much (the tracking error System 1 faults on); --joint's command, measurement and
velocity; and the newest plan (/gr00t/action_chunk): the arm it moves further over its rows
(its largest joint change, as bench/plan_modes.py labels plans) and how old its state was
when it arrived. Then the plans per arm, how much plans --apart-s apart disagree
(`agreement`), and System 1's faults (/diagnostics). Needs a bag with the recorder's topics
and gr00t-eval's RECORD_TOPICS; exits 1 if one is missing.
"""

from __future__ import annotations

import argparse
import sys
from bisect import bisect_right
from pathlib import Path

import numpy as np

from common import DEFAULT_EMBODIMENT
from gr00t_common.stamps import stamp_to_nanoseconds, stamp_to_seconds

SIM_STATE = "/gr00t_sim/state"
CHUNKS = "/gr00t/action_chunk"
SAFETY = "/gr00t/safety_state"
JOINT_STATES = "/joint_states"


def latest(times: list[int], t: int) -> int | None:
    """Index of the newest of `times` (sorted) at or before t; None before the first."""
    i = bisect_right(times, t) - 1
    return i if i >= 0 else None


def rows_of(msg) -> np.ndarray:
    """(H, A) an ActionChunk's positions, a row per action_dt, a column per joint_names."""
    return np.asarray(msg.positions).reshape(int(msg.horizon), len(msg.joint_names))


def chunk_arm(msg, arms: dict[str, list[str]]) -> tuple[str, float]:
    """(arm, rad): the arm whose joints change most over the chunk's rows, and by how much."""
    rows = rows_of(msg)
    moved = np.abs(rows - rows[0]).max(axis=0)  # (A,)
    index = {n: i for i, n in enumerate(msg.joint_names)}
    per_arm = {arm: max(moved[index[j]] for j in joints if j in index)
               for arm, joints in arms.items()}
    arm = max(per_arm, key=per_arm.get)
    return arm, float(per_arm[arm])


def agreement(chunks: list, arm_joints: list[str], apart_s: float) -> dict[str, float] | None:
    """How much two plans about `apart_s` apart disagree where they overlap: each plan against
    the newest one planned at least `apart_s` before it (by their state stamps), the older
    interpolated to the newer's row instants; the arm joints' largest |difference| over the
    shared rows, and at the first shared row. Medians and 90th percentiles over the pairs
    (rad); None without a pair."""
    stamps = [stamp_to_seconds(m.header.stamp) for _, m in chunks]  # in planning order
    largest, first = [], []
    for k, (_, new) in enumerate(chunks):
        i = latest(stamps, stamps[k] - apart_s)  # the newest plan >= apart_s before it
        if i is None:
            continue
        old = chunks[i][1]
        names = list(new.joint_names)
        cols = [names.index(j) for j in arm_joints if j in names]
        a = rows_of(old)[:, cols]
        b = rows_of(new)[:, cols]
        at = (stamps[k] - stamps[i] + np.arange(len(b)) * new.action_dt) / old.action_dt
        shared = at <= len(a) - 1  # (H,) rows of the new plan the old one still covers
        if not shared.any():
            continue
        lo = np.floor(at[shared]).astype(int)
        hi = np.minimum(lo + 1, len(a) - 1)
        f = (at[shared] - lo)[:, None]
        diff = np.abs(b[shared] - (a[lo] * (1 - f) + a[hi] * f)).max(axis=1)  # (S,)
        largest.append(diff.max())
        first.append(diff[0])
    if not largest:
        return None
    return {"pairs": len(largest), "largest_p50": float(np.median(largest)),
            "largest_p90": float(np.percentile(largest, 90)),
            "first_p50": float(np.median(first)), "first_p90": float(np.percentile(first, 90))}


def timeline(path: Path, emb, step_s: float, joint: str | None, apart_s: float) -> int:
    from gr00t_policy.dataset.bag import read_bag
    from gr00t_sim.tasks import Task

    # The camera frames are not needed: left in the file.
    bag = read_bag(path, topics=None, data_later=[c.topic for c in emb.cameras])
    arm_ctrls = [c for c in emb.controllers if c.type == "forward_command" and "arm" in c.name]
    needed = [JOINT_STATES, SIM_STATE, CHUNKS, SAFETY, *(c.topic for c in arm_ctrls)]
    missing = [t for t in needed if not bag.messages.get(t)]
    if missing:
        print(f"{path}: no messages on {missing}; record with gr00t-eval --record",
              file=sys.stderr)
        return 1
    arms = {c.name.replace("_controller", ""): list(c.joints) for c in arm_ctrls}
    js = bag.messages[JOINT_STATES]
    names = list(js[0][1].name)
    col = {n: i for i, n in enumerate(names)}
    if joint and joint not in col:
        print(f"{path}: --joint {joint} is not on {JOINT_STATES}; its joints: {names}",
              file=sys.stderr)
        return 1
    t0 = js[0][0]
    js_t = [t for t, _ in js]
    cmd = {c.topic: ([t for t, _ in bag.messages[c.topic]], bag.messages[c.topic], list(c.joints))
           for c in arm_ctrls}
    sim = bag.messages[SIM_STATE]
    sim_t = [t for t, _ in sim]
    chunks = bag.messages[CHUNKS]
    chunk_t = [t for t, _ in chunks]
    safety = bag.messages[SAFETY]
    safety_t = [t for t, _ in safety]
    instruction = sim[0][1].instruction
    task = Task.parse(instruction)
    start = js[0][1].position

    def command_at(t: int) -> dict[str, float]:
        out = {}
        for times, msgs, joints in cmd.values():
            i = latest(times, t)
            if i is not None:
                out.update(zip(joints, msgs[i][1].data))
        return out

    print(f"{path}: {instruction!r} ({bag.custom_data.get('instruction', '?')!r} read), "
          f"{(js[-1][0] - t0) / 1e9:.2f} s, {len(chunks)} plans")
    head = (f"{'t s':>5} {'state':<8} {'L palm':>7} {'R palm':>7}  "
            + "  ".join(f"{a[:1].upper()} cmd/meas" for a in arms)
            + f"  {'worst |cmd-meas| (joint)':<34} {'plan':<11} {'age ms':>6}")
    if joint:
        head += f"  {joint}: cmd meas vel"
    print(head + "\n(palm: cm to the named cube; cmd/meas: largest joint change from the "
          "start, rad)")
    for t in range(t0, js[-1][0] + 1, int(step_s * 1e9)):
        i = latest(js_t, t)
        m = js[i][1]
        pos = np.asarray(m.position)
        c = command_at(t)
        s = latest(safety_t, t)
        state = safety[s][1].state if s is not None else "?"
        k = latest(sim_t, t)
        palms = "      ?       ?"
        if k is not None and task.kind == "touch":
            snap = sim[k][1]
            cube = snap.object_positions[list(snap.object_names).index(f"{task.color}_cube")]
            d = [np.linalg.norm([p.x - cube.x, p.y - cube.y, p.z - cube.z]) * 100
                 for p in snap.palm_positions]
            palms = f"{d[0]:7.1f} {d[1]:7.1f}"
        per_arm = []
        for joints in arms.values():
            idx = [col[j] for j in joints]
            moved_m = np.abs(pos[idx] - np.asarray(start)[idx]).max()
            moved_c = (max(abs(c[j] - start[col[j]]) for j in joints)
                       if all(j in c for j in joints) else float("nan"))
            per_arm.append(f"{moved_c:4.2f}/{moved_m:4.2f}")
        errs = {j: abs(v - pos[col[j]]) for j, v in c.items() if j in col}
        worst = max(errs, key=errs.get) if errs else None
        worst_s = f"{errs[worst]:.2f} ({worst})" if worst else "-"
        q = latest(chunk_t, t)
        plan, age = "-", ""
        if q is not None:
            arm, rad = chunk_arm(chunks[q][1], arms)
            plan = f"{arm[:1].upper()} {rad:.2f}"
            age = f"{(chunk_t[q] - stamp_to_nanoseconds(chunks[q][1].header.stamp)) / 1e6:6.0f}"
        row = (f"{(t - t0) / 1e9:5.2f} {state:<8} {palms}  {'  '.join(per_arm)}  "
               f"{worst_s:<34} {plan:<11} {age:>6}")
        if joint:
            v = m.velocity[col[joint]] if len(m.velocity) else float("nan")
            row += f"  {c.get(joint, float('nan')):+.3f} {pos[col[joint]]:+.3f} {v:+.2f}"
        print(row)
    counts: dict[str, int] = {}
    for _, msg in chunks:
        arm = chunk_arm(msg, arms)[0]
        counts[arm] = counts.get(arm, 0) + 1
    print("plans moving each arm most: " + ", ".join(f"{a} {n}" for a, n in counts.items()))
    agree = agreement(chunks, [j for joints in arms.values() for j in joints], apart_s)
    if agree is not None:
        print(f"plans {apart_s:g} s apart ({agree['pairs']} pairs), arm joints' largest "
              f"difference where they overlap: median {agree['largest_p50']:.3f} rad, p90 "
              f"{agree['largest_p90']:.3f}; at the first shared row: median "
              f"{agree['first_p50']:.3f}, p90 {agree['first_p90']:.3f}")
    faults = []
    for _, msg in bag.messages.get("/diagnostics", []):
        for status in msg.status:
            for kv in status.values:
                if kv.key == "fault" and kv.value and kv.value not in faults:
                    faults.append(kv.value)
    for f in faults:
        print(f"System 1 fault: {f[:200]}")
    return 0


def main() -> int:
    from gr00t_policy.embodiment import load_embodiment

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("bags", nargs="+", type=Path, help="episode bag directories")
    ap.add_argument("--embodiment", type=Path, default=DEFAULT_EMBODIMENT)
    ap.add_argument("--step-s", type=float, default=0.1, help="seconds between rows")
    ap.add_argument("--joint", default=None, help="also show this joint's command, "
                    "measurement and velocity")
    ap.add_argument("--apart-s", type=float, default=0.2,
                    help="compare plans made this far apart (s; default 0.2)")
    args = ap.parse_args()
    emb = load_embodiment(args.embodiment)
    status = 0
    for path in args.bags:
        status |= timeline(path, emb, args.step_s, args.joint, args.apart_s)
        print()
    return status


if __name__ == "__main__":
    sys.exit(main())
