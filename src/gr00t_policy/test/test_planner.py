"""Planner and InferenceWorker with a real runner (torch backend, random nano checkpoint)."""

import dataclasses
import math
import threading
import time

import numpy as np
import pytest

from gr00t_policy.runtime.planner import NonFiniteActionsError, Planner, StateSample, TokenSample
from gr00t_policy.runtime.worker import InferenceWorker, Mailbox


@pytest.fixture(scope="module")
def planner(tmp_path_factory):
    import json

    from gr00t_policy.backends import make_runner
    from gr00t_policy.checkpoint import make_random_checkpoint
    from gr00t_policy.processor import Processor

    checkpoint = make_random_checkpoint(tmp_path_factory.mktemp("ckpt") / "nano")
    entry = json.loads((checkpoint / "config.json").read_text())["embodiments"]["unitree_g1"]
    meta = json.loads((checkpoint / "experiment_cfg" / "metadata.json").read_text())
    runner = make_runner("torch", checkpoint, embodiment_slot=0, num_steps=2)
    proc = Processor.from_metadata(meta, "unitree_g1", state_keys=entry["state_keys"],
                                   action_keys=entry["action_keys"],
                                   max_state_dim=runner.max_state_dim,
                                   max_action_dim=runner.max_action_dim)
    return Planner(runner, proc, action_dt=0.05, seed=0)


def samples(seq=1, stamp=50.0):
    rng = np.random.default_rng(seq)
    state = StateSample(rng.uniform(-0.5, 0.5, 31), rng.uniform(-0.5, 0.5, 31), stamp,
                        time.monotonic(), seq)
    tokens = TokenSample(rng.standard_normal((64, 128)).astype(np.float32),
                         np.arange(64) >= 4, stamp, time.monotonic(), 7, seq)
    return state, tokens


def test_plan_is_an_unnormalized_chunk_anchored_at_the_state(planner):
    state, tokens = samples()
    planner.set_tokens(tokens)
    plan = planner.plan(state)
    chunk = plan.chunk
    assert chunk.rows.shape == (16, 31) and np.isfinite(chunk.rows).all()
    # Row 0 is commanded at the state's stamp; the measured start is kept for reference.
    assert chunk.stamp == 50.0 and chunk.at(50.0).tolist() == chunk.rows[0].tolist()
    assert chunk.start.tolist() == state.action_positions.tolist()
    assert plan.instruction_id == 7 and plan.latency_s > 0
    # Fresh noise every call: two plans from the same inputs differ.
    assert not np.allclose(planner.plan(state).chunk.rows, chunk.rows)


def test_noise_scale_zero_gives_one_chunk_and_bad_scales_are_refused(planner):
    state, tokens = samples()
    zero = Planner(planner.runner, planner.processor, action_dt=0.05, seed=1, noise_scale=0.0)
    zero.set_tokens(tokens)
    a, b = zero.plan(state).chunk.rows, zero.plan(state).chunk.rows
    assert np.array_equal(a, b)  # no noise: the same chunk every time
    half = Planner(planner.runner, planner.processor, action_dt=0.05, seed=1, noise_scale=0.5)
    full = Planner(planner.runner, planner.processor, action_dt=0.05, seed=1)
    # Same seed, same noise draw: the half-scale chunk lies nearer the noise-free one.
    d_half = np.abs(half.plan(state).chunk.rows - a).mean()
    d_full = np.abs(full.plan(state).chunk.rows - a).mean()
    assert 0 < d_half < d_full
    for bad in (-0.1, float("nan")):
        with pytest.raises(ValueError, match="noise_scale"):
            Planner(planner.runner, planner.processor, action_dt=0.05, noise_scale=bad)

def test_warm_up_runs_once_and_leaves_no_tokens_in_force(planner):
    state, tokens = samples(seq=3)
    planner.set_tokens(tokens)
    assert planner.tokens_seq == 3
    assert planner.warm_up() > 0
    # The warm-up replaced the conditioning: the planner must not claim seq 3 any more, so
    # the worker sets the same tokens again before planning.
    assert planner.tokens_seq == 0
    planner.set_tokens(tokens)
    assert np.isfinite(planner.plan(state).chunk.rows).all()


def test_worker_plans_on_each_new_state_and_skips_stale_inputs(planner):
    box = Mailbox()
    plans = []
    fresh = {"ok": True}
    worker = InferenceWorker(planner, box, is_fresh=lambda s, t: fresh["ok"], on_plan=plans.append)
    worker.start()
    try:
        state, tokens = samples(seq=1)
        box.put_tokens(tokens)
        box.put_state(state)
        deadline = time.monotonic() + 30
        while not plans and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(plans) == 1 and worker.latest is plans[0] and worker.healthy
        time.sleep(0.3)
        assert len(plans) == 1  # no new state: no replan
        fresh["ok"] = False
        box.put_state(samples(seq=2)[0])
        time.sleep(0.3)
        assert len(plans) == 1  # stale inputs are not planned on
    finally:
        worker.stop()


