"""Real-time chunking (RTC), the planner's side, ROS-free (Black, Galliker, Levine 2025,
"Real-Time Execution of Action Chunking Flow Policies", arXiv 2506.07339).

A chunk planned from the state at `stamp` reaches the control loop `latency` later; by then
its first rows lie in the past, and the robot executed the previous chunk over them. RTC
plans the new chunk as an inpainting of the previous one:

    rows    0 .. d-1          d .. H-s-1                    H-s .. H-1
    W       1 (frozen)        soft: c (e^c - 1) / (e - 1)   0 (free)
                              c = (H - s - i) / (H - s - d + 1)

- d = `frozen_rows`: the running estimate of the plan latency in rows, rounded up. These
  rows execute from the previous chunk whatever the new one says: the loop switches to the
  new chunk at `stamp + d * action_dt` (`SplicedSource`), and the published chunk carries
  the previous chunk's values there.
- s: the rows at the end of the new chunk that the previous one does not reach (the
  paper's execution horizon: how far the previous chunk had advanced when this one started).
- Y, the guidance target, is what the loop will command at the new chunk's row times
  (the previous `SplicedSource`), normalized like any action; the sampler guides every
  Euler step towards it (`gr00t_policy.flow_matching.guided_euler_integrate`).

The loop and the planner run in different threads. The planner keeps the source of its own
last plan as "the previous chunk" (the loop may skip a plan, but each plan's source contains
the ones before it); the loop tells it through an `RtcLink` when it stopped following plans
(a hold, a reset to the measured position, disabling), and refuses a plan built on a chain
it no longer follows (`epoch`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from gr00t_policy.runtime.chunk import Chunk, CommandSource, ConstantSource

DEFAULT_GUIDANCE_CLIP = 5.0  # the paper's beta
MAX_ENTRIES = 256  # a SplicedSource never holds more (a bound on memory, never reached)


def frozen_rows(latency_s: float, action_dt: float, horizon: int) -> int:
    """d: rows of a chunk that lie in the past when it arrives `latency_s` after its stamp,
    at least 1 (row 0 is the stamp itself), at most `horizon`."""
    if not (math.isfinite(latency_s) and latency_s >= 0.0):
        raise ValueError(f"latency_s must be finite and >= 0, got {latency_s}")
    if not (math.isfinite(action_dt) and action_dt > 0.0):
        raise ValueError(f"action_dt must be finite and > 0, got {action_dt}")
    rows = math.ceil(latency_s / action_dt - 1e-9)
    return int(min(max(rows, 1), horizon))


def soft_mask(d: int, s: int, horizon: int) -> np.ndarray:
    """The guidance weight of each row (H,): 1 for the d frozen rows, decaying
    exponentially over the overlap up to H - s, 0 after (module docstring)."""
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    if not (0 <= d <= horizon and 0 <= s <= horizon):
        raise ValueError(f"need 0 <= d <= H and 0 <= s <= H, got d={d}, s={s}, H={horizon}")
    i = np.arange(horizon, dtype=np.float64)  # (H,)
    end = horizon - s
    c = (end - i) / (end - d + 1) if end - d + 1 > 0 else np.zeros(horizon)  # (H,)
    w = c * np.expm1(c) / (math.e - 1.0)  # (H,)
    w = np.where(i < d, 1.0, w)
    return np.where((i >= d) & (i >= end), 0.0, w)  # (H,)


@dataclass(frozen=True)
class SplicedSource:
    """What the loop commands in rtc mode: chunks taken over one after another, each from
    its switch time on. `at(t)` is the newest entry (in push order) whose switch time is at
    or before t; before every switch time, the oldest entry.

    Attributes:
        entries: ((switch_time, source), ...) in push order; the first may be the constant
            a reset left (switch time -inf).
        epoch: the `RtcLink` epoch this chain was built in.
    """

    entries: tuple[tuple[float, CommandSource], ...]
    epoch: int

    def at(self, t: float) -> np.ndarray:
        for switch, source in reversed(self.entries):
            if switch <= t:
                return source.at(t)
        return self.entries[0][1].at(t)

    def at_many(self, times: np.ndarray) -> np.ndarray:
        """at(t) for each of `times` (N,) -> (N, A)."""
        return np.stack([self.at(float(t)) for t in times])

    @property
    def newest(self) -> CommandSource:
        return self.entries[-1][1]

    @property
    def covered_until(self) -> float:
        """The last row time of any chunk in the chain (-inf for a reset's constant alone):
        beyond it the chain only repeats its last row, which tells a new plan nothing."""
        ends = [s.end_time for _, s in self.entries if isinstance(s, Chunk)]
        return max(ends) if ends else -math.inf

    def then(self, source: CommandSource, switch: float, now: float) -> "SplicedSource":
        """This chain with `source` taking over at `switch`, without the entries no time at
        or after `now` can reach."""
        entries = (*self.entries, (switch, source))
        live = [i for i, (sw, _) in enumerate(entries) if sw <= now]
        first = live[-1] if live else 0
        return SplicedSource(entries[first:][-MAX_ENTRIES:], self.epoch)

    def future(self, t: float) -> tuple[np.ndarray, np.ndarray] | None:
        """The newest chunk's row times after t (seconds from t) and what this chain commands
        then: (times (N,), positions (N, A)); None without a chunk."""
        newest = self.newest
        if not isinstance(newest, Chunk):
            return None
        times = newest.stamp + newest.action_dt * np.arange(newest.horizon)  # (H,)
        times = times[times > t]
        if times.size == 0:
            return times, np.zeros((0, newest.rows.shape[1]))
        return times - t, self.at_many(times)


class RtcLink:
    """The control loop's word to the planner (one writer: the loop's thread; one reader:
    the planner's). `state` is (epoch, anchor): the epoch grows whenever the loop stops
    following the chain of plans; the anchor is the constant command a reset left (None
    after a clear, when nothing is commanded)."""

    def __init__(self) -> None:
        self._state: tuple[int, ConstantSource | None] = (0, None)

    @property
    def state(self) -> tuple[int, ConstantSource | None]:
        return self._state  # one tuple, replaced whole: a consistent pair in either thread

    @property
    def epoch(self) -> int:
        return self._state[0]

    def reset(self, command: np.ndarray) -> ConstantSource:
        anchor = ConstantSource(np.array(command, dtype=np.float64))
        self._state = (self._state[0] + 1, anchor)
        return anchor

    def clear(self) -> None:
        self._state = (self._state[0] + 1, None)


class RtcSampling:
    """The planner's side of RTC: the guided sample and the spliced source of each plan.

    Args:
        link: shared with the loop's `RtcExecutor`.
        processor: normalizes the guidance target like the model's actions.
        beta: the guidance clip (0: no guidance; the frozen rows still execute from the
            previous chunk).
    """

    name = "rtc"

    def __init__(self, link: RtcLink, processor: Any, beta: float = DEFAULT_GUIDANCE_CLIP) -> None:
        if not (math.isfinite(beta) and beta >= 0.0):
            raise ValueError(f"rtc guidance clip beta must be finite and >= 0, got {beta}")
        self.link = link
        self.processor = processor
        self.beta = float(beta)
        self._previous: SplicedSource | None = None
        self._pending: tuple[SplicedSource, int, np.ndarray | None] | None = None
        self.last_frozen_rows = 0  # d of the newest plan (diagnostics)

    def _chain(self) -> tuple[SplicedSource, bool]:
        """The chain the loop follows: the previous plan's, or the reset's constant when the
        loop reset since (guided: False when there is nothing to guide towards)."""
        epoch, anchor = self.link.state
        prev = self._previous
        if prev is not None and prev.epoch == epoch:
            return prev, True
        if anchor is not None:
            return SplicedSource(((-math.inf, anchor),), epoch), True
        return SplicedSource((), epoch), False

    def sample(self, runner: Any, state: np.ndarray, noise: np.ndarray, *, stamp: float,
               action_dt: float, latency_s: float) -> np.ndarray:
        """Normalized padded rows (H, A_max), guided towards what the loop will command."""
        chain, guided = self._chain()
        horizon = runner.horizon
        d = frozen_rows(latency_s, action_dt, horizon)
        if not guided:
            self._pending = (chain, d, None)
            return runner.sample(state, noise)
        times = stamp + action_dt * np.arange(horizon)  # (H,)
        y_raw = chain.at_many(times)  # (H, A) what the loop will command at each row
        s = horizon - int(np.count_nonzero(times <= chain.covered_until))
        rows_w = soft_mask(d, s, horizon)  # (H,)
        target = self.processor.actions(y_raw)  # (H, A_max)
        weights = (rows_w[:, None] * self.processor.action_mask()[None, :]).astype(np.float32)
        self._pending = (chain, d, y_raw)
        return runner.sample_guided(state, noise, target, weights, self.beta)

    def finish(self, chunk: Chunk) -> tuple[Chunk, SplicedSource]:
        """The chunk as published (its frozen rows: the previous chunk's values there) and
        the source the loop switches to."""
        if self._pending is None:
            raise RuntimeError("RtcSampling.finish() without sample()")
        chain, d, y_raw = self._pending
        self._pending = None
        if y_raw is not None:
            rows = chunk.rows.copy()  # (H, A)
            rows[:d] = y_raw[:d]
            chunk = Chunk(chunk.stamp, chunk.action_dt, chunk.start, rows, seq=chunk.seq)
        # Nothing commanded before (no chain): the chunk drives from the start.
        switch = chunk.stamp + d * chunk.action_dt if chain.entries else -math.inf
        spliced = chain.then(chunk, switch, chunk.stamp)
        self._previous = spliced
        self.last_frozen_rows = d
        return chunk, spliced
