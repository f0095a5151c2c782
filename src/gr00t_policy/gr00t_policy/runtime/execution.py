"""How the control loop executes the stream of plans: one small class per chunk mode (ROS-free).

Every mode is a `ChunkExecutor`; the loop (gr00t_system1.loop) calls, on its own thread:

    executor.reset(command)   # (re)armed or holding: command this (A,) until the next plan
    executor.clear()          # nothing is commanded (disabled, waiting)
    executor.push(plan, t)    # a new plan taken into use at time t
    executor.command(t)       # the target (A,) at time t
    executor.future(t)        # what it would command at the newest chunk's rows after t

- `crossfade`: a new chunk is faded in over `blend_s` from the command in force
  (`runtime.chunk.ChunkBlender`);
- `latest`: the newest chunk is followed from the moment it arrives (the rate limiter
  smooths the step);
- `ensemble`: the command at t is sum_i w_i c_i(t) / sum_i w_i over the chunks still
  covering t, w_i = exp(-m * a_i), a_i the seconds by which chunk i was planned before the
  newest (temporal ensembling, ACT: Zhao et al. 2023, whose weights count chunks, one per
  control step; ours count seconds, so the average spans the same time whether plans come
  130 times a second or 4; m < 0 weighs older chunks more, as ACT's own k does);
- `rtc`: each plan is spliced on and takes over at its `frozen_until`; before that what was
  commanded goes on (runtime.rtc: the planner guides each chunk towards what this executes).

Times are the node clock's seconds, the clock chunks are stamped with.
"""

from __future__ import annotations

import abc
import math
from typing import Any

import numpy as np

from gr00t_policy.runtime.chunk import Chunk, ChunkBlender, CommandSource, ConstantSource
from gr00t_policy.runtime.rtc import Executed, RtcLink, SplicedSource

CHUNK_MODES = ("crossfade", "latest", "ensemble", "rtc")
# System 1's default: the smoothest mode, and the one that kept its success best under an
# inference delay (docs/BENCHMARKS.md, "Chunk mode x inference delay, without the old
# instruction's plan").
DEFAULT_CHUNK_MODE = "ensemble"
# Per second of age: a chunk planned 0.33 s before the newest weighs 1/e of it. 3.0 held more
# touches than 6.5 (0.15 s; what 0.05 per chunk gave at ~130 plans a second before the
# weights counted seconds): 33 against 29 of 48 held-out episodes, with 40% less jerk
# (docs/BENCHMARKS.md, "Chunk mode x inference delay, without the old instruction's plan").
DEFAULT_ENSEMBLE_DECAY_PER_S = 3.0


def _chunk_future(chunk: Any, t: float) -> tuple[np.ndarray, np.ndarray] | None:
    return chunk.future(t) if isinstance(chunk, Chunk) else None


class ChunkExecutor(abc.ABC):
    """One chunk mode (module docstring). Not thread-safe: the control loop owns it."""

    name = "abstract"

    @abc.abstractmethod
    def reset(self, command: np.ndarray) -> None:
        """Forget every plan; command `command` (A,) until the next push."""

    @abc.abstractmethod
    def clear(self) -> None:
        """Forget everything: nothing is commanded until reset()."""

    @abc.abstractmethod
    def push(self, plan: Any, t: float) -> None:
        """Take `plan` (a runtime.planner.Plan) into use at time t."""

    @abc.abstractmethod
    def command(self, t: float) -> np.ndarray:
        """The target (A,) at time t. RuntimeError before reset() or push()."""

    @abc.abstractmethod
    def future(self, t: float) -> tuple[np.ndarray, np.ndarray] | None:
        """(times (N,) seconds from t, positions (N, A)) at the newest chunk's rows after t,
        as this mode commands them with no newer plan; None without a chunk."""

    @abc.abstractmethod
    def preview(self, t: float, ahead: np.ndarray) -> np.ndarray:
        """(N, A): what `command` will give at t + ahead (N,) with no newer plan, changing
        nothing (the next control ticks' targets). RuntimeError before reset() or push()."""


