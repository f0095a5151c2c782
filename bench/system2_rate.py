#!/usr/bin/env python3
"""Achieved token rate and latency of the System 2 node under a 30 Hz camera.

    source env.sh
    python bench/system2_rate.py                          # nano random checkpoint, 30 s
    python bench/system2_rate.py --checkpoint CKPT --seconds 60 --torch-threads 2

Starts ``system2_node`` as its own OS process (ROS_DOMAIN_ID of its own, localhost
discovery) and a camera publisher at ``--camera-hz`` for ``--seconds``, and records every
EmbeddingTokens message. Reports:
  - achieved token rate (messages / s over the steady window) and the inter-arrival gaps;
  - inference latency median / p99 from the messages' ``inference_latency`` field;
  - frame-to-tokens latency: arrival time of the tokens minus the stamp of the frame they
    were computed from (camera stamps are wall-clock ``time.time()`` at publish), which
    adds the wait for the next tick and the transport to the inference time.
Prints the machine first. Exits 1 if no steady stream of tokens could be measured.
Goal on 2 CPU cores: a steady 10 Hz with inference p99 < 100 ms.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from common import BENCH_INSTRUCTION, cpu_model  # bench/ is on sys.path: the script's own directory

os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
os.environ.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")


def machine_line(torch_threads: int) -> str:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    load = os.getloadavg()
    return (f"CPU: {cpu_model()} | logical cores: {os.cpu_count()} | usable cores: {usable} | "
            f"node torch_threads: {torch_threads or 'torch default'} | "
            f"load avg before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


def ms(values: np.ndarray, q: float) -> str:
    return f"{1e3 * float(np.percentile(values, q)):7.1f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", type=Path, help="checkpoint dir (default: random nano)")
    ap.add_argument("--seconds", type=float, default=30.0, help="measurement time (s)")
    ap.add_argument("--camera-hz", type=float, default=30.0, help="camera publish rate")
    ap.add_argument("--rate-hz", type=float, default=10.0, help="node rate_hz parameter")
    ap.add_argument("--width", type=int, default=224, help="camera image width")
    ap.add_argument("--height", type=int, default=224, help="camera image height")
    ap.add_argument("--torch-threads", type=int, default=2, help="node torch_threads (0 = default)")
    ap.add_argument("--warmup", type=float, default=3.0, help="seconds ignored after the first tokens")
    ap.add_argument("--domain-id", type=int, default=50 + os.getpid() % 50, help="ROS_DOMAIN_ID")
    args = ap.parse_args()
    os.environ["ROS_DOMAIN_ID"] = str(args.domain_id)

    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image

    from gr00t_testing import NodeProcess, RosProbe, wait_until
    from gr00t_common.stamps import seconds_to_stamp, stamp_to_seconds
    from gr00t_msgs.msg import EmbeddingTokens

    print(machine_line(args.torch_threads))
    tmp = tempfile.TemporaryDirectory(prefix="system2_rate_")
    ckpt = args.checkpoint
    if ckpt is None:
        from gr00t_policy.checkpoint import make_random_checkpoint

        ckpt = make_random_checkpoint(Path(tmp.name) / "nano", preset="nano")
        print(f"checkpoint: random nano at {ckpt}")
    import json

    views = json.loads((Path(ckpt) / "config.json").read_text())["backbone"]["num_views"]
    topics = [f"/bench/camera{i}/image_raw" for i in range(views)]
    node = NodeProcess.python_module("gr00t_system2.node", [
        "--ros-args", "-p", "autostart:=true",  # a lifecycle node: configure + activate now
        "-p", f"checkpoint:={ckpt}", "-p", f"camera_topics:=[{','.join(topics)}]",
        "-p", f"rate_hz:={float(args.rate_hz)}", "-p", f"torch_threads:={args.torch_threads}",
        "-p", f"default_instruction:={BENCH_INSTRUCTION}",  # it starts with none: no tokens
    ], Path(tmp.name) / "node.log")

    arrivals: list[tuple[float, EmbeddingTokens]] = []
    stop = threading.Event()
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (args.height, args.width, 3), dtype=np.uint8).tobytes()
              for _ in range(8)]
    code = 0
    try:
        with RosProbe("system2_rate_bench", domain_id=args.domain_id) as probe:
            probe.node.create_subscription(
                EmbeddingTokens, "/gr00t/embedding_tokens",
                lambda m: arrivals.append((time.time(), m)), 10)
            pubs = [probe.publisher(Image, t, qos_profile_sensor_data) for t in topics]
            for p in pubs:
                probe.wait_for_subscribers(p, timeout=120.0)

            def camera() -> None:
                period, k = 1.0 / args.camera_hz, 0
                next_t = time.monotonic()
                while not stop.is_set():
                    stamp = seconds_to_stamp(time.time())
                    for p in pubs:
                        msg = Image()
                        msg.header.stamp = stamp
                        msg.header.frame_id = "bench_camera"
                        msg.height, msg.width, msg.encoding = args.height, args.width, "rgb8"
                        msg.step = args.width * 3
                        msg.data = frames[k % len(frames)]
                        p.publish(msg)
                    k += 1
                    next_t += period
                    stop.wait(max(0.0, next_t - time.monotonic()))

            cam = threading.Thread(target=camera, daemon=True)
            cam.start()
            try:
                wait_until(lambda: bool(arrivals), 60.0, "the first tokens")
            except TimeoutError as exc:
                print(f"FAILED: {exc}; node log:\n{node.output()}", file=sys.stderr)
                return 1
            t_first = time.time()
            time.sleep(args.warmup + args.seconds)
            stop.set()
            cam.join(timeout=2.0)
    finally:
        node.stop()

    t0, t1 = t_first + args.warmup, t_first + args.warmup + args.seconds
    window = [(t, m) for t, m in arrivals if t0 <= t <= t1]
    if len(window) < 10:
        print(f"FAILED: only {len(window)} tokens in the {args.seconds:.0f} s window", file=sys.stderr)
        print(node.log_path.read_text(errors="replace")[-3000:], file=sys.stderr)
        return 1
    times = np.array([t for t, _ in window])
    infer = np.array([m.inference_latency for _, m in window])
    frame_to_tokens = np.array([t - stamp_to_seconds(m.header.stamp) for t, m in window])
    gaps = np.diff(times)
    m0 = window[0][1]
    rate = len(window) / args.seconds
    print(f"tokens: {m0.num_tokens} x {m0.dim} dtype {m0.dtype}, backbone {m0.backbone_id}, "
          f"{views} camera(s) {args.width}x{args.height} at {args.camera_hz:g} Hz")
    print(f"achieved rate: {rate:.2f} Hz (target {args.rate_hz:g}) over {args.seconds:.0f} s, "
          f"{len(window)} messages")
    print(f"{'ms':24s} median     p99     max")
    print(f"{'inference_latency':24s}{ms(infer, 50)} {ms(infer, 99)} {1e3 * infer.max():7.1f}")
    print(f"{'frame -> tokens arrival':24s}{ms(frame_to_tokens, 50)} {ms(frame_to_tokens, 99)} "
          f"{1e3 * frame_to_tokens.max():7.1f}")
    print(f"{'inter-arrival gap':24s}{ms(gaps, 50)} {ms(gaps, 99)} {1e3 * gaps.max():7.1f}")
    load = os.getloadavg()
    print(f"load avg after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
          "(other processes on this machine inflate the figures)")
    goal_rate = rate >= 0.95 * args.rate_hz
    goal_p99 = float(np.percentile(infer, 99)) < 0.100
    print(f"goal steady {args.rate_hz:g} Hz: {'met' if goal_rate else 'NOT met'}; "
          f"inference p99 < 100 ms: {'met' if goal_p99 else 'NOT met'}")
    tmp.cleanup()
    return code


if __name__ == "__main__":
    sys.exit(main())
