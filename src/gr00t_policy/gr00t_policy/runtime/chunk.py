"""Action chunks in time, and the cross-fade between successive chunks (ROS-free).

A chunk is anchored at the stamp of the joint state it was planned from. Row k (0-based) is
the set-point to command at `stamp + k * action_dt`: the convention the demonstrations were
recorded in (the expert observes state t and commands row 0 at once, holding each row for
one action_dt) and the one training uses (`gr00t_policy.train`). The command for time t
interpolates linearly between the two rows around t and is clamped to the first/last row
outside [stamp, stamp + (H - 1) * dt]:

    rows    row0     row1     row2   ...   row H-1
    time    stamp    +dt      +2dt         +(H-1)*dt

Position-controlled joints lag their set-points; a plan that started from the measured
position (row "-1" = the state) would command mostly where the robot already is and lose
the lead the demonstrations had. The measured start is kept for reference only.

Replanning swaps in a new chunk many times a second. `ChunkBlender` fades from what was
commanded to what the new chunk commands over `blend_s` seconds, so a swap never steps the
command: at the swap instant the output is exactly the old output.

Times are plain float seconds on one clock (the node's clock, which follows use_sim_time).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

class CommandSource(Protocol):
    """Anything that gives a command vector (A,) for a time t."""

    def at(self, t: float) -> np.ndarray: ...


@dataclass(frozen=True)
class Chunk:
    """One planned chunk, anchored at the state stamp.

    Attributes:
        stamp: time of the joint state the chunk was planned from (seconds).
        action_dt: seconds between rows (> 0).
        start: np.float64 (A,) measured positions at `stamp` (for reference, not a row).
        rows: np.float64 (H, A) position set-points, row k for stamp + k * action_dt.
        seq: sequence number assigned by the planner (0 = unnumbered).
    """

    stamp: float
    action_dt: float
    start: np.ndarray
    rows: np.ndarray
    seq: int = 0
    _knots: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.action_dt) and self.action_dt > 0):
            raise ValueError(f"Chunk.action_dt must be finite and > 0, got {self.action_dt}")
        if not math.isfinite(self.stamp):
            raise ValueError(f"Chunk.stamp must be finite, got {self.stamp}")
        start = np.asarray(self.start, dtype=np.float64).reshape(-1)  # (A,)
        rows = np.asarray(self.rows, dtype=np.float64)  # (H, A)
        if rows.ndim != 2 or rows.shape[0] < 1 or rows.shape[1] != start.shape[0]:
            raise ValueError(
                f"Chunk.rows must be (H >= 1, A={start.shape[0]}), got shape {rows.shape}"
            )
        knots = rows.copy()  # (H, A)
        knots.setflags(write=False)
        object.__setattr__(self, "_knots", knots)

    @property
    def horizon(self) -> int:
        return self._knots.shape[0]

    @property
    def end_time(self) -> float:
        """Time of the last row: after it the command stays at that row."""
        return self.stamp + (self.horizon - 1) * self.action_dt

    def at(self, t: float) -> np.ndarray:
        """Interpolated command (A,) at time t, clamped to the first/last row."""
        f = (t - self.stamp) / self.action_dt  # row coordinate: 0 = row 0 at the stamp
        if f <= 0.0:
            return self._knots[0].copy()
        last = self.horizon - 1
        if f >= last:
            return self._knots[last].copy()
        i = int(f)
        w = f - i
        return self._knots[i] * (1.0 - w) + self._knots[i + 1] * w  # (A,)

    def future(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        """Rows strictly after t: (times (N,) seconds from t, positions (N, A))."""
        times = self.stamp + self.action_dt * np.arange(self.horizon)  # (H,)
        keep = times > t
        return times[keep] - t, self._knots[keep]


@dataclass(frozen=True)
class ConstantSource:
    """A command source that always returns the same vector (a hold, or a start point)."""

    value: np.ndarray

    def at(self, t: float) -> np.ndarray:
        return np.array(self.value, dtype=np.float64)


class ChunkBlender:
    """Fades from the command in force to each new chunk over `blend_s` seconds.

    When a chunk is pushed at t_s, the difference between what was commanded and what the
    new chunk commands is remembered and faded out linearly:

        offset = c_before(t_s) - new(t_s)
        c(t)   = new(t) + (1 - w(t)) * offset,      w(t) = clamp((t - t_s) / blend_s, 0, 1)
               = w(t) * new(t) + (1 - w(t)) * (new(t) + offset)

    so the output at t_s is exactly the output before the push (no step), the new chunk
    alone drives it after blend_s, and the change per tick is at most the new chunk's own
    change plus |offset| * dt / blend_s. Replanning every tick this is a first-order filter
    towards the newest plan that follows the plan's motion; the state is one source and one
    offset, whatever the replanning rate. Not thread-safe: the control loop owns it.
    """

    def __init__(self, blend_s: float) -> None:
        if not (math.isfinite(blend_s) and blend_s >= 0.0):
            raise ValueError(f"blend_s must be finite and >= 0, got {blend_s}")
        self.blend_s = float(blend_s)
        self._source: CommandSource | None = None
        self._offset: np.ndarray | None = None  # (A,)
        self._t_push = -math.inf

    @property
    def empty(self) -> bool:
        return self._source is None

    @property
    def newest(self) -> CommandSource | None:
        return self._source

    def reset(self, command: np.ndarray) -> None:
        """Forget all chunks; command `command` (A,) until the next push."""
        self._source = ConstantSource(np.array(command, dtype=np.float64))
        self._offset = None
        self._t_push = -math.inf

    def clear(self) -> None:
        self._source = None
        self._offset = None

    def push(self, source: CommandSource, t: float) -> None:
        """Fade `source` in from time t (seconds, the same clock as `command`)."""
        offset = None
        if self._source is not None and self.blend_s > 0.0:
            offset = self.command(t) - source.at(t)  # (A,)
            if not np.isfinite(offset).all():
                offset = None  # a non-finite chunk: nothing sane to fade from
        self._source, self._offset, self._t_push = source, offset, t

    def _weight(self, t: float) -> float:
        if self.blend_s <= 0.0:
            return 1.0
        return min(max((t - self._t_push) / self.blend_s, 0.0), 1.0)

    def command(self, t: float) -> np.ndarray:
        """Blended command (A,) at time t. Raises RuntimeError when nothing was pushed."""
        out = self.at(t)
        if self._offset is not None and self._weight(t) >= 1.0:
            self._offset = None  # faded in: later commands are the chunk's alone
        return out

    def at(self, t: float) -> np.ndarray:
        """The blended command (A,) at time t without advancing the blend (for a future t:
        what `command` will give then with no newer push)."""
        if self._source is None:
            raise RuntimeError("ChunkBlender.command() before reset() or push()")
        out = self._source.at(t)  # (A,)
        if self._offset is not None:
            out = out + (1.0 - self._weight(t)) * self._offset
        return out
