"""The GPU check and the full-size forward benchmark run their CPU-checkable parts here.

Both scripts are run as a user would (a subprocess), on tiny or nano sizes: what they print
and write is checked, no figure is asserted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def _run(cmd: list[str], timeout: float) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def test_gpu_check_dry_run_writes_one_json(tmp_path):
    out = tmp_path / "gpu_check.json"
    proc = _run(["bash", str(REPO / "bench" / "gpu_check.sh"), "--dry-run", "--out", str(out)],
                timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["dry_run"] is True and report["device"] == "cpu" and report["preset"] == "nano"
    assert report["pytest"]["exit_code"] == 0
    assert "test_tensorrt_fp16_engine_matches_torch" in report["pytest"]["log_tail"]
    results = report["results"]
    for part in ("action_head_torch_eager", "action_head_torch_runner_cpu_stand_in",
                 "system2_float32"):
        assert results[part]["median_ms"] > 0, (part, results[part])
    assert results["action_head_torch_runner_cpu_stand_in"]["max_abs_diff_vs_torch_fp32"] < 1e-5
    for part in ("action_head_torch_cuda_graph", "system2_bfloat16", "action_head_tensorrt_fp16"):
        assert "skipped" in results[part], (part, results[part])


def test_full_size_forward_runs_at_tiny_sizes(tmp_path):
    out = tmp_path / "forward.json"
    proc = _run([sys.executable, str(REPO / "bench" / "full_size_forward.py"), "--tiny",
                 "--no-onnx", "--threads", "1", "--workdir", str(tmp_path / "work"),
                 "--json", str(out)], timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["sizes"] == "tiny" and report["actions_finite"] is True
    phases = [row["phase"] for row in report["phases"]]
    assert phases[:2] == ["write official layout (bf16)", "convert (gr00t-policy convert)"]
    assert "System 2: encode (first call)" in phases and "System 1: 4-step chunk (first)" in phases
    assert all(row["peak_rss_gb"] > 0 for row in report["phases"])
    assert not (tmp_path / "work").exists()  # deleted unless --keep
