"""Processor: the one normalize/pad and unpad/unnormalize path of training and System 1."""

from __future__ import annotations

import numpy as np
import pytest

from gr00t_policy.normalization import metadata_entry
from gr00t_policy.processor import Processor

STATS = {"min": [-1.0, 0.0], "max": [1.0, 2.0], "mean": [0.0, 1.0], "std": [0.5, 0.5],
         "q01": [-0.9, 0.1], "q99": [0.9, 1.9]}


def _proc(max_state_dim: int = 5, max_action_dim: int = 4) -> Processor:
    meta = {"r": metadata_entry("r", {"arm": STATS}, {"arm": STATS})}
    return Processor.from_metadata(meta, "r", state_keys=[("arm", "min_max")],
                                   action_keys=[("arm", "mean_std")],
                                   max_state_dim=max_state_dim, max_action_dim=max_action_dim)


def test_state_is_normalized_and_zero_padded() -> None:
    x = _proc().state(np.array([[0.0, 2.0], [1.0, 0.0]]))
    assert x.dtype == np.float32 and x.shape == (2, 5)
    np.testing.assert_allclose(x[:, :2], [[0.0, 1.0], [1.0, -1.0]])
    assert not x[:, 2:].any()


def test_state_into_a_reused_buffer() -> None:
    buf = np.zeros(5, np.float32)
    out = _proc().state(np.array([1.0, 1.0]), out=buf)
    assert out is buf
    np.testing.assert_allclose(buf, [1.0, 0.0, 0.0, 0.0, 0.0])


def test_actions_round_trip_through_the_padded_width() -> None:
    proc = _proc()
    raw = np.array([[0.25, 1.5], [-0.5, 0.5]])
    padded = proc.actions(raw)
    assert padded.shape == (2, 4) and not padded[:, 2:].any()
    padded[:, 2:] = 7.0  # whatever the model puts in the padding is ignored
    np.testing.assert_allclose(proc.unpad_actions(padded), raw, atol=1e-6)
    assert proc.unpad_actions(padded).dtype == np.float64
    assert proc.action_mask().tolist() == [True, True, False, False]


def test_embodiment_wider_than_the_model_is_refused() -> None:
    with pytest.raises(ValueError, match="at most 1 / 4"):
        _proc(max_state_dim=1)
