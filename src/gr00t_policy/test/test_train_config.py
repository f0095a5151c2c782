"""TrainConfig and RunOptions: torch-free, validated field by field, and read back from the
train_log.json of this and older versions."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gr00t_policy.dataclass_cli import FieldError
from gr00t_policy.train.config import RunOptions, TrainConfig


def test_config_imports_without_torch():
    code = ("import sys, gr00t_policy.train.config as c; c.TrainConfig(); "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("field, value", [
    ("steps", 0), ("batch_size", 0), ("lr", 0.0), ("lr", float("nan")), ("weight_decay", -1.0),
    ("betas", (0.9,)), ("betas", (0.9, 1.0)), ("warmup_ratio", 1.0), ("grad_clip", -1.0),
    ("seed", -1), ("start_prob", -0.1), ("start_frames", 0), ("stale_prob", 1.1),
    ("max_stale_frames", -1), ("augment", 1), ("shift_px", -1), ("jitter", 1.0),
    ("bf16", "yes"), ("log_every", 0), ("save_every", -1), ("prefix_prob", 1.5),
    ("prefix_max_rows", 0), ("prefix_shift", -0.1),
])
def test_a_bad_value_is_named(field, value):
    with pytest.raises(FieldError, match=rf"TrainConfig\.{field} must be .*got") as err:
        TrainConfig(**{field: value})
    assert err.value.field == field and isinstance(err.value, ValueError)


def test_aux_weights_are_sorted_checked_and_flattened_in_place():
    cfg = TrainConfig(aux_weights={"scene": 1, "goal": 0.5})
    assert cfg.aux_weights == (("goal", 0.5), ("scene", 1.0))
    assert cfg == TrainConfig(aux_weights=(("goal", 0.5), ("scene", 1.0)))
    assert cfg.aux_weight("goal") == 0.5 and cfg.aux_weight("other") == 0.0
    keys = list(cfg.to_dict())
    assert keys[keys.index("start_frames") + 1:keys.index("stale_prob")] == ["goal_weight",
                                                                              "scene_weight"]
    with pytest.raises(FieldError, match="goal_weight must be >= 0") as err:
        TrainConfig(aux_weights={"goal": -1.0})
    assert (err.value.field, err.value.key) == ("aux_weights", "goal")
    with pytest.raises(FieldError, match="loss name"):
        TrainConfig(aux_weights={"not a name": 1.0})
    with pytest.raises(FieldError, match="aux_weights must map"):
        TrainConfig(aux_weights={"goal": "heavy"})


def test_resume_differences_read_older_logs():
    cfg = TrainConfig(steps=6, aux_weights={"goal": 1.0})
    saved = cfg.to_dict()
    assert cfg.resume_differences(saved) == []
    # save_every and log_every may change on resume
    assert cfg.resume_differences({**saved, "save_every": 7, "log_every": 1}) == []
    # a setting added after the run was saved counts as its default
    older = {k: v for k, v in saved.items() if k not in ("start_prob", "shift_px")}
    assert cfg.resume_differences(older) == []
    assert TrainConfig(steps=6, shift_px=3, aux_weights={"goal": 1.0}).resume_differences(
        older) == [("shift_px", 2, 3)]
    # an auxiliary weight absent from either side is 0 (off); a weight of 0 matches absence
    assert TrainConfig(steps=6).resume_differences(saved) == [("goal_weight", 1.0, 0.0)]
    assert cfg.resume_differences({**saved, "scene_weight": 0.0}) == []
    assert cfg.resume_differences({**saved, "scene_weight": 0.5}) == [("scene_weight", 0.5, 0.0)]
    # logs hold lists for tuples
    assert cfg.resume_differences({**saved, "betas": [0.9, 0.999]}) == [
        ("betas", (0.9, 0.999), (0.95, 0.999))]


def test_run_options_are_validated():
    with pytest.raises(FieldError, match="threads must be >= 1") as err:
        RunOptions(dataset="d", out="o", threads=0)
    assert err.value.field == "threads"
    with pytest.raises(FieldError, match="precision must be one of"):
        RunOptions(dataset="d", out="o", precision="fp16")
    with pytest.raises(TypeError):
        RunOptions()  # dataset and out have no default
