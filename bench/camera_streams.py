#!/usr/bin/env python3
"""System 2's token rate on real-sized camera streams, with System 1 running.

    source env.sh
    python bench/camera_streams.py --resolutions 640x480 --seconds 5      # one resolution
    python bench/camera_streams.py                                        # the whole table
    python bench/camera_streams.py --cross-host --resolutions 640x480     # root: two netns

Starts System 2 and System 1 as the graph does (gr00t_bringup's `build_graph` and
`GraphRunner`: System 1 at SCHED_FIFO where permitted, System 2 with its Fast DDS profile
config/fastdds_system2.xml, the committed checkpoints/nano, the unitree_g1 embodiment) with
joint states fed at 150 Hz, once, with ROS's default discovery range (SUBNET; a fresh
domain id). Then, for every combination of resolution x encoding (rgb8, bgr8 raw; jpeg, png
compressed) x publisher (reliable or best effort with Fast DDS's default settings, as a
driver has them; "+profile": the publisher's process loads config/fastdds_large_images.xml),
it starts a camera publisher in its own process (gr00t_testing.camera) on the embodiment's
camera topic, waits until tokens computed from its frames arrive (System 2 follows the
publisher's type and reliability with camera_qos / camera_transport auto), and measures for
``--seconds`` after ``--warmup``:
  - frames sent by the camera and received by System 2 (its diagnostics: frames_received,
    frames_lost reported by DDS, frames_unused: replaced by a newer one before a tick used
    them), per second;
  - tokens per second, and frame -> tokens latency (token arrival here minus the frame's
    stamp, which is the camera's wall clock at publish) p50 / p99;
  - System 1's commands per second and the share that were "running" (not a hold).
Frames are gr00t_testing.camera's synthetic scenes (JPEG and PNG about as large as a
camera's). With ``--cross-host`` (root) System 2, System 1 and this probe run in one network
namespace and the camera in another, joined by a veth pair, over UDPv4 only
(gr00t_bringup.netns). Writes every figure to ``--json``. Exits 1 if the graph did not start.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from common import REPO, MeasurementError, machine_info, machine_line, write_json  # bench/ is on sys.path

os.environ.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")

TOPIC_FALLBACK = "/camera/head/image_raw"
PROFILE = REPO / "config" / "fastdds_large_images.xml"
ENCODINGS = ("rgb8", "bgr8", "jpeg", "png")
PUBLISHERS = ("reliable", "best_effort")
RESOLUTIONS = ("640x480", "1280x720", "1920x1080")
MIN_SYSTEM1_HZ = 100.0  # of 120: below it the row is not "with System 1 running"


# -- the measurement ------------------------------------------------------------------------------

def diag_series(recorder, topic: str) -> list[tuple[float, int, int, int]]:
    """(time, frames_received, frames_lost, frames_unused) from System 2's diagnostics."""
    out = []
    for t, values in recorder.diag("gr00t_system2", 0.0, float("inf")):
        try:
            out.append((t, int(values[f"frames_received {topic}"]),
                        int(values[f"frames_lost {topic}"]),
                        int(values[f"frames_unused {topic}"])))
        except (KeyError, ValueError):
            continue
    return out


def per_second(series: list[tuple[float, ...]], t0: float, t1: float, col: int
               ) -> float | None:
    inside = [s for s in series if t0 <= s[0] <= t1]
    if len(inside) < 2 or inside[-1][0] <= inside[0][0]:
        return None
    return (inside[-1][col] - inside[0][col]) / (inside[-1][0] - inside[0][0])


