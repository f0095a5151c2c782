"""CommandLimiter: finite, inside the limits, velocity- and acceleration-limited, always."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from gr00t_system1.limiter import MIN_GAP, STALL_GAP, CommandLimiter

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


@pytest.mark.parametrize("accel", [None, np.array([60.0, 60.0, 60.0])])
def test_the_first_command_from_beyond_a_limit_is_one_step_from_the_measurement(accel):
    """A joint measured beyond a limit by up to `first_reach`: the first command is within
    one step from rest of the measured position, not the clamp plus a full step (twice the
    velocity limit without an acceleration limit; an acceleration from rest beyond the
    limit with one)."""
    lim = CommandLimiter(LOWER, UPPER, VEL, DT, acceleration=accel)
    reach = lim.first_reach()
    expected = VEL * DT if accel is None else np.minimum(VEL * DT, accel * DT * DT)
    np.testing.assert_allclose(reach, expected)
    measured = np.array([UPPER[0] + reach[0], LOWER[1] - reach[1], UPPER[2] + reach[2]])
    assert lim.reset(measured).tolist() == [UPPER[0], LOWER[1], UPPER[2]]
    target = np.array([LOWER[0], UPPER[1], LOWER[2]])  # as far inward as there is
    cmd = lim.apply(target)
    assert (cmd >= LOWER).all() and (cmd <= UPPER).all()
    assert (np.abs(cmd - measured) <= reach + 1e-12).all(), cmd - measured
    np.testing.assert_allclose(lim.last_velocity, (cmd - measured) / DT)
    if accel is not None:
        assert (np.abs(lim.last_velocity) <= accel * DT + 1e-9).all()


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


ACC = np.array([20.0, 50.0, 5.0])


def accel_limiter(start=(0.0, 1.0, -2.0)):
    lim = CommandLimiter(LOWER, UPPER, VEL, DT, acceleration=ACC)
    lim.reset(np.array(start))
    return lim


@settings(max_examples=200, deadline=None)
@given(st.lists(arrays(np.float64, 3, elements=any_float), min_size=1, max_size=40))
def test_with_acceleration_limits_every_velocity_change_is_bounded(targets):
    lim = accel_limiter()
    prev, prev_v = lim.last.copy(), np.zeros(3)
    for target in targets:
        cmd = lim.apply(target)
        v = (cmd - prev) / DT
        assert np.isfinite(cmd).all()
        assert (cmd >= LOWER).all() and (cmd <= UPPER).all()
        assert (np.abs(cmd - prev) <= VEL * DT + 1e-9).all()
        assert (np.abs(v - prev_v) <= ACC * DT + 1e-6).all()
        prev, prev_v = cmd, v


def test_a_reversed_target_decelerates_instead_of_reversing_in_one_tick():
    # The finding of issue 17: a velocity-only limiter reversed a joint from +max to -max
    # velocity in one tick (~8,900 rad/s^2 at 120 Hz).
    lim = CommandLimiter(np.array([-3.0]), np.array([3.0]), np.array([2.0]), DT,
                         acceleration=np.array([10.0]))
    lim.reset(np.array([0.0]))
    for _ in range(60):
        lim.apply(np.array([3.0]))
    v_before = lim.last_velocity[0]
    assert v_before == pytest.approx(2.0)  # cruising at the velocity limit
    lim.apply(np.array([-3.0]))
    assert lim.last_velocity[0] == pytest.approx(2.0 - 10.0 * DT)


def test_a_step_target_is_reached_without_overshoot():
    lim = CommandLimiter(np.array([-3.0]), np.array([3.0]), np.array([2.0]), DT,
                         acceleration=np.array([10.0]))
    lim.reset(np.array([0.0]))
    path = [lim.apply(np.array([1.0]))[0] for _ in range(240)]
    assert max(path) <= 1.0 + 1e-12
    assert path[-1] == 1.0  # lands exactly on the target


def test_motion_toward_a_limit_stops_at_it_within_the_acceleration_limit():
    lim = CommandLimiter(np.array([-1.0]), np.array([1.0]), np.array([5.0]), DT,
                         acceleration=np.array([4.0]))
    lim.reset(np.array([0.0]))
    prev_v = 0.0
    for _ in range(400):
        cmd = lim.apply(np.array([50.0]))  # far beyond the limit
        v = lim.last_velocity[0]
        assert cmd[0] <= 1.0 and abs(v - prev_v) <= 4.0 * DT + 1e-9
        prev_v = v
    assert lim.last[0] == pytest.approx(1.0, abs=1e-3) and abs(prev_v) < 1e-6


def test_limit_path_respects_acceleration_from_the_current_velocity():
    lim = accel_limiter()
    for _ in range(30):
        lim.apply(np.array([1.0, 2.0, -1.0]))
    times = np.array([DT, 0.05, 0.1, 0.15])
    rows = np.array([[-1.0, 0.0, -3.0]] * 4)
    out = lim.limit_path(times, rows, t0=0.0)
    pos = np.vstack([lim.last, out])
    gaps = np.diff(np.concatenate([[0.0], times]))
    vel = np.diff(pos, axis=0) / gaps[:, None]
    dv = np.diff(np.vstack([lim.last_velocity, vel]), axis=0)
    assert (np.abs(dv) <= ACC * gaps[:, None] + 1e-6).all()
    assert (out >= LOWER).all() and (out <= UPPER).all()


def test_bad_acceleration_limits_are_refused():
    with pytest.raises(ValueError, match="acceleration"):
        CommandLimiter(LOWER, UPPER, VEL, DT, acceleration=np.array([1.0, 0.0, 1.0]))


def test_braking_to_the_stopping_point_stops_without_coming_back():
    lim = CommandLimiter(np.array([-3.0]), np.array([3.0]), np.array([2.0]), DT,
                         acceleration=np.array([10.0]))
    lim.reset(np.array([0.0]))
    for _ in range(60):
        lim.apply(np.array([3.0]))  # cruising at +2 rad/s
    stop = lim.stopping_point()
    assert stop[0] == pytest.approx(lim.last[0] + 2.0 ** 2 / 20.0)
    path = [lim.apply(stop)[0] for _ in range(120)]
    assert all(b >= a - 1e-9 for a, b in zip(path, path[1:]))  # never moves back
    assert path[-1] == pytest.approx(stop[0], abs=1e-3)
    assert lim.last_velocity[0] == pytest.approx(0.0, abs=1e-9)


def test_a_command_too_soon_after_the_last_is_flagged():
    lim = limiter()
    assert not lim.too_soon(1.0)  # nothing given since the reset
    lim.apply(np.array([1.0, 2.0, -3.0]), now=1.0)
    assert lim.too_soon(1.0 + 0.5 * DT) and lim.too_soon(1.0)
    assert not lim.too_soon(1.0 + MIN_GAP * DT) and not lim.too_soon(1.0 + 3 * DT)
    assert lim.too_soon(0.5)  # a clock that jumped backwards: once, then from there on
    assert not lim.too_soon(0.5 + DT) and lim.clock_jumps_back == 1
    lim.apply(np.array([1.0, 2.0, -3.0]))  # without a time: no gap to keep
    assert not lim.too_soon(1.0)
    lim.apply(np.array([1.0, 2.0, -3.0]), now=2.0)
    lim.reset(np.array([0.0, 1.0, -2.0]))
    assert not lim.too_soon(2.0)


def test_a_stall_is_measured_on_the_monotonic_clock_where_given():
    """A stepped node clock (NTP on the robot's computer) is no stall: the monotonic clock,
    where given, decides. Under sim time the loop gives none: the controllers run on /clock,
    which may be slower or faster than the wall, and the node clock decides."""
    lim = CommandLimiter(LOWER, UPPER, VEL, DT, acceleration=np.array([5.0, 5.0, 5.0]))
    lim.reset(np.array([0.0, 1.0, -2.0]))
    lim.apply(np.array([1.0, 2.0, -1.0]), now=100.0, mono=7.0)
    long, short = (STALL_GAP + 0.5) * DT, DT
    assert not lim.stalled(100.0 + 0.5, 7.0 + short)  # the wall clock stepped 0.5 s
    assert lim.stalled(100.0 - 0.5, 7.0 + long)  # stepped back, and the tick came late
    assert lim.stalled(100.0 + long)  # no monotonic time (sim time): the node clock says
    assert not lim.stalled(100.0 + short)
    lim.apply(np.array([1.0, 2.0, -1.0]), now=101.0)  # a command without one: the same
    assert lim.stalled(101.0 + long, 7.0 + short)


def test_a_stall_is_a_gap_of_more_than_stall_gap_periods_and_resume_goes_on_from_where_said():
    lim = CommandLimiter(LOWER, UPPER, VEL, DT, acceleration=np.array([5.0, 5.0, 5.0]))
    lim.reset(np.array([0.0, 1.0, -2.0]))
    for k in range(30):  # up to speed towards the upper limits
        lim.apply(np.array([1.0, 2.0, -1.0]), now=k * DT)
    assert lim.moving and not lim.stalled(29 * DT + (STALL_GAP - 0.01) * DT)
    assert lim.stalled(29 * DT + (STALL_GAP + 0.1) * DT)
    with pytest.raises(ValueError, match="finite position and velocity"):
        lim.resume(np.array([0.0, math.nan, -2.0]), np.zeros(3))
    # The controllers held the last command: at rest there. The next command starts from
    # rest, within one tick's acceleration, not at the velocity before the stall.
    held = lim.last.copy()
    lim.resume(held, np.zeros(3))
    assert lim.stalls == 1 and not lim.moving and lim.last_time is None
    step = lim.apply(np.array([1.0, 2.0, -1.0]), now=1.0) - held
    assert (np.abs(step) <= 5.0 * DT * DT + 1e-12).all() and step.max() > 0
    lim.resume(np.array([5.0, 1.0, -2.0]), np.array([9.0, 0.0, 0.0]))  # clamped into limits
    assert lim.last[0] == 1.0 and lim.last_velocity[0] == VEL[0]
    assert lim.stalls == 2  # it was moving: counted


def test_a_point_passed_through_is_landed_on_at_speed_within_the_hard_limits():
    """A trajectory controller's joints aim at the point of the path it was sent (one
    limited step on): passed through at speed, not stopped at; the hard limits still hold."""
    acc = np.array([5.0, 5.0, 5.0])
    lim = CommandLimiter(LOWER, UPPER, VEL, DT, acceleration=acc)
    start = np.array([-0.5, 0.5, -2.5])
    for passing in (None, np.array([True, True, True])):
        lim.reset(start)
        for _ in range(20):  # up to 20 * a * dt = 0.83 units/s (the third joint: 0.5)
            lim.apply(np.array([1.0, 2.0, -1.0]))
        v = lim.last_velocity.copy()
        point = lim.last + v * DT  # one step on at the same speed
        got = lim.apply(point, passing=passing)
        if passing is None:  # a target to stop at: arriving, it slows down
            assert (np.abs(got - point) > 1e-6).any()
        else:
            np.testing.assert_allclose(got, point, atol=1e-12)
    far = lim.last + np.array([1.0, 1.0, 1.0])  # out of reach: the limits decide
    before, v = lim.last.copy(), lim.last_velocity.copy()
    got = lim.apply(far, passing=np.array([True, True, True]))
    speed = (got - before) / DT
    assert (np.abs(speed - v) <= acc * DT + 1e-9).all() and (np.abs(speed) <= VEL + 1e-9).all()
    assert (got <= UPPER).all()
