#!/usr/bin/env python3
"""System 1's joint_trajectory messages as they come off a real node, played by a model of
the Jazzy joint_trajectory_controller: how far past its acceleration limit each joint goes.

bench/trajectory_jitter.py draws the tick jitter; this takes the real one: the System 1 node
runs on fourier_gr1 (its upper body through one joint_trajectory controller) with a random
nano checkpoint (its plans are noise, which the limits cut: a hard case) and a feeder of
joint states and tokens, on this machine, over real DDS. A subscriber keeps every
trajectory message with the wall-clock time it arrived; the controller model
(src/gr00t_system1/test/jtc_model.py, 500 Hz) then plays them as received, each header
stamp (or 0) as sent, on the wall clock, which is the node's here.

    python bench/trajectory_stream.py [--seconds 20] [--stamps tick receipt]
        [--out artifacts/trajectory_stream]

Prints per `header_stamp` kind: messages, the intervals at which the node's middleware sent
them (p1, median, p99, max), how long after its tick each was sent (stamped only: System 1
computing the tick) and how long it took to arrive (the middleware's source and receive
timestamps, so this process's own scheduling does not count), and the controller's
acceleration read a System 1 period apart at 8 phases over each joint's
YAML limit: the worst joint's worst, and the 99th percentile over all joints and samples.
Runs ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST on a domain of its own (ROS_DOMAIN_ID, default
97).
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
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src" / "gr00t_system1" / "test"))
from jtc_model import accel_per_period, run_controller  # noqa: E402

GR1_YAML = REPO / "config" / "fourier_gr1.yaml"


def yaml_with_stamps(out_dir: Path, stamps: str) -> Path:
    """fourier_gr1 with its tracking check off (the feeder's joints do not follow) and its
    trajectory controller's header_stamp set."""
    from gr00t_testing import static_robot_yaml

    path = static_robot_yaml(GR1_YAML, out_dir / stamps)
    data = yaml.safe_load(path.read_text())
    for c in data["controllers"]:
        if c["type"] == "joint_trajectory":
            c["params"] = {**(c.get("params") or {}), "header_stamp": stamps}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def record(checkpoint: Path, embodiment: Path, seconds: float, log: Path) -> list:
    """[(arrival, sent, JointTrajectory)] from a System 1 node run for `seconds`: the
    middleware's receive and source timestamps (wall clock, s)."""
    from trajectory_msgs.msg import JointTrajectory

    from gr00t_common.probe import RosProbe
    from gr00t_policy.embodiment import load_embodiment
    from gr00t_policy.testing.checkpoints import backbone_id
    from gr00t_testing import AUTOSTART, InputFeeder, NodeProcess, wait_until

    emb = load_embodiment(embodiment)
    topic = next(c.topic for c in emb.controllers if c.type == "joint_trajectory")
    rng = np.random.default_rng(3)
    lim = np.array([emb.joint(n).position_limits for n in emb.state_joints])
    measured = dict(zip(emb.state_joints,
                        (lim[:, 0] + (lim[:, 1] - lim[:, 0]) * rng.uniform(0.3, 0.7, len(lim)))
                        .tolist()))
    node = NodeProcess.python_module(
        "gr00t_system1.node", ["--ros-args", "-p", f"checkpoint:={checkpoint}", "-p",
                               f"embodiment:={embodiment}", "-p", "start_enabled:=true", "-p",
                               "state_staleness_s:=0.2", "-p", AUTOSTART], log)
    got: list = []
    lock = threading.Lock()
    try:
        with RosProbe() as probe:
            def on_msg(msg, info):
                # The middleware's times (wall clock, ns): when the node's DDS sent it and
                # when ours received it, not when this Python process got round to it.
                with lock:
                    got.append((info["received_timestamp"] * 1e-9,
                                info["source_timestamp"] * 1e-9, msg))

            from gr00t_common.probe import RELIABLE
            probe.node.create_subscription(JointTrajectory, topic, on_msg, RELIABLE)
            feeder = InputFeeder(probe, emb.monitored_joints, measured,
                                 backbone_id=backbone_id(checkpoint)).start()
            try:
                wait_until(lambda: len(got) > 10, 180, f"trajectories on {topic} ({log})")
                with lock:
                    got.clear()
                time.sleep(seconds)
                with lock:
                    out = list(got)
            finally:
                feeder.stop()
    finally:
        node.stop()
    return out


def stamp_s(t) -> float:
    return t.sec + t.nanosec * 1e-9


def analyse(received: list, embodiment: Path) -> dict:
    from gr00t_policy.embodiment import load_embodiment

    emb = load_embodiment(embodiment)
    ctrl = next(c for c in emb.controllers if c.type == "joint_trajectory")
    accel = np.array([emb.joint(j).acceleration_limit or np.inf for j in ctrl.joints])
    dt = 1.0 / emb.rates.system1_hz
    messages, sent = [], []
    for arrival, source, msg in received:
        times = np.array([stamp_s(p.time_from_start) for p in msg.points])
        rows = np.array([list(p.positions) for p in msg.points])
        messages.append((arrival, stamp_s(msg.header.stamp), times, rows))
        sent.append(source)
    stamped = messages[0][1] != 0.0
    intervals = np.diff(sent) * 1e3
    start = messages[0][3][0]
    t, x, refused = run_controller(messages, start, 0.002, messages[0][0] + 0.0013,
                                   messages[-1][0])
    keep = t > t[0] + 0.5
    per_joint = [accel_per_period(t[keep], x[keep, j:j + 1], dt) / accel[j]
                 for j in range(x.shape[1]) if np.isfinite(accel[j])]
    everything = np.concatenate(per_joint)
    return {
        "messages": len(messages), "refused": refused,
        "interval_ms": np.percentile(intervals, [1, 50, 99]).tolist() + [intervals.max()],
        # tick -> sent (System 1 computing the tick and publishing), sent -> received
        "publish_ms": (np.percentile([1e3 * (s - m[1]) for s, m in zip(sent, messages)],
                                     [50, 99]).tolist() if stamped else None),
        "transport_ms": np.percentile([1e3 * (m[0] - s) for s, m in zip(sent, messages)],
                                      [50, 99]).tolist(),
        "worst": max(a.max() for a in per_joint), "p99": float(np.percentile(everything, 99)),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--stamps", nargs="+", default=["tick", "receipt"],
                    choices=("tick", "receipt"))
    ap.add_argument("--out", type=Path, default=None,
                    help="where the checkpoint, YAMLs and node logs go (default: a temp dir)")
    args = ap.parse_args(argv)
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    os.environ.setdefault("ROS_DOMAIN_ID", "97")
    from gr00t_policy.testing.checkpoints import make_checkpoint_for

    out = args.out or Path(tempfile.mkdtemp(prefix="trajectory_stream_"))
    out.mkdir(parents=True, exist_ok=True)
    checkpoint = make_checkpoint_for(out / "nano", [GR1_YAML])
    print(f"fourier_gr1 upper body, random nano checkpoint, {args.seconds:g} s a run, "
          f"controller model 500 Hz; logs in {out}")
    print("header_stamp  messages  sent_interval_ms(p1/p50/p99/max)  tick_to_sent_ms(p50/p99)  "
          "transport_ms(p50/p99)  worst/limit  p99/limit  refused")
    for stamps in args.stamps:
        emb_path = yaml_with_stamps(out, stamps)
        r = analyse(record(checkpoint, emb_path, args.seconds, out / f"system1_{stamps}.log"),
                    emb_path)
        iv = "/".join(f"{v:.2f}" for v in r["interval_ms"])
        pub = "-" if r["publish_ms"] is None else "/".join(f"{v:.2f}" for v in r["publish_ms"])
        transport = "/".join(f"{v:.2f}" for v in r["transport_ms"])
        print(f"{stamps:12s}  {r['messages']:8d}  {iv:32s}  {pub:24s}  {transport:21s}  "
              f"{r['worst']:11.2f}  {r['p99']:9.2f}  {r['refused']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
