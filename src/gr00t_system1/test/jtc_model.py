"""A model of ros2_controllers' joint_trajectory_controller (Jazzy, 4.42) running the paths
System 1 sends it, positions only, with `interpolate_from_desired_state: true`: what it
writes to the hardware at each of its update ticks. ROS-free; for tests and benchmarks.

Read from joint_trajectory_controller.cpp `update` and trajectory.cpp `Trajectory::sample`
(branch jazzy): a message that arrived is taken up at the controller's next update; on its
first sample the start state is the last command written, with the time of the update
that wrote it (that command was sampled one update period ahead of that time); a header
stamp of 0 puts the message's time origin at that first update, another stamp is the
origin itself; before the first point it runs linearly from the start state to the first
point, then linearly point to point (positions only: no spline), and holds the last point
after the end; at each update it writes the trajectory sampled one update period ahead
(`command_next_`), which becomes the next start state. A message whose last point lies
before the controller's clock on arrival is refused, with a nonzero stamp.
"""

from __future__ import annotations

import math

import numpy as np


class JtcModel:
    """One controller: `receive` messages, `update` at its own ticks.

    Args:
        start: (J,) where the joints are commanded before the first message.
        period: the controller's update period (s), e.g. 0.002 for 500 Hz.
    """

    def __init__(self, start: np.ndarray, period: float) -> None:
        self.period = float(period)
        self.last_command = np.asarray(start, dtype=np.float64).copy()  # (J,)
        self.last_time: float | None = None
        self.pending: list[tuple[float, float, np.ndarray, np.ndarray]] = []
        self.refused = 0
        self._message: tuple[float, np.ndarray, np.ndarray] | None = None  # (stamp, times, rows)
        self._knots_t = np.zeros(0)
        self._knots = np.zeros((0, self.last_command.size))
        self._first = math.inf
        self._sampled = True
        self._traj_time = 0.0

    def receive(self, arrival: float, stamp: float, times: np.ndarray,
                rows: np.ndarray) -> None:
        """A message arrives at `arrival` (controller clock): header stamp `stamp` (0: start
        on pick-up), points at `times` (N,) from the origin, `rows` (N, J)."""
        times = np.asarray(times, dtype=np.float64)
        if stamp != 0.0 and stamp + times[-1] < arrival:
            self.refused += 1  # "ends in the past"
            return
        self.pending.append((arrival, stamp, times, np.asarray(rows, dtype=np.float64)))

    def update(self, time: float) -> np.ndarray:
        """One controller update at `time`: returns the command written (J,)."""
        taken = [m for m in self.pending if m[0] <= time]
        if taken:
            self.pending = [m for m in self.pending if m[0] > time]
            self._message = taken[-1][1:]  # the realtime buffer keeps the newest
            self._sampled = False
        if self._message is None:
            self.last_time = time
            return self.last_command.copy()
        if not self._sampled:
            stamp, times, rows = self._message
            before_t = time if self.last_time is None else self.last_time
            origin = time if stamp == 0.0 else stamp
            self._knots_t = np.concatenate([[before_t], origin + times])
            self._knots = np.vstack([self.last_command, rows])
            self._first = origin + times[0]
            self._traj_time = time
            self._sampled = True
        else:
            self._traj_time += self.period
        command = self._sample(self._traj_time + self.period)
        self.last_command, self.last_time = command, time
        return command.copy()

    def _sample(self, t: float) -> np.ndarray:
        kt, k = self._knots_t, self._knots
        if t < self._first:  # from the start state towards the first point
            i = 0
        else:  # the message's own segments (the start state no longer counts)
            if t >= kt[-1]:
                return k[-1].copy()
            i = int(np.searchsorted(kt[1:], t, side="right"))  # kt[i] <= t < kt[i + 1]
        s = (t - kt[i]) / (kt[i + 1] - kt[i]) if kt[i + 1] > kt[i] else 1.0
        return k[i] + (k[i + 1] - k[i]) * s


def run_controller(messages, start: np.ndarray, period: float, t_from: float,
                   t_end: float) -> tuple[np.ndarray, np.ndarray, int]:
    """Run a controller updating every `period` from `t_from` to `t_end` over `messages`
    (arrival, stamp, times, rows): (update times (M,), commands (M, J), messages refused)."""
    jtc = JtcModel(start, period)
    order = sorted(messages, key=lambda m: m[0])
    out_t = t_from + period * np.arange(int(math.floor((t_end - t_from) / period)))
    out = np.empty((out_t.size, np.asarray(start).size))
    m = 0
    for k, t in enumerate(out_t):
        while m < len(order) and order[m][0] <= t:
            jtc.receive(*order[m])
            m += 1
        out[k] = jtc.update(float(t))
    return out_t, out, jtc.refused


def accel_per_period(t: np.ndarray, x: np.ndarray, period: float,
                     phases: int = 8) -> np.ndarray:
    """|second difference| / period^2 of the command stream `x` (M, J) at `t` (M,), read a
    `period` apart (linearly between updates) at `phases` phases: (K,) all samples."""
    out = []
    for off in np.arange(phases) / phases:
        grid = np.arange(t[0] + off * period, t[-1] - period, period)
        at = np.stack([np.interp(grid, t, x[:, j]) for j in range(x.shape[1])], axis=1)
        out.append((np.abs(np.diff(at, 2, axis=0)) / period ** 2).reshape(-1))
    return np.concatenate(out)
