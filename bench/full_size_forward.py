#!/usr/bin/env python3
"""One forward pass of the full GR00T-N1-2B policy on the CPU, through the nodes' code paths.

    python bench/full_size_forward.py --json artifacts/full_size_forward.json   # ~10+ GB RAM
    python bench/full_size_forward.py --tiny                                     # seconds

1. writes random weights in the official GR00T N1 layout (as published: one
   model.safetensors, bfloat16) and an Eagle tokenizer directory, from the layout fixture;
2. converts them with `gr00t_policy.convert` (what `gr00t-policy convert` runs);
3. System 2: `BackboneRunner` (the System 2 node's encoder) on one camera image and an
   instruction;
4. System 1: `make_runner("torch", ...)` (the System 1 node's runner) for one K-step chunk;
5. exports the action head to ONNX (`gr00t_policy.export`) and prints its max abs
   difference vs torch.

Prints wall time and the process's peak resident memory after each phase. Random weights:
timing and memory do not depend on their values. Needs about 4.4 + 8.8 GB of free disk for
the official and converted files at full size (``--workdir``; deleted unless ``--keep``).
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine_info  # noqa: E402  (bench/ is on the path when run as a script)

TAG = "new_embodiment"
SLOT = 31  # Isaac-GR00T's action-head slot of new_embodiment
INSTRUCTION = "touch the red cube with your left hand"


def peak_rss_gb() -> float:
    """Peak resident set size of this process so far, GB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


class Phases:
    """Wall time and peak RSS per phase, printed as they finish."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def run(self, name: str, fn, **extra: Any) -> Any:
        start = time.perf_counter()
        out = fn()
        row = {"phase": name, "seconds": round(time.perf_counter() - start, 3),
               "peak_rss_gb": round(peak_rss_gb(), 2), **extra}
        self.rows.append(row)
        print(f"{name:<34} {row['seconds']:>9.2f} s   peak RSS {row['peak_rss_gb']:6.2f} GB",
              flush=True)
        return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true",
                        help="the tiny layout sizes instead of the published ones (a smoke run)")
    parser.add_argument("--steps", type=int, default=4, help="Euler steps of the chunk (default 4)")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default 2)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where the official and converted files go (default a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the files in --workdir")
    parser.add_argument("--no-onnx", action="store_true", help="skip the ONNX export and parity")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)

    from gr00t_policy.backbone import BackboneRunner
    from gr00t_policy.backends import make_runner
    from gr00t_policy.convert import convert_official
    from gr00t_policy.export import check_parity, export_action_head
    from gr00t_policy.testing.layout import TINY_SIZES, load_layout, resolve_sizes
    from gr00t_policy.testing.official import (
        embodiment_with_slot,
        write_eagle_dir,
        write_official_checkpoint,
    )

    torch.set_num_threads(args.threads)
    layout = load_layout()
    sizes = resolve_sizes(layout, TINY_SIZES if args.tiny else None)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="full_size_forward-"))
    work.mkdir(parents=True, exist_ok=True)
    print(json.dumps(machine_info()))
    print(f"sizes: {'tiny' if args.tiny else 'published GR00T-N1-2B'}; steps {args.steps}; "
          f"threads {args.threads}; files in {work}")
    phases = Phases()
    report: dict[str, Any] = {"sizes": "tiny" if args.tiny else "gr00t-n1-2b",
                              "steps": args.steps, "threads": args.threads}
    try:
        official = phases.run("write official layout (bf16)", lambda: write_official_checkpoint(
            work / "official", sizes=sizes, shards=1))
        eagle = write_eagle_dir(work / "eagle2_hg_model", sizes=sizes)
        emb = embodiment_with_slot(REPO / "config" / "unitree_g1.yaml", SLOT)
        ours = work / "converted"
        if ours.exists():
            shutil.rmtree(ours)
        conversion = phases.run("convert (gr00t-policy convert)", lambda: convert_official(
            official, ours, emb, tag=TAG, eagle_dir=eagle))
        report["preset"] = conversion.preset
        shutil.rmtree(official)  # disk: the converted copy is all that is needed now

        encoder = phases.run("System 2: load BackboneRunner", lambda: BackboneRunner(ours))
        image = np.random.default_rng(0).integers(0, 256, size=(480, 640, 3), dtype=np.uint8)
        tokens, mask = phases.run("System 2: encode (first call)",
                                  lambda: encoder.encode([image], INSTRUCTION))
        phases.run("System 2: encode (second call)", lambda: encoder.encode([image], INSTRUCTION))
        report["tokens"] = [int(tokens.shape[0]), int(tokens.shape[1]), int(mask.sum())]
        del encoder
        gc.collect()

        runner = phases.run("System 1: load torch runner", lambda: make_runner(
            "torch", ours, embodiment_slot=SLOT, num_steps=args.steps))
        phases.run("System 1: set_conditioning", lambda: runner.set_conditioning(tokens, mask))
        rng = np.random.default_rng(1)
        state = rng.standard_normal(runner.max_state_dim).astype(np.float32)
        noise = rng.standard_normal((runner.horizon, runner.max_action_dim)).astype(np.float32)
        actions = phases.run(f"System 1: {args.steps}-step chunk (first)",
                             lambda: runner.sample(state, noise))
        phases.run(f"System 1: {args.steps}-step chunk (second)", lambda: runner.sample(state, noise))
        report["actions_finite"] = bool(np.isfinite(actions).all())

        if not args.no_onnx:
            head = runner.head
            del runner
            gc.collect()
            exported = phases.run("ONNX export of the action head", lambda: export_action_head(
                head, work / "onnx", slot=SLOT, num_steps=args.steps,
                num_tokens=int(tokens.shape[0])))
            diff = phases.run("ONNX parity (onnxruntime vs torch)",
                              lambda: check_parity(head, exported))
            report["onnx_max_abs_diff"] = float(diff)
            print(f"ONNX max abs difference vs torch: {diff:.3e}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    report["phases"] = phases.rows
    report["peak_rss_gb"] = round(peak_rss_gb(), 2)
    report["machine"] = machine_info()
    print(f"peak RSS of the whole run: {report['peak_rss_gb']:.2f} GB")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
    return 0 if report.get("actions_finite") else 1


if __name__ == "__main__":
    sys.exit(main())
