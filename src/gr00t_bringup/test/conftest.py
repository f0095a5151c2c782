"""The stub nodes the runner tests start in place of System 1/2, as executables (like console
scripts): `stub_exe` runs stub_node.py, `lifecycle_exe` stub_lifecycle_node.py."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent


def _script_exe(tmp_path: Path, script: str) -> Path:
    exe = tmp_path / Path(script).stem
    exe.write_text(f"#!/bin/sh\nexec '{sys.executable}' '{HERE / script}' \"$@\"\n")
    exe.chmod(0o755)
    return exe


@pytest.fixture
def stub_exe(tmp_path: Path) -> Path:
    """An executable that runs stub_node.py with this interpreter."""
    return _script_exe(tmp_path, "stub_node.py")


@pytest.fixture
def lifecycle_exe(tmp_path: Path) -> Path:
    """An executable that runs stub_lifecycle_node.py with this interpreter."""
    return _script_exe(tmp_path, "stub_lifecycle_node.py")