def test_absurd_finite_state_is_a_planning_error_not_a_nan_chunk(planner):
    # 1e308 is finite (the joint mapper accepts it) but overflows normalization.
    state, tokens = samples(seq=3)
    planner.set_tokens(tokens)
    huge = StateSample(np.full(31, 1e308), state.action_positions, state.stamp, state.arrival, 3)
    with np.errstate(over="ignore", invalid="ignore"):
        with pytest.raises(NonFiniteActionsError, match="non-finite actions"):
            planner.plan(huge)
    assert np.isfinite(planner.plan(state).chunk.rows).all()  # a good state plans again


def test_non_finite_actions_from_a_plausible_state_name_the_checkpoint(planner, monkeypatch):
    # A damaged checkpoint (System 1 refuses implausible states before planning): the error
    # sent the operator to /joint_states.
    state, tokens = samples(seq=4)
    planner.set_tokens(tokens)
    monkeypatch.setattr(planner.runner, "sample",
                        lambda s, noise: np.full_like(noise, np.inf))
    with pytest.raises(NonFiniteActionsError, match="checkpoint") as err:
        planner.plan(state)
    assert "/joint_states" not in str(err.value)
    monkeypatch.undo()
    huge = StateSample(np.full(31, 1e308), state.action_positions, state.stamp, state.arrival, 5)
    with np.errstate(over="ignore", invalid="ignore"):
        with pytest.raises(NonFiniteActionsError, match="/joint_states"):
            planner.plan(huge)


def test_processor_of_another_width_is_refused(planner):
    from gr00t_policy.processor import Processor

    narrow = Processor(planner.processor.normalizer, max_state_dim=40, max_action_dim=32)
    with pytest.raises(ValueError, match="pads to state 40 / action 32 but the runner takes 64 / 32"):
        Planner(planner.runner, narrow, action_dt=0.05)


class RecordingPlanner:
    """A planner that plans at once and records the latency it was told to expect."""

    tokens_seq = 0

    def __init__(self) -> None:
        self.expected: list[float] = []
        self.finished: list[float] = []

    def set_tokens(self, tokens) -> None:
        self.tokens_seq = tokens.seq

    def plan(self, state, latency_s=0.0):
        from gr00t_policy.runtime.chunk import Chunk
        from gr00t_policy.runtime.planner import Plan

        self.expected.append(latency_s)
        self.finished.append(time.monotonic())
        chunk = Chunk(state.stamp, 0.05, np.zeros(2), np.zeros((4, 2)), seq=state.seq)
        return Plan(chunk, state, 7, 0.002, self.finished[-1])


def test_inference_delay_holds_every_plan_back_and_the_worker_measures_it():
    """delay_s: the plan reaches the loop (worker.latest, on_plan) that long after planning
    finished, its latency says so, and the next plan is told to expect at least that."""
    planner, box, got = RecordingPlanner(), Mailbox(), []
    delay = 0.15
    worker = InferenceWorker(planner, box, is_fresh=lambda s, t: True,
                             on_plan=lambda p: got.append((time.monotonic(), p)), delay_s=delay)
    assert worker.latency.value == delay  # known before the first plan
    worker.start()
    try:
        state, tokens = samples(seq=1)
        box.put_tokens(tokens)
        box.put_state(state)
        deadline = time.monotonic() + 10
        while not got and time.monotonic() < deadline:
            assert worker.latest is None or got  # nothing handed over before the delay
            time.sleep(0.005)
        handed, p = got[0]
        assert handed - planner.finished[0] >= delay
        assert p.done - planner.finished[0] >= delay and p.latency_s >= 0.002 + delay - 1e-9
        box.put_state(samples(seq=2)[0])
        while len(got) < 2 and time.monotonic() < deadline:
            time.sleep(0.005)
        assert planner.expected[0] == delay and planner.expected[1] >= delay
    finally:
        worker.stop()
    with pytest.raises(ValueError, match="delay_s"):
        InferenceWorker(planner, box, is_fresh=lambda s, t: True, delay_s=-1.0)


