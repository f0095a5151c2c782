"""How far the robot is from what System 1 commanded, and when that is a fault (ROS-free).

The command limiter keeps each command within the velocity and acceleration limits of the
command before it, not of where the robot is. A robot that stops following its commands (an
arm blocked by a person or the table, a controller switched off or not yet active, an
emergency stop that cuts the motors but not System 1) lets the two drift apart while System 1
goes on planning from the measured state and commanding ahead of it; when the motors come
back, the controller drives the joint to the command in one step, as fast as it can.

`TrackingMonitor` compares each joint state with the command that was in force when it was
measured (the newest command at or before its stamp): that error includes the controller's
lag (a joint moving at v lags its command by about v times the control delay). An error above
`max_error` on any joint for longer than `for_s` is a fault: the loop stops following the
policy and brings its command back, within the limits, to where the robot was measured then
(`CommandLoop`), so that nothing jumps when the robot follows again. The figures
(`summary`) are in System 1's diagnostics either way: what a team reads to set the limit.
"""

from __future__ import annotations

import bisect
import math
from collections import deque

import numpy as np

from gr00t_common.stats import RollingWindow

# Commands kept to find the one in force at a state's stamp: a state may arrive up to its
# staleness limit late (System 1's state_staleness_s is at most 1 s).
HISTORY_S = 1.0


class TrackingMonitor:
    """Per joint state: its largest error against the command in force then; a fault when
    some joint's error stayed above `max_error` for `for_s` (inf: never). `checked`: np.bool_
    (A + H,), the joints compared (default all; hands that grip are left out)."""

    def __init__(self, joint_names: list[str], *, max_error: float, for_s: float,
                 checked: np.ndarray | None = None, window: int = 1200) -> None:
        if not (max_error > 0):
            raise ValueError(f"max_error must be > 0 (inf: no fault), got {max_error!r}")
        if not (math.isfinite(for_s) and for_s >= 0):
            raise ValueError(f"for_s must be a number >= 0, got {for_s!r}")
        self.joint_names = list(joint_names)
        self.checked = (np.ones(len(self.joint_names), dtype=bool) if checked is None
                        else np.asarray(checked, dtype=bool).reshape(-1))
        if self.checked.shape != (len(self.joint_names),):
            raise ValueError(f"checked has {self.checked.size} entries for "
                             f"{len(self.joint_names)} joints")
        self.max_error = float(max_error)
        self.for_s = float(for_s)
        self._times: deque[float] = deque()
        self._commands: deque[np.ndarray] = deque()
        self._over_since: float | None = None  # stamp of the first state over max_error
        self.errors = RollingWindow(window)  # each state's largest error (rad or m)
        self.worst = (0.0, "")  # the largest error since start, and its joint
        self.longest_over = 0.0  # the longest time (s) some joint stayed over max_error

    def reset(self) -> None:
        """Forget the commands (at a re-arm: the next ones start from the measured state)."""
        self._times.clear()
        self._commands.clear()
        self._over_since = None

    def interrupt(self) -> None:
        """States are not compared for a while (disabled): an excursion starts afresh."""
        self._over_since = None

    def commanded(self, t: float, command: np.ndarray) -> None:
        """Record the command published at node-clock time `t` (A + H,)."""
        if self._times and t < self._times[-1]:
            self.reset()  # the node clock went back: the old commands' times are ahead
        self._times.append(t)
        self._commands.append(command)
        while len(self._times) > 1 and self._times[1] <= t - HISTORY_S:
            self._times.popleft()
            self._commands.popleft()

    def measured(self, stamp: float, positions: np.ndarray) -> str | None:
        """Compare a joint state (positions (A + H,), measured at node-clock `stamp`) with the
        command in force then; the fault's reason once the error has stayed above the limit
        for `for_s`, else None. A state measured before the first recorded command, or one
        with a non-finite position (the state gate refuses those), is not compared."""
        if not self._times or stamp < self._times[0]:
            return None
        i = bisect.bisect_right(self._times, stamp) - 1
        error = np.abs(np.asarray(positions, dtype=np.float64) - self._commands[i])
        error = np.where(self.checked, error, 0.0)
        if not np.isfinite(error).all():
            return None
        j = int(np.argmax(error))
        self.errors.add(float(error[j]))
        if error[j] > self.worst[0]:
            self.worst = (float(error[j]), self._name(j))
        if error[j] <= self.max_error:
            self._over_since = None
            return None
        if self._over_since is None:
            self._over_since = stamp
        self.longest_over = max(self.longest_over, stamp - self._over_since)
        if stamp - self._over_since < self.for_s:
            return None
        over = np.flatnonzero(error > self.max_error)
        return (f"{self._name(j)} is {error[j]:.3f} from its command ({over.size} joint(s) "
                f"beyond tracking.max_error {self.max_error:g}) for {stamp - self._over_since:.2f}"
                " s: the robot is not following (blocked, its controller not active, or an "
                "emergency stop). The command returns to where it was measured. Fix: free the "
                "joint or activate its controller, then cycle /gr00t/enable (a larger "
                "tracking.max_error in the embodiment YAML if this robot lags that much)")

    def summary(self) -> dict[str, str]:
        """Diagnostics values: the recent errors' percentiles, the worst since start."""
        p50, p99 = self.errors.percentiles(50, 99)
        worst, joint = self.worst
        return {"tracking_error_p50": f"{p50:.4f}", "tracking_error_p99": f"{p99:.4f}",
                "tracking_error_max_all": f"{worst:.4f}", "tracking_error_max_all_joint": joint,
                "tracking_over_longest_s": f"{self.longest_over:.3f}",
                "tracking_max_error": f"{self.max_error:g}", "tracking_for_s": f"{self.for_s:g}"}

    def _name(self, j: int) -> str:
        return self.joint_names[j] if j < len(self.joint_names) else f"joint {j}"
