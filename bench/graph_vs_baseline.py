#!/usr/bin/env python3
"""The dual-rate graph against the way GR00T is usually deployed, in one run, same models.

    source env.sh
    python bench/graph_vs_baseline.py                      # 60 s per closed-loop phase
    python bench/graph_vs_baseline.py --seconds 120 --steps 50 --checkpoint CKPT --out DIR

Four phases, each its own graph of OS processes (gr00t_bringup's GraphRunner), its own
ROS_DOMAIN_ID, one after the other on this machine:

1. dual, closed loop: simulator + System 2 + System 1 (`build_graph(sim=True)`), --seconds;
2. baseline, closed loop: simulator + bench/baseline_node.py (one synchronous loop: newest
   frame + state -> VLM -> DiT -> the whole chunk open-loop, row k at t0 + k * action_dt);
3. dual, reactions: System 2 + System 1 fed by a test-side JointState + camera source here;
   --steps steps of one joint's measured position, then --instruction-changes
   SetInstruction calls;
4. baseline, reactions: the same against the baseline node.

The DiT runs on the same --backend with the same thread count in both (System 1's
ort_threads default 1; the VLM on the backbone's `auto` backend in both, onnxruntime on 1
thread where it is installed). Definitions of
every figure: docs/BENCHMARKS.md. Prints the machine and a side-by-side table with the
ratio dual / baseline; writes graph_vs_baseline.json, graph_vs_baseline_series.json and PNGs
(command_period.png, state_to_command.png, reaction.png) into --out. Exits 1 if any figure
could not be measured, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from common import (BENCH_INSTRUCTION, DEFAULT_EMBODIMENT, REPO, MeasurementError,
                    Recorder, diag_float, ensure_checkpoint, first_after, fresh_domain_id,
                    machine_info, machine_line, period_stats, ratio, sleep_watching, start_graph,
                    summary_ms, use_domain, wait_for, write_json)

BASELINE_EXE = REPO / "bench" / "baseline_node.py"
BASELINE_CHUNKS = "/bench/baseline/action_chunk"
DUAL_CHUNKS = "/gr00t/action_chunk"
INSTRUCTIONS = ("touch the red cube with your right hand", "raise your left hand")
CAMERA_HZ = 30.0
JOINT_STATE_HZ = 125.0  # the simulator's rate


# -- graphs ------------------------------------------------------------------------------------

def baseline_spec(args: argparse.Namespace, ckpt: Path, emb_path: Path) -> Any:
    from gr00t_bringup.graph import NodeSpec

    return NodeSpec(package="bench", executable=BASELINE_EXE.name, name="gr00t_baseline",
                    parameters={"checkpoint": str(ckpt), "embodiment": str(emb_path),
                                "backend": args.backend, "ort_threads": 1, "torch_threads": 0,
                                "execute_steps": args.execute_steps})


def make_graph(kind: str, with_sim: bool, args: argparse.Namespace, ckpt: Path,
               emb_path: Path) -> Any:
    """dual: [sim] + System 2 + System 1; baseline: [sim] + the baseline node."""
    from gr00t_bringup.graph import Graph, build_graph

    full = build_graph(embodiment=str(emb_path), checkpoint=ckpt, backend=args.backend,
                       sim=with_sim, use_sim_time=with_sim and args.sim_time,
                       system2_parameters={"default_instruction": BENCH_INSTRUCTION})
    if kind == "dual":
        return full
    nodes = ([full.node("gr00t_sim")] if with_sim else []) + [baseline_spec(args, ckpt, emb_path)]
    return Graph(nodes=nodes, embodiment=full.embodiment, embodiment_path=full.embodiment_path,
                 checkpoint=full.checkpoint)


def wait_started(s: "Session", kind: str, timeout: float) -> None:
    """Wait for the first chunks and commands; on failure say what the probe did see."""
    try:
        wait_for(lambda: len(s.rec.chunks) >= 3 and len(s.rec.commands) >= 10, timeout,
                 f"{kind}'s first chunks and commands", s.runner)
    except MeasurementError as exc:
        with s.rec.lock:
            seen = (f"the probe saw {len(s.rec.tokens)} token messages, {len(s.rec.chunks)} "
                    f"chunks, {len(s.rec.commands)} commands")
            last = {name: v.get("safety_state", v.get("achieved_rate_hz", ""))
                    for _, name, v in s.rec.diagnostics[-6:]}
        raise MeasurementError(f"{exc}; {seen}; newest diagnostics: {last}; node logs: "
                               f"{s.runner.work_dir / 'nodes.log'}") from exc


class Session:
    """One phase: a graph started in a fresh ROS domain, a probe and a Recorder on it."""

    def __init__(self, name: str, graph: Any, args: argparse.Namespace, chunk_topic: str,
                 command_topic: str, joint_states: bool) -> None:
        from gr00t_testing import RosProbe

        self.domain = fresh_domain_id()
        use_domain(self.domain)
        self.runner = start_graph(graph, args.out / name, extra_resolve={"bench": BASELINE_EXE})
        try:
            self.probe = RosProbe(name=f"bench_{name}", domain_id=self.domain)
            self.rec = Recorder(self.probe, command_topic, chunk_topic=chunk_topic,
                                joint_states=joint_states)
        except BaseException:
            self.runner.stop_all()
            raise

    def close(self) -> None:
        try:
            self.probe.close()
        finally:
            self.runner.stop_all()


# -- phase 1 / 2: closed loop with the simulator --------------------------------------------------

def closed_loop(kind: str, args: argparse.Namespace, ckpt: Path, emb_path: Path, emb: Any
                ) -> dict[str, Any]:
    """Run `kind` against the simulator for --seconds and measure it."""
    chunk_topic = DUAL_CHUNKS if kind == "dual" else BASELINE_CHUNKS
    command_topic = emb.controllers[0].topic
    s = Session(f"{kind}_closed_loop", make_graph(kind, True, args, ckpt, emb_path), args,
                chunk_topic, command_topic, joint_states=True)
    try:
        print(f"[{kind}] closed loop: starting (ROS_DOMAIN_ID {s.domain})...", flush=True)
        wait_started(s, kind, args.startup_timeout)
        sleep_watching(args.warmup, s.runner)
        load_before = [round(x, 2) for x in os.getloadavg()]
        t0 = time.time()
        sleep_watching(args.seconds, s.runner)
        t1 = time.time()
        w = s.rec.window(t0, t1)
        with s.rec.lock:
            diags, joint_states = s.rec.diagnostics[:], s.rec.joint_states[:]
    finally:
        s.close()
    period = 1.0 / emb.rates.system1_hz if kind == "dual" else emb.action_dt
    result = analyze_closed_loop(kind, w, diags, t0, t1, period, joint_states)
    result["load_avg_before"] = load_before
    return result


def _state_age_at_commands(cmd_t: np.ndarray, chunk_t: np.ndarray, chunk_wall: np.ndarray
                           ) -> list[float]:
    """For each command: its receive time minus the (wall) time of the state behind the newest
    chunk received before it."""
    idx = np.searchsorted(chunk_t, cmd_t, side="right") - 1
    ok = idx >= 0
    return list(cmd_t[ok] - chunk_wall[idx[ok]])


class SimClock:
    """Maps simulator stamps to wall-clock receive times.

    The simulator stamps with start + simulated time; on a loaded machine it runs slower than
    real time and its stamps fall behind the wall clock (see "JointState receive - stamp" in
    the results). `wall` moves a stamp within `tol` of the stamp of a JointState the probe
    received (no later than `recv` + `margin`, when given) by that message's receive time -
    stamp; other stamps are kept as they are (System 1 stamps a chunk with the state's
    arrival time, already wall clock, when the state's stamp is more than 1 s off its clock).
    """

    def __init__(self, joint_states: list[tuple[float, float]]) -> None:
        js = sorted(joint_states, key=lambda x: x[1])
        self.stamp = np.array([st for _, st in js])
        self.recv = np.array([t for t, _ in js])

    def wall(self, stamps: np.ndarray, tol: float, recv: np.ndarray | None = None,
             margin: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
        """(wall times, bool mask of the stamps that matched a JointState)."""
        stamps = np.asarray(stamps, dtype=np.float64)
        if self.stamp.size < 2 or stamps.size == 0:
            return stamps, np.zeros(stamps.shape, bool)
        i = np.clip(np.searchsorted(self.stamp, stamps), 1, self.stamp.size - 1)
        left, right = self.stamp[i - 1], self.stamp[i]
        j = np.where(np.abs(stamps - left) <= np.abs(right - stamps), i - 1, i)
        near = np.abs(self.stamp[j] - stamps) <= tol
        if recv is not None:
            near &= self.recv[j] <= np.asarray(recv) + margin
        return np.where(near, stamps + (self.recv[j] - self.stamp[j]), stamps), near


def analyze_closed_loop(kind: str, w: dict[str, list], diags: list, t0: float, t1: float,
                        period: float, joint_states: list[tuple[float, float]]
                        ) -> dict[str, Any]:
    span = t1 - t0
    clock = SimClock(joint_states)
    cmd_t = np.array([t for t, _ in w["commands"]])
    labels = [lab for _, lab in w["commands"]]
    chunks = sorted(w["chunks"])
    chunk_t = np.array([c[0] for c in chunks])
    chunk_stamp = np.array([c[1] for c in chunks])
    # When the state behind each chunk reached the probe (chunk stamps copy the state's).
    chunk_wall, matched = clock.wall(chunk_stamp, tol=1e-4, recv=chunk_t)
    # state -> command seen by the probe: the chunk's state -> first command received after it.
    s2c, s2c_rel = [], []
    for t, st in zip(chunk_t, chunk_wall):
        tc = first_after(cmd_t, t)
        if tc is not None:
            s2c.append(tc - st)
            s2c_rel.append(t - t0)
    js_offset = [t - st for t, st in w["joint_states"]]
    r: dict[str, Any] = {
        "kind": kind,
        "seconds": round(span, 2),
        "nominal_period_ms": round(period * 1e3, 3),
        "commands": period_stats(cmd_t, period),
        "command_labels": {lab: labels.count(lab) for lab in sorted(set(labels))},
        "running_share": round(labels.count("running") / len(labels), 4)
        if kind == "dual" and labels else None,
        "replans_per_s": round(len(chunks) / span, 3),
        "chunk_interval_ms": summary_ms(np.diff(chunk_t)) if len(chunk_t) > 1 else summary_ms([]),
        "inference_latency_ms": summary_ms([c[3] for c in chunks]),
        "stamp_to_chunk_ms": summary_ms(chunk_t - chunk_wall),
        "state_to_command_probe_ms": summary_ms(s2c),
        "state_age_at_command_ms": summary_ms(_state_age_at_commands(cmd_t, chunk_t,
                                                                     chunk_wall)),
        "sim_stamp_offset_ms": summary_ms(js_offset),
        "chunks_stamped_by_arrival": int((~matched).sum()) if joint_states else None,
    }
    series = {
        "period": {"t": list(cmd_t[1:] - t0), "gap_ms": list(np.diff(cmd_t) * 1e3),
                   "period_ms": period * 1e3},
        "s2c": {"t": s2c_rel, "ms": [x * 1e3 for x in s2c]},
    }
    if kind == "dual":
        r.update(_dual_diagnostics(diags, t0, t1, series))
        tokens = sorted(w["tokens"])
        tok_t = np.array([x[0] for x in tokens])
        tok_wall, _ = clock.wall(np.array([x[1] for x in tokens]), tol=0.01)
        # Token age at use: a chunk's state time minus the camera time of the newest tokens
        # the probe had received before the chunk (System 1 does not report it itself).
        idx = np.searchsorted(tok_t, chunk_t, side="right") - 1
        ok = idx >= 0
        r["system2"] = {
            "tokens_per_s": round(len(tokens) / span, 3),
            "inference_latency_ms": summary_ms([x[3] for x in tokens]),
            "token_age_at_arrival_ms": summary_ms(tok_t - tok_wall),
            "token_age_at_use_ms": summary_ms(chunk_wall[ok] - tok_wall[idx[ok]]),
            "achieved_rate_hz_diag": _median([diag_float(v, "achieved_rate_hz")
                                              for t, name, v in diags
                                              if name.startswith("gr00t_system2")
                                              and t0 <= t <= t1]),
        }
    else:
        base = [v for t, name, v in diags if name == "gr00t_baseline" and t0 <= t <= t1]
        r["baseline"] = {key: summary_ms([float(v[key]) / 1e3 for v in base])
                         for key in ("vlm_ms", "conditioning_ms", "dit_ms")}
    r["_series"] = series
    return r


def _median(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return round(float(np.median(vals)), 3) if vals else None


def _dual_diagnostics(diags: list, t0: float, t1: float, series: dict) -> dict[str, Any]:
    """System 1's own figures from its 1 Hz diagnostics inside [t0, t1]."""
    s1 = [(t, v) for t, name, v in diags if name.startswith("gr00t_system1") and t0 <= t <= t1]
    if len(s1) < 2:
        return {"system1_diag": None}
    first, last = s1[0][1], s1[-1][1]

    def diff(key: str) -> int | None:
        a, b = diag_float(first, key), diag_float(last, key)
        return None if a is None or b is None else int(b - a)

    col = {k: [diag_float(v, k) for _, v in s1] for k in (
        "period_error_p50_ms", "period_error_p90_ms", "period_error_p99_ms", "replans_per_s",
        "state_to_command_median_ms", "state_to_command_p99_ms",
        "inference_latency_median_ms", "inference_latency_p99_ms")}
    series["s2c"].update({"diag_t": [t - t0 for t, _ in s1],
                          "diag_p50": col["state_to_command_median_ms"],
                          "diag_p99": col["state_to_command_p99_ms"]})
    p99s = [x for x in col["period_error_p99_ms"] if x is not None]
    s2c99 = [x for x in col["state_to_command_p99_ms"] if x is not None]
    return {"system1_diag": {
        "samples": len(s1),
        "period_error_p50_ms": _median(col["period_error_p50_ms"]),
        "period_error_p90_ms": _median(col["period_error_p90_ms"]),
        "period_error_p99_ms": _median(col["period_error_p99_ms"]),
        "period_error_p99_worst_window_ms": max(p99s) if p99s else None,
        "period_max_all_ms": diag_float(last, "period_max_all_ms"),
        "ticks": diff("ticks"),
        "ticks_late_2x_period": diff("ticks_late_2x_period"),
        "ticks_without_new_plan": diff("deadline_misses"),
        "replans_per_s": _median(col["replans_per_s"]),
        "state_to_command_p50_ms": _median(col["state_to_command_median_ms"]),
        "state_to_command_p99_ms_worst_window": max(s2c99) if s2c99 else None,
        "inference_latency_p50_ms": _median(col["inference_latency_median_ms"]),
        "inference_latency_p99_ms": _median(col["inference_latency_p99_ms"]),
    }}


# -- phase 3 / 4: reactions against a test-side source ---------------------------------------------

class StepSource:
    """Publishes /joint_states at 125 Hz and the embodiment's cameras at 30 Hz from a thread;
    `step(delta)` changes one joint's measured position and returns the stamp of the first
    JointState carrying it (wall-clock seconds, the same clock the nodes stamp with)."""

    def __init__(self, probe: Any, emb: Any, joint: str) -> None:
        from sensor_msgs.msg import Image, JointState

        names = list(emb.monitored_joints)
        if joint not in names:
            raise ValueError(f"--step-joint {joint!r} is not a state joint of {emb.name}; "
                             f"pick one of {names}")
        lim = {n: (lo, hi) for n, (lo, hi) in zip(emb.action_joints, emb.position_limits)}
        self.names = names
        self.base = np.array([float(np.clip(0.0, *lim.get(n, (-1e9, 1e9)))) for n in names])
        self.joint_index = names.index(joint)
        self.offset = 0.0
        self.clock = probe.node.get_clock()
        self.js_pub = probe.publisher(JointState, "/joint_states")
        self.cam_pubs = [probe.publisher(Image, c.topic) for c in emb.cameras]
        rng = np.random.default_rng(0)
        self.image = rng.integers(0, 256, (224, 224, 3), dtype=np.uint8).tobytes()
        self._Image, self._JointState = Image, JointState
        self._pending: float | None = None
        self._stepped = threading.Event()
        self.step_stamp = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def step(self, delta: float, timeout: float = 2.0) -> float:
        self._stepped.clear()
        self._pending = delta
        if not self._stepped.wait(timeout):
            raise MeasurementError("the joint-state source did not publish the step")
        return self.step_stamp

    def _run(self) -> None:
        period, cam_period = 1.0 / JOINT_STATE_HZ, 1.0 / CAMERA_HZ
        next_js = next_cam = time.monotonic()
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= next_cam:
                stamp = self.clock.now().to_msg()
                for pub in self.cam_pubs:
                    img = self._Image(height=224, width=224, encoding="rgb8", step=224 * 3,
                                      data=self.image)
                    img.header.stamp, img.header.frame_id = stamp, "bench_camera"
                    pub.publish(img)
                next_cam = max(next_cam + cam_period, now)
            if now >= next_js:
                stepped = self._pending is not None
                if stepped:
                    self.offset += self._pending
                    self._pending = None
                pos = self.base.copy()
                pos[self.joint_index] += self.offset
                msg = self._JointState(name=self.names, position=pos.tolist())
                t = self.clock.now()
                msg.header.stamp = t.to_msg()
                self.js_pub.publish(msg)
                if stepped:
                    self.step_stamp = t.nanoseconds * 1e-9
                    self._stepped.set()
                next_js = max(next_js + period, now)
            time.sleep(max(0.0, min(next_js, next_cam) - time.monotonic()))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2.0)


