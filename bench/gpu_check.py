#!/usr/bin/env python3
"""The Python part of bench/gpu_check.sh: full-size latencies on an NVIDIA GPU, one JSON.

    python bench/gpu_check.py --out artifacts/gpu_check.json [--pytest-junit J --pytest-rc N]
    python bench/gpu_check.py --out /tmp/gpu_check.json --dry-run     # CPU, nano sizes

Measures, with random weights (latency does not depend on their values), batch 1:

- action head, K-step chunk: torch eager (``head.sample_from_conditioning``, synchronized),
  torch CUDA graph (System 1's ``TorchRunner``), TensorRT FP16 (``TensorRTRunner``), each
  median / p99 in ms;
- real-time chunking by prefix conditioning: sample_prefix on torch and TensorRT (its
  prefix.onnx), latency and agreement with torch;
- real-time chunking: the torch runner's guided sample (eager, a vector-Jacobian product
  per Euler step), median / p99, and how far plain and guided samples sit from the target
  over the guided half of the chunk;
- System 2: one ``BackboneRunner.encode`` (image preprocessing, prompt, backbone) in
  bfloat16 and float32;
- agreement: max abs difference of TensorRT's actions vs torch float32 on the same inputs.

Every part records its figures or the error it hit, and parts are skipped (named as such)
once ``--budget-s`` is spent. The JSON is rewritten before and after every part, so one
always comes out, also when the process is killed (a cold TensorRT build of the full-size
head can outlast the machine's time): the part it was in says "running". The TensorRT parts
share one export and engine cache, so the engines they have in common are built once.
``--dry-run`` runs the parts a CPU can (torch eager, the torch runner on the CPU in place of
the CUDA-graph and TensorRT runners, System 2 in float32) at nano sizes, to check the script
itself.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import tempfile
import time
import traceback
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

INSTRUCTION = "touch the red cube with your left hand"


def percentiles(ms: np.ndarray) -> dict[str, float]:
    return {"median_ms": round(float(np.median(ms)), 3),
            "p99_ms": round(float(np.percentile(ms, 99)), 3),
            "max_ms": round(float(ms.max()), 3), "runs": int(ms.size)}


def time_ms(fn: Callable[[], Any], runs: int, warmup: int, sync: Callable[[], None]) -> np.ndarray:
    for _ in range(warmup):
        fn()
    sync()
    out = np.empty(runs)
    for i in range(runs):
        start = time.perf_counter()
        fn()
        sync()
        out[i] = (time.perf_counter() - start) * 1e3
    return out


def pytest_summary(junit: Path | None, rc: int | None, log: Path | None) -> dict[str, Any]:
    """Counts and the failed/skipped tests (with reasons) from a JUnit XML file."""
    out: dict[str, Any] = {"exit_code": rc}
    if log is not None and log.is_file():
        out["log_tail"] = log.read_text()[-2000:]
    if junit is None or not junit.is_file() or junit.stat().st_size == 0:
        out["junit"] = "none"
        return out
    root = ET.parse(junit).getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    for key in ("tests", "failures", "errors", "skipped"):
        out[key] = int(suite.get(key, 0))
    details = []
    for case in suite.iter("testcase"):
        for kind in ("failure", "error", "skipped"):
            node = case.find(kind)
            if node is not None:
                details.append({"test": f"{case.get('classname')}::{case.get('name')}",
                                "outcome": kind, "message": (node.get("message") or "")[:300]})
    out["not_passed"] = details
    return out


class Check:
    """Runs named parts within a time budget; records figures, errors or skips, and calls
    `save()` before and after each part."""

    def __init__(self, budget_s: float, save: Callable[[], None] = lambda: None) -> None:
        self.start = time.perf_counter()
        self.budget_s = budget_s
        self.save = save
        self.results: dict[str, Any] = {}

    def part(self, name: str, fn: Callable[[], dict[str, Any]], needs: str | None = None) -> None:
        if needs is not None:
            self.results[name] = {"skipped": needs}
        elif time.perf_counter() - self.start > self.budget_s:
            self.results[name] = {"skipped": f"time budget of {self.budget_s:.0f} s spent"}
        else:
            self.results[name] = {"running": "started; not finished when this was written "
                                             "(the process was killed, or is still running)"}
            self.save()
            t0 = time.perf_counter()
            try:
                self.results[name] = fn()
            except Exception as exc:  # noqa: BLE001 - recorded, the other parts still run
                self.results[name] = {"error": f"{type(exc).__name__}: {exc}",
                                      "traceback": traceback.format_exc()[-1500:]}
            self.results[name]["wall_s"] = round(time.perf_counter() - t0, 2)
        self.save()
        print(f"{name}: {json.dumps({k: v for k, v in self.results[name].items() if k != 'traceback'})}",
              flush=True)


def environment() -> dict[str, Any]:
    env: dict[str, Any] = {"python": platform.python_version(), "torch": torch.__version__,
                           "cuda_available": torch.cuda.is_available(),
                           "torch_cuda": torch.version.cuda}
    if torch.cuda.is_available():
        env["gpu"] = torch.cuda.get_device_name(0)
        env["gpu_memory_gb"] = round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1)
    for module in ("tensorrt", "onnxruntime", "transformers"):
        try:
            env[module] = str(__import__(module).__version__)
        except Exception:  # noqa: BLE001 - absent is a fact to report
            env[module] = "not installed"
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    parser.add_argument("--dry-run", action="store_true",
                        help="CPU, nano sizes: checks the script, measures nothing")
    parser.add_argument("--budget-s", type=float, default=360.0,
                        help="skip the remaining parts after this many seconds (default 360)")
    parser.add_argument("--steps", type=int, default=4, help="Euler steps per chunk (default 4)")
    parser.add_argument("--slot", type=int, default=0, help="embodiment slot (default 0)")
    parser.add_argument("--pytest-junit", type=Path, default=None)
    parser.add_argument("--pytest-rc", type=int, default=None)
    parser.add_argument("--pytest-log", type=Path, default=None)
    args = parser.parse_args(argv)

    from gr00t_policy.backbone import BackboneRunner
    from gr00t_policy.backends import make_runner
    from gr00t_policy.export import example_inputs
    from gr00t_policy.policy import build_policy
    from gr00t_policy.policy_config import get_preset
    from gr00t_policy.prompt import build_nano_tokenizer

    cuda = torch.cuda.is_available() and not args.dry_run
    device = "cuda" if cuda else "cpu"
    preset = "nano" if args.dry_run else "gr00t-n1-2b"
    runs, warmup = (3, 1) if args.dry_run else (50, 5)
    if args.dry_run:
        torch.set_num_threads(1)  # a check of the script, not a measurement: stay light
    config = get_preset(preset)
    num_tokens = config.backbone.max_tokens
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    no_gpu = None if cuda else "needs an NVIDIA GPU with CUDA"
    report: dict[str, Any] = {"dry_run": args.dry_run, "preset": preset, "device": device,
                              "steps": args.steps, "environment": environment(),
                              "pytest": pytest_summary(args.pytest_junit, args.pytest_rc,
                                                       args.pytest_log)}
    args.out.parent.mkdir(parents=True, exist_ok=True)

    def save() -> None:
        report["results"] = check.results
        report["elapsed_s"] = round(time.perf_counter() - check.start, 1)
        tmp = args.out.with_name(args.out.name + ".tmp")
        tmp.write_text(json.dumps(report, indent=2))
        tmp.replace(args.out)  # a reader (or a kill) never finds half a file

    check = Check(args.budget_s, save)
    save()
    # One cache for every part: the TensorRT parts export the head and build its engines once.
    cache = tempfile.mkdtemp(prefix="gpu_check-cache-")
    torch.manual_seed(0)
    head = build_policy(config, device, parts=("action_head",)).action_head.eval()
    ex = example_inputs(config.action_head, num_tokens, seed=0)

    def inputs(dev: str):
        return {k: torch.from_numpy(v).to(dev) for k, v in ex.items()}

    slot = torch.tensor([args.slot], device=device)

    def eager() -> dict[str, Any]:
        x = inputs(device)
        with torch.inference_mode():
            cond = head.encode_conditioning(x["tokens"], x["mask"])
            ms = time_ms(lambda: head.sample_from_conditioning(
                cond, x["state"], slot, x["noise"], args.steps), runs, warmup, sync)
        return {"what": "head.sample_from_conditioning, synchronized", **percentiles(ms)}

    def runner_latency(backend: str, ref: np.ndarray | None = None) -> dict[str, Any]:
        runner = make_runner(backend, head, embodiment_slot=args.slot, num_steps=args.steps,
                             num_tokens=num_tokens, cache_dir=cache, device=device)
        runner.set_conditioning(ex["tokens"][0], ex["mask"][0])
        ms = time_ms(lambda: runner.sample(ex["state"][0, 0], ex["noise"][0]), runs, warmup,
                     lambda: None)  # sample returns host numpy: already synchronized
        ref = head_reference() if ref is None else ref
        got = runner.sample(ex["state"][0, 0], ex["noise"][0])
        return {"what": f"{type(runner).__name__}.sample (numpy in/out)", **percentiles(ms),
                "max_abs_diff_vs_torch_fp32": float(np.abs(got - ref).max()),
                "mean_abs_diff_vs_torch_fp32": float(np.abs(got - ref).mean()),
                "reference_abs_max": float(np.abs(ref).max())}

    def tf32_latency() -> dict[str, Any]:
        # What TF32 matmuls would buy System 1 (it keeps strict float32 today) and how far
        # they move the actions: the reference is taken in float32 before the switch.
        ref = head_reference()
        saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
        try:
            return runner_latency("torch", ref)
        finally:
            torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved

    def guided_latency() -> dict[str, Any]:
        # Real-time chunking's guided sampling: eager with autograd (a vector-Jacobian product
        # per Euler step), so it cannot be replayed from the CUDA graph. The first half of the
        # chunk is weighted towards a target, as when the previous chunk overlaps it.
        runner = make_runner("torch", head, embodiment_slot=args.slot, num_steps=args.steps,
                             num_tokens=num_tokens, device=device)
        runner.set_conditioning(ex["tokens"][0], ex["mask"][0])
        state, noise = ex["state"][0, 0], ex["noise"][0]
        target = runner.sample(state, ex["noise"][0][::-1].copy())
        weights = np.zeros_like(target)
        weights[: target.shape[0] // 2] = 1.0
        ms = time_ms(lambda: runner.sample_guided(state, noise, target, weights, 5.0), runs,
                     warmup, lambda: None)
        plain = runner.sample(state, noise)
        guided = runner.sample_guided(state, noise, target, weights, 5.0)
        half = target.shape[0] // 2
        return {"what": "TorchRunner.sample_guided (eager + autograd), numpy in/out",
                **percentiles(ms),
                "overlap_err_plain": float(np.abs(plain[:half] - target[:half]).mean()),
                "overlap_err_guided": float(np.abs(guided[:half] - target[:half]).mean())}

    def prefix_latency(backend: str) -> Callable[[], dict[str, Any]]:
        # Real-time chunking by prefix conditioning: the first rows given (as many as a
        # 300 ms delay freezes at 20 Hz rows); on TensorRT from the exported prefix.onnx,
        # checked against torch's eager prefix sample.
        def run() -> dict[str, Any]:
            rows = 6
            runner = make_runner(backend, head, embodiment_slot=args.slot,
                                 num_steps=args.steps, num_tokens=num_tokens,
                                 cache_dir=cache, device=device, prefix=True)
            ref_runner = make_runner("torch", head, embodiment_slot=args.slot,
                                     num_steps=args.steps, num_tokens=num_tokens,
                                     device=device)
            for r in (runner, ref_runner):
                r.set_conditioning(ex["tokens"][0], ex["mask"][0])
            state, noise = ex["state"][0, 0], ex["noise"][0]
            prefix = ref_runner.sample(state, noise[::-1].copy())
            ms = time_ms(lambda: runner.sample_prefix(state, noise, prefix, rows), runs,
                         warmup, lambda: None)
            got = runner.sample_prefix(state, noise, prefix, rows)
            ref = ref_runner.sample_prefix(state, noise, prefix, rows)
            return {"what": f"{type(runner).__name__}.sample_prefix, {rows} rows given",
                    **percentiles(ms), "given_rows_exact": bool(np.array_equal(got[:rows],
                                                                               prefix[:rows])),
                    "max_abs_diff_vs_torch_fp32": float(np.abs(got - ref).max())}
        return run

    def head_reference() -> np.ndarray:
        x = inputs(device)
        with torch.inference_mode():
            out = head.sample(x["tokens"], x["mask"], x["state"], slot, x["noise"], args.steps)
        return out[0].float().cpu().numpy()

    def system2(dtype: str) -> Callable[[], dict[str, Any]]:
        def run() -> dict[str, Any]:
            torch.manual_seed(1)
            policy = build_policy(config, device, parts=("backbone",))
            encoder = BackboneRunner.from_modules(
                policy.backbone, build_nano_tokenizer(config.backbone), "", device, dtype)
            image = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
            ms = time_ms(lambda: encoder.encode([image] * config.backbone.num_views, INSTRUCTION),
                         max(runs // 2, 3), warmup, lambda: None)
            encoder = policy = None  # free the GPU memory before the next part
            if cuda:
                torch.cuda.empty_cache()
            return {"what": f"BackboneRunner.encode, {dtype}, 480x640 image", **percentiles(ms)}
        return run

    try:
        check.part("action_head_torch_eager", eager)
        check.part("action_head_torch_cuda_graph", lambda: runner_latency("torch"),
                   needs=no_gpu)
        check.part("action_head_torch_cuda_graph_tf32", tf32_latency, needs=no_gpu)
        if args.dry_run:  # the runner, timing and agreement code of the GPU parts, on the CPU
            check.part("action_head_torch_runner_cpu_stand_in", lambda: runner_latency("torch"))
        check.part("action_head_rtc_guided", guided_latency)
        check.part("system2_bfloat16", system2("bfloat16"), needs=no_gpu)
        check.part("system2_float32", system2("float32"))
        trt_missing = no_gpu or (None if report["environment"]["tensorrt"] != "not installed"
                                 else "needs the tensorrt Python package")
        check.part("action_head_tensorrt_fp16", lambda: runner_latency("tensorrt"),
                   needs=trt_missing)
        check.part("action_head_rtc_prefix_torch", prefix_latency("torch"))
        check.part("action_head_rtc_prefix_tensorrt", prefix_latency("tensorrt"),
                   needs=trt_missing)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    save()
    print(f"wrote {args.out}")
    errors = [k for k, v in check.results.items() if "error" in v]
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