class CrossfadeExecutor(ChunkExecutor):
    """Fade each new chunk in over `blend_s` from the command in force (`ChunkBlender`)."""

    name = "crossfade"

    def __init__(self, blend_s: float) -> None:
        self.blender = ChunkBlender(blend_s)

    def reset(self, command: np.ndarray) -> None:
        self.blender.reset(command)

    def clear(self) -> None:
        self.blender.clear()

    def push(self, plan: Any, t: float) -> None:
        self.blender.push(plan.chunk, t)

    def command(self, t: float) -> np.ndarray:
        return self.blender.command(t)

    def future(self, t: float) -> tuple[np.ndarray, np.ndarray] | None:
        rows = _chunk_future(self.blender.newest, t)
        if rows is None:
            return None
        times = rows[0]  # the chunk's rows, still faded in where the blend lasts
        return times, self.preview(t, times)

    def preview(self, t: float, ahead: np.ndarray) -> np.ndarray:
        return np.stack([self.blender.at(t + float(s)) for s in ahead])


class LatestExecutor(ChunkExecutor):
    """Follow the newest chunk from the moment it arrives."""

    name = "latest"

    def __init__(self) -> None:
        self._source: CommandSource | None = None

    def reset(self, command: np.ndarray) -> None:
        self._source = ConstantSource(np.array(command, dtype=np.float64))

    def clear(self) -> None:
        self._source = None

    def push(self, plan: Any, t: float) -> None:
        self._source = plan.chunk

    def command(self, t: float) -> np.ndarray:
        if self._source is None:
            raise RuntimeError("LatestExecutor.command() before reset() or push()")
        return self._source.at(t)

    def future(self, t: float) -> tuple[np.ndarray, np.ndarray] | None:
        return _chunk_future(self._source, t)

    def preview(self, t: float, ahead: np.ndarray) -> np.ndarray:
        if self._source is None:
            raise RuntimeError("LatestExecutor.preview() before reset() or push()")
        return np.stack([self._source.at(t + float(s)) for s in ahead])


class EnsembleExecutor(ChunkExecutor):
    """Average every live chunk's value at t, the newest weighted exp(0), one planned a
    seconds before it exp(-decay_per_s * a) (a chunk is live until its last row's time).

    Args:
        decay_per_s: m, per second of age (0: a plain mean; < 0: older chunks weigh more).
            Age is the difference of the chunks' stamps (their states' times), so the weights
            do not depend on how often plans come.
        capacity: at most this many chunks are kept (the oldest go first).
    """

    name = "ensemble"

    def __init__(self, decay_per_s: float = DEFAULT_ENSEMBLE_DECAY_PER_S,
                 capacity: int = 512) -> None:
        if not math.isfinite(decay_per_s):
            raise ValueError(f"ensemble decay_per_s must be finite, got {decay_per_s}")
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.decay_per_s = float(decay_per_s)
        self.capacity = int(capacity)
        self._chunks: list[Chunk] = []  # push order, oldest first
        self._start: np.ndarray | None = None  # (A,) what a reset left, before any chunk

    def reset(self, command: np.ndarray) -> None:
        self._chunks = []
        self._start = np.array(command, dtype=np.float64)

    def clear(self) -> None:
        self._chunks = []
        self._start = None

    def push(self, plan: Any, t: float) -> None:
        chunk = plan.chunk
        if self._chunks and chunk.rows.shape != self._chunks[-1].rows.shape:
            raise ValueError(f"chunk rows {chunk.rows.shape} differ from the live chunks' "
                             f"{self._chunks[-1].rows.shape}")
        self._chunks.append(chunk)
        del self._chunks[:-self.capacity]

    def _average(self, t: float, chunks: list[Chunk]) -> np.ndarray:
        stamps = np.array([c.stamp for c in chunks])  # (N,)
        dts = np.array([c.action_dt for c in chunks])  # (N,)
        knots = np.stack([c.rows for c in chunks])  # (N, H, A)
        last = knots.shape[1] - 1
        f = np.clip((t - stamps) / dts, 0.0, last)  # (N,) row coordinate in each chunk
        i = np.minimum(f.astype(np.int64), max(last - 1, 0))  # (N,)
        w = (f - i)[:, None]  # (N, 1)
        n = np.arange(len(chunks))
        values = knots[n, i] * (1.0 - w) + knots[n, np.minimum(i + 1, last)] * w  # (N, A)
        age = stamps.max() - stamps  # (N,) seconds, 0 = the newest
        expo = -self.decay_per_s * age  # (N,)
        weights = np.exp(expo - expo.max())  # (N,) scaled by a constant: never overflows
        return (weights[:, None] * values).sum(axis=0) / weights.sum()  # (A,)

    def command(self, t: float) -> np.ndarray:
        live = [c for c in self._chunks if c.end_time >= t]
        if len(live) < len(self._chunks):
            # Dead chunks never come back (t only grows); the newest stays for after its end.
            self._chunks = live or self._chunks[-1:]
        if live:
            return self._average(t, live)
        if self._chunks:
            return self._chunks[-1].at(t)
        if self._start is None:
            raise RuntimeError("EnsembleExecutor.command() before reset() or push()")
        return self._start.copy()

    def future(self, t: float) -> tuple[np.ndarray, np.ndarray] | None:
        if not self._chunks:
            return None
        newest = self._chunks[-1]
        times = newest.stamp + newest.action_dt * np.arange(newest.horizon)  # (H,)
        times = times[times > t]
        return times - t, self.preview(t, times - t)

    def preview(self, t: float, ahead: np.ndarray) -> np.ndarray:
        if not self._chunks:
            if self._start is None:
                raise RuntimeError("EnsembleExecutor.preview() before reset() or push()")
            return np.tile(self._start, (len(ahead), 1))
        rows = [self._average(s, [c for c in self._chunks if c.end_time >= s]
                              or self._chunks[-1:]) for s in (t + float(a) for a in ahead)]
        return np.array(rows).reshape(len(ahead), self._chunks[-1].rows.shape[1])


