#!/usr/bin/env python3
"""Soak test: the full graph (simulator + System 2 + System 1) for N minutes.

    source env.sh
    python bench/soak.py --minutes 60
    python bench/soak.py --minutes 60 --instruction-every 20   # episodes, the arms moving
    python bench/soak.py --minutes 1 --warmup-s 10 --window-s 20      # a smoke run

Starts the graph with gr00t_bringup's GraphRunner (`build_graph(sim=True)`, one OS process
per node, a ROS_DOMAIN_ID of its own) and, from the first command on, for --minutes:
  - samples every node's resident memory (VmRSS from /proc/<pid>/status) every --sample-s;
    growth per node = mean RSS over the last --window-s vs the mean over the --window-s
    right after --warmup-s, in %;
  - records System 1's command receive times on the first controller topic (a probe here)
    and reports the median command period of each minute and the gaps > 2 periods;
  - reads System 1's /diagnostics: ticks later than two periods (its timer start times)
    counted after the warm-up;
  - with --instruction-every S, runs an episode every S seconds as gr00t-eval does:
    /gr00t/enable false, the scene reset with the next seed, the next of the simulator's tasks
    (touch a cube with a hand, raise a hand) through /gr00t/set_instruction, /gr00t/enable
    true; so the arms move, System 2 and System 1 change instruction and System 1 is
    disabled and enabled all along (default: one instruction, "hold your position", the
    whole time, no reset). Each call must be accepted and System 1 must plan on each
    instruction before the next episode, else the soak fails naming it; a fault the policy
    latched (a blocked arm) is cleared by the next enable and listed.
Writes soak.json and soak.png into --out. Exit status: 0 when every node's RSS growth is
<= --max-rss-growth-pct and at most --max-late-ticks ticks were later than two periods
after the warm-up; 1 when a threshold was exceeded or something could not be measured (a
node died, no commands, no diagnostics); 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from common import (BENCH_INSTRUCTION, DEFAULT_EMBODIMENT, REPO, MeasurementError,
                    check_alive, diag_float, ensure_checkpoint, fresh_domain_id, machine_info,
                    machine_line, rss_kib, start_graph, use_domain, wait_for, write_json)


class CommandMinutes:
    """Command inter-arrival gaps folded into per-minute medians (bounded memory)."""

    def __init__(self, period: float, t0: float) -> None:
        self.period, self.t0 = period, t0
        self.lock = threading.Lock()
        self.last: float | None = None
        self.gaps: list[float] = []
        self.minute = 0
        self.medians_ms: list[float] = []
        self.late_per_minute: list[int] = []
        self.count = 0
        self.t_end = float("inf")  # commands after this are not folded in

    def on_command(self, _msg: Any) -> None:
        t = time.monotonic()
        with self.lock:
            self.count += 1
            if t < self.t0:
                self.last = t
                return
            if t >= self.t_end:
                return
            minute = int((t - self.t0) // 60)
            while minute > self.minute:
                self._close_minute()
            if self.last is not None:
                self.gaps.append(t - self.last)
            self.last = t

    def _close_minute(self) -> None:
        g = np.array(self.gaps)
        self.medians_ms.append(round(float(np.median(g)) * 1e3, 4) if g.size else float("nan"))
        self.late_per_minute.append(int((g > 2 * self.period).sum()))
        self.gaps = []
        self.minute += 1

    def finish(self) -> None:
        with self.lock:
            if self.gaps:
                self._close_minute()


class InstructionCycle:
    """An episode every --instruction-every seconds, as gr00t-eval runs them and an operator
    would: /gr00t/enable false, the scene reset (/gr00t_sim/reset: a new seed, the arms at
    rest), the next of the simulator's tasks through /gr00t/set_instruction, /gr00t/enable
    true. Each one first checks that System 1 planned on the instruction set before (an
    ActionChunk with its id); the latched faults the enable clears are counted (a blocked
    arm is the policy's, not the runtime's: the soak goes on)."""

    def __init__(self, probe: Any) -> None:
        from gr00t_msgs.msg import ActionChunk
        from gr00t_sim.tasks import all_instructions
        from gr00t_testing import RELIABLE

        self.probe = probe
        self.instructions = all_instructions()
        self.count = 0
        self.faults: list[str] = []  # the latched faults each enable cleared
        self.pending: tuple[int, str] | None = None  # (id, instruction) not yet planned on
        self.lock = threading.Lock()
        probe.node.create_subscription(ActionChunk, "/gr00t/action_chunk", self._on_chunk,
                                       RELIABLE)

    def _on_chunk(self, msg: Any) -> None:
        with self.lock:
            if self.pending is not None and int(msg.instruction_id) == self.pending[0]:
                self.pending = None

    def _call(self, srv: Any, name: str, request: Any) -> Any:
        resp = self.probe.call(srv, name, request, timeout=20.0)
        ok = resp.accepted if hasattr(resp, "accepted") else resp.success
        if not ok:
            raise MeasurementError(f"{name} refused {request}: {resp.message}")
        return resp

    def next(self) -> None:
        """Raises MeasurementError where System 1 never planned on the last instruction or a
        call was refused."""
        from gr00t_common.enable_reply import cleared_faults
        from gr00t_msgs.srv import ResetSim, SetInstruction
        from std_srvs.srv import SetBool

        with self.lock:
            if self.pending is not None:
                iid, text = self.pending
                raise MeasurementError(f"System 1 planned nothing on instruction {iid} "
                                       f"({text!r}) before the next was due")
        text = self.instructions[self.count % len(self.instructions)]
        self._call(SetBool, "/gr00t/enable", SetBool.Request(data=False))
        time.sleep(0.3)  # System 1 brakes to rest (~0.12 s at most), then goes quiet
        self._call(ResetSim, "/gr00t_sim/reset",
                   ResetSim.Request(seed=SOAK_SEED + self.count, instruction=text))
        resp = self._call(SetInstruction, "/gr00t/set_instruction",
                          SetInstruction.Request(instruction=text))
        with self.lock:
            self.pending = (int(resp.instruction_id), text)
        enabled = self._call(SetBool, "/gr00t/enable", SetBool.Request(data=True))
        self.faults += cleared_faults(enabled.message)
        self.count += 1


def growth_pct(t: np.ndarray, kib: np.ndarray, warmup_s: float, window_s: float, end: float
               ) -> tuple[float | None, float | None, float | None]:
    """(mean KiB after warm-up, mean KiB in the last window, growth %)."""
    first = kib[(t >= warmup_s) & (t < warmup_s + window_s)]
    last = kib[t >= end - window_s]
    if not first.size or not last.size:
        return None, None, None
    a, b = float(first.mean()), float(last.mean())
    return round(a), round(b), round(100.0 * (b - a) / a, 3)


SOAK_SEED = 100_000  # the scenes of the episodes (gr00t-eval's held-out seeds)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, required=True, help="soak duration after start-up")
    ap.add_argument("--checkpoint", help="checkpoint dir (default: checkpoints/nano if present, "
                                         "else a random nano checkpoint made under --out)")
    ap.add_argument("--embodiment", type=Path, default=DEFAULT_EMBODIMENT)
    ap.add_argument("--backend", default="onnxruntime", choices=("onnxruntime", "torch"))
    ap.add_argument("--sample-s", type=float, default=5.0, help="RSS sampling interval")
    ap.add_argument("--warmup-s", type=float, default=60.0,
                    help="seconds after the first command before the RSS baseline window and "
                         "the late-tick count start")
    ap.add_argument("--window-s", type=float, default=60.0,
                    help="length of the RSS baseline window and of the final window")
    ap.add_argument("--max-rss-growth-pct", type=float, default=5.0)
    ap.add_argument("--max-late-ticks", type=int, default=0,
                    help="ticks later than two periods allowed after the warm-up")
    ap.add_argument("--startup-timeout", type=float, default=300.0)
    ap.add_argument("--sim-time", action="store_true",
                    help="nodes follow the simulator's /clock (gr00t-bringup's default with "
                         "--sim); default: the wall clock, as on a robot")
    ap.add_argument("--instruction-every", type=float, default=0.0, metavar="S",
                    help="an episode every S seconds: disable, reset the scene, the next of "
                         "the simulator's tasks, enable (0: 'hold your position' throughout)")
    ap.add_argument("--out", type=Path, default=REPO / "artifacts" / "bench")
    args = ap.parse_args()
    total = args.minutes * 60.0
    if args.instruction_every < 0 or 0 < args.instruction_every < 5:
        print(f"--instruction-every {args.instruction_every:g}: give 0 (off) or at least 5 s "
              "(System 1 must plan on each instruction before the next)", file=sys.stderr)
        return 2
    if args.sample_s <= 0 or args.window_s <= 0 or total < args.warmup_s + 2 * args.window_s:
        print(f"--minutes {args.minutes:g} is too short: it must cover --warmup-s "
              f"{args.warmup_s:g} + 2 x --window-s {args.window_s:g} (or shrink those)",
              file=sys.stderr)
        return 2
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    info = machine_info()
    print(machine_line(info), flush=True)

    from gr00t_bringup.graph import build_graph
    from gr00t_testing import RECORDING, RELIABLE, RosProbe
    from gr00t_policy.embodiment import load_embodiment

    emb = load_embodiment(args.embodiment)
    try:
        ckpt, note = ensure_checkpoint(args.checkpoint, args.out, args.embodiment)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"{note}; clock: {'simulator /clock' if args.sim_time else 'wall clock'}", flush=True)
    graph = build_graph(embodiment=str(args.embodiment), checkpoint=ckpt, backend=args.backend,
                        sim=True, use_sim_time=args.sim_time,
                        system2_parameters={"default_instruction": BENCH_INSTRUCTION})
    domain = fresh_domain_id()
    use_domain(domain)
    period = 1.0 / emb.rates.system1_hz
    rss: dict[str, dict[str, list[float]]] = {n.name: {"t": [], "kib": []} for n in graph.nodes}
    diag_first: dict[str, str] | None = None
    diag_last: dict[str, str] | None = None
    error = ""
    runner = start_graph(graph, args.out / "soak")
    probe = None
    cmds = CommandMinutes(period, float("inf"))
    try:
        from diagnostic_msgs.msg import DiagnosticArray
        from std_msgs.msg import Float64MultiArray

        probe = RosProbe(name="bench_soak", domain_id=domain)
        diags: list[tuple[float, dict[str, str]]] = []

        def on_diag(msg: Any) -> None:
            for s in msg.status:
                if s.name.startswith("gr00t_system1"):
                    diags.append((time.monotonic(), {kv.key: kv.value for kv in s.values}))
                    del diags[:-2]  # bounded: only the newest matter after the warm-up mark

        probe.node.create_subscription(Float64MultiArray, emb.controllers[0].topic,
                                       cmds.on_command, RECORDING)
        probe.node.create_subscription(DiagnosticArray, "/diagnostics", on_diag, RELIABLE)
        cycle = InstructionCycle(probe) if args.instruction_every > 0 else None
        print(f"soak: starting the graph (ROS_DOMAIN_ID {domain})...", flush=True)
        wait_for(lambda: cmds.count >= 20, args.startup_timeout, "System 1's first commands",
                 runner)
        t0 = time.monotonic()
        cmds.t0, cmds.t_end = t0, t0 + total
        print(f"soak: running {args.minutes:g} min (warm-up {args.warmup_s:g} s)", flush=True)
        next_sample = t0
        next_instruction = t0
        while (now := time.monotonic()) < t0 + total:
            check_alive(runner)
            if cycle is not None and now >= next_instruction:
                cycle.next()
                next_instruction += args.instruction_every
            if diag_first is None and now >= t0 + args.warmup_s and diags:
                diag_first = diags[-1][1]
            if now >= next_sample:
                for c in runner.children:
                    kib = rss_kib(c.proc.pid)
                    if kib is not None:
                        rss[c.spec.name]["t"].append(round(now - t0, 3))
                        rss[c.spec.name]["kib"].append(kib)
                next_sample += args.sample_s
            time.sleep(min(0.5, max(0.0, next_sample - time.monotonic())))
        time.sleep(1.5)  # one more diagnostics message
        diag_last = diags[-1][1] if diags else None
    except (MeasurementError, TimeoutError, RuntimeError) as exc:
        error = f"{type(exc).__name__}: {exc}"
    finally:
        if probe is not None:
            probe.close()
        runner.stop_all()
    cmds.finish()

    nodes = {}
    for name, s in rss.items():
        a, b, g = growth_pct(np.array(s["t"]), np.array(s["kib"]), args.warmup_s, args.window_s,
                             total)
        nodes[name] = {"samples": len(s["t"]), "rss_after_warmup_kib": a, "rss_last_kib": b,
                       "growth_pct": g}
    late = None
    if diag_first is not None and diag_last is not None:
        a = diag_float(diag_first, "ticks_late_2x_period")
        b = diag_float(diag_last, "ticks_late_2x_period")
        late = None if a is None or b is None else int(b - a)
    res = {
        "machine_before": info, "machine_after": machine_info(), "checkpoint": str(ckpt),
        "checkpoint_note": note, "backend": args.backend, "minutes": args.minutes,
        "warmup_s": args.warmup_s, "window_s": args.window_s, "error": error or None,
        "nodes": nodes,
        "command_period_median_ms_per_minute": cmds.medians_ms,
        "command_gaps_over_2_periods_per_minute": cmds.late_per_minute,
        "system1_ticks_late_2x_period_after_warmup": late,
        "instruction_every_s": args.instruction_every or None,
        "episodes": cycle.count if cycle is not None else None,
        "system1_faults_cleared": cycle.faults if cycle is not None else None,
        "system1_ticks_total": diag_float(diag_last, "ticks") if diag_last else None,
        "system1_period_max_all_ms": diag_float(diag_last, "period_max_all_ms")
        if diag_last else None,
        "thresholds": {"max_rss_growth_pct": args.max_rss_growth_pct,
                       "max_late_ticks": args.max_late_ticks},
        "rss_series": rss,
    }
    failures = []
    if error:
        failures.append(error)
    for name, n in nodes.items():
        if n["growth_pct"] is None:
            failures.append(f"{name}: no RSS samples in a window")
        elif n["growth_pct"] > args.max_rss_growth_pct:
            failures.append(f"{name}: RSS grew {n['growth_pct']:.2f}% > "
                            f"{args.max_rss_growth_pct:g}%")
    if late is None:
        failures.append("no System 1 diagnostics after the warm-up")
    elif late > args.max_late_ticks:
        failures.append(f"System 1: {late} ticks later than two periods after the warm-up "
                        f"(> {args.max_late_ticks})")
    if not cmds.medians_ms:
        failures.append("no commands recorded")
    res["failures"] = failures
    write_json(args.out / "soak.json", res)
    from plot import plot_soak

    png = plot_soak(args.out / "soak.png", rss, cmds.medians_ms)

    print(f"\n{machine_line(res['machine_after']).replace('machine:', 'machine after:')}")
    print(f"{note}; {args.minutes:g} min, warm-up {args.warmup_s:g} s, windows "
          f"{args.window_s:g} s, backend {args.backend}")
    print(f"{'node':16s} {'RSS after warm-up':>18s} {'RSS last window':>16s} {'growth':>8s}")
    for name, n in nodes.items():
        f = (lambda x: "-" if x is None else f"{x / 1024:.1f} MiB")
        g = "-" if n["growth_pct"] is None else f"{n['growth_pct']:+.2f}%"
        print(f"{name:16s} {f(n['rss_after_warmup_kib']):>18s} {f(n['rss_last_kib']):>16s} "
              f"{g:>8s}")
    print("command period median per minute (ms): "
          + " ".join(f"{m:.3f}" for m in cmds.medians_ms))
    print("probe gaps > 2 periods per minute: " + " ".join(map(str, cmds.late_per_minute)))
    print(f"System 1 ticks later than two periods after the warm-up: {late}")
    if cycle is not None:
        print(f"episodes: {cycle.count} (every {args.instruction_every:g} s; each planned on "
              f"before the next); System 1 faults cleared by their enable: {len(cycle.faults)}"
              + "".join(f"\n  {f}" for f in cycle.faults))
    print(f"wrote {args.out / 'soak.json'}, {png}")
    if failures:
        print("FAILED: " + "; ".join(failures), file=sys.stderr)
        return 1
    print("passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
