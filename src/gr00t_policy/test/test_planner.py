"""Planner and InferenceWorker with a real runner (torch backend, random nano checkpoint)."""

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


def test_processor_of_another_width_is_refused(planner):
    from gr00t_policy.processor import Processor

    narrow = Processor(planner.processor.normalizer, max_state_dim=40, max_action_dim=32)
    with pytest.raises(ValueError, match="pads to state 40 / action 32 but the runner takes 64 / 32"):
        Planner(planner.runner, narrow, action_dt=0.05)