class HangingPlanner(RecordingPlanner):
    """A planner whose plans do not return until `release` is set (a hung runner)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def plan(self, state, latency_s=0.0):
        self.release.wait()
        return super().plan(state, latency_s)


def test_a_plan_that_never_returns_is_measured_while_it_hangs():
    """A hung runner leaves the thread alive and failing nothing (healthy): how long the plan
    in progress has taken is what names the stall to System 1."""
    planner, box = HangingPlanner(), Mailbox()
    worker = InferenceWorker(planner, box, is_fresh=lambda s, t: True)
    assert worker.in_progress_s(time.monotonic()) is None
    worker.start()
    try:
        state, tokens = samples(seq=1)
        box.put_tokens(tokens)
        box.put_state(state)
        deadline = time.monotonic() + 10
        while worker.in_progress_s(time.monotonic()) is None and time.monotonic() < deadline:
            time.sleep(0.005)
        first = worker.in_progress_s(time.monotonic())
        assert first is not None and worker.healthy and worker.latest is None
        time.sleep(0.05)
        assert worker.in_progress_s(time.monotonic()) >= first + 0.05
        planner.release.set()
        while worker.latest is None and time.monotonic() < deadline:
            time.sleep(0.005)
        assert worker.latest is not None and worker.in_progress_s(time.monotonic()) is None
    finally:
        planner.release.set()
        worker.stop()


def test_min_period_spaces_plans_and_each_plans_on_the_newest_state():
    """min_period_s: with states arriving every few ms, plans start >= 0.1 s apart, and each
    takes the newest state there is when it starts (not the one that woke the worker)."""
    planner, box, puts = RecordingPlanner(), Mailbox(), []
    planned: list[tuple[float, int]] = []
    plan = planner.plan
    planner.plan = lambda state, latency_s=0.0: (planned.append((time.monotonic(), state.seq)),
                                                 plan(state, latency_s))[1]
    period = 0.1
    worker = InferenceWorker(planner, box, is_fresh=lambda s, t: True, min_period_s=period)
    state, tokens = samples(seq=1)
    box.put_tokens(tokens)
    worker.start()
    try:
        deadline = time.monotonic() + 0.65
        while time.monotonic() < deadline:
            seq = len(puts) + 1
            puts.append((time.monotonic(), seq))
            box.put_state(dataclasses.replace(state, seq=seq))
            time.sleep(0.003)
    finally:
        worker.stop()
    starts = np.array([t for t, _ in planned])
    assert 3 <= len(starts) <= 8, starts  # ~0.65 / 0.1 plans, not one per state
    # (measured where plan() is called, a moment after the worker's own start time)
    assert np.diff(starts).min() >= period - 0.02, np.diff(starts)
    # Each plan reads the newest state, not the one after the previous plan's: the state
    # numbers skip the ~30 put during each wait.
    seqs = np.array([seq for _, seq in planned])
    assert np.diff(seqs).min() >= 10, seqs
    with pytest.raises(ValueError, match="min_period_s"):
        InferenceWorker(planner, box, is_fresh=lambda s, t: True, min_period_s=math.nan)


def test_rtc_planner_on_a_real_runner_keeps_to_what_the_loop_commands(planner):
    """RtcSampling through the Planner (torch runner, real normalization) and the loop's
    RtcExecutor: after a reset to the measured position, plans start from it; the next
    plan's frozen rows are exactly what the loop commands there, and its guided rows stay
    near that, far nearer than a plan from fresh noise alone."""
    from gr00t_policy.runtime.execution import RtcExecutor
    from gr00t_policy.runtime.rtc import RtcLink, RtcSampling

    link = RtcLink()
    loop = RtcExecutor(link)
    rtc = Planner(planner.runner, planner.processor, action_dt=0.05, seed=0,
                  sampling=RtcSampling(link, planner.processor))
    fresh = Planner(planner.runner, planner.processor, action_dt=0.05, seed=0)
    state, tokens = samples(seq=1, stamp=50.0)
    for p in (rtc, fresh):
        p.set_tokens(tokens)
    loop.reset(state.action_positions)
    first = rtc.plan(state, latency_s=0.06)
    assert first.frozen_until == pytest.approx(50.0 + 2 * 0.05)
    assert np.array_equal(first.chunk.rows[:2], np.tile(state.action_positions, (2, 1)))
    loop.push(first, 50.01)
    later = StateSample(state.state, state.action_positions, 50.03, time.monotonic(), 2)
    second = rtc.plan(later, latency_s=0.06)
    times = 50.03 + 0.05 * np.arange(second.chunk.horizon)
    executed = np.stack([loop.command(t) for t in times])  # (H, A) before `second`
    assert np.array_equal(second.chunk.rows[:2], executed[:2])
    loop.push(second, 50.04)
    for t in (50.04, 50.08, 50.12):
        assert np.array_equal(loop.command(t), first.chunk.at(t) if t >= 50.1 else
                              state.action_positions)
    # Rows 2-4 are guided with weights near 1.
    fresh.plan(state)
    other = fresh.plan(later)
    near = np.abs(second.chunk.rows[2:5] - executed[2:5]).mean()
    far = np.abs(other.chunk.rows[2:5] - executed[2:5]).mean()
    assert near < 0.5 * far, (near, far)


def test_refused_tokens_of_another_instruction_withdraw_the_held_ones():
    box = Mailbox()
    assert not box.withdraw_tokens(2)  # nothing held
    held = TokenSample(np.zeros((4, 8), np.float32), np.ones(4, bool), stamp=10.0,
                       arrival=100.0, instruction_id=1, seq=1)
    box.put_tokens(held)
    assert not box.withdraw_tokens(1)  # the same instruction: the held tokens still count
    assert box.tokens is held and box.tokens.age(10.1, 100.1) == pytest.approx(0.1)
    assert box.withdraw_tokens(2)  # a replacement was refused: stale from now on
    assert box.tokens.age(10.1, 100.1) == math.inf and box.tokens.instruction_id == 1
    assert not box.withdraw_tokens(3)  # once
    box.put_tokens(dataclasses.replace(held, instruction_id=3, seq=2))  # accepted: counts
    assert box.tokens.age(10.1, 100.1) == pytest.approx(0.1)
