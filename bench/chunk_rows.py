#!/usr/bin/env python3
"""How well does each row of a chunk predict the demonstration? (issue 21: why plans that
arrive late fail).

    source env.sh
    python bench/chunk_rows.py --episodes 8                     # checkpoints/nano, G1
    python bench/chunk_rows.py --checkpoint CKPT --every 5 --threads 2
    python bench/chunk_rows.py --checkpoint PREFIX_CKPT --given 4 --offset 0.05

A chunk's row k is the target for k * action_dt after the state it was planned from. With no
inference delay System 1 replans ~130 times a second and only the first row or two of each
chunk ever execute; a plan that arrives D seconds late executes rows D / action_dt onwards.
This records fresh scripted-expert demonstrations exactly as gr00t-collect does (its DART
perturbation on, the same DemoRecorder) on held-out seeds (>= 100000 by default), plans from
frames along each one with the deployed code path (System 2's encoder, then System 1's
Planner; bench/common.py InProcessPolicy), and compares row k with the demonstration's action
k frames later: the mean absolute error over the arm joints per row, beside "hold" (the
action at the plan's frame repeated: what a chunk that predicts no motion would score). The
scripted expert plans its path at the start, so its actions do not depend on the
perturbation, only the states do. Prints one Markdown row per chunk row; no ROS, no timing.

--given D (a checkpoint trained with gr00t-train --prefix-prob): each plan is also made with
its first D rows given, as System 1's rtc_method prefix gives the rows that execute during
a delay: the demonstration's next D actions, shifted by --offset radians on the arm joints
(as when the previous chunk disagrees with this state). The "given" column compares rows
>= D with the demonstration shifted alike: a head that plans on from the given rows
continues the shift and scores as without one; a head that ignores them returns to the
demonstration and scores about the offset. "jump" is the mean |row D - row D-1| over the
arm joints: the step where the given rows end.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from common import add_policy_args


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_policy_args(ap)
    ap.add_argument("--every", type=int, default=4, help="plan from every Nth frame")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the VLM)")
    ap.add_argument("--backend", default="onnxruntime", help="System 1's action head backend")
    ap.add_argument("--given", type=int, default=0, help="rows given to the head (0: none)")
    ap.add_argument("--offset", type=float, default=0.0,
                    help="radians added to the given rows' arm joints")
    args = ap.parse_args()
    if args.episodes < 1 or args.every < 1 or args.given < 0:
        ap.error("--episodes and --every must be >= 1, --given >= 0")

    import torch

    from common import InProcessPolicy
    from gr00t_sim.collect import CollectConfig, DemoRecorder, task_for_seed

    torch.set_num_threads(args.threads)
    policy = InProcessPolicy(Path(args.checkpoint), Path(args.embodiment), backend=args.backend,
                             seed=args.seed, prefix=args.given > 0)
    emb, horizon = policy.emb, policy.horizon
    state_index = {n: i for i, n in enumerate(emb.state_joints)}
    missing = [n for n in emb.action_joints if n not in state_index]
    if missing:
        print(f"action joints {missing} are not state joints; this diagnostic needs them",
              file=sys.stderr)
        return 2
    to_action = np.array([state_index[n] for n in emb.action_joints])
    arms = np.array([i for i, n in enumerate(emb.action_joints)
                     if any(g in n for g in ("shoulder", "elbow", "wrist"))])
    # Long enough that every plan's chunk lies inside the recording.
    cfg = CollectConfig(hold_s=3.0, max_s=6.0)
    rec = DemoRecorder(emb, cfg)
    if args.given >= horizon:
        ap.error(f"--given must be below the horizon ({horizon} rows)")
    errors = {k: [[] for _ in range(horizon)] for k in ("policy", "hold", "given")}
    jumps: dict[str, list[float]] = {"policy": [], "given": []}
    shift = np.zeros(len(emb.action_joints))
    shift[arms] = args.offset
    start = time.perf_counter()
    for seed in range(args.seed, args.seed + args.episodes):
        task = task_for_seed(seed)
        demo = rec.record(seed, task)
        steps = len(demo.actions)
        for t in range(0, steps - horizon, args.every):
            policy.observe(demo.frames[t], task, float(t))
            state = demo.states[t]
            rows = policy.plan(state, state[to_action], float(t))  # (H, A)
            for k in range(horizon):
                truth = demo.actions[t + k][arms]
                errors["policy"][k].append(np.abs(rows[k][arms] - truth).mean())
                errors["hold"][k].append(np.abs(demo.actions[t][arms] - truth).mean())
            if args.given:
                d = args.given
                given = np.array(demo.actions[t:t + d]) + shift  # (D, A)
                with_given = policy.plan_given(state, state[to_action], float(t), given)
                for k in range(horizon):
                    truth = demo.actions[t + k][arms] + args.offset
                    errors["given"][k].append(np.abs(with_given[k][arms] - truth).mean())
                jumps["given"].append(np.abs(with_given[d][arms] - given[d - 1][arms]).mean())
                jumps["policy"].append(np.abs(rows[d][arms] - rows[d - 1][arms]).mean())
        print(f"# seed {seed} {task!r}: {steps} frames, success {demo.success}",
              file=sys.stderr, flush=True)
    n = len(errors["policy"][0])
    print(f"{args.checkpoint}: {args.episodes} demonstrations from seed {args.seed}, {n} plans "
          f"(every {args.every} frames), arm joints {len(arms)}, "
          f"{time.perf_counter() - start:.0f} s\n")
    given_head = (f" | given rows 0-{args.given - 1} (+{args.offset:g} rad) vs demo "
                  f"+{args.offset:g}" if args.given else "")
    print(f"| row k (s after the state) | policy row k vs demo, rad | hold (row 0 repeated)"
          f"{given_head} |\n|---|---|---|" + ("---|" if args.given else ""))
    for k in range(horizon):
        given_col = (f" | {np.mean(errors['given'][k]):.4f}" if args.given else "")
        print(f"| {k} ({k * emb.action_dt:.2f}) | {np.mean(errors['policy'][k]):.4f} | "
              f"{np.mean(errors['hold'][k]):.4f}{given_col} |")
    if args.given:
        print(f"\njump at row {args.given}, mean |row {args.given} - row {args.given - 1}| "
              f"(arm joints): plain plan {np.mean(jumps['policy']):.4f} rad, with the rows "
              f"given {np.mean(jumps['given']):.4f} rad")
    return 0


if __name__ == "__main__":
    sys.exit(main())
