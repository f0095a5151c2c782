"""Normalizer modes, exact inverses, errors naming what is missing, statistics."""

from __future__ import annotations

import numpy as np
import pytest

from gr00t_policy.normalization import (
    NormalizationError,
    Normalizer,
    compute_statistics,
    metadata_entry,
)
from gr00t_policy.processor import Processor

RNG = np.random.default_rng(0)
ARM = RNG.uniform(-2.0, 2.0, size=(500, 4))
ARM[:, 2] = 0.7  # a constant joint
GRIP = (RNG.uniform(size=(500, 1)) > 0.5).astype(np.float64)


def _metadata() -> dict:
    stats = compute_statistics({"arm": ARM, "gripper": GRIP})
    return {"robot": metadata_entry("robot", stats, stats)}


def _normalizer(mode: str) -> Normalizer:
    keys = [("arm", mode), ("gripper", "binary")]
    return Normalizer.from_metadata(_metadata(), "robot", state_keys=keys, action_keys=keys)


def test_compute_statistics_values():
    stats = compute_statistics({"arm": ARM, "one_d": ARM[:, 0]})["arm"]
    assert set(stats) == {"min", "max", "mean", "std", "q01", "q99"}
    np.testing.assert_allclose(stats["min"], ARM.min(0))
    np.testing.assert_allclose(stats["q99"], np.quantile(ARM, 0.99, axis=0))
    np.testing.assert_allclose(stats["std"], ARM.std(0))
    with pytest.raises(ValueError, match="bad"):
        compute_statistics({"bad": np.zeros((0, 3))})


@pytest.mark.parametrize("mode", ["min_max", "mean_std"])
def test_exact_round_trip(mode):
    norm = _normalizer(mode)
    x = np.concatenate([ARM[:50], GRIP[:50]], axis=1)  # (50, 5)
    for fwd, inv in (
        (norm.normalize_state, norm.unnormalize_state),
        (norm.normalize_action, norm.unnormalize_action),
    ):
        y = fwd(x)
        assert y.shape == x.shape and y.dtype == np.float64
        np.testing.assert_allclose(inv(y), x, rtol=0, atol=1e-12)


def test_min_max_range_and_constant_dims():
    norm = _normalizer("min_max")
    x = np.concatenate([ARM, GRIP], axis=1)
    y = norm.normalize_state(x)
    assert y[:, :4].min() == pytest.approx(-1.0) and y[:, [0, 1, 3]].max() == pytest.approx(1.0)
    assert (y[:, 2] == 0.0).all()  # constant joint -> 0, and back to its value
    assert (norm.unnormalize_state(y)[:, 2] == 0.7).all()


def test_q99_clips_and_inverts_inside_range():
    norm = _normalizer("q99")
    stats = compute_statistics({"arm": ARM})["arm"]
    q01, q99 = np.array(stats["q01"]), np.array(stats["q99"])
    inside = np.linspace(q01, q99, 7)  # (7, 4), within [q01, q99]
    x = np.concatenate([inside, np.ones((7, 1))], axis=1)
    np.testing.assert_allclose(norm.unnormalize_action(norm.normalize_action(x)), x, atol=1e-12)
    outside = x.copy()
    outside[0, 0] = q99[0] + 10.0
    outside[1, 1] = q01[1] - 10.0
    y = norm.normalize_action(outside)
    assert y[0, 0] == 1.0 and y[1, 1] == -1.0
    assert np.abs(y).max() <= 1.0


