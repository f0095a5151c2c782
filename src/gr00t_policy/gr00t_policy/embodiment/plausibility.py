"""Measured positions a robot cannot have (ROS-free).

A joint measured well outside its limits means a broken encoder, a calibration offset or
joint names that do not match the robot; planning on it would send the arm somewhere on
the strength of a number that is wrong. `PositionCheck` says which joints are implausible,
so System 1 can refuse the state and fault instead, and `gr00t-dataset from-bag` leaves
such rows out of a dataset (one glitch would set its normalization range). System 1 also
names a plan that asks for such positions (`plan_problem`; its commands are clamped anyway).
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

    def far_beyond(self, positions: np.ndarray) -> np.ndarray:
        """bool (N,): the rows of positions (N, n) with a joint further beyond its limits than
        the joint's whole range (or NaN, inf): no policy trained on the robot's own range
        asks for that, where one that learnt to work at a limit may overshoot it a little."""
        positions = np.asarray(positions, dtype=np.float64).reshape(-1, self.lower.size)
        width = (self.upper - self.lower) - 2.0 * self.margin  # (n,) the limits' own range
        far = ~((positions >= self.lower - width) & (positions <= self.upper + width))
        return far.any(axis=1)

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

    def plan_problem(self, rows: np.ndarray, label: str) -> str | None:
        """None when every row of a plan (H, n) is plausible; else one line naming the first
        implausible row's joints (`label`: "plan 12") and what it means: further beyond a
        limit than the joint's range (`far_beyond`), a damaged checkpoint or another robot's
        statistics; less, the overshoot of a policy trained to work at that limit."""
        bad = self.implausible(rows)  # (H,)
        if not bad.any():
            return None
        far = self.far_beyond(rows)  # (H,)
        rows = np.asarray(rows, dtype=np.float64).reshape(-1, self.lower.size)
        row = rows[int(np.argmax(far if far.any() else bad))]  # (n,)
        asks = (f"{label} asks for {self.describe(row)}, beyond the limits by more than "
                f"plausibility.position_margin {self.margin:g}: ")
        if far.any():
            return asks + (
                "further than the joint's whole range; the commands are clamped, so the joints "
                "run to their limits. A damaged checkpoint, or normalization statistics of "
                "another robot? Check the checkpoint against the embodiment YAML, and disable "
                "System 1 (/gr00t/enable false) until it is fixed")
        return asks + ("the commands are clamped at the limit, never beyond it. A policy whose "
                       "demonstrations run along a limit overshoots it now and then "
                       "(plans_beyond_limits counts how often)")

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
