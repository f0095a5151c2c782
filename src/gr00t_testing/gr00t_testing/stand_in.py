"""Embodiment YAMLs for a stand-in robot: joint states that do not follow the commands.

Node tests feed System 1 joint states from `InputFeeder` (fixed positions, moved by the test)
or from nothing at all while System 1 commands a plan: a robot that does not follow its
commands, which System 1's tracking check (`tracking:` in the YAML, `gr00t_system1.tracking`)
rightly faults on within a second. Tests about something else run such a robot with a copy
of the YAML that switches the check off, and say so by using this; the check itself has its
own tests.
"""

from __future__ import annotations

import math
from pathlib import Path

import yaml


def static_robot_yaml(embodiment: Path, out_dir: Path) -> Path:
    """A copy of the embodiment YAML at ``embodiment`` in ``out_dir``, the same robot with
    System 1's tracking check off (`tracking.max_error: .inf`); returns its path."""
    data = yaml.safe_load(Path(embodiment).read_text())
    data["tracking"] = {**(data.get("tracking") or {}), "max_error": math.inf}
    out = Path(out_dir) / f"{Path(embodiment).stem}_static.yaml"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out
