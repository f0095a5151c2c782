#!/usr/bin/env python3
"""Peak memory of `gr00t-dataset from-bag` on one long episode (recording on the robot).

    source env.sh
    python bench/from_bag_memory.py                        # 60 s, one 640x480 JPEG camera
    python bench/from_bag_memory.py --seconds 120 --cameras 2 --encoding rgb8
    python bench/from_bag_memory.py --seconds 120 --size 64x48 --state-hz 500 --extra-joints 40

Writes a synthetic bag (joint states at 125 Hz, or --state-hz, naming the 3 arm joints and
--extra-joints more that the embodiment does not use, as a G1's 43 are; commands at 20 Hz,
each camera at 30 Hz: a gradient, JPEG-compressed or raw) under --out, then converts it in a child process
(`gr00t_policy.dataset.from_bag.convert_bags`, what the CLI runs) and prints that process's
own peak resident memory (VmHWM: not ru_maxrss, which a child inherits from its parent;
the ffmpeg encoder processes it runs, one at a time, are not counted: their ru_maxrss holds
the forking process's too), its wall time, the bag's size on disk, and what one episode's
decoded frames take (steps x height x width x 3 per camera), what the conversion would need
if it held them at once. The bag is removed at the end unless --out is given (a minute of
two raw cameras is 3.3 GB). No ROS graph; a quiet machine gives repeatable figures.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from common import machine_info, machine_line  # bench/ is on sys.path: the script's own directory

DT = 0.05  # action_dt: 20 Hz steps
ARM = ["j0", "j1", "j2"]


def embodiment_dict(cameras: int) -> dict:
    joint = {"position": [-5.0, 5.0], "velocity": 5.0}
    return {
        "name": "bench_bot", "tag": "bench_bot", "slot": 1, "action_dt": DT,
        "joint_groups": {"arm": {"joints": [{"name": n, **joint} for n in ARM]}},
        "state_keys": [{"key": "arm", "normalization": "min_max"}],
        "action_keys": [{"key": "arm", "normalization": "min_max"}],
        "cameras": [{"name": f"cam{k}", "topic": f"/camera/cam{k}/image_raw"}
                    for k in range(cameras)],
        "controllers": [{"name": "arm_controller", "type": "forward_command",
                         "topic": "/arm/commands", "joints": ARM}],
        "staleness": {"state_s": 0.1, "tokens_s": 0.5},
        "on_stale": "hold_last_command",
    }


def write_recording(path: Path, seconds: float, cameras: int, height: int, width: int,
                    encoding: str, state_hz: float = 125.0, extra_joints: int = 0) -> Path:
    from gr00t_policy.testing.bags import Recording, write_bag

    t_state = np.arange(0.0, seconds, 1.0 / state_hz)
    t_cmd = np.arange(0.1, seconds - 0.1, DT)
    cmd = np.stack([np.sin(t_cmd), np.cos(t_cmd), 0.5 * np.sin(0.3 * t_cmd)], axis=1)  # (M, 3)
    pos = np.stack([np.sin(t_state), np.cos(t_state), 0.5 * np.sin(0.3 * t_state)], axis=1)
    frames = {f"/camera/cam{k}/image_raw": np.arange(0.0, seconds, 1 / 30) for k in range(cameras)}
    extra = [f"other_{i}" for i in range(extra_joints)]
    pos = np.concatenate([pos, np.zeros((len(t_state), extra_joints))], axis=1)
    rec = Recording(state=(t_state, ARM + extra, pos), commands={"/arm/commands": (t_cmd, cmd)},
                    frames=frames, custom_data={"instruction": "wave"},
                    image_size={t: (height, width) for t in frames}, encoding=encoding)
    return write_bag(path, rec)


CHILD = """
import json, sys, time
from gr00t_policy.dataset.from_bag import convert_bags
from gr00t_policy.embodiment import parse_embodiment
emb = parse_embodiment(json.loads(sys.argv[1]))
t0 = time.perf_counter()
[report] = convert_bags([sys.argv[2]], emb, sys.argv[3], codec="h264")
hwm = next(int(line.split()[1]) for line in open("/proc/self/status")
           if line.startswith("VmHWM:"))
print(json.dumps({"steps": report.steps, "wall_s": time.perf_counter() - t0,
                  "peak_kib": hwm}))
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0, help="episode length")
    ap.add_argument("--cameras", type=int, default=1)
    ap.add_argument("--size", default="640x480", help="WIDTHxHEIGHT of every camera")
    ap.add_argument("--encoding", default="jpeg", choices=("jpeg", "rgb8"))
    ap.add_argument("--state-hz", type=float, default=125.0, help="joint states a second")
    ap.add_argument("--extra-joints", type=int, default=0,
                    help="joints /joint_states names beside the 3 the embodiment uses")
    ap.add_argument("--out", type=Path, default=None, help="work directory (default: a temp one)")
    args = ap.parse_args()
    width, height = (int(n) for n in args.size.lower().split("x"))
    work = args.out or Path(tempfile.mkdtemp(prefix="from_bag_memory_"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        return run(args, work, width, height)
    finally:
        if args.out is None:
            shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, work: Path, width: int, height: int) -> int:
    print(machine_line(machine_info()), flush=True)
    t0 = time.perf_counter()
    bag = write_recording(work / "bag", args.seconds, args.cameras, height, width, args.encoding,
                          args.state_hz, args.extra_joints)
    bag_mb = sum(f.stat().st_size for f in bag.iterdir()) / 1e6
    print(f"bag: {args.seconds:g} s, joint states of {3 + args.extra_joints} joints at "
          f"{args.state_hz:g} Hz, {args.cameras} x {width}x{height} {args.encoding} at 30 Hz, "
          f"{bag_mb:.0f} MB on disk (written in {time.perf_counter() - t0:.0f} s)", flush=True)
    done = subprocess.run([sys.executable, "-c", CHILD, json.dumps(embodiment_dict(args.cameras)),
                           str(bag), str(work / "ds")], capture_output=True, text=True)
    if done.returncode != 0:
        print(done.stdout + done.stderr, file=sys.stderr)
        return 1
    got = json.loads(done.stdout.strip().splitlines()[-1])
    decoded_mb = got["steps"] * height * width * 3 * args.cameras / 1e6
    print(f"from-bag: {got['steps']} steps in {got['wall_s']:.1f} s; peak RSS "
          f"{got['peak_kib'] / 1024:.0f} MiB; one episode's decoded frames {decoded_mb:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