def reactions(kind: str, args: argparse.Namespace, ckpt: Path, emb_path: Path, emb: Any,
              cycle_s: float | None) -> dict[str, Any]:
    """Step reactions and instruction reactions of `kind` against a StepSource."""
    from gr00t_msgs.srv import SetInstruction

    chunk_topic = DUAL_CHUNKS if kind == "dual" else BASELINE_CHUNKS
    s = Session(f"{kind}_reactions", make_graph(kind, False, args, ckpt, emb_path), args,
                chunk_topic, emb.controllers[0].topic, joint_states=False)
    rng = random.Random(0)
    steps: list[float] = []
    instr: list[tuple[float, int]] = []
    source = None
    try:
        source = StepSource(s.probe, emb, args.step_joint)
        print(f"[{kind}] reactions: starting (ROS_DOMAIN_ID {s.domain})...", flush=True)
        wait_started(s, kind, args.startup_timeout)
        sleep_watching(args.warmup, s.runner)
        if kind == "baseline" and cycle_s is None:
            c = [x[0] for x in s.rec.chunks]
            cycle_s = float(np.median(np.diff(c))) if len(c) > 2 else 1.0
        # Spacing: long enough that the first chunk planned after a step is planned from it.
        lo, hi = (0.25, 0.45) if kind == "dual" else (1.15 * cycle_s, 1.5 * cycle_s)
        for i in range(args.steps):
            steps.append(source.step(args.step_rad if i % 2 == 0 else -args.step_rad))
            sleep_watching(rng.uniform(lo, hi), s.runner, step=0.05)
        for j in range(args.instruction_changes):
            req = SetInstruction.Request(instruction=INSTRUCTIONS[j % len(INSTRUCTIONS)])
            t_call = time.time()
            resp = s.probe.call(SetInstruction, "/gr00t/set_instruction", req, timeout=20.0)
            if not resp.accepted:
                raise MeasurementError(f"SetInstruction refused {req.instruction!r}: "
                                       f"{resp.message}")
            instr.append((t_call, int(resp.instruction_id)))

            def reached(iid: int = int(resp.instruction_id)) -> bool:
                with s.rec.lock:
                    hit = [c[0] for c in s.rec.chunks if c[2] == iid]
                    return bool(hit) and any(t >= hit[0] for t, _ in s.rec.commands[-50:])

            wait_for(reached, 30.0, f"a command from instruction {resp.instruction_id}",
                     s.runner)
            sleep_watching(rng.uniform(0.2, 0.5), s.runner, step=0.05)
        w = s.rec.window(0.0, float("inf"))
    finally:
        if source is not None:
            source.close()
        s.close()
    return analyze_reactions(kind, w, steps, instr)


