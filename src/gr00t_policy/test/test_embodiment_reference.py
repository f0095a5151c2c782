"""docs/EMBODIMENT.md is generated from the embodiment schema and lists every key."""

from __future__ import annotations

from pathlib import Path

from gr00t_policy.embodiment import validate
from gr00t_policy.embodiment.config import EmbodimentConfig
from gr00t_policy.embodiment.reference import COMMAND, DOC_PATH, render
from gr00t_policy.embodiment.schema import (
    Camera,
    ControllerSpec,
    HeldJoint,
    Joint,
    JointGroup,
    KeySpec,
    Rates,
    Staleness,
)
from gr00t_policy.embodiment.schema import yaml_keys

REPO = Path(__file__).resolve().parents[3]
MODELS = (EmbodimentConfig, JointGroup, Joint, HeldJoint, KeySpec, Camera, ControllerSpec, Rates,
          Staleness)


def test_committed_reference_matches_the_schema():
    committed = (REPO / DOC_PATH).read_text(encoding="utf-8")
    assert committed == render(), (
        f"{DOC_PATH} is out of date with the embodiment schema; regenerate it from the repo "
        f"root with: {COMMAND}")


def test_every_key_has_a_description_and_a_row():
    text = render()
    for model in MODELS:
        for key, field in yaml_keys(model).items():
            assert field.description, f"{model.__name__}.{key} has no description"
            row = f"| `{key}` | "
            assert any(line.startswith(row) and field.description in line
                       for line in text.splitlines()), f"no row for {model.__name__}.{key}"
    for check in validate.CHECKS:
        assert f"- {check}" in text


def test_reference_shows_types_defaults_and_allowed_values():
    text = render()
    assert "| `slot` | integer | required | 0..31 |" in text
    assert "| `start_enabled` | `true` or `false` | optional, default `false` |" in text
    assert "`min_max`, `q99`, `mean_std`, `binary`" in text
    assert "`forward_command`, `joint_trajectory`, `joint_state`, or a name registered" in text
    assert "| `system1_hz` | number | optional, default `120.0` | 1.0..2000.0; finite |" in text
    assert "## `state_keys[]`, `action_keys[]`" in text
    assert "## `joint_groups.<name>.joints[]`" in text


def test_shipped_configs_point_at_the_reference():
    for name in ("unitree_g1.yaml", "fourier_gr1.yaml"):
        header = (REPO / "config" / name).read_text(encoding="utf-8").split("\nname:")[0]
        assert DOC_PATH in header
        # The key reference lives in one place: no copy of it in the file's comments.
        assert "start_enabled" not in header and "normalization" not in header
