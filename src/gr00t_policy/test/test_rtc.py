"""Real-time chunking, the planner's side: the soft mask, the frozen rows, the spliced
source the loop follows, and what RtcSampling asks the runner for (fake runner, exact)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gr00t_policy.runtime.chunk import Chunk, ConstantSource
from gr00t_policy.runtime.rtc import (RtcLink, RtcSampling, SplicedSource, frozen_rows,
                                      soft_mask)

DT, H, A, A_MAX = 0.05, 8, 2, 4


def test_soft_mask_values_for_given_d_s_h() -> None:
    w = soft_mask(2, 3, 10)  # frozen rows 0-1, overlap up to row 6 (H - s = 7), free 7-9
    assert w.shape == (10,)
    assert w[:2].tolist() == [1.0, 1.0]
    for i in range(2, 7):
        c = (7 - i) / (7 - 2 + 1)
        assert w[i] == pytest.approx(c * (math.exp(c) - 1) / (math.e - 1), rel=1e-12)
    assert w[7:].tolist() == [0.0, 0.0, 0.0]
    assert (np.diff(w[1:8]) < 0).all() and 0 < w[6] < w[2] < 1
    # Edge cases: no overlap left (only the frozen rows), everything frozen, nothing frozen.
    assert soft_mask(3, 5, 8).tolist() == [1, 1, 1, 0, 0, 0, 0, 0]
    assert soft_mask(8, 0, 8).tolist() == [1.0] * 8
    assert soft_mask(0, 0, 4)[0] == pytest.approx(0.8 * math.expm1(0.8) / (math.e - 1))
    with pytest.raises(ValueError, match="d=9"):
        soft_mask(9, 0, 8)


def test_frozen_rows_round_the_latency_up_to_rows() -> None:
    assert frozen_rows(0.0, DT, H) == 1  # row 0 is the stamp: always in the past
    assert frozen_rows(0.004, DT, H) == 1
    assert frozen_rows(DT, DT, H) == 1
    assert frozen_rows(0.051, DT, H) == 2
    assert frozen_rows(0.104, DT, H) == 3
    assert frozen_rows(10.0, DT, H) == H
    with pytest.raises(ValueError, match="latency_s"):
        frozen_rows(-1.0, DT, H)


def chunk(stamp: float, value: float, slope: float = 0.0, seq: int = 1) -> Chunk:
    rows = value + slope * DT * np.arange(H)[:, None] + np.zeros((H, A))  # (H, A)
    return Chunk(stamp, DT, np.zeros(A), rows, seq=seq)


def test_spliced_source_switches_at_each_switch_time_and_prunes_the_past() -> None:
    c1, c2, c3 = chunk(0.0, 1.0), chunk(0.1, 2.0), chunk(0.2, 3.0)
    src = SplicedSource(((-math.inf, ConstantSource(np.zeros(A))),), epoch=4)
    src = src.then(c1, 0.05, now=0.0).then(c2, 0.15, now=0.1)
    assert src.at(0.1).tolist() == [1.0, 1.0]  # c2 only from 0.15
    assert src.at(0.15).tolist() == [2.0, 2.0]
    src = src.then(c3, 0.3, now=0.2)
    assert src.at(0.2).tolist() == [2.0, 2.0]
    assert src.at(0.3).tolist() == [3.0, 3.0]
    assert src.epoch == 4
    # Nothing at or after now = 0.2 reaches c1 or the constant: they are gone.
    assert [s for _, s in src.entries] == [c2, c3]
    assert src.covered_until == pytest.approx(c3.end_time)
    times, rows = src.future(0.2)
    assert np.allclose(times, 0.2 + DT * np.arange(1, H) - 0.2)
    assert rows[0].tolist() == [2.0, 2.0] and rows[-1].tolist() == [3.0, 3.0]


class FakeProcessor:
    """Normalization x -> 2 x, padded to A_MAX (enough to see what reaches the runner)."""

    def actions(self, raw):
        out = np.zeros(raw.shape[:-1] + (A_MAX,), np.float32)
        out[..., :A] = 2.0 * raw
        return out

    def action_mask(self):
        return np.arange(A_MAX) < A


class FakeRunner:
    horizon, max_action_dim = H, A_MAX

    def __init__(self) -> None:
        self.calls = []

    def sample(self, state, noise):
        self.calls.append(("plain",))
        return noise

    def sample_guided(self, state, noise, target, weights, beta):
        self.calls.append(("guided", target, weights, beta))
        return noise


def plan_once(sampling, runner, stamp, latency_s, value=5.0, seq=1):
    noise = np.full((H, A_MAX), value, np.float32)
    rows = sampling.sample(runner, np.zeros(3, np.float32), noise, stamp=stamp, action_dt=DT,
                           latency_s=latency_s)
    new = Chunk(stamp, DT, np.zeros(A), rows[:, :A].astype(np.float64), seq=seq)
    return sampling.finish(new)


def test_rtc_sampling_guides_towards_the_previous_chunk_and_freezes_the_delay() -> None:
    link, runner = RtcLink(), FakeRunner()
    sampling = RtcSampling(link, FakeProcessor(), beta=5.0)
    # Nothing commanded yet (no reset): plain sampling, the chunk drives from the start.
    first, src1 = plan_once(sampling, runner, stamp=0.0, latency_s=0.0, value=1.0)
    assert runner.calls[-1] == ("plain",)
    assert src1.at(0.0).tolist() == [1.0, 1.0]

    link.reset(np.array([0.5, -0.5]))  # the loop starts from the measured position
    second, src2 = plan_once(sampling, runner, stamp=1.0, latency_s=0.06, value=2.0, seq=2)
    kind, target, weights, beta = runner.calls[-1]
    assert kind == "guided" and beta == 5.0
    # The previous chunk is the reset's constant: it reaches no row beyond the frozen ones.
    assert np.allclose(target[:, :A], 2.0 * np.array([0.5, -0.5]))
    assert weights[:, 0].tolist() == [1, 1, 0, 0, 0, 0, 0, 0]  # d = 2 for 60 ms
    assert not weights[:, A:].any()  # padding columns are never guided
    assert second.rows[:2].tolist() == [[0.5, -0.5]] * 2  # frozen rows = what executes
    assert second.rows[2:].tolist() == [[2.0, 2.0]] * (H - 2)
    assert src2.epoch == link.epoch
    assert src2.at(1.0 + 2 * DT - 1e-9).tolist() == [0.5, -0.5]  # the constant until then
    assert src2.at(1.0 + 2 * DT).tolist() == [2.0, 2.0]

    # The next plan, 30 ms later: Y = what src2 commands at its rows, overlap up to the end
    # of `second` (H - 1 rows of the new chunk), mask soft in between.
    third, src3 = plan_once(sampling, runner, stamp=1.03, latency_s=0.06, value=3.0, seq=3)
    _, target, weights, _ = runner.calls[-1]
    times = 1.03 + DT * np.arange(H)
    assert np.allclose(target[:, :A], 2.0 * src2.at_many(times))
    assert np.allclose(weights[:, 0], soft_mask(2, 1, H))
    assert np.array_equal(third.rows[:2], src2.at_many(times[:2]))
    # Executed: src2 (exactly) until 1.03 + 2 DT, then the new chunk.
    for t in (1.03, 1.05, 1.1, 1.12):
        assert np.array_equal(src3.at(t), src2.at(t))
    assert src3.at(1.03 + 2 * DT).tolist() == [3.0, 3.0]


def test_a_reset_in_the_loop_starts_a_new_chain_from_its_command() -> None:
    link, runner = RtcLink(), FakeRunner()
    sampling = RtcSampling(link, FakeProcessor())
    link.reset(np.zeros(A))
    _, src = plan_once(sampling, runner, stamp=0.0, latency_s=0.0, value=1.0)
    held = np.array([0.25, 0.75])
    link.reset(held)  # a hold: the loop commands this, not the previous plan
    assert src.epoch != link.epoch
    new, src2 = plan_once(sampling, runner, stamp=0.5, latency_s=0.0, value=4.0, seq=2)
    _, target, weights, _ = runner.calls[-1]
    assert np.allclose(target[:, :A], 2.0 * held)  # not the stale plan
    assert weights[:, 0].tolist() == [1] + [0] * (H - 1)
    assert new.rows[0].tolist() == held.tolist() and src2.epoch == link.epoch
    link.clear()  # disabled: nothing commanded, nothing to guide towards
    plan_once(sampling, runner, stamp=1.0, latency_s=0.0, seq=3)
    assert runner.calls[-1] == ("plain",)
    with pytest.raises(ValueError, match="beta"):
        RtcSampling(link, FakeProcessor(), beta=-1.0)
