"""Measured positions a robot cannot have (ROS-free).

A joint measured well outside its limits means a broken encoder, a calibration offset or
joint names that do not match the robot; planning on it would send the arm somewhere on
the strength of a number that is wrong. `PositionCheck` says which joints are implausible,
so System 1 can refuse the state and fault instead.
"""

from __future__ import annotations

from collections.abc import Sequence

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

    def problem(self, positions: np.ndarray) -> str | None:
        """None when every position is plausible; else one line naming each implausible
        joint, its value, its limits and the fix."""
        positions = np.asarray(positions, dtype=np.float64)  # (n,)
        bad = np.flatnonzero((positions < self.lower) | (positions > self.upper))
        if bad.size == 0:
            return None
        shown = ", ".join(
            f"{self.joints[i]} = {positions[i]:.4g} (limits [{self.lower[i] + self.margin:.4g}, "
            f"{self.upper[i] - self.margin:.4g}])" for i in bad[:4])
        more = f" and {bad.size - 4} more" if bad.size > 4 else ""
        return (f"implausible joint state: {shown}{more}, beyond the limits by more than "
                f"plausibility.position_margin {self.margin:g}; check the encoders and that "
                "the joint names on /joint_states match the embodiment YAML, then disable and "
                "re-enable System 1 (/gr00t/enable)")