def test_constant_dimensions_are_normalized_as_isaac_gr00t_does():
    # Isaac-GR00T keeps the value itself where std == 0 (mean_std) or q01 == q99 (q99, then
    # clipped): a joint that never moved in the demonstrations and reads 1 mrad off is not
    # divided by ~0 (it was 1000 with a 1e-6 floor).
    stats = {"j": {"mean": [1.0, 2.0], "std": [0.0, 2.0], "q01": [0.3, 0.0], "q99": [0.3, 4.0]}}
    meta = {"r": metadata_entry("r", stats, stats)}
    norm = Normalizer.from_metadata(meta, "r", [("j", "mean_std")], [("j", "q99")])
    y = norm.normalize_state(np.array([1.001, 4.0]))
    np.testing.assert_allclose(y, [1.001, 1.0])
    np.testing.assert_allclose(norm.unnormalize_state(y), [1.0, 4.0])  # back to the mean
    a = norm.normalize_action(np.array([[0.5, 2.0], [-3.0, 2.0]]))
    np.testing.assert_allclose(a, [[0.5, 0.0], [-1.0, 0.0]])  # kept, clipped to [-1, 1]
    np.testing.assert_allclose(norm.unnormalize_action(a)[:, 0], [0.3, 0.3])


def test_binary_threshold():
    norm = _normalizer("min_max")
    a = np.zeros((3, 5))
    a[:, 4] = [0.2, 0.5, 0.51]
    y = norm.normalize_action(a)
    assert y[:, 4].tolist() == [0.0, 0.0, 1.0]
    back = norm.unnormalize_action(np.array([[0, 0, 0, 0, 0.49], [0, 0, 0, 0, 0.9]]))
    assert back[:, 4].tolist() == [0.0, 1.0]


def test_float32_in_float32_out_and_batch_shapes():
    norm = _normalizer("min_max")
    a = np.zeros((2, 16, 5), dtype=np.float32)
    out = norm.unnormalize_action(a)
    assert out.dtype == np.float32 and out.shape == (2, 16, 5)


def test_wrong_width_is_an_error():
    norm = _normalizer("min_max")
    with pytest.raises(ValueError, match="last dimension 5"):
        norm.normalize_state(np.zeros(4))


def test_errors_name_what_is_missing():
    meta = _metadata()
    with pytest.raises(NormalizationError, match=r"'nope'.*\['robot'\]"):
        Normalizer.from_metadata(meta, "nope", [("arm", "min_max")], [("arm", "min_max")])
    with pytest.raises(NormalizationError, match=r"state key 'leg'.*\['arm', 'gripper'\]"):
        Normalizer.from_metadata(meta, "robot", [("leg", "min_max")], [("arm", "min_max")])
    with pytest.raises(NormalizationError, match="unknown normalization mode 'zscore'"):
        Normalizer.from_metadata(meta, "robot", [("arm", "zscore")], [("arm", "min_max")])
    del meta["robot"]["statistics"]["action"]["arm"]["q99"]
    with pytest.raises(NormalizationError, match=r"action key 'arm'.*\['q99'\]"):
        Normalizer.from_metadata(meta, "robot", [("arm", "q99")], [("arm", "q99")])
    # The state entry is a separate copy: still loads.
    Normalizer.from_metadata(meta, "robot", [("arm", "q99")], [("arm", "min_max")])


@pytest.mark.parametrize("mode, field, value, words", [
    ("min_max", "min", float("nan"), r"robot\.statistics\.action\.arm\.min\[1\] is nan "
                                      r"\(1 of 4 not finite\).*Fix: .*retrain"),
    ("min_max", "max", float("inf"), r"action\.arm\.max\[1\] is inf"),
    ("min_max", "min", None, r"action\.arm\.min\[1\] is nan.*null in JSON"),  # JSON null
    ("min_max", "min", 10.0, r"action\.arm\.min\[1\] = 10 is above max\[1\] = 1\.\d+ "
                             r"\(1 of 4\): the range is inverted.*Fix"),
    ("q99", "q01", 10.0, r"action\.arm\.q01\[1\] = 10 is above q99\[1\]"),
    ("mean_std", "std", -0.5, r"action\.arm\.std\[1\] = -0\.5 is negative"),
    ("mean_std", "mean", float("nan"), r"action\.arm\.mean\[1\] is nan"),
], ids=["nan", "inf", "null", "min_above_max", "q01_above_q99", "negative_std", "nan_mean"])
def test_unusable_statistics_are_refused_naming_the_entry(mode, field, value, words):
    # NaN made every chunk NaN (blamed on /joint_states at run time); min > max put the
    # actions rad beyond the joints' range.
    meta = _metadata()
    meta["robot"]["statistics"]["action"]["arm"][field][1] = value
    with pytest.raises(NormalizationError, match=words):
        Normalizer.from_metadata(meta, "robot", [("arm", mode)], [("arm", mode)])
    # A statistic the key's mode does not read is left alone; the state entry is a copy.
    other = "q99" if mode != "q99" else "min_max"
    Normalizer.from_metadata(meta, "robot", [("arm", mode)], [("arm", other)])


