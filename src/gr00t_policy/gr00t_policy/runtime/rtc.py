"""Real-time chunking (RTC), the planner's side, ROS-free (Black, Galliker, Levine 2025,
"Real-Time Execution of Action Chunking Flow Policies", arXiv 2506.07339).

A chunk planned from the state at `stamp` reaches the control loop `latency` later; by then
its first rows lie in the past, and the robot executed the previous chunk over them. RTC
plans the new chunk as an inpainting of the previous one:

    rows    0 .. d-1          d .. H-s-1                    H-s .. H-1
    W       1 (frozen)        soft: c (e^c - 1) / (e - 1)   0 (free)
                              c = (H - s - i) / (H - s - d + 1)

- d = `frozen_rows`: the running estimate of the plan latency in rows, rounded up. These
  rows execute from the previous chunks whatever the new one says: the loop switches to the
  new chunk at `stamp + d * action_dt` (`Plan.frozen_until`; the loop's `SplicedSource`),
  and the published chunk carries the previous chunks' values there.
- s: the rows at the end of the new chunk that the previous one does not reach (the
  paper's execution horizon: how far the previous chunk had advanced when this one started).
- Y, the guidance target, is what the loop will command at the new chunk's row times
  (predicted: the loop's `SplicedSource` and the plans on their way), normalized like any
  action. Three ways to plan from it (`RTC_METHODS`):
  - guidance (the paper's): the sampler guides every Euler step towards it with the soft
    mask below (`gr00t_policy.flow_matching.guided_euler_integrate`); any checkpoint.
  - prefix (training-time RTC, arXiv 2512.05964): its first d rows are given to the head as
    clean actions and the head plans the rest from them
    (`gr00t_policy.flow_matching.prefix_euler_integrate`); only for a head trained so
    (`ActionHeadConfig.prefix_rows`, at most that many rows are given), and free of the
    vector-Jacobian products guidance costs.
  - blend (ours, an experiment): the head samples as without RTC, then each row is mixed
    with the target by the soft mask, W Y + (1 - W) A: the correction W (Y - A) applied to
    the output directly, not through a denoiser that may hardly respond to guidance (the
    committed nano head closes ~12% of a gap); any checkpoint, a plain sample's cost.

The loop and the planner run in different threads. The loop owns what is executed: its
`RtcExecutor` splices each plan it takes onto its `SplicedSource` and publishes it, with the
seq of the newest plan in it and how often it was reset, through an `RtcLink`. The planner
predicts what the loop will command as that source followed by its own plans the loop has
not taken yet (each switching at its frozen_until; one plan is always on its way), counting
only plans made since the loop's last reset (in a hold the loop resets every tick, so each
plan then starts from the held command alone) and for the instruction it plans for (the loop
refuses a plan made for a replaced instruction). A plan the loop skips (two plans between
ticks) only differs from the prediction between its switch time and the next plan's,
where consecutive plans agree by construction.
"""

from __future__ import annotations

import collections
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from gr00t_policy.runtime.chunk import Chunk, CommandSource, ConstantSource