def measure_one(args, recorder, runner, topic: str, resolution: str, encoding: str,
                publisher: str, cache: Path, work: Path, camera_prefix: list[str],
                camera_env: dict[str, str]) -> dict:
    from common import check_alive
    from gr00t_testing.camera import camera_process, payloads

    env = dict(camera_env)
    if publisher.endswith("+profile"):
        env["FASTRTPS_DEFAULT_PROFILES_FILE"] = args.camera_profile
    width, height = (int(v) for v in resolution.split("x"))
    payload = payloads(width, height, encoding, cache)[0]  # made before the camera starts
    row = {"resolution": resolution, "encoding": encoding, "publisher": publisher,
           "payload_kb": round(len(payload) / 1e3)}
    started = time.time()
    cam = camera_process(topic, resolution, encoding, publisher.split("+")[0], args.camera_hz,
                         work / f"camera_{resolution}_{encoding}_{publisher}.log", env=env,
                         cache=cache, prefix=camera_prefix)
    try:
        deadline = time.monotonic() + args.first_tokens_timeout
        while time.monotonic() < deadline:
            check_alive(runner)
            if not cam.alive():
                raise RuntimeError(f"camera exited:\n{cam.output()[-2000:]}")
            with recorder.lock:
                if any(stamp >= started for _, stamp, _, _ in recorder.tokens):
                    break
            time.sleep(0.1)
        else:
            row["note"] = f"no tokens within {args.first_tokens_timeout:.0f} s"
        time.sleep(args.warmup)
        t0 = time.time()
        time.sleep(args.seconds)
        t1 = time.time()
        time.sleep(1.2)  # one more diagnostics message after the window
    finally:
        cam.stop(signal.SIGINT)
    from gr00t_testing.camera import sent_per_second

    window = recorder.window(t0, t1)
    tokens = [(t, s) for t, s, _, _ in window["tokens"] if s >= started]
    infer = [lat for _, s, _, lat in window["tokens"] if s >= started]
    latency = np.array([t - s for t, s in tokens])  # (N,) seconds
    series = diag_series(recorder, topic)
    commands = window["commands"]
    running = sum(1 for _, label in commands if label == "running")
    span = t1 - t0
    row.update({
        "sent_hz": sent_per_second(cam.log_path.read_text(errors="replace"), t0, t1),
        "received_hz": per_second(series, t0 - 1.0, t1 + 1.2, 1),
        "lost_hz": per_second(series, t0 - 1.0, t1 + 1.2, 2),
        "unused_hz": per_second(series, t0 - 1.0, t1 + 1.2, 3),
        "tokens_hz": round(len(tokens) / span, 2),
        "latency_p50_ms": round(float(np.percentile(latency, 50)) * 1e3, 1) if len(latency) else None,
        "latency_p99_ms": round(float(np.percentile(latency, 99)) * 1e3, 1) if len(latency) else None,
        "inference_p50_ms": round(float(np.median(infer)) * 1e3, 1) if infer else None,
        "system1_hz": round(len(commands) / span, 1),
        "system1_running_share": round(running / len(commands), 3) if commands else 0.0,
    })
    for key in ("sent_hz", "received_hz", "lost_hz", "unused_hz"):
        if row[key] is not None:
            row[key] = round(row[key], 1)
    return row


def fmt(v) -> str:
    return "-" if v is None else f"{v:g}" if isinstance(v, float) else str(v)


def print_row(row: dict) -> None:
    print(f"| {row['resolution']} | {row['encoding']} ({row['payload_kb']} KB) | "
          f"{row['publisher']} | {fmt(row['sent_hz'])} | {fmt(row['received_hz'])} | "
          f"{fmt(row['lost_hz'])} | {fmt(row['unused_hz'])} | **{fmt(row['tokens_hz'])}** | {fmt(row['latency_p50_ms'])} / "
          f"{fmt(row['latency_p99_ms'])} | {fmt(row['inference_p50_ms'])} | "
          f"{fmt(row['system1_hz'])} ({100 * row['system1_running_share']:.0f}% running) |"
          + (f" {row['note']}" if row.get("note") else ""), flush=True)


