"""CommandLimiter properties and the Supervisor state machine."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from gr00t_system1.safety import CommandLimiter, SafetyState, Supervisor, SupervisorInputs

LOWER = np.array([-1.0, 0.0, -3.0])
UPPER = np.array([1.0, 2.0, -1.0])
VEL = np.array([2.0, 10.0, 0.5])
DT = 1 / 120

any_float = st.floats(allow_nan=True, allow_infinity=True, width=64)


def limiter(start=(0.0, 1.0, -2.0)):
    lim = CommandLimiter(LOWER, UPPER, VEL, DT)
    lim.reset(np.array(start))
    return lim


@settings(max_examples=200, deadline=None)
@given(st.lists(arrays(np.float64, 3, elements=any_float), min_size=1, max_size=20))
def test_every_command_is_finite_inside_limits_and_rate_limited(targets):
    lim = limiter()
    prev = lim.last.copy()
    for target in targets:
        cmd = lim.apply(target)
        assert np.isfinite(cmd).all()
        assert (cmd >= LOWER).all() and (cmd <= UPPER).all()
        assert (np.abs(cmd - prev) <= VEL * DT + 1e-12).all()
        prev = cmd


def test_non_finite_entries_keep_the_last_safe_value():
    lim = limiter()
    cmd = lim.apply(np.array([math.nan, 1.0, math.inf]))
    assert cmd[0] == 0.0 and cmd[2] == -2.0
    assert lim.nonfinite_replaced == 1


def test_reachable_target_is_reached_exactly():
    lim = limiter()
    assert lim.apply(np.array([0.01, 1.05, -2.001])).tolist() == [0.01, 1.05, -2.001]


def test_reset_clamps_a_measured_position_outside_the_limits():
    lim = CommandLimiter(LOWER, UPPER, VEL, DT)
    assert lim.reset(np.array([5.0, -1.0, -2.0])).tolist() == [1.0, 0.0, -2.0]
    with pytest.raises(ValueError):
        lim.reset(np.array([math.nan, 0.0, 0.0]))


def test_limit_path_is_safe_and_leaves_last_alone():
    lim = limiter()
    times = np.array([0.1, 0.2, 0.3])
    rows = np.array([[9.0, 9.0, 9.0], [math.nan, 1.0, -9.0], [-9.0, 1.0, -1.5]])
    out = lim.limit_path(times, rows, t0=0.05)
    assert np.isfinite(out).all()
    assert (out >= LOWER).all() and (out <= UPPER).all()
    gaps = np.diff(np.concatenate([[0.05], times]))
    steps = np.abs(np.diff(np.vstack([lim.last, out]), axis=0))
    assert (steps <= VEL * gaps[:, None] + 1e-12).all()
    assert lim.last.tolist() == [0.0, 1.0, -2.0]


def test_bad_limits_are_refused():
    with pytest.raises(ValueError, match="lower < upper"):
        CommandLimiter(UPPER, LOWER, VEL, DT)
    with pytest.raises(ValueError, match="velocity"):
        CommandLimiter(LOWER, UPPER, -VEL, DT)


def inputs(**kw):
    base = dict(enabled=True, state_age=0.01, tokens_age=0.1, fresh_plan=True,
                plan_exhausted=False, worker_alive=True)
    base.update(kw)
    return SupervisorInputs(**base)


def test_state_machine_transitions_are_logged_once():
    log = []
    sup = Supervisor(0.05, 0.5, log=lambda old, new, why: log.append((old, new)))
    assert sup.update(inputs(enabled=False)) == SafetyState.DISABLED
    assert sup.update(inputs(tokens_age=None)) == SafetyState.WAITING
    assert sup.update(inputs(tokens_age=None)) == SafetyState.WAITING
    assert sup.update(inputs()) == SafetyState.RUNNING
    for _ in range(3):
        assert sup.update(inputs(state_age=0.06, fresh_plan=False)) == SafetyState.HOLD_STALE_STATE
    assert sup.update(inputs(tokens_age=0.6)) == SafetyState.HOLD_STALE_TOKENS
    assert sup.update(inputs(plan_exhausted=True, fresh_plan=False)) == SafetyState.HOLD_NO_PLAN
    assert sup.update(inputs(worker_alive=False)) == SafetyState.FAULT
    assert sup.update(inputs()) == SafetyState.RUNNING
    assert sup.update(inputs(enabled=False)) == SafetyState.DISABLED
    # Re-enabled: waits for a fresh plan again instead of resuming at once.
    assert sup.update(inputs(fresh_plan=False)) == SafetyState.WAITING
    assert [n for _, n in log] == [
        SafetyState.WAITING, SafetyState.RUNNING, SafetyState.HOLD_STALE_STATE,
        SafetyState.HOLD_STALE_TOKENS, SafetyState.HOLD_NO_PLAN, SafetyState.FAULT,
        SafetyState.RUNNING, SafetyState.DISABLED, SafetyState.WAITING]


def test_stale_state_wins_over_stale_tokens_and_names_the_age():
    sup = Supervisor(0.05, 0.5)
    sup.update(inputs())
    state, reason = sup.decide(inputs(state_age=0.2, tokens_age=0.9))
    assert state == SafetyState.HOLD_STALE_STATE and "0.200" in reason


def test_limiter_caps_any_target_sequence():
    tick, vel = 1 / 120, 3.0
    lim = CommandLimiter(np.full(3, -3.0), np.full(3, 3.0), np.full(3, vel), tick)
    lim.reset(np.zeros(3))
    rng = np.random.default_rng(1)
    prev = lim.last
    for _ in range(200):
        cmd = lim.apply(rng.uniform(-10, 10, 3))
        assert np.abs(cmd - prev).max() <= vel * tick + 1e-12
        prev = cmd
