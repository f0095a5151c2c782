"""Token statistics: recorded over what a checkpoint's System 2 produces, and the range
System 1 accepts from them."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gr00t_policy.token_stats import (STATS_KEY, TokenRange, TokenStats, measure, message_figures,
                                      record)

MASK = np.array([False, False, True, True])


def tokens(scale: float = 1.0) -> np.ndarray:
    t = np.zeros((4, 3), np.float32)
    t[:2] = 99.0  # padding: never counted
    t[2:] = scale * np.array([[1.0, -1.0, 1.0], [-1.0, 1.0, -2.0]])
    return t


def test_figures_count_the_real_tokens_only():
    rms, peak = message_figures(tokens(), MASK)
    assert rms == pytest.approx(np.sqrt(9 / 6)) and peak == 2.0


def test_range_accepts_what_was_seen_and_refuses_scaled_tokens():
    stats = measure([message_figures(tokens(s), MASK) for s in (0.9, 1.0, 1.1)])
    assert stats.samples == 3 and stats.abs_max == pytest.approx(2.2)
    check = TokenRange(stats, tolerance=1.5)
    assert check.problem(tokens(1.0), MASK) is None
    assert check.problem(tokens(1.3), MASK) is None  # within the tolerance
    problem = check.problem(tokens(10.0), MASK)
    assert problem is not None and "rms" in problem and "same checkpoint" in problem
    assert check.problem(tokens(0.1), MASK) is not None  # too quiet as well


def test_stats_round_trip_through_config_and_bad_values_are_refused():
    stats = TokenStats(0.4, 0.7, 5.0, 10)
    assert TokenRange.from_config({STATS_KEY: stats.to_dict()}, 2.0).stats == stats
    assert TokenRange.from_config({}, 2.0) is None  # an older checkpoint: no check
    with pytest.raises(ValueError, match="rms_min <= rms_max"):
        TokenStats(0.8, 0.7, 5.0, 10)
    with pytest.raises(ValueError, match="factor >= 1"):
        TokenRange(stats, 0.5)
    # Not an object of numbers: named, not a TypeError from dict() or float()
    for bad in ([1], "x", {**stats.to_dict(), "rms_min": "low"}, {"rms": 1.0}):
        with pytest.raises(ValueError, match="token_stats must be an object of the numbers"):
            TokenStats.from_dict(bad)


def test_record_runs_the_deployed_encoder_over_a_dataset(tmp_path, tiny_dataset_and_checkpoint):
    dataset, ckpt = tiny_dataset_and_checkpoint
    stats = record(ckpt, dataset, ["head"], count=6)
    assert stats.samples == 6 and 0 < stats.rms_min <= stats.rms_max
    saved = json.loads((ckpt / "config.json").read_text())[STATS_KEY]
    assert TokenStats.from_dict(saved) == stats
    assert saved and "backbone_id" in json.loads((ckpt / "config.json").read_text())


def test_the_command_reads_a_dataset_without_modality_json_through_the_embodiment(
        tmp_path, tiny_dataset_and_checkpoint, capsys):
    """`gr00t-policy token-stats CKPT --dataset D --embodiment Y` on a dataset of the lerobot
    library (no meta/modality.json) said "pass the embodiment YAML (--embodiment)" though it
    was given: the dataset was opened without it."""
    import yaml

    from gr00t_policy.cli import main

    dataset, ckpt = tiny_dataset_and_checkpoint
    (dataset / "meta" / "modality.json").unlink()
    joint = {"position": [-3.0, 3.0], "velocity": 5.0}
    emb = tmp_path / "arm.yaml"
    emb.write_text(yaml.safe_dump({
        "name": "arm", "tag": "arm", "slot": 1, "action_dt": 0.05,
        "joint_groups": {"arm": {"joints": [{"name": n, **joint} for n in ("a0", "a1")]}},
        "state_keys": [{"key": "arm", "normalization": "min_max"}],
        "action_keys": [{"key": "arm", "normalization": "min_max"}],
        "cameras": [{"name": "head", "topic": "/camera/head/image_raw"}],
        "controllers": [{"name": "all", "type": "forward_command", "topic": "/all/commands",
                         "joints": ["a0", "a1"]}],
        "staleness": {"state_s": 0.05, "tokens_s": 0.5}, "on_stale": "hold_last_command"}))
    assert main(["token-stats", str(ckpt), "--dataset", str(dataset), "--embodiment", str(emb),
                 "--samples", "4"]) == 0, capsys.readouterr().err
    assert json.loads((ckpt / "config.json").read_text())[STATS_KEY]["samples"] == 4


@pytest.fixture
def tiny_dataset_and_checkpoint(tmp_path):
    from gr00t_policy.checkpoint import make_random_checkpoint
    from gr00t_policy.dataset import LeRobotWriter

    rng = np.random.default_rng(0)
    keys = [("arm", ["a0", "a1"])]
    with LeRobotWriter(tmp_path / "ds", fps=20, state_keys=keys, action_keys=keys,
                       cameras=["head"], image_shape=(32, 32)) as w:
        for task in ("raise your left hand", "touch the red cube with your right hand"):
            w.add_episode(rng.normal(size=(5, 2)).astype(np.float32),
                          rng.normal(size=(5, 2)).astype(np.float32),
                          {"head": rng.integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)}, task)
    return tmp_path / "ds", make_random_checkpoint(tmp_path / "ckpt")
