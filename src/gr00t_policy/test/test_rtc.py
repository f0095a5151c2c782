"""Real-time chunking, the planner's side: the soft mask, the frozen rows, the spliced
source the loop follows, and what RtcSampling asks the runner for (fake runner, exact)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gr00t_policy.runtime.chunk import Chunk
from gr00t_policy.runtime.execution import RtcExecutor
from gr00t_policy.runtime.planner import Plan, StateSample
from gr00t_policy.runtime.rtc import RtcLink, RtcSampling, SplicedSource, frozen_rows, soft_mask

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
    src = SplicedSource.constant(np.zeros(A))
    src = src.then(c1, 0.05, now=0.0).then(c2, 0.15, now=0.1)
    assert src.at(0.1).tolist() == [1.0, 1.0]  # c2 only from 0.15
    assert src.at(0.15).tolist() == [2.0, 2.0]
    src = src.then(c3, 0.3, now=0.2)
    assert src.at(0.2).tolist() == [2.0, 2.0]
    assert src.at(0.3).tolist() == [3.0, 3.0]
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

    def sample_prefix(self, state, noise, prefix, rows):
        self.calls.append(("prefix", prefix, rows))
        return noise


def plan_once(sampling, runner, stamp, latency_s, value=5.0, seq=1, instruction_id=0):
    """One plan through RtcSampling: (the chunk as published, its frozen_until)."""
    noise = np.full((H, A_MAX), value, np.float32)
    rows = sampling.sample(runner, np.zeros(3, np.float32), noise, stamp=stamp, action_dt=DT,
                           latency_s=latency_s, instruction_id=instruction_id)
    new = Chunk(stamp, DT, np.zeros(A), rows[:, :A].astype(np.float64), seq=seq)
    return sampling.finish(new)


def as_plan(chunk: Chunk, frozen_until: float) -> Plan:
    state = StateSample(np.zeros(3), np.zeros(A), chunk.stamp, 0.0, chunk.seq)
    return Plan(chunk, state, 1, 0.001, 0.0, frozen_until)


def test_rtc_guides_towards_what_the_loop_will_command_and_freezes_the_delay() -> None:
    link, runner = RtcLink(), FakeRunner()
    loop = RtcExecutor(link)
    sampling = RtcSampling(link, FakeProcessor(), beta=5.0)
    # Nothing commanded yet (disabled): plain sampling.
    plan_once(sampling, runner, stamp=0.0, latency_s=0.0, value=1.0)
    assert runner.calls[-1] == ("plain",)

    loop.reset(np.array([0.5, -0.5]))  # enabled: the loop starts from the measured position
    second, until2 = plan_once(sampling, runner, stamp=1.0, latency_s=0.06, value=2.0, seq=2)
    kind, target, weights, beta = runner.calls[-1]
    assert kind == "guided" and beta == 5.0
    # The loop commands the reset's constant: it reaches no row beyond the frozen ones.
    assert np.allclose(target[:, :A], 2.0 * np.array([0.5, -0.5]))
    assert weights[:, 0].tolist() == [1, 1, 0, 0, 0, 0, 0, 0]  # d = 2 for 60 ms
    assert not weights[:, A:].any()  # padding columns are never guided
    assert second.rows[:2].tolist() == [[0.5, -0.5]] * 2  # frozen rows = what executes
    assert second.rows[2:].tolist() == [[2.0, 2.0]] * (H - 2)
    assert until2 == pytest.approx(1.0 + 2 * DT)

    # The next plan starts before the loop took `second` (one plan is always on its way):
    # the prediction is the loop's constant, then `second` from its frozen_until.
    third, until3 = plan_once(sampling, runner, stamp=1.03, latency_s=0.06, value=3.0, seq=3)
    _, target, weights, _ = runner.calls[-1]
    times = 1.03 + DT * np.arange(H)
    expected = SplicedSource.constant(np.array([0.5, -0.5])).then(second, until2, 1.03)
    assert np.allclose(target[:, :A], 2.0 * expected.at_many(times))
    assert np.allclose(weights[:, 0], soft_mask(2, 1, H))  # `second` ends a row before
    assert np.array_equal(third.rows[:2], expected.at_many(times[:2]))

    # The loop takes both; what it executes is what the planner predicted, exactly.
    loop.push(as_plan(second, until2), 1.02)
    loop.push(as_plan(third, until3), 1.05)
    for t in (1.05, 1.08, 1.1, 1.129):
        assert np.array_equal(loop.command(t), expected.at(t))
    assert loop.command(until3).tolist() == [3.0, 3.0]
    # A plan after those: the loop took everything, so the prediction is its source.
    plan_once(sampling, runner, stamp=1.06, latency_s=0.06, seq=4)
    _, target, _, _ = runner.calls[-1]
    assert np.allclose(target[:, :A], 2.0 * loop._source.at_many(1.06 + DT * np.arange(H)))


def test_in_a_hold_the_prediction_is_the_held_command_alone() -> None:
    link, runner = RtcLink(), FakeRunner()
    loop = RtcExecutor(link)
    sampling = RtcSampling(link, FakeProcessor())
    loop.reset(np.zeros(A))
    first, until = plan_once(sampling, runner, stamp=0.0, latency_s=0.0, value=1.0)
    loop.push(as_plan(first, until), 0.01)
    held = np.array([0.25, 0.75])
    loop.reset(held)  # a hold: the loop commands this, not the plans, resetting every tick
    plan_once(sampling, runner, stamp=0.5, latency_s=0.0, value=4.0, seq=2)
    loop.reset(held)
    new, _ = plan_once(sampling, runner, stamp=0.51, latency_s=0.0, value=4.0, seq=3)
    _, target, weights, _ = runner.calls[-1]
    assert np.allclose(target[:, :A], 2.0 * held)  # not the plans made during the hold
    assert weights[:, 0].tolist() == [1] + [0] * (H - 1)
    assert new.rows[0].tolist() == held.tolist()
    loop.clear()  # disabled: nothing commanded, nothing to guide towards
    plan_once(sampling, runner, stamp=1.0, latency_s=0.0, seq=4)
    assert runner.calls[-1] == ("plain",)
    with pytest.raises(ValueError, match="beta"):
        RtcSampling(link, FakeProcessor(), beta=-1.0)


def test_plans_for_a_replaced_instruction_are_not_predicted() -> None:
    # The loop refuses a plan made for an instruction other than the newest tokens', so the
    # next instruction's first plan must not guide towards the old one's untaken plans.
    link, runner = RtcLink(), FakeRunner()
    loop = RtcExecutor(link)
    sampling = RtcSampling(link, FakeProcessor(), beta=5.0)
    start = np.array([0.5, -0.5])
    loop.reset(start)
    old, until = plan_once(sampling, runner, stamp=1.0, latency_s=0.06, value=9.0, seq=1,
                           instruction_id=1)
    plan_once(sampling, runner, stamp=1.03, latency_s=0.06, seq=2, instruction_id=2)
    _, target, _, _ = runner.calls[-1]
    assert np.allclose(target[:, :A], 2.0 * start)  # the loop's constant alone
    # The same plan under the instruction still in force is predicted.
    plan_once(sampling, runner, stamp=1.03, latency_s=0.06, seq=3, instruction_id=1)
    _, target, _, _ = runner.calls[-1]
    expected = SplicedSource.constant(start).then(old, until, 1.03)
    assert np.allclose(target[:, :A], 2.0 * expected.at_many(1.03 + DT * np.arange(H)))
    assert not np.allclose(target[:, :A], 2.0 * start)


def test_rtc_prefix_method_gives_the_frozen_rows_up_to_the_trained_count() -> None:
    with pytest.raises(ValueError, match="--prefix-prob"):
        RtcSampling(RtcLink(), FakeProcessor(), method="prefix", prefix_rows=0)
    with pytest.raises(ValueError, match="unknown rtc method"):
        RtcSampling(RtcLink(), FakeProcessor(), method="inpaint")
    link, runner = RtcLink(), FakeRunner()
    loop = RtcExecutor(link)
    sampling = RtcSampling(link, FakeProcessor(), method="prefix", prefix_rows=3)
    plan_once(sampling, runner, stamp=0.0, latency_s=0.06)
    assert runner.calls[-1] == ("plain",)  # nothing commanded yet
    loop.reset(np.array([0.5, -0.5]))
    plan_once(sampling, runner, stamp=1.0, latency_s=0.06, seq=2)
    kind, prefix, rows = runner.calls[-1]
    assert kind == "prefix" and rows == 2  # 60 ms: two frozen rows, both given
    assert np.allclose(prefix[:2, :A], 2.0 * np.array([0.5, -0.5]))  # what the loop commands
    plan_once(sampling, runner, stamp=2.0, latency_s=0.3, seq=3)
    assert runner.calls[-1][2] == 3  # 6 frozen rows, 3 given: as many as the head learnt


def test_rtc_blend_method_mixes_a_plain_sample_with_the_target_by_the_soft_mask() -> None:
    link, runner = RtcLink(), FakeRunner()
    loop = RtcExecutor(link)
    sampling = RtcSampling(link, FakeProcessor(), method="blend")
    plan_once(sampling, runner, stamp=0.0, latency_s=0.06, value=1.0)
    assert runner.calls[-1] == ("plain",)  # nothing commanded yet: the sample as it is
    start = np.array([0.5, -0.5])
    loop.reset(start)
    first, until = plan_once(sampling, runner, stamp=1.0, latency_s=0.06, value=2.0, seq=2)
    assert runner.calls[-1] == ("plain",)  # no guided sampling
    assert first.rows[:2].tolist() == [start.tolist()] * 2  # frozen rows: what executes
    assert first.rows[2:].tolist() == [[2.0, 2.0]] * (H - 2)  # the constant reaches no row
    # The next plan overlaps `first` after its frozen rows: each row is W Y + (1 - W) A in
    # normalized units (x -> 2 x here), so in joint units too.
    noise = np.full((H, A_MAX), 3.0, np.float32)  # the plain sample: 3.0 normalized
    rows = sampling.sample(runner, np.zeros(3, np.float32), noise, stamp=1.03, action_dt=DT,
                           latency_s=0.06, instruction_id=0)
    times = 1.03 + DT * np.arange(H)
    target = 2.0 * SplicedSource.constant(start).then(first, until, 1.03).at_many(times)
    assert runner.calls[-1] == ("plain",)
    w = soft_mask(2, 1, H)[:, None]
    assert 0.0 < w[3, 0] < 1.0  # an overlap row is mixed
    assert np.allclose(rows[:, :A], w * target + (1.0 - w) * 3.0)
    assert np.allclose(rows[:, A:], 3.0)  # padding columns: the sample's
