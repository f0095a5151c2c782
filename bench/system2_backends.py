"""System 2's backbone forward alone: torch eager against the exported graph on onnxruntime,
by thread count, on one checkpoint (ROS-free; the in-graph figures come from gr00t-eval).

    python bench/system2_backends.py [--checkpoint checkpoints/nano] [--runs 60]

Prints p50 / p90 per backend and thread count, and the largest token difference against
torch. Run it on a quiet machine: it measures one process's forward, nothing else.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from gr00t_policy.backbone import BackboneRunner

INSTRUCTION = "touch the red cube with your left hand"


def _time(fn, runs: int) -> np.ndarray:
    for _ in range(5):
        fn()
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return np.array(out) * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", type=Path, default=Path("checkpoints/nano"))
    ap.add_argument("--runs", type=int, default=60)
    ap.add_argument("--threads", default="1,2", help="thread counts to try (default 1,2)")
    args = ap.parse_args()
    threads = [int(t) for t in args.threads.split(",")]
    cache = Path(tempfile.mkdtemp(prefix="s2_bench_"))
    ref = BackboneRunner(args.checkpoint, backend="torch")
    size = ref.image_size
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for _ in range(ref.num_views)]
    tokens = ref.encode(images, INSTRUCTION)[0]
    print(f"checkpoint {args.checkpoint} ({ref.backbone_id}): {ref.num_views} view(s) of "
          f"{size} px, {ref.max_tokens} tokens; {args.runs} runs each")
    print(f"{'backend':<12} {'threads':>7} {'p50 ms':>8} {'p90 ms':>8} {'max |diff|':>11}")
    for n in threads:
        torch.set_num_threads(n)
        ms = _time(lambda: ref.encode(images, INSTRUCTION), args.runs)
        print(f"{'torch':<12} {n:>7} {np.median(ms):>8.1f} {np.percentile(ms, 90):>8.1f} "
              f"{0.0:>11.1e}")
    for n in threads:
        t0 = time.perf_counter()
        ort = BackboneRunner(args.checkpoint, backend="onnxruntime", cache_dir=cache,
                             num_threads=n)
        load_s = time.perf_counter() - t0
        diff = float(np.abs(ort.encode(images, INSTRUCTION)[0] - tokens).max())
        ms = _time(lambda: ort.encode(images, INSTRUCTION), args.runs)
        print(f"{'onnxruntime':<12} {n:>7} {np.median(ms):>8.1f} {np.percentile(ms, 90):>8.1f} "
              f"{diff:>11.1e}   (load{' + export' if n == threads[0] else ''} {load_s:.1f} s)")


if __name__ == "__main__":
    main()