def test_equal_bounds_and_zero_std_still_load():
    # A joint that never moved: min == max, q01 == q99, std == 0 (constant dimensions).
    stats = {"j": {"min": [0.7], "max": [0.7], "mean": [0.7], "std": [0.0], "q01": [0.7],
                   "q99": [0.7]}}
    meta = {"r": metadata_entry("r", stats, stats)}
    for mode in ("min_max", "q99", "mean_std"):
        Normalizer.from_metadata(meta, "r", [("j", mode)], [("j", mode)])


@pytest.mark.parametrize("value", ["abc", ["0.1", "x"], {"a": 1}, [[1.0, 2.0], [3.0]]])
def test_a_statistic_that_is_not_numbers_is_named(value):
    """It was numpy's "could not convert string to float" (no file, key or statistic)."""
    meta = _metadata()
    meta["robot"]["statistics"]["action"]["arm"]["max"] = value
    with pytest.raises(NormalizationError,
                       match=r"action key 'arm' statistic 'max' must be a list of numbers.*Fix:"):
        Normalizer.from_metadata(meta, "robot", [("arm", "min_max")], [("arm", "min_max")])
    meta["robot"]["statistics"]["action"]["arm"] = [1.0]
    with pytest.raises(NormalizationError, match=r"action key 'arm': statistics must be an object"):
        Normalizer.from_metadata(meta, "robot", [("arm", "min_max")], [("arm", "min_max")])


def test_metadata_entry_layout():
    stats = compute_statistics({"arm": ARM})
    entry = metadata_entry("g1", stats, stats)
    assert entry["embodiment_tag"] == "g1"
    assert entry["modalities"]["state"]["arm"] == {"shape": [4], "absolute": True}
    assert entry["statistics"]["action"]["arm"]["q01"] == stats["arm"]["q01"]


def test_sin_cos_state_keys_give_two_values_per_joint_as_isaac_gr00t():
    # StateActionSinCosTransform: [sin(q), cos(q)] per key, concatenated in key order.
    stats = {"arm": {"min": [-1.0, -1.0], "max": [1.0, 1.0]}, "grip": {"min": [0.0], "max": [2.0]}}
    meta = {"r": metadata_entry("r", stats, stats)}
    norm = Normalizer.from_metadata(meta, "r", [("arm", "sin_cos"), ("grip", "min_max")],
                                    [("arm", "min_max"), ("grip", "min_max")])
    assert (norm.state_dim, norm.state_width) == (3, 5)
    q = np.array([[0.3, -2.0, 1.5]])
    y = norm.normalize_state(q)
    np.testing.assert_allclose(y, [[np.sin(0.3), np.sin(-2.0), np.cos(0.3), np.cos(-2.0), 0.5]])
    np.testing.assert_allclose(norm.unnormalize_state(y), q)
    proc = Processor(norm, max_state_dim=6, max_action_dim=4)
    padded = proc.state(q[0])
    np.testing.assert_allclose(padded, [*y[0], 0.0], rtol=1e-6)
    with pytest.raises(ValueError, match="state 5 / action 3 values"):
        Processor(norm, max_state_dim=4, max_action_dim=4)
    with pytest.raises(NormalizationError, match="'sin_cos' is for state keys only"):
        Normalizer.from_metadata(meta, "r", [("arm", "min_max")], [("arm", "sin_cos")])
