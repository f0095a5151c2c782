"""One embodiment's vectors in and out of the model: normalize + pad, unpad + unnormalize.

Training (`gr00t_policy.train`) and System 1's planner both go through this object, so a
change to how state and actions reach the model cannot reach one side only::

    proc = Processor.from_metadata(metadata, "unitree_g1", state_keys=[("left_arm", "min_max"), ...],
                                   action_keys=[...], max_state_dim=64, max_action_dim=32)
    x = proc.state(raw_state)          # (..., S) raw -> (..., S_max) float32, normalized, zero-padded
    y = proc.actions(raw_actions)      # (..., A) raw -> (..., A_max) float32 (training targets)
    rows = proc.unpad_actions(model)   # (..., A_max) normalized -> (..., A) float64 raw

The embodiment's vectors are the first columns of the model's padded ones (A for actions;
for the state its normalized width, S, or more with ``sin_cos`` keys, which give two values
per joint); the remaining columns are zero on the way in and ignored on the way out.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from gr00t_policy.normalization import Normalizer


class Processor:
    """Normalization and padding for one embodiment of one checkpoint.

    Args:
        normalizer: the embodiment's statistics (state_dim S, action_dim A).
        max_state_dim: S_max, the action head's padded state width.
        max_action_dim: A_max, the action head's padded action width.

    Raises ValueError when the embodiment is wider than the model.
    """

    def __init__(self, normalizer: Normalizer, *, max_state_dim: int, max_action_dim: int) -> None:
        self.normalizer = normalizer
        self.tag = normalizer.tag
        self.state_dim = int(normalizer.state_dim)
        self.state_width = int(normalizer.state_width)  # normalized: >= state_dim
        self.action_dim = int(normalizer.action_dim)
        self.max_state_dim = int(max_state_dim)
        self.max_action_dim = int(max_action_dim)
        if self.state_width > self.max_state_dim or self.action_dim > self.max_action_dim:
            raise ValueError(
                f"embodiment {self.tag!r} has state {self.state_width} / action {self.action_dim} "
                f"values but the checkpoint takes at most {self.max_state_dim} / "
                f"{self.max_action_dim} (action_head.max_state_dim / max_action_dim)")

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any], tag: str, *,
                      state_keys: Sequence[tuple[str, str]],
                      action_keys: Sequence[tuple[str, str]],
                      max_state_dim: int, max_action_dim: int) -> "Processor":
        """From an Isaac-GR00T metadata.json dict (see `Normalizer.from_metadata`)."""
        norm = Normalizer.from_metadata(metadata, tag, state_keys=state_keys,
                                        action_keys=action_keys)
        return cls(norm, max_state_dim=max_state_dim, max_action_dim=max_action_dim)

    def state(self, raw: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Raw state (..., S) -> float32 (..., S_max), normalized and zero-padded.

        `out` (float32, (..., S_max)) is written in place and returned when given; its
        padding columns must already be zero (they are never written).
        """
        raw = np.asarray(raw)
        if out is None:
            out = np.zeros(raw.shape[:-1] + (self.max_state_dim,), np.float32)
        out[..., : self.state_width] = self.normalizer.normalize_state(raw)
        return out

    def actions(self, raw: np.ndarray) -> np.ndarray:
        """Raw actions (..., A) -> float32 (..., A_max), normalized and zero-padded."""
        raw = np.asarray(raw)
        norm = self.normalizer.normalize_action(raw).astype(np.float32)  # (..., A)
        out = np.zeros(raw.shape[:-1] + (self.max_action_dim,), np.float32)
        out[..., : self.action_dim] = norm
        return out

    def unpad_actions(self, padded: np.ndarray) -> np.ndarray:
        """Model output (..., A_max), normalized -> float64 (..., A) in joint units."""
        return self.normalizer.unnormalize_action(
            np.asarray(padded)[..., : self.action_dim].astype(np.float64))

    def action_mask(self) -> np.ndarray:
        """bool (A_max,): True for the embodiment's own action columns."""
        return np.arange(self.max_action_dim) < self.action_dim