def run_table(args: argparse.Namespace, camera_prefix: list[str], camera_env: dict[str, str]
              ) -> int:
    from common import BENCH_INSTRUCTION, DEFAULT_EMBODIMENT, Recorder, start_graph, wait_for
    from gr00t_bringup.graph import DDS_PROFILE_ENV, build_graph
    from gr00t_testing import InputFeeder, RosProbe, backbone_id

    info = machine_info()
    print(machine_line(info), flush=True)
    work = Path(tempfile.mkdtemp(prefix="camera_streams_"))
    cache = Path(args.cache) if args.cache else work / "frames"
    cache.mkdir(parents=True, exist_ok=True)
    graph = build_graph(str(DEFAULT_EMBODIMENT), checkpoint=args.checkpoint or None)
    emb = graph.embodiment
    topic = emb.cameras[0].topic if emb.cameras else TOPIC_FALLBACK
    s2 = graph.node("gr00t_system2")
    s2 = replace(s2, parameters={**s2.parameters, "camera_qos": args.system2_qos,
                                 "torch_threads": args.torch_threads,
                                 "default_instruction": BENCH_INSTRUCTION})
    if args.system2_profile == "none":
        s2 = replace(s2, env={k: v for k, v in s2.env.items() if k != DDS_PROFILE_ENV})
    elif args.system2_profile != "graph":
        s2 = replace(s2, env={**s2.env, DDS_PROFILE_ENV: args.system2_profile})
    # The shipped YAMLs wait for /gr00t/enable; nobody stands at this "robot", and the table is
    # about System 2 keeping its rate while System 1 commands at 120 Hz beside it.
    s1 = graph.node("gr00t_system1")
    s1 = replace(s1, parameters={**s1.parameters, "start_enabled": True})
    graph = replace(graph, nodes=[s2 if n.name == s2.name else s1 if n.name == s1.name else n
                                  for n in graph.nodes])
    print(f"graph: {', '.join(n.name for n in graph.nodes)}; checkpoint {graph.checkpoint}; "
          f"camera topic {topic}; System 2 camera_qos={args.system2_qos}, Fast DDS profile "
          f"{s2.env.get(DDS_PROFILE_ENV, 'none')}; discovery range "
          f"{os.environ.get('ROS_AUTOMATIC_DISCOVERY_RANGE')}; camera "
          f"{args.camera_hz:g} Hz; window {args.seconds:g} s after {args.warmup:g} s; "
          f"{'cross-host (veth, UDPv4)' if camera_prefix else 'same host'}", flush=True)
    runner = start_graph(graph, work / "graph")
    rows: list[dict] = []
    code = 0
    try:
        with RosProbe("camera_streams_bench") as probe:
            recorder = Recorder(probe, emb.controllers[0].topic, joint_states=False)
            feeder = InputFeeder(probe, emb.monitored_joints,
                                 {n: 0.0 for n in emb.monitored_joints},
                                 backbone_id=backbone_id(Path(graph.checkpoint)))
            feeder.send_tokens.clear()  # System 2 makes the tokens
            feeder.start()
            try:
                wait_for(lambda: bool(recorder.diag("gr00t_system2", 0, float("inf"))), 180,
                         "System 2's first diagnostics", runner)
                print("| resolution | encoding (payload) | publisher | sent /s | received /s "
                      "| lost /s | unused /s | tokens Hz | frame->tokens p50 / p99 ms | "
                      "inference p50 ms | System 1 commands Hz |\n"
                      "|---|---|---|---|---|---|---|---|---|---|---|",
                      flush=True)
                for resolution in args.resolutions.split(","):
                    for encoding in args.encodings.split(","):
                        for publisher in args.publishers.split(","):
                            row = measure_one(args, recorder, runner, topic, resolution,
                                              encoding, publisher, cache, work, camera_prefix,
                                              camera_env)
                            rows.append(row)
                            print_row(row)
                            if row["system1_hz"] < MIN_SYSTEM1_HZ:
                                raise MeasurementError(
                                    f"System 1 commanded at {row['system1_hz']} Hz (< "
                                    f"{MIN_SYSTEM1_HZ}): the row was not measured with System 1 "
                                    "running; see its log")
            finally:
                feeder.stop()
    except Exception as exc:  # noqa: BLE001 - report what failed, with the node logs' path
        print(f"FAILED: {type(exc).__name__}: {exc}; node logs: {work / 'graph'}",
              file=sys.stderr)
        code = 1
    finally:
        runner.stop_all()
    after = machine_info()
    print(f"load avg after: {' '.join(map(str, after['load_avg']))}", flush=True)
    if args.json:
        write_json(Path(args.json), {"machine_before": info, "machine_after": after,
                                     "args": vars(args), "rows": rows,
                                     "cross_host": bool(camera_prefix)})
    return code


