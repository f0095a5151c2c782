#!/usr/bin/env python3
"""Command timing of the System 1 node at 120 Hz with joint states and tokens streaming in.

    source env.sh
    python bench/system1_rate.py                       # nano random checkpoint, 60 s
    python bench/system1_rate.py --seconds 30 --checkpoint CKPT --backend onnxruntime
    python bench/system1_rate.py --checkpoint checkpoints/nano --param chunk_mode:=rtc \
        --param rtc_method:=blend                       # any System 1 parameter

Starts ``system1_node`` as its own OS process (a ROS_DOMAIN_ID of its own, localhost
discovery) with the unitree_g1 embodiment, a joint-state publisher at ``--state-hz`` and a
token publisher at 10 Hz, and records every command on one controller topic. After a warm-up
(``--warmup``) it reports:
  - command period error |period - 1/rate| p50 / p90 / p99 / max, from the receive times of a
    probe subscriber (includes DDS delivery jitter) and from the node's own diagnostics
    (timer callback start times, the last 10 s window, and the whole-run maximum);
  - ticks later than two periods (probe gaps > 2 periods; the node's own count);
  - replans per second (action chunks received / s, and the node's diagnostics) and
    inference latency (the chunks' ``inference_latency``);
  - state-to-command latency: stamp of the JointState a chunk was planned from -> the tick
    that first published from that chunk (node diagnostics), and stamp -> chunk receive;
  - the node process's CPU time over the window (user + system, all its threads, from
    /proc), in cores and per plan received: what System 1 takes from the machine's other
    processes (the simulator, System 2) in a given chunk mode.
Prints the machine first. Exits 1 if it could not measure (no node, no commands, no
diagnostics). Goal: a replan every tick, period error p99 < 1 ms, no tick later than two
periods.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from common import cpu_model, cpu_seconds

REPO = Path(__file__).resolve().parents[1]


def machine_line() -> str:
    model = cpu_model()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"machine: {platform.node()} | {model} | {os.cpu_count()} logical cores, {usable} "
            f"usable | load avg {load} | Python {platform.python_version()}")


def pct(values: np.ndarray, qs=(50, 90, 99)) -> list[float]:
    return [float(v) for v in np.percentile(values, qs)] if len(values) else [float("nan")] * len(qs)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", help="checkpoint dir (default: a random nano one)")
    ap.add_argument("--embodiment", default=str(REPO / "config" / "unitree_g1.yaml"))
    ap.add_argument("--backend", default="onnxruntime")
    ap.add_argument("--rate", type=float, default=120.0, help="control_rate_hz")
    ap.add_argument("--state-hz", type=float, default=150.0, help="joint-state publish rate")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--warmup", type=float, default=3.0, help="seconds dropped at the start")
    ap.add_argument("--cache-dir", default="", help="ONNX export cache (default ~/.cache/gr00t_ros)")
    ap.add_argument("--domain-id", type=int, default=None)
    ap.add_argument("--param", action="append", default=[], metavar="NAME:=VALUE",
                    help="a System 1 parameter (repeatable), e.g. chunk_mode:=rtc")
    ap.add_argument("--realtime-priority", type=int, default=None,
                    help="SCHED_FIFO priority for the node, as gr00t-bringup gives it (default: "
                    "gr00t_bringup's SYSTEM1_RT_PRIORITY where permitted); 0: normal scheduling")
    args = ap.parse_args()

    print(machine_line(), flush=True)
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    domain = args.domain_id if args.domain_id is not None else 101 + os.getpid() % 100
    os.environ["ROS_DOMAIN_ID"] = str(domain)

    from diagnostic_msgs.msg import DiagnosticArray
    from gr00t_testing import RECORDING, RELIABLE, NodeProcess, RosProbe, wait_until
    from gr00t_common.stamps import stamp_to_seconds
    from gr00t_msgs.msg import ActionChunk
    from gr00t_policy.embodiment import load_embodiment
    from gr00t_testing import InputFeeder, backbone_id, make_checkpoint_for
    from std_msgs.msg import Float64MultiArray

    emb = load_embodiment(args.embodiment)
    tmp = Path(tempfile.mkdtemp(prefix="system1_rate_"))
    ckpt = Path(args.checkpoint) if args.checkpoint else make_checkpoint_for(
        tmp / "nano", [args.embodiment])
    if not args.checkpoint:
        print(f"random nano checkpoint: {ckpt}", flush=True)
    params = [f"checkpoint:={ckpt}", f"embodiment:={args.embodiment}", f"backend:={args.backend}",
              f"control_rate_hz:={args.rate}", "start_enabled:=true",
              "autostart:=true"]  # a lifecycle node: configure and activate at start
    if args.cache_dir:
        params.append(f"cache_dir:={args.cache_dir}")
    params += args.param
    from gr00t_bringup.graph import SYSTEM1_RT_PRIORITY, may_use_realtime

    rt = SYSTEM1_RT_PRIORITY if args.realtime_priority is None else args.realtime_priority
    if rt > 0 and not may_use_realtime(rt):
        print(f"no permission for SCHED_FIFO {rt}: the node runs at normal priority", flush=True)
        rt = 0
    print(f"System 1 scheduling: {f'SCHED_FIFO {rt}' if rt else 'SCHED_OTHER'}", flush=True)
    node = NodeProcess(
        [*(["chrt", "-f", str(rt)] if rt else []), sys.executable, "-m", "gr00t_system1.node",
         "--ros-args", *[x for p in params for x in ("-p", p)]],
        tmp / "system1.log")
    topic = emb.controllers[0].topic
    period = 1.0 / args.rate
    lock = threading.Lock()
    commands: list[float] = []
    chunks: list[tuple[float, ActionChunk]] = []
    try:
        with RosProbe(name="system1_rate_probe", domain_id=domain) as probe:
            def on_cmd(_msg) -> None:
                with lock:
                    commands.append(time.monotonic())

            def on_chunk(msg) -> None:
                t = time.time()
                with lock:
                    chunks.append((t, msg))

            probe.node.create_subscription(Float64MultiArray, topic, on_cmd, RECORDING)
            probe.node.create_subscription(ActionChunk, "/gr00t/action_chunk", on_chunk, RELIABLE)
            diags = probe.collect(DiagnosticArray, "/diagnostics")
            feeder = InputFeeder(probe, emb.monitored_joints, {n: 0.0 for n in emb.monitored_joints},
                                 backbone_id=backbone_id(ckpt), state_hz=args.state_hz).start()
            try:
                print("waiting for the node (an ONNX export of a new checkpoint takes ~1 min)...",
                      flush=True)
                wait_until(lambda: len(commands) > 10 or not node.alive(), 600, "first commands")
                if not node.alive():
                    raise RuntimeError("the node exited")
                time.sleep(args.warmup)
                with lock:
                    start_cmd, start_chunk = len(commands), len(chunks)
                t_start = time.monotonic()
                cpu_start = cpu_seconds(node.proc.pid)
                n_diag_start = len(diags)
                time.sleep(args.seconds)
                t_end = time.monotonic()
                cpu_end = cpu_seconds(node.proc.pid)
                with lock:
                    cmd_t = np.array(commands[start_cmd:])
                    chunk_win = chunks[start_chunk:]
                diag_win = diags[n_diag_start:]
                states_sent = feeder.states_sent
            finally:
                feeder.stop()
    except (RuntimeError, TimeoutError) as exc:
        print(f"could not measure: {exc}\n--- node log ---\n{node.output()[-3000:]}", file=sys.stderr)
        node.stop()
        return 1
    rc = node.stop()
    if len(cmd_t) < 10 or not diag_win:
        print(f"could not measure: {len(cmd_t)} commands, {len(diag_win)} diagnostics",
              file=sys.stderr)
        return 1

    span = t_end - t_start
    gaps = np.diff(cmd_t)  # (N-1,)
    err_ms = np.abs(gaps - period) * 1e3
    p50, p90, p99 = pct(err_ms)
    late = int((gaps > 2 * period).sum())
    print(f"\nrun: {span:.1f} s after {args.warmup:.0f} s warm-up, control_rate_hz {args.rate:g}, "
          f"backend {args.backend}, joint states sent at ~{args.state_hz:g} Hz ({states_sent} "
          f"total), tokens at 10 Hz, node exit {rc}")
    print(f"probe ({topic}, receive times): {len(cmd_t)} commands = {len(cmd_t) / span:.1f} Hz; "
          f"period error p50 {p50:.3f} / p90 {p90:.3f} / p99 {p99:.3f} / max {err_ms.max():.3f} ms; "
          f"gaps > 2 periods: {late}")

    last = {kv.key: kv.value for kv in diag_win[-1].status[0].values}
    first = {kv.key: kv.value for kv in diag_win[0].status[0].values}
    win_p99 = [float({kv.key: kv.value for kv in d.status[0].values}["period_error_p99_ms"])
               for d in diag_win]
    late_node = int(last["ticks_late_2x_period"]) - int(first["ticks_late_2x_period"])
    ticks_node = int(last["ticks"]) - int(first["ticks"])
    print(f"node diagnostics (timer start times, last 10 s window): period error p50 "
          f"{last['period_error_p50_ms']} / p90 {last['period_error_p90_ms']} / p99 "
          f"{last['period_error_p99_ms']} ms, worst window p99 {max(win_p99):.3f} ms, max over "
          f"the run {last['period_max_all_ms']} ms period; ticks later than 2 periods "
          f"{late_node} of {ticks_node}; timer callback cost p50 {last['tick_cost_median_ms']} / "
          f"p99 {last['tick_cost_p99_ms']} ms; safety state {last['safety_state']}")

    lat = np.array([c.inference_latency for _, c in chunk_win]) * 1e3
    stamp_to_chunk = np.array([w - stamp_to_seconds(c.header.stamp) for w, c in chunk_win]) * 1e3
    replans = len(chunk_win) / span
    l50, _, l99 = pct(lat)
    s50, _, s99 = pct(stamp_to_chunk)
    print(f"replans: {replans:.1f} /s received ({replans / args.rate:.2f} per tick), node says "
          f"{last['replans_per_s']} /s, ticks without a new plan (deadline misses) "
          f"{int(last['deadline_misses']) - int(first['deadline_misses'])}; inference latency "
          f"p50 {l50:.2f} / p99 {l99:.2f} ms")
    print(f"state-to-command latency (node: JointState stamp -> first tick publishing its chunk): "
          f"p50 {last['state_to_command_median_ms']} / p99 {last['state_to_command_p99_ms']} ms; "
          f"JointState stamp -> ActionChunk received: p50 {s50:.2f} / p99 {s99:.2f} ms")
    cpu = cpu_end - cpu_start
    print(f"node CPU (user + system, all threads): {cpu / span:.2f} cores, "
          f"{1e3 * cpu / max(len(chunk_win), 1):.2f} ms per plan received")
    goal = (p99 < 1.0 and late == 0 and replans >= 0.95 * args.rate)
    print(f"goal (replan every tick, period error p99 < 1 ms, no tick later than 2 periods): "
          f"{'met' if goal else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