class RtcExecutor(ChunkExecutor):
    """Splice each plan onto what is commanded: the new chunk takes over at the end of its
    frozen rows (`Plan.frozen_until`), so those rows execute from the chunks before, exactly.
    Publishes what it executes through `link`, for the planner's `RtcSampling`."""

    name = "rtc"

    def __init__(self, link: RtcLink) -> None:
        self.link = link
        self._source: SplicedSource | None = None
        self._seq = 0  # the newest plan taken
        self._resets = link.executed.resets  # continues across loops sharing the link

    def _publish(self) -> None:
        self.link.publish(Executed(self._source, self._seq, self._resets))

    def reset(self, command: np.ndarray) -> None:
        self._source = SplicedSource.constant(command)
        self._resets += 1
        self._publish()

    def clear(self) -> None:
        self._source = None
        self._resets += 1
        self._publish()

    def push(self, plan: Any, t: float) -> None:
        if plan.frozen_until is None:
            raise ValueError("chunk_mode rtc needs plans from a planner with RtcSampling "
                             "(gr00t_policy.runtime.rtc); this plan has no frozen_until")
        base = self._source if self._source is not None else SplicedSource()
        self._source = base.then(plan.chunk, plan.frozen_until, now=t)
        self._seq = plan.seq
        self._publish()

    def command(self, t: float) -> np.ndarray:
        if self._source is None:
            raise RuntimeError("RtcExecutor.command() before reset() or push()")
        return self._source.at(t)

    def future(self, t: float) -> tuple[np.ndarray, np.ndarray] | None:
        return None if self._source is None else self._source.future(t)

    def preview(self, t: float, ahead: np.ndarray) -> np.ndarray:
        if self._source is None:
            raise RuntimeError("RtcExecutor.preview() before reset() or push()")
        return self._source.at_many(t + np.asarray(ahead, dtype=np.float64))


def make_executor(mode: str, *, blend_s: float = 0.1,
                  ensemble_decay_per_s: float = DEFAULT_ENSEMBLE_DECAY_PER_S,
                  link: RtcLink | None = None) -> ChunkExecutor:
    """The executor of chunk mode `mode` (one of CHUNK_MODES); `link` is required for rtc
    (the planner's `RtcSampling` must share it)."""
    if mode == "crossfade":
        return CrossfadeExecutor(blend_s)
    if mode == "latest":
        return LatestExecutor()
    if mode == "ensemble":
        return EnsembleExecutor(ensemble_decay_per_s)
    if mode == "rtc":
        if link is None:
            raise ValueError("chunk_mode rtc needs the RtcLink its planner's RtcSampling uses")
        return RtcExecutor(link)
    raise ValueError(f"unknown chunk_mode {mode!r}; use one of {list(CHUNK_MODES)}")