def cross_host_main(args: argparse.Namespace) -> int:
    """Make two namespaces; run the table inside A with the camera in B (UDPv4 only).

    The publisher rows with config/fastdds_large_images.xml are left out: shared memory is
    what it changes, and it must not be used across the link (it would bypass it); a
    --camera-profile of UDP settings is kept."""
    from gr00t_bringup import netns

    why = netns.unavailable_reason()
    if why:
        print(f"cannot run --cross-host: {why}", file=sys.stderr)
        return 1
    from common import fresh_domain_id

    tag = os.getpid() % 100000
    pair = netns.VethPair(f"cs{tag}a", f"cs{tag}b", "10.232.0.1/24", "10.232.0.2/24")
    env = {**os.environ, **netns.dds_env(fresh_domain_id())}
    argv = [a for a in sys.argv[1:] if a != "--cross-host"]
    if args.camera_profile == str(PROFILE):
        publishers = [p for p in args.publishers.split(",") if not p.endswith("+profile")]
        argv += ["--publishers", ",".join(publishers)]
    with pair:
        inner = [*pair.a.wrap([sys.executable, __file__, *argv, "--camera-netns", pair.b.netns])]
        return subprocess.call(inner, env=env)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--resolutions", default=",".join(RESOLUTIONS))
    ap.add_argument("--encodings", default=",".join(ENCODINGS))
    ap.add_argument("--publishers", default=",".join(PUBLISHERS),
                    help="reliable, best_effort, and either with +profile (the publisher "
                    "loads --camera-profile)")
    ap.add_argument("--camera-hz", type=float, default=30.0)
    ap.add_argument("--seconds", type=float, default=5.0, help="measurement window per row")
    ap.add_argument("--warmup", type=float, default=1.5, help="seconds after the first tokens")
    ap.add_argument("--first-tokens-timeout", type=float, default=20.0)
    ap.add_argument("--system2-qos", default="auto", help="System 2's camera_qos parameter")
    ap.add_argument("--torch-threads", type=int, default=0, help="System 2's torch_threads")
    ap.add_argument("--camera-profile", default=str(PROFILE),
                    help="Fast DDS profile of the +profile publishers")
    ap.add_argument("--system2-profile", default="graph",
                    help="System 2's Fast DDS profile: graph (what build_graph gives it: "
                    "config/fastdds_system2.xml), none, or a file")
    ap.add_argument("--discovery-range", default="SUBNET", choices=("LOCALHOST", "SUBNET"),
                    help="ROS_AUTOMATIC_DISCOVERY_RANGE on one host (SUBNET: ROS's default; "
                    "with LOCALHOST rmw_fastrtps adds its own transports to every participant)")
    ap.add_argument("--checkpoint", default="", help="default: checkpoints/nano")
    ap.add_argument("--cache", default="", help="directory for the encoded frames")
    ap.add_argument("--json", default="", help="write every figure here")
    ap.add_argument("--cross-host", action="store_true", help="camera in another netns (root)")
    ap.add_argument("--camera-netns", default="", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.cross_host:
        return cross_host_main(args)
    if args.camera_netns:
        return run_table(args, ["ip", "netns", "exec", args.camera_netns], {})
    from common import fresh_domain_id, use_domain

    use_domain(fresh_domain_id())
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = args.discovery_range
    return run_table(args, [], {})


if __name__ == "__main__":
    sys.exit(main())
