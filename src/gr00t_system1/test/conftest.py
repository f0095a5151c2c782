"""Fixtures for System 1 node tests: a checkpoint matching both embodiment YAMLs and its
ONNX export (done once per session, here, so nodes start in seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
G1_YAML = REPO / "config" / "unitree_g1.yaml"
GR1_YAML = REPO / "config" / "fourier_gr1.yaml"


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Random-init nano checkpoint with entries for unitree_g1 (slot 0) and gr1 (slot 1)."""
    from gr00t_testing import make_checkpoint_for

    return make_checkpoint_for(tmp_path_factory.mktemp("ckpt") / "nano", [G1_YAML, GR1_YAML])


@pytest.fixture(scope="session")
def onnx_cache(checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An export cache holding the G1 slot's ONNX graphs (exporting takes ~1 min here)."""
    from gr00t_policy.backends import make_runner

    cache = tmp_path_factory.mktemp("onnx_cache")
    make_runner("onnxruntime", checkpoint, embodiment_slot=0, num_steps=4, cache_dir=cache)
    return cache