DEFAULT_GUIDANCE_CLIP = 5.0  # the paper's beta
RTC_METHODS = ("guidance", "prefix", "blend")
MAX_ENTRIES = 256  # a SplicedSource never holds more (a bound on memory, never reached)
MAX_PENDING = 64  # own plans remembered until the loop takes a later one


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
    """

    entries: tuple[tuple[float, CommandSource], ...] = ()

    @classmethod
    def constant(cls, command: np.ndarray) -> "SplicedSource":
        return cls(((-math.inf, ConstantSource(np.array(command, dtype=np.float64))),))

    def at(self, t: float) -> np.ndarray:
        if not self.entries:
            raise RuntimeError("SplicedSource.at() on an empty source")
        for switch, source in reversed(self.entries):
            if switch <= t:
                return source.at(t)
        return self.entries[0][1].at(t)

    def at_many(self, times: np.ndarray) -> np.ndarray:
        """at(t) for each of `times` (N,) -> (N, A)."""
        return np.stack([self.at(float(t)) for t in times])

    @property
    def newest(self) -> CommandSource | None:
        return self.entries[-1][1] if self.entries else None

    @property
    def covered_until(self) -> float:
        """The last row time of any chunk in it (-inf for a reset's constant alone): beyond
        it the source only repeats a last row, which tells a new plan nothing."""
        ends = [s.end_time for _, s in self.entries if isinstance(s, Chunk)]
        return max(ends) if ends else -math.inf

    def then(self, source: CommandSource, switch: float, now: float) -> "SplicedSource":
        """This source with `source` taking over at `switch`, without the entries no time at
        or after `now` can reach."""
        entries = (*self.entries, (switch, source))
        live = [i for i, (sw, _) in enumerate(entries) if sw <= now]
        first = live[-1] if live else 0
        return SplicedSource(entries[first:][-MAX_ENTRIES:])

    def future(self, t: float) -> tuple[np.ndarray, np.ndarray] | None:
        """The newest chunk's row times after t (seconds from t) and what this source
        commands then: (times (N,), positions (N, A)); None without a chunk."""
        newest = self.newest
        if not isinstance(newest, Chunk):
            return None
        times = newest.stamp + newest.action_dt * np.arange(newest.horizon)  # (H,)
        times = times[times > t]
        if times.size == 0:
            return times, np.zeros((0, newest.rows.shape[1]))
        return times - t, self.at_many(times)


@dataclass(frozen=True)
class Executed:
    """What the loop published: its source (None: nothing commanded), the seq of the newest
    plan it took, and how many times it was reset or cleared (a hold resets every tick)."""

    source: SplicedSource | None = None
    seq: int = 0
    resets: int = 0


class RtcLink:
    """The loop's word to the planner: one writer (the loop's thread), one reader (the
    planner's); `executed` is replaced whole, so either thread sees a consistent value."""

    def __init__(self) -> None:
        self.executed = Executed()

    def publish(self, executed: Executed) -> None:
        self.executed = executed


class RtcSampling:
    """The planner's side of RTC: the guided (prefix-conditioned, blended) sample and the
    frozen rows of each plan.

    Args:
        link: shared with the loop's `RtcExecutor`.
        processor: normalizes the guidance target like the model's actions.
        beta: the guidance clip (0: no guidance; the frozen rows still execute from the
            previous chunks). Unused by the prefix and blend methods.
        method: one of RTC_METHODS (module docstring).
        prefix_rows: prefix method: the most rows given to the head (the checkpoint's
            `ActionHeadConfig.prefix_rows`, >= 1); frozen rows beyond them still execute
            from the previous chunks.
    """

    name = "rtc"

    def __init__(self, link: RtcLink, processor: Any, beta: float = DEFAULT_GUIDANCE_CLIP,
                 method: str = "guidance", prefix_rows: int = 0) -> None:
        if not (math.isfinite(beta) and beta >= 0.0):
            raise ValueError(f"rtc guidance clip beta must be finite and >= 0, got {beta}")
        if method not in RTC_METHODS:
            raise ValueError(f"unknown rtc method {method!r}; use one of {list(RTC_METHODS)}")
        if method == "prefix" and prefix_rows < 1:
            raise ValueError(
                "rtc method prefix needs a checkpoint trained with given prefix rows "
                "(config.json action_head.prefix_rows >= 1, got {}); fine-tune it with "
                "gr00t-train --init-from CHECKPOINT --prefix-prob 0.5, or use rtc method "
                "guidance".format(prefix_rows))
        self.link = link
        self.processor = processor
        self.beta = float(beta)
        self.method = method
        self.prefix_rows = int(prefix_rows)
        # (seq, frozen_until, chunk, the loop's reset count then, instruction id) of recent
        # plans
        self._mine: collections.deque[tuple[int, float, Chunk, int, int]] = collections.deque(
            maxlen=MAX_PENDING)
        self._pending: tuple[int, np.ndarray | None, int, int] | None = None
        self.last_frozen_rows = 0  # d of the newest plan (diagnostics)

    @staticmethod
    def _predicted(ex: Executed, mine: Any, now: float,
                   instruction_id: int) -> SplicedSource | None:
        """What the loop will command: its source, then the plans it has not taken yet that
        were made since its last reset for the instruction in force (the loop refuses a plan
        made for a replaced instruction, `CommandLoop`)."""
        if ex.source is None:
            return None
        chain = ex.source
        for seq, switch, chunk, resets, instruction in mine:
            if seq > ex.seq and resets == ex.resets and instruction == instruction_id:
                chain = chain.then(chunk, switch, now)
        return chain

    def sample(self, runner: Any, state: np.ndarray, noise: np.ndarray, *, stamp: float,
               action_dt: float, latency_s: float, instruction_id: int = 0) -> np.ndarray:
        """Normalized padded rows (H, A_max), planned on from what the loop will command;
        `instruction_id`: the instruction of the tokens this plan is made with."""
        ex = self.link.executed  # read once: one consistent value
        chain = self._predicted(ex, self._mine, stamp, instruction_id)
        horizon = runner.horizon
        d = frozen_rows(latency_s, action_dt, horizon)
        if chain is None:
            self._pending = (d, None, ex.resets, instruction_id)
            return runner.sample(state, noise)
        times = stamp + action_dt * np.arange(horizon)  # (H,)
        y_raw = chain.at_many(times)  # (H, A) what the loop will command at each row
        target = self.processor.actions(y_raw)  # (H, A_max)
        self._pending = (d, y_raw, ex.resets, instruction_id)
        if self.method == "prefix":  # the frozen rows execute as predicted: give them
            return runner.sample_prefix(state, noise, target, min(d, self.prefix_rows))
        s = horizon - int(np.count_nonzero(times <= chain.covered_until))
        rows_w = soft_mask(d, s, horizon)  # (H,)
        weights = (rows_w[:, None] * self.processor.action_mask()[None, :]).astype(np.float32)
        if self.method == "blend":
            free = runner.sample(state, noise)  # (H, A_max)
            return (weights * target + (1.0 - weights) * free).astype(free.dtype)
        return runner.sample_guided(state, noise, target, weights, self.beta)

    def finish(self, chunk: Chunk) -> tuple[Chunk, float]:
        """The chunk as published (its frozen rows: what the loop commands there) and the
        time from which the loop follows it (`Plan.frozen_until`)."""
        if self._pending is None:
            raise RuntimeError("RtcSampling.finish() without sample()")
        d, y_raw, resets, instruction_id = self._pending
        self._pending = None
        if y_raw is not None:
            rows = chunk.rows.copy()  # (H, A)
            rows[:d] = y_raw[:d]
            chunk = Chunk(chunk.stamp, chunk.action_dt, chunk.start, rows, seq=chunk.seq)
        switch = chunk.stamp + d * chunk.action_dt
        self._mine.append((chunk.seq, switch, chunk, resets, instruction_id))
        self.last_frozen_rows = d
        return chunk, switch
