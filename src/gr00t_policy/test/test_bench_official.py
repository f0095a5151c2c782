"""The GPU check and the full-size forward benchmark run their CPU-checkable parts here.

Both scripts are run as a user would (a subprocess), on tiny or nano sizes: what they print
and write is checked, no figure is asserted.
"""

from __future__ import annotations

import json
import os
import shutil
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


# A python3 that has torch but not gr00t_policy, as on a GPU image where setup.sh never ran:
# this venv's python with its editable install of gr00t_policy taken out of the import system.
_HIDE_EDITABLE_INSTALL = """
import sys
sys.meta_path[:] = [f for f in sys.meta_path if "__editable__" not in getattr(f, "__module__", "")]
"""


def test_gpu_check_runs_where_setup_never_ran(tmp_path):
    # The GPU machines are lent bare: the repository is copied in, with no .venv or install/
    # (setup.sh needs the ROS wheels and a network), and their python3 holds CUDA torch.
    repo = tmp_path / "repo"
    for name in ("bench", "env.sh", "pytest.ini", "conftest.py"):
        src = REPO / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, repo / name)
    shutil.copytree(REPO / "src" / "gr00t_policy", repo / "src" / "gr00t_policy",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    site, bin_dir = tmp_path / "site", tmp_path / "bin"
    site.mkdir()
    bin_dir.mkdir()
    (site / "sitecustomize.py").write_text(_HIDE_EDITABLE_INSTALL)
    python3 = bin_dir / "python3"
    python3.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python3.chmod(0o755)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(site),
           "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    hidden = subprocess.run([str(python3), "-c", "import gr00t_policy"], env=env, cwd=tmp_path,
                            capture_output=True, text=True)
    assert hidden.returncode != 0, "the stand-in python3 still imports gr00t_policy"
    out = tmp_path / "gpu_check.json"
    proc = subprocess.run(["bash", str(repo / "bench" / "gpu_check.sh"), "--dry-run", "--out",
                           str(out)], cwd=repo, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["pytest"]["exit_code"] == 0
    assert report["results"]["action_head_torch_eager"]["median_ms"] > 0


def test_gpu_check_json_survives_a_kill(tmp_path):
    # A part can outlast the machine's time (a cold TensorRT build of the full-size head); the
    # parts finished before it must not be lost with it.
    out = tmp_path / "gpu_check.json"
    proc = subprocess.Popen([sys.executable, str(REPO / "bench" / "gpu_check.py"), "--dry-run",
                             "--out", str(out)], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        for line in proc.stdout:
            if line.startswith("action_head_torch_eager:"):
                break
        proc.kill()
    finally:
        proc.kill()
        proc.wait(30)
        proc.stdout.close()
    report = json.loads(out.read_text())
    assert report["results"]["action_head_torch_eager"]["median_ms"] > 0
    assert report["environment"]["torch"]


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
