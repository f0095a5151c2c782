"""Whether the robot's clock is System 1's, from the joint states' stamps (ROS-free).

A joint_trajectory decoder with `header_stamp: tick` stamps each path with its tick's time on
the node clock, and joint_trajectory_controller plays it on the controller manager's clock:
the two must agree within a couple of milliseconds (docs/BENCHMARKS.md, "Trajectory
controllers under jitter": a controller clock 5 ms behind took the joints 2.2-2.9 times past
their acceleration limit; 10 ms ahead, 1.75 times). The joint states tell: the joint state
broadcaster stamps them with the controller manager's update time, so each arrives
`lag = arrival (node clock) - stamp = transport delay - (their clock - ours)` late. The
smallest lag over a window (`WINDOW_S`) is the least delayed message: more than `BEHIND_S`,
and their clock is behind ours by up to that (or every message takes that long to arrive);
below `-AHEAD_S`, their clock is ahead by at least as much.
"""

from __future__ import annotations

import math

# The window over which the smallest lag is taken (s).
WINDOW_S = 2.0
# Beyond these the stamped paths are played off their times (see the module docstring).
BEHIND_S = 0.003
AHEAD_S = 0.005
FIX = ("run System 1 on the controller manager's machine or synchronize the clocks (PTP, "
       "chrony), or set the joint_trajectory controllers' params header_stamp: receipt in the "
       "embodiment YAML")


class ClockCheck:
    """Feed `add(lag_s, mono)` per joint state; `min_lag_s` is the last full window's
    smallest lag (NaN before one), `problem` why it says the clocks differ (None: agree)."""

    def __init__(self, window_s: float = WINDOW_S) -> None:
        self.window_s = float(window_s)
        self.min_lag_s = math.nan
        self.problem: str | None = None
        self._start: float | None = None
        self._min = math.inf

    def add(self, lag_s: float, mono: float) -> bool:
        """One joint state's lag (node clock at arrival minus its stamp, s) at monotonic
        time `mono`; True when this closed a window whose verdict is a problem."""
        if not math.isfinite(lag_s):
            return False
        if self._start is None:
            self._start = mono
        self._min = min(self._min, lag_s)
        if mono - self._start < self.window_s:
            return False
        self.min_lag_s, self._start, self._min = self._min, mono, math.inf
        self.problem = self._verdict(self.min_lag_s)
        return self.problem is not None

    @staticmethod
    def _verdict(lag: float) -> str | None:
        if lag > BEHIND_S:
            return (f"the joint states arrive at least {lag * 1e3:.1f} ms after their stamps: "
                    "the controller manager's clock is up to that much behind System 1's (or "
                    "they travel that long), and a joint_trajectory controller plays the paths "
                    f"stamped with System 1's ticks off their times. Fix: {FIX}")
        if lag < -AHEAD_S:
            return (f"the joint states are stamped {-lag * 1e3:.1f} ms or more ahead of System "
                    "1's clock: the controller manager's clock is ahead, and a "
                    "joint_trajectory controller plays the paths stamped with System 1's ticks "
                    f"off their times. Fix: {FIX}")
        return None
