"""Chunk execution modes: each mode's command over time on synthetic chunks."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from gr00t_policy.runtime.chunk import Chunk, ChunkBlender
from gr00t_policy.runtime.execution import (CHUNK_MODES, CrossfadeExecutor, EnsembleExecutor,
                                            LatestExecutor, RtcExecutor, make_executor)
from gr00t_policy.runtime.planner import Plan, StateSample
from gr00t_policy.runtime.rtc import RtcLink

DT, H, A = 0.05, 16, 2


def plan(stamp: float, value: float, slope: float = 0.0, seq: int = 1,
         frozen_until: float | None = None) -> Plan:
    rows = value + slope * DT * np.arange(H)[:, None] + np.zeros((H, A))  # (H, A)
    state = StateSample(np.zeros(3), np.zeros(A), stamp, time.monotonic(), seq)
    return Plan(Chunk(stamp, DT, np.zeros(A), rows, seq=seq), state, 1, 0.001,
                time.monotonic(), frozen_until)


def test_crossfade_is_the_chunk_blender() -> None:
    ex, ref = CrossfadeExecutor(0.1), ChunkBlender(0.1)
    for e in (ex, ref):
        e.reset(np.zeros(A))
    p1, p2 = plan(0.0, 1.0, slope=1.0), plan(0.05, -1.0, seq=2)
    for t, p in ((0.0, p1), (0.05, p2)):
        ex.push(p, t)
        ref.push(p.chunk, t)
    for t in np.linspace(0.05, 0.4, 15):
        assert np.array_equal(ex.command(t), ref.command(t))
    ex2, ref2 = CrossfadeExecutor(0.1), ChunkBlender(0.1)
    for e in (ex2, ref2):
        e.reset(np.zeros(A))
    ex2.push(p2, 0.05)
    ref2.push(p2.chunk, 0.05)
    times, rows = ex2.future(0.06)  # rows at 0.1 (halfway through the blend), 0.15, ...
    # The path is what the mode will command: the first row still half faded in, the
    # chunk's own rows once the blend is over; asking for it does not advance the blend.
    chunk_rows = p2.chunk.future(0.06)[1]
    assert not np.allclose(rows[0], chunk_rows[0])
    np.testing.assert_allclose(rows[0], ref2.command(0.1))
    assert np.array_equal(rows[1:], chunk_rows[1:])
    assert np.array_equal(ex2.command(0.06), ref2.command(0.06))


def test_latest_switches_to_the_newest_chunk_at_once() -> None:
    ex = LatestExecutor()
    with pytest.raises(RuntimeError):
        ex.command(0.0)
    ex.reset(np.array([0.3, 0.3]))
    assert ex.command(0.0).tolist() == [0.3, 0.3]
    assert ex.future(0.0) is None
    ex.push(plan(0.0, 1.0, slope=2.0), 0.01)
    assert np.allclose(ex.command(0.01), 1.0 + 2.0 * 0.01)  # no fade: the chunk at t
    ex.push(plan(0.02, -1.0, seq=2), 0.03)
    assert ex.command(0.03).tolist() == [-1.0, -1.0]
    ex.clear()
    with pytest.raises(RuntimeError):
        ex.command(0.04)


@pytest.mark.parametrize("decay", [0.0, 50.0, -30.0])
def test_ensemble_averages_live_chunks_with_exponential_weights_by_age_in_seconds(
        decay: float) -> None:
    ex = EnsembleExecutor(decay)
    ex.reset(np.zeros(A))
    assert ex.command(0.0).tolist() == [0.0, 0.0]  # before any chunk: the reset's command
    # Irregular: plans do not come at a fixed rate, and the weights count seconds, not plans.
    stamps = [0.0, 0.01, 0.03, 0.06]
    plans = [plan(s, float(k), slope=1.0 + k, seq=k + 1) for k, s in enumerate(stamps)]
    for k, p in enumerate(plans):
        ex.push(p, stamps[k] + 0.005)
    t = 0.1
    values = np.array([p.chunk.at(t) for p in plans])  # (4, A), oldest first
    w = np.exp(-decay * (0.06 - np.array(stamps)))  # seconds before the newest
    assert np.allclose(ex.command(t), (w[:, None] * values).sum(0) / w.sum(), atol=1e-12)
    # The first chunk ends at 0.75 s; after that only the three others are averaged.
    t = plans[0].chunk.end_time + 1e-6
    values = np.array([p.chunk.at(t) for p in plans[1:]])
    w = np.exp(-decay * (0.06 - np.array(stamps[1:])))
    assert np.allclose(ex.command(t), (w[:, None] * values).sum(0) / w.sum(), atol=1e-12)
    # When every chunk has ended, the newest one's last row stays.
    assert ex.command(100.0).tolist() == plans[-1].chunk.rows[-1].tolist()


def test_ensemble_weights_never_overflow_with_many_chunks() -> None:
    ex = EnsembleExecutor(decay_per_s=-20000.0, capacity=300)  # exp(5980) unscaled
    ex.reset(np.zeros(A))
    for k in range(300):
        ex.push(plan(0.001 * k, float(k % 3), seq=k + 1), 0.001 * k)
    out = ex.command(0.5)
    assert np.isfinite(out).all() and 0.0 <= out[0] < 0.01  # the oldest (value 0) dominates
    with pytest.raises(ValueError, match="finite"):
        EnsembleExecutor(math.inf)


def test_rtc_executes_the_frozen_prefix_from_the_previous_chunk_then_the_new_one() -> None:
    link = RtcLink()
    ex = RtcExecutor(link)
    ex.reset(np.array([0.1, 0.2]))  # the measured position
    assert link.executed.resets == 1 and link.executed.source.at(0.0).tolist() == [0.1, 0.2]
    old = plan(0.0, 1.0, slope=1.0, frozen_until=0.05)
    ex.push(old, 0.004)
    assert ex.command(0.004).tolist() == [0.1, 0.2]  # the frozen row: still the reset's
    assert np.array_equal(ex.command(0.06), old.chunk.at(0.06))
    assert link.executed.seq == 1 and link.executed.resets == 1
    new = plan(0.2, -1.0, seq=2, frozen_until=0.2 + 3 * DT)  # d = 3 frozen rows
    ex.push(new, 0.26)
    for t in np.linspace(0.26, 0.2 + 3 * DT - 1e-6, 7):
        assert np.array_equal(ex.command(t), old.chunk.at(t))  # exactly the previous chunk
    assert ex.command(0.2 + 3 * DT).tolist() == [-1.0, -1.0]
    times, rows = ex.future(0.26)
    assert rows[-1].tolist() == [-1.0, -1.0]
    assert np.array_equal(rows[0], old.chunk.at(0.26 + times[0]))
    assert link.executed.source.at(0.4).tolist() == [-1.0, -1.0] and link.executed.seq == 2
    # A hold resets it: the loop now commands the held point, and says it was reset.
    ex.reset(np.array([0.5, 0.5]))
    assert ex.command(0.5).tolist() == [0.5, 0.5] and link.executed.resets == 2
    ex.clear()
    assert link.executed.source is None
    with pytest.raises(ValueError, match="RtcSampling"):
        ex.push(plan(0.5, 1.0), 0.5)


def test_make_executor_names_the_modes() -> None:
    assert CHUNK_MODES == ("crossfade", "latest", "ensemble", "rtc")
    assert isinstance(make_executor("latest"), LatestExecutor)
    assert make_executor("ensemble", ensemble_decay_per_s=0.2).decay_per_s == 0.2
    with pytest.raises(ValueError, match="RtcLink"):
        make_executor("rtc")
    with pytest.raises(ValueError, match="crossfade"):
        make_executor("blend")


@pytest.mark.parametrize("mode", CHUNK_MODES)
def test_preview_is_what_command_gives_later_and_changes_nothing(mode: str) -> None:
    """System 1's trajectory path runs through the next ticks' targets (`preview`); asking
    must not move the executor on (an ensemble drops chunks dead at the time it is asked)."""
    def build():
        ex = make_executor(mode, link=RtcLink())
        ex.reset(np.array([0.1, 0.2]))
        ex.push(plan(0.0, 1.0, slope=1.0, frozen_until=0.01), 0.004)
        ex.push(plan(0.3, -1.0, slope=0.5, seq=2, frozen_until=0.32), 0.31)
        return ex

    asked, fresh = build(), build()
    ahead = np.array([0.01, 0.02, 5.0])  # the last past every chunk's end
    seen = asked.preview(0.32, ahead)
    assert seen.shape == (3, A) and np.isfinite(seen).all()
    for t in (0.33, 0.34):
        assert np.array_equal(asked.command(t), fresh.command(t))  # nothing moved on
    later = [fresh.command(0.32 + s) for s in ahead]
    np.testing.assert_allclose(asked.preview(0.32, ahead)[:2], later[:2], atol=1e-12)
