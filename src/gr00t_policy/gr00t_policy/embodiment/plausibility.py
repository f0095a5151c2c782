"""Measured positions a robot cannot have (ROS-free).

A joint measured well outside its limits means a broken encoder, a calibration offset or
joint names that do not match the robot; planning on it would send the arm somewhere on
the strength of a number that is wrong. `PositionCheck` says which joints are implausible,
so System 1 can refuse the state and fault instead, and `gr00t-dataset from-bag` leaves
such rows out of a dataset (one glitch would set its normalization range).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


class PositionCheck:
    """Measured positions vs limits widened by a margin.

    Args:
        joints: the joint names, in the order of the positions checked.
        lower, upper: np (n,) position limits.
        margin: how far outside its limits (rad or m) a measurement may lie.
    """

    def __init__(self, joints: Sequence[str], lower: np.ndarray, upper: np.ndarray,
                 margin: float) -> None:
        self.joints = tuple(joints)
        self.lower = np.asarray(lower, dtype=np.float64).reshape(-1) - margin  # (n,)
        self.upper = np.asarray(upper, dtype=np.float64).reshape(-1) + margin  # (n,)
        self.margin = float(margin)
        if not len(self.joints) == self.lower.size == self.upper.size:
            raise ValueError(f"{len(self.joints)} joints but {self.lower.size} lower and "
                             f"{self.upper.size} upper limits")

    @classmethod
    def of(cls, embodiment: Any, joints: Sequence[str]) -> "PositionCheck":
        """The check of `joints` (any joints System 1 reads) with the embodiment's limits and
        its `plausibility.position_margin`."""
        limits = np.array([embodiment.limits_of(n) for n in joints],
                          dtype=np.float64).reshape(-1, 2)  # (n, 2)
        return cls(joints, limits[:, 0], limits[:, 1], embodiment.plausibility.position_margin)

    def _beyond(self, positions: np.ndarray) -> np.ndarray:
        """bool, positions' shape (..., n): beyond the widened limits, or NaN (every
        comparison with NaN is false, so "not within" is asked, not "below or above")."""
        return ~((positions >= self.lower) & (positions <= self.upper))

    def implausible(self, positions: np.ndarray) -> np.ndarray:
        """bool (N,): the rows of positions (N, n) with a joint beyond its widened limits
        (or NaN)."""
        positions = np.asarray(positions, dtype=np.float64).reshape(-1, self.lower.size)
        return self._beyond(positions).any(axis=1)

    def describe(self, positions: np.ndarray) -> str | None:
        """None when every position (n,) is plausible; else each implausible joint with its
        value and limits, e.g. "j1 = 1e+06 (limits [-3, 3])"."""
        positions = np.asarray(positions, dtype=np.float64)  # (n,)
        bad = np.flatnonzero(self._beyond(positions))
        if bad.size == 0:
            return None
        shown = ", ".join(
            f"{self.joints[i]} = {positions[i]:.4g} (limits [{self.lower[i] + self.margin:.4g}, "
            f"{self.upper[i] - self.margin:.4g}])" for i in bad[:4])
        return shown + (f" and {bad.size - 4} more" if bad.size > 4 else "")

    def problem(self, positions: np.ndarray) -> str | None:
        """None when every position is plausible; else one line naming each implausible
        joint, its value, its limits and the fix."""
        shown = self.describe(positions)
        if shown is None:
            return None
        return (f"implausible joint state: {shown}, beyond the limits by more than "
                f"plausibility.position_margin {self.margin:g}; check the encoders and that "
                "the joint names on /joint_states match the embodiment YAML, then disable and "
                "re-enable System 1 (/gr00t/enable)")
