#!/usr/bin/env python3
"""Latency of one action chunk (K Euler steps, batch 1) per backend and preset.

    python bench/action_head_latency.py                    # nano, torch + onnxruntime (+ tensorrt)
    python bench/action_head_latency.py --include-full     # also gr00t-n1-2b (seconds per chunk on CPU)

Measures `runner.sample(state, noise)` (the 120 Hz call; keys/values of the conditioning are
computed once by `set_conditioning`, timed separately). Random weights: latency does not
depend on their values. Prints the machine, then median / p99 / max in ms. Exits non-zero if
a backend that should run here could not be measured.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np
import torch

from common import cpu_model  # bench/ is on sys.path: the script's own directory

from gr00t_policy.action_head import FlowMatchingActionHead
from gr00t_policy.action_head_config import ACTION_HEAD_PRESETS
from gr00t_policy.backends import BACKENDS, make_runner


def machine_line() -> str:
    parts = [
        f"CPU: {cpu_model()}",
        f"logical cores: {os.cpu_count()}",
        f"usable cores: {len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else '?'}",
        f"torch {torch.__version__} threads {torch.get_num_threads()}",
    ]
    try:
        import onnxruntime

        parts.append(f"onnxruntime {onnxruntime.__version__}")
    except ImportError:
        parts.append("onnxruntime missing")
    if torch.cuda.is_available():
        parts.append(f"GPU: {torch.cuda.get_device_name(0)}")
    try:
        load = os.getloadavg()
        parts.append(f"load avg {load[0]:.2f} {load[1]:.2f}")
    except OSError:
        pass
    return " | ".join(parts)


def time_calls(fn, runs: int, warmup: int) -> np.ndarray:
    for _ in range(warmup):
        fn()
    out = np.empty(runs)
    for i in range(runs):
        start = time.perf_counter()
        fn()
        out[i] = time.perf_counter() - start
    return out * 1e3  # ms


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--include-full", action="store_true",
                        help="also measure the gr00t-n1-2b head (slow on CPU: few runs)")
    parser.add_argument("--backends", default=",".join(BACKENDS),
                        help="comma-separated backends (default: all; tensorrt skipped without GPU)")
    parser.add_argument("--runs", type=int, default=500, help="timed chunks per backend")
    parser.add_argument("--warmup", type=int, default=50, help="untimed chunks first")
    parser.add_argument("--tokens", type=int, default=64, help="backbone tokens L")
    parser.add_argument("--steps", type=int, default=4, help="Euler steps K")
    parser.add_argument("--ort-threads", default="1,2", help="onnxruntime intra-op thread counts")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                        help="torch backend device")
    parser.add_argument("--cache-dir", default=None, help="export/engine cache (default: a temp dir)")
    args = parser.parse_args(argv)

    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = [b for b in backends if b not in BACKENDS]
    if unknown:
        print(f"unknown backends {unknown}; known: {list(BACKENDS)}", file=sys.stderr)
        return 2
    presets = ["nano"] + (["gr00t-n1-2b"] if args.include_full else [])
    cache_dir = args.cache_dir or tempfile.mkdtemp(prefix="gr00t_bench_")

    print(machine_line())
    print(f"batch 1, {args.steps} Euler steps, {args.tokens} conditioning tokens; "
          "the machine is shared, figures +-30%")
    print(f"{'preset':<12} {'backend':<22} {'params':>8} {'median':>8} {'p99':>8} {'max':>8}"
          f" {'set_cond':>9}  (ms)")
    failures, measured = 0, 0
    for preset in presets:
        cfg = ACTION_HEAD_PRESETS[preset]
        torch.manual_seed(0)
        head = FlowMatchingActionHead(cfg).eval()
        n_params = sum(p.numel() for p in head.parameters())
        rng = np.random.default_rng(0)
        tokens = rng.standard_normal((args.tokens, cfg.cross_attention_dim)).astype(np.float32)
        mask = np.ones(args.tokens, np.bool_)
        mask[: args.tokens // 4] = False
        state = rng.standard_normal(cfg.max_state_dim).astype(np.float32)
        noise = rng.standard_normal((cfg.action_horizon, cfg.max_action_dim)).astype(np.float32)
        runs = args.runs if preset == "nano" else max(5, args.runs // 50)
        warmup = args.warmup if preset == "nano" else 2
        for backend in backends:
            variants: list[tuple[str, dict]] = [(backend, {})]
            if backend == "onnxruntime":
                variants = [(f"onnxruntime {t} thr", {"num_threads": int(t)})
                            for t in args.ort_threads.split(",")]
            if backend == "torch" and args.device == "cpu":
                variants = [(f"torch cpu {torch.get_num_threads()} thr", {})]
            if backend == "tensorrt":
                try:
                    import tensorrt  # noqa: F401
                except ImportError:
                    print(f"{preset:<12} {'tensorrt':<22} skipped: tensorrt not importable")
                    continue
                if not torch.cuda.is_available():
                    print(f"{preset:<12} {'tensorrt':<22} skipped: no CUDA GPU")
                    continue
            for label, extra in variants:
                try:
                    runner = make_runner(
                        backend, head, embodiment_slot=0, num_steps=args.steps,
                        num_tokens=args.tokens, cache_dir=cache_dir,
                        device=args.device if backend == "torch" else "cpu", **extra,
                    )
                    runner.set_conditioning(tokens, mask)
                    cond_ms = np.median(time_calls(lambda: runner.set_conditioning(tokens, mask),
                                                   max(3, runs // 10), 1))
                    times = time_calls(lambda: runner.sample(state, noise), runs, warmup)
                except Exception as exc:  # report and go on; the exit code says it failed
                    print(f"{preset:<12} {label:<22} FAILED: {type(exc).__name__}: {exc}")
                    failures += 1
                    continue
                measured += 1
                print(f"{preset:<12} {label:<22} {n_params / 1e6:>7.2f}M {np.median(times):>8.2f}"
                      f" {np.percentile(times, 99):>8.2f} {times.max():>8.2f} {cond_ms:>9.2f}"
                      f"  ({runs} runs)")
    if failures or not measured:
        print(f"{failures} backend(s) failed, {measured} measured", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
