"""Whether a stamped trajectory path reaches its controller in time, by the controller's clock
(ROS-free).

A joint_trajectory decoder with `header_stamp: tick` stamps each path with its tick's time on
the node clock, and joint_trajectory_controller plays it on the controller manager's clock
from that stamp. Each path runs as the path sent before it for `keep_s` after its tick
(`CommandLoop._kept_knots`: a control period), so the controller must take the message up
within that, by its own clock: pick-up = System 1's send delay (tick to publish) + transport
+ the wait for the controller's next update + the clock offset (theirs - ours). Later, it
steps from the old path to the new; before the stamp (its clock behind ours by more than the
send delay), it blends from its last command instead of playing the path.

The joint states tell the offset: the joint state broadcaster stamps them with the controller
manager's update time, so each arrives `lag = arrival (node clock) - stamp = transport -
offset`; the smallest lag over a window (`WINDOW_S`) is the least delayed message, and
`-min lag` the offset (up to that message's transport). With the send delays measured over
the same window, the verdict: the latest pick-up, `send p99 + PICKUP_MARGIN_S + offset`,
must come before `keep_s`; the earliest, `smallest send + offset`, not more than `EARLY_S`
before the stamp.
Measured with a model of the controller (docs/BENCHMARKS.md, "Trajectory controllers under
jitter"): a controller clock 5 ms behind with messages sent at once took the joints 2.2-2.9
times past their acceleration limit; pick-up 6-10 ms after the tick at 120 Hz, 2.3 times.
"""

from __future__ import annotations

import math

import numpy as np

# The window over which the smallest lag and the send delays are taken (s).
WINDOW_S = 2.0
# Transport and the wait for the controller's next update, allowed on top of the send delay
# (s): DDS on one host 0.2-0.7 ms (p50-p99), an update period of 2 ms at 500 Hz.
PICKUP_MARGIN_S = 0.0025
# How far before its stamp a controller may take a path up (s): a controller clock 2 ms behind
# System 1's kept the modelled controller within its limits, 5 ms did not.
EARLY_S = 0.002
FIX = ("run System 1 on the controller manager's machine or synchronize the clocks (PTP, "
       "chrony), or set the joint_trajectory controllers' params header_stamp: receipt in the "
       "embodiment YAML")


class ClockCheck:
    """Feed `add_send(delay_s)` per published tick and `add(lag_s, mono)` per joint state;
    `offset_s` is the last full window's estimate of the controller's clock minus ours (NaN
    before one), `problem` why paths reach the controller too late or too early (None: in
    time).

    Args:
        keep_s: how long after its tick a path runs as the path sent before it.
        window_s: the window's length (s, monotonic).
    """

    def __init__(self, keep_s: float, window_s: float = WINDOW_S) -> None:
        self.keep_s = float(keep_s)
        self.window_s = float(window_s)
        self.offset_s = math.nan
        self.send_p99_s = math.nan
        self.problem: str | None = None
        self._start: float | None = None
        self._min = math.inf
        self._sends: list[float] = []

    def add_send(self, delay_s: float) -> None:
        """How long after its tick a stamped path was published (s, node clock)."""
        if math.isfinite(delay_s):
            self._sends.append(delay_s)

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
        sends = np.array(self._sends or [0.0])
        self.offset_s, self._start, self._min, self._sends = -self._min, mono, math.inf, []
        self.send_p99_s = float(np.percentile(sends, 99))
        self.problem = self._verdict(float(sends.min()))
        return self.problem is not None

    def _verdict(self, send_min: float) -> str | None:
        offset, ms = self.offset_s, 1e3
        latest = self.send_p99_s + PICKUP_MARGIN_S + offset
        if latest > self.keep_s:
            return (f"stamped trajectory paths reach their controller up to {latest * ms:.1f} "
                    f"ms after their ticks by its clock (System 1 publishes them up to "
                    f"{self.send_p99_s * ms:.1f} ms after the tick, the joint states' stamps "
                    f"put the controller manager's clock {offset * ms:+.1f} ms from System "
                    f"1's, and {PICKUP_MARGIN_S * ms:g} ms are allowed for transport and its "
                    f"next update), past the {self.keep_s * ms:.1f} ms each path keeps the "
                    "path sent: the controller steps from one path to the next. Fix: "
                    f"{FIX}; or give System 1 a machine where its ticks are quicker, or a "
                    "lower control_rate_hz (a path keeps one period)")
        earliest = send_min + offset
        if earliest < -EARLY_S:
            return (f"stamped trajectory paths reach their controller {-earliest * ms:.1f} ms "
                    "before their stamps by its clock: the joint states' stamps put the "
                    f"controller manager's clock {-offset * ms:.1f} ms behind System 1's, and "
                    "the controller blends towards such a path from its last command instead "
                    f"of playing it. Fix: {FIX}")
        return None