def analyze_reactions(kind: str, w: dict[str, list], steps: list[float],
                      instr: list[tuple[float, int]]) -> dict[str, Any]:
    cmd_t = np.array([t for t, _ in w["commands"]])
    chunks = sorted(w["chunks"], key=lambda c: c[1])  # by state stamp = planning order
    stamps = np.array([c[1] for c in chunks])
    step_react, step_chunk, missed = [], [], 0
    for i, ts in enumerate(steps):
        k = int(np.searchsorted(stamps, ts, side="left"))
        nxt = steps[i + 1] if i + 1 < len(steps) else float("inf")
        if k >= len(chunks) or chunks[k][1] >= nxt:
            missed += 1
            continue
        tc = first_after(cmd_t, chunks[k][0])
        if tc is None:
            missed += 1
            continue
        step_react.append(tc - ts)
        step_chunk.append(chunks[k][0] - ts)
    by_recv = sorted(w["chunks"])
    tokens = sorted(w["tokens"])
    ins_cmd, ins_chunk, ins_tok = [], [], []
    for t_call, iid in instr:
        ch = next((c for c in by_recv if c[2] == iid), None)
        tok = next((x for x in tokens if x[2] == iid), None)
        if tok is not None:
            ins_tok.append(tok[0] - t_call)
        if ch is None:
            continue
        ins_chunk.append(ch[0] - t_call)
        tc = first_after(cmd_t, ch[0])
        if tc is not None:
            ins_cmd.append(tc - t_call)
    node = None
    if kind == "dual" and steps:
        node = _dual_diagnostics(w["diagnostics"], steps[0], float("inf"), {"s2c": {}})
        node = node["system1_diag"]
    return {
        "kind": kind,
        "system1_diag_wall_clock_stamps": node,
        "steps": len(steps),
        "steps_missed": missed,
        "step_to_command_ms": summary_ms(step_react),
        "step_to_chunk_ms": summary_ms(step_chunk),
        "instruction_changes": len(instr),
        "instruction_to_command_ms": summary_ms(ins_cmd),
        "instruction_to_chunk_ms": summary_ms(ins_chunk),
        "instruction_to_tokens_ms": summary_ms(ins_tok) if kind == "dual" else None,
        "_series": {"step_ms": [x * 1e3 for x in step_react],
                    "instruction_ms": [x * 1e3 for x in ins_cmd]},
    }


# -- the report ---------------------------------------------------------------------------------

def _get(d: dict | None, *path: str) -> Any:
    for p in path:
        if d is None:
            return None
        d = d.get(p)
    return d


def table_rows(res: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(figure, dual, baseline) rows; None = not measured / not applicable ('-')."""
    d, b = res.get("dual_closed_loop"), res.get("baseline_closed_loop")
    dr, br = res.get("dual_reactions"), res.get("baseline_reactions")
    rows = [
        ("closed-loop control rate: replans (chunks) / s", _get(d, "replans_per_s"),
         _get(b, "replans_per_s")),
        ("command rate (Hz, probe)", _get(d, "commands", "rate_hz"),
         _get(b, "commands", "rate_hz")),
        ("nominal command period (ms)", _get(d, "nominal_period_ms"),
         _get(b, "nominal_period_ms")),
    ]
    for q in ("p50", "p90", "p99", "max"):
        rows.append((f"command period error {q} (ms, probe)", _get(d, "commands", "error_ms", q),
                     _get(b, "commands", "error_ms", q)))
    for q, key in (("p50", "period_error_p50_ms"), ("p90", "period_error_p90_ms"),
                   ("p99", "period_error_p99_ms")):
        rows.append((f"command period error {q} (ms, System 1 diagnostics)",
                     _get(d, "system1_diag", key), None))
    for q, key in (("p50", "period_error_p50_ms"), ("p99", "period_error_p99_ms")):
        rows.append((f"command period error {q} (ms, System 1, no simulator)",
                     _get(dr, "system1_diag_wall_clock_stamps", key), None))
    rows += [
        ("share of dual commands in state 'running' (rest: holds)", _get(d, "running_share"),
         None),
        ("gaps > 2 periods (probe, count)", _get(d, "commands", "late_2x"),
         _get(b, "commands", "late_2x")),
        ("ticks later than 2 periods (System 1 diagnostics)",
         _get(d, "system1_diag", "ticks_late_2x_period"), None),
        ("state -> command p50 (ms, probe)", _get(d, "state_to_command_probe_ms", "p50"),
         _get(b, "state_to_command_probe_ms", "p50")),
        ("state -> command p99 (ms, probe)", _get(d, "state_to_command_probe_ms", "p99"),
         _get(b, "state_to_command_probe_ms", "p99")),
        ("state -> command p50 (ms, System 1 diagnostics)",
         _get(d, "system1_diag", "state_to_command_p50_ms"), None),
        ("state -> command p99 worst 2 s window (ms, System 1)",
         _get(d, "system1_diag", "state_to_command_p99_ms_worst_window"), None),
        ("state -> command p50 (ms, System 1, wall-clock stamps)",
         _get(dr, "system1_diag_wall_clock_stamps", "state_to_command_p50_ms"), None),
        ("state -> command p99 worst window (ms, System 1, wall stamps)",
         _get(dr, "system1_diag_wall_clock_stamps", "state_to_command_p99_ms_worst_window"),
         None),
        ("JointState receive - stamp p50 (ms: sim lag + probe delay)",
         _get(d, "sim_stamp_offset_ms", "p50"), _get(b, "sim_stamp_offset_ms", "p50")),
        ("state -> chunk received p50 (ms, probe)", _get(d, "stamp_to_chunk_ms", "p50"),
         _get(b, "stamp_to_chunk_ms", "p50")),
        ("state age at command p50 (ms)", _get(d, "state_age_at_command_ms", "p50"),
         _get(b, "state_age_at_command_ms", "p50")),
        ("state age at command p99 (ms)", _get(d, "state_age_at_command_ms", "p99"),
         _get(b, "state_age_at_command_ms", "p99")),
        ("DiT inference p50 (ms)", _get(d, "inference_latency_ms", "p50"),
         _get(b, "baseline", "dit_ms", "p50")),
        ("VLM rate (Hz): System 2 tokens / baseline chunks", _get(d, "system2", "tokens_per_s"),
         _get(b, "replans_per_s")),
        ("VLM inference p50 (ms)", _get(d, "system2", "inference_latency_ms", "p50"),
         _get(b, "baseline", "vlm_ms", "p50")),
        ("token age at use p50 (ms)", _get(d, "system2", "token_age_at_use_ms", "p50"), None),
        ("token age at use p99 (ms)", _get(d, "system2", "token_age_at_use_ms", "p99"), None),
        ("reaction to a joint step p50 (ms)", _get(dr, "step_to_command_ms", "p50"),
         _get(br, "step_to_command_ms", "p50")),
        ("reaction to a joint step p99 (ms)", _get(dr, "step_to_command_ms", "p99"),
         _get(br, "step_to_command_ms", "p99")),
        ("reaction to an instruction p50 (ms)", _get(dr, "instruction_to_command_ms", "p50"),
         _get(br, "instruction_to_command_ms", "p50")),
        ("reaction to an instruction p99 (ms)", _get(dr, "instruction_to_command_ms", "p99"),
         _get(br, "instruction_to_command_ms", "p99")),
    ]
    return rows


def format_table(rows: list[tuple[str, Any, Any]]) -> str:
    def f(x: Any) -> str:
        return "-" if x is None else (f"{x:.3f}" if isinstance(x, float) else str(x))

    lines = [f"{'figure':58s} {'dual-rate':>11s} {'baseline':>11s} {'dual/base':>10s}"]
    for name, dv, bv in rows:
        r = ratio(dv, bv) if isinstance(dv, (int, float)) and isinstance(bv, (int, float)) else None
        lines.append(f"{name:58s} {f(dv):>11s} {f(bv):>11s} "
                     f"{'-' if r is None else f'{r:.3g}':>10s}")
    return "\n".join(lines)


# Figures that must be present, else the run failed to measure (exit 1).
REQUIRED = (
    ("dual_closed_loop", "replans_per_s"), ("dual_closed_loop", "commands", "error_ms", "p99"),
    ("dual_closed_loop", "system1_diag", "period_error_p99_ms"),
    ("dual_closed_loop", "system1_diag", "ticks_late_2x_period"),
    ("dual_closed_loop", "system1_diag", "state_to_command_p50_ms"),
    ("dual_closed_loop", "state_to_command_probe_ms", "p99"),
    ("dual_closed_loop", "system2", "tokens_per_s"),
    ("dual_closed_loop", "system2", "token_age_at_use_ms", "p50"),
    ("baseline_closed_loop", "replans_per_s"), ("baseline_closed_loop", "commands", "rate_hz"),
    ("baseline_closed_loop", "state_to_command_probe_ms", "p99"),
    ("dual_reactions", "step_to_command_ms", "p99"),
    ("dual_reactions", "instruction_to_command_ms", "p50"),
    ("baseline_reactions", "step_to_command_ms", "p99"),
    ("baseline_reactions", "instruction_to_command_ms", "p50"),
)


def _baseline_cycle_s(res: dict[str, Any]) -> float | None:
    """The baseline's median chunk interval from its closed-loop phase (None if not run)."""
    p50 = _get(res.get("baseline_closed_loop"), "chunk_interval_ms", "p50")
    return None if p50 is None else p50 / 1e3


PHASES = ("dual_closed_loop", "baseline_closed_loop", "dual_reactions", "baseline_reactions")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", help="checkpoint dir (default: checkpoints/nano if present, "
                                         "else a random nano checkpoint made under --out)")
    ap.add_argument("--embodiment", type=Path, default=DEFAULT_EMBODIMENT)
    ap.add_argument("--backend", default="onnxruntime", choices=("onnxruntime", "torch"),
                    help="DiT backend of System 1 AND the baseline")
    ap.add_argument("--seconds", type=float, default=60.0, help="each closed-loop measurement")
    ap.add_argument("--warmup", type=float, default=5.0, help="seconds dropped after start-up")
    ap.add_argument("--steps", type=int, default=50, help="joint-state steps per system")
    ap.add_argument("--step-rad", type=float, default=0.3, help="size of each step (rad)")
    ap.add_argument("--step-joint", default="right_elbow_joint")
    ap.add_argument("--instruction-changes", type=int, default=10, help="per system")
    ap.add_argument("--execute-steps", type=int, default=0,
                    help="rows of each chunk the baseline executes (0 = all)")
    ap.add_argument("--startup-timeout", type=float, default=300.0,
                    help="seconds to wait for a graph's first commands (an ONNX export of a "
                         "new checkpoint takes ~1 min)")
    ap.add_argument("--sim-time", action="store_true",
                    help="nodes follow the simulator's /clock (gr00t-bringup's default with "
                         "--sim; /clock comes at 125 Hz, so System 1's 120 Hz timer is "
                         "quantized to it); default: the wall clock, as on a robot")
    ap.add_argument("--out", type=Path, default=REPO / "artifacts" / "bench")
    ap.add_argument("--phases", default=",".join(PHASES),
                    help="comma-separated subset of the phases to run (default: all four; a "
                         "partial run reports the others as unmeasured and exits 1)")
    args = ap.parse_args()
    args.phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    unknown = sorted(set(args.phases) - set(PHASES))
    if unknown:
        print(f"--phases: unknown {unknown}; known: {list(PHASES)}", file=sys.stderr)
        return 2
    if args.seconds <= 0 or args.steps < 1 or args.instruction_changes < 1:
        print("--seconds must be > 0, --steps and --instruction-changes >= 1", file=sys.stderr)
        return 2
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)

    info_before = machine_info()
    print(machine_line(info_before), flush=True)
    from gr00t_policy.embodiment import load_embodiment

    emb = load_embodiment(args.embodiment)
    try:
        ckpt, note = ensure_checkpoint(args.checkpoint, args.out, args.embodiment)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(note, flush=True)
    print(f"DiT backend for both: {args.backend} (1 thread); VLM: System 2's default backend (auto: onnxruntime for "
          f"the nano backbones), default threads; "
          f"clock: {'simulator /clock' if args.sim_time else 'wall clock'}", flush=True)

    res: dict[str, Any] = {"machine_before": info_before, "checkpoint": str(ckpt),
                           "checkpoint_note": note, "backend": args.backend,
                           "embodiment": emb.name, "args": {k: str(v) for k, v in
                                                            vars(args).items()}}
    errors: dict[str, str] = {}
    phases = (
        ("dual_closed_loop", lambda: closed_loop("dual", args, ckpt, args.embodiment, emb)),
        ("baseline_closed_loop", lambda: closed_loop("baseline", args, ckpt, args.embodiment,
                                                     emb)),
        ("dual_reactions", lambda: reactions("dual", args, ckpt, args.embodiment, emb, None)),
        ("baseline_reactions", lambda: reactions("baseline", args, ckpt, args.embodiment, emb,
                                                 _baseline_cycle_s(res))),
    )
    for name, run in phases:
        if name not in args.phases:
            continue
        try:
            res[name] = run()
        except (MeasurementError, TimeoutError, RuntimeError) as exc:
            errors[name] = f"{type(exc).__name__}: {exc}"
            print(f"[{name}] could not measure: {exc}", file=sys.stderr, flush=True)
    res["machine_after"] = machine_info()
    res["errors"] = errors

    series = {kind: {"period": _get(res.get(f"{kind}_closed_loop"), "_series", "period") or {},
                     "s2c": _get(res.get(f"{kind}_closed_loop"), "_series", "s2c") or {},
                     "step_ms": _get(res.get(f"{kind}_reactions"), "_series", "step_ms") or [],
                     "instruction_ms": _get(res.get(f"{kind}_reactions"), "_series",
                                            "instruction_ms") or []}
              for kind in ("dual", "baseline")}
    for name in list(res):
        if isinstance(res[name], dict):
            res[name].pop("_series", None)
    rows = table_rows(res)
    res["table"] = [{"figure": n, "dual": dv, "baseline": bv,
                     "ratio_dual_over_baseline": ratio(dv, bv)} for n, dv, bv in rows]
    missing = [".".join(p) for p in REQUIRED if _get(res, *p) is None]
    res["unmeasured"] = missing
    write_json(args.out / "graph_vs_baseline.json", res)
    write_json(args.out / "graph_vs_baseline_series.json", series)
    from plot import plot_graph_vs_baseline

    pngs = plot_graph_vs_baseline(series, args.out)

    print()
    print(machine_line(res["machine_after"]).replace("machine:", "machine after:"))
    print(f"{note}; embodiment {emb.name}; DiT backend {args.backend} in both")
    print(format_table(rows))
    goal = _get(res.get("dual_reactions"), "step_to_command_ms", "p99")
    print(f"goal: dual-rate reaction to a joint step p99 < 20 ms: "
          f"{'not measured' if goal is None else ('met' if goal < 20 else 'NOT met')} "
          f"({goal} ms)")
    print(f"wrote {args.out / 'graph_vs_baseline.json'}, "
          f"{args.out / 'graph_vs_baseline_series.json'}, " + ", ".join(str(p) for p in pngs))
    if errors or missing:
        print(f"could not measure: {sorted(errors)} {missing}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
