"""TrackingMonitor and the loop's tracking fault: a robot that stops following its commands
is not commanded further away, and its command returns to it within the limits."""

import math
import sys
from pathlib import Path

import numpy as np
import pytest

from gr00t_system1.safety import SafetyState
from gr00t_system1.tracking import TrackingMonitor

sys.path.insert(0, str(Path(__file__).resolve().parent))  # test_loop's simulated ticks
from test_loop import ACCEL, TICK, VEL, Sim, assert_within_limits  # noqa: E402


def test_each_state_is_compared_with_the_command_in_force_when_it_was_measured():
    mon = TrackingMonitor(["a", "b"], max_error=0.1, for_s=0.05)
    for k in range(10):  # a ramp: 0.01 a tick on joint b
        mon.commanded(k * TICK, np.array([0.0, 0.01 * k]))
    # measured 4.5 ticks in, where the command of tick 4 put it: no error, whatever came since
    assert mon.measured(4.5 * TICK, np.array([0.0, 0.04])) is None
    assert mon.errors.values()[-1] == pytest.approx(0.0)
    assert mon.measured(-TICK, np.array([5.0, 5.0])) is None  # before any command: not compared
    assert mon.measured(9 * TICK, np.array([0.0, math.nan])) is None
    assert len(mon.errors) == 1


def test_a_fault_needs_the_error_to_last():
    mon = TrackingMonitor(["shoulder", "elbow"], max_error=0.1, for_s=0.05)
    for k in range(40):
        mon.commanded(k * TICK, np.array([0.5, 0.0]))
    assert mon.measured(1 * TICK, np.array([0.3, 0.0])) is None  # 0.2 over: starts the clock
    assert mon.measured(5 * TICK, np.array([0.3, 0.0])) is None  # 0.033 s
    assert mon.measured(6 * TICK, np.array([0.45, 0.0])) is None  # back within: clock reset
    assert mon.measured(7 * TICK, np.array([0.3, 0.0])) is None
    assert mon.measured(12 * TICK, np.array([0.3, 0.0])) is None  # 0.042 s
    reason = mon.measured(13 * TICK, np.array([0.3, 0.0]))  # 0.05 s
    assert reason is not None and reason.startswith("shoulder is 0.200 from its command")
    assert "tracking.max_error 0.1" in reason and "/gr00t/enable" in reason
    assert mon.worst == (pytest.approx(0.2), "shoulder")
    summary = mon.summary()
    assert summary["tracking_error_max_all_joint"] == "shoulder"
    assert float(summary["tracking_error_p99"]) == pytest.approx(0.2)
    assert float(summary["tracking_over_longest_s"]) == pytest.approx(6 * TICK, abs=1e-3)
    off = TrackingMonitor(["a"], max_error=math.inf, for_s=0.0)
    off.commanded(0.0, np.array([1.0]))
    assert off.measured(1.0, np.array([-1.0])) is None and off.worst[0] == 2.0
    with pytest.raises(ValueError, match="max_error"):
        TrackingMonitor(["a"], max_error=0.0, for_s=0.1)


def _sim(checked=None, max_error=0.2, for_s=0.1, **kw):
    """Running towards (0.9, -0.9) from a blocked arm at (-0.5, 0.5)."""
    sim = Sim(accel=ACCEL, measured=(-0.5, 0.5), **kw)
    sim.loop.tracking = TrackingMonitor(["shoulder", "elbow"], max_error=max_error,
                                        for_s=for_s, checked=checked)
    sim.feed_state()
    sim.feed_tokens()
    sim.feed_plan([0.9, -0.9])
    return sim


def _step(sim, healthy=True, enabled=True, path=False):
    sim.feed_state()
    sim.feed_tokens()
    sim.feed_plan([0.9, -0.9])
    sim.t += TICK
    r = sim.loop.tick(sim.t, sim.t + sim.mono_shift, enabled=enabled, state=sim.state,
                      tokens=sim.tokens, plan=sim.plan, worker_healthy=healthy)
    if path and r.command is not None:  # what the node does for a trajectory decoder
        sim.loop.path(sim.t, TICK)
        sim.loop.path_sent(np.arange(2))
    return r


def blocked_sim(max_error):
    """Running towards (0.9, -0.9) with acceleration limits while the arm stays where it was
    at (-0.5, 0.5) (blocked, or its motors off): the loop and its 240 ticks (2 s)."""
    sim = _sim(max_error=max_error)
    return sim, [_step(sim) for _ in range(240)]


def test_a_robot_that_stops_following_is_not_commanded_away_and_its_command_returns():
    sim, results = blocked_sim(max_error=0.2)
    states = [r.state for r in results]
    first = states.index(SafetyState.FAULT)
    assert set(states[first:]) == {SafetyState.FAULT}  # latched while enabled
    commands = np.array([r.command for r in results])
    # The error passed 0.2 and lasted 0.1 s: the fault came then, not later.
    error = np.abs(commands - sim.measured).max(axis=1)
    over = int(np.argmax(error > 0.2))
    assert first - over <= round(0.1 / TICK) + 2
    assert "shoulder" in sim.loop.supervisor.reason or "elbow" in sim.loop.supervisor.reason
    # Then the command turns back, within the velocity and acceleration limits, to the arm.
    assert_within_limits(commands)
    assert np.allclose(commands[-1], sim.measured, atol=1e-6)
    # At most the limit, plus the travel while it lasted, plus the way to brake to rest.
    v, a = VEL.max(), ACCEL.max()
    assert error.max() <= 0.2 + v * (0.1 + 2 * TICK) + v * v / (2 * a) + 1e-9
    # Without the check (max_error .inf) it would have gone on to the plan's target.
    _, unchecked = blocked_sim(max_error=math.inf)
    assert unchecked[-1].state == SafetyState.RUNNING
    assert np.allclose(unchecked[-1].command, [0.9, -0.9], atol=1e-6)
    # Disabling clears it; enabling again starts from the arm, where it is now.
    for _ in range(5):
        assert sim.tick(enabled=False).state == SafetyState.DISABLED
    sim.measured = np.array([-0.4, 0.4])
    sim.feed_state()
    sim.feed_tokens()
    sim.feed_plan([0.9, -0.9])
    r = sim.tick()
    assert r.state == SafetyState.RUNNING
    assert np.abs(r.command - sim.measured).max() <= VEL.max() * TICK + 1e-12


def test_an_arm_that_follows_with_lag_is_no_fault():
    """The measurement trails the command by 3 ticks at full speed: 0.025 rad, far below."""
    sim = Sim(accel=ACCEL, measured=(-0.9, 0.9))
    sim.loop.tracking = TrackingMonitor(["shoulder", "elbow"], max_error=0.1, for_s=0.05)
    sim.feed_state()
    sim.feed_tokens()
    sim.feed_plan([0.9, -0.9])
    sent = []
    for _ in range(240):
        if len(sent) > 3:
            sim.measured = sent[-4].copy()
        sim.feed_state()
        sim.feed_tokens()
        sim.feed_plan([0.9, -0.9])
        r = sim.tick()
        assert r.state == SafetyState.RUNNING
        sent.append(r.command)
    assert 0.02 < sim.loop.tracking.worst[0] < 0.03


def test_joints_left_out_are_neither_compared_nor_reported():
    mon = TrackingMonitor(["arm", "finger"], max_error=0.1, for_s=0.0,
                          checked=np.array([True, False]))
    mon.commanded(0.0, np.array([0.0, 1.0]))
    assert mon.measured(0.0, np.array([0.05, 0.0])) is None  # the finger grips: 1.0 off
    assert mon.worst == (pytest.approx(0.05), "arm")
    assert mon.measured(0.0, np.array([0.2, 0.0])).startswith("arm is 0.200")
    with pytest.raises(ValueError, match="checked has 1 entries for 2 joints"):
        TrackingMonitor(["arm", "finger"], max_error=0.1, for_s=0.0, checked=np.array([True]))


# -- from a review of the first version (each failed there) -------------------------------

@pytest.mark.parametrize("every", [1, 3])
def test_a_trajectory_controller_is_brought_back_to_the_robot_within_the_limits(every):
    """Trajectory joints are commanded where their path has them: a hold towards a measured
    position must be on the path, or the controller stops short of the robot."""
    from test_loop import jtc_positions

    sim = _sim(path_joints=np.ones(2, dtype=bool))
    sim.loop.path_ticks = every + 1
    messages, ticks, states = [], [], []
    for k in range(300):
        r = _step(sim)
        states.append(r.state)
        ticks.append(sim.t)
        path = sim.loop.path(sim.t, TICK)
        if k % every == 0:
            sim.loop.path_sent(np.arange(2))
            messages.append((sim.t, *path))
    assert SafetyState.FAULT in states
    assert np.allclose(r.command, sim.measured, atol=1e-6)
    t, pos = jtc_positions(messages, sim.t, step=TICK / 20)  # what the controller runs
    at = np.stack([np.interp(ticks, t, pos[:, j]) for j in range(2)], axis=1)
    v = np.diff(at, axis=0) / TICK
    assert (np.abs(v) <= VEL + 1e-6).all()
    assert (np.abs(np.diff(v, axis=0))[1:] <= ACCEL * TICK + 1e-6).all()
    assert np.allclose(pos[-1], sim.measured, atol=1e-6)


def test_hold_measured_brings_trajectory_joints_to_the_measurement():
    sim = Sim(accel=ACCEL, measured=(0.0, 0.0), on_stale="hold_measured",
              path_joints=np.ones(2, dtype=bool))
    sim.feed_state()
    sim.feed_tokens()
    sim.feed_plan([0.9, 0.9])
    for _ in range(40):
        sim.feed_state()
        sim.feed_plan([0.9, 0.9])
        sim.feed_tokens()
        sim.tick()
        sim.loop.path(sim.t, TICK)
        sim.loop.path_sent(np.arange(2))
    sim.tokens = sim.tokens.__class__(None, None, sim.t - 1.0, sim.t - 1.0, 1, 99)  # stale
    for _ in range(240):
        sim.feed_state()
        r = sim.tick()
        sim.loop.path(sim.t, TICK)
        sim.loop.path_sent(np.arange(2))
    assert r.state == SafetyState.HOLD_STALE_TOKENS
    assert np.allclose(r.command, sim.measured, atol=1e-6)


def test_a_hand_left_out_keeps_its_grip_when_the_arm_faults():
    """Joint 1 is a finger closed on an object (commanded into it, measured at 0.5); the
    arm, joint 0, is blocked. The arm's command returns to it; the finger's stops where it
    is, as in any fault, and does not open to its measurement."""
    sim = _sim(checked=np.array([True, False]))
    results = [_step(sim) for _ in range(240)]
    assert results[-1].state == SafetyState.FAULT
    assert results[-1].command[0] == pytest.approx(sim.measured[0])
    assert abs(results[-1].command[1] - sim.measured[1]) > 0.3


def test_a_tracking_fault_during_another_fault_still_brings_the_command_back():
    sim = _sim()
    while True:  # the arm blocked: on until the error is 0.12, under the limit
        r = _step(sim)
        assert r.state == SafetyState.RUNNING
        if np.abs(r.command - sim.measured).max() > 0.12:
            break
    results = [_step(sim, healthy=False) for _ in range(240)]  # the worker dies: FAULT
    assert sim.loop._tracking_fault is not None
    assert np.abs(results[-1].command - sim.measured).max() < 1e-6


def test_an_excursion_does_not_span_a_disable():
    sim = _sim(max_error=0.2, for_s=0.5)
    over = None
    for _ in range(120):  # over the limit for 0.48 s of the 0.5
        r = _step(sim)
        if over is None and np.abs(r.command - sim.measured).max() > 0.2:
            over = sim.t
        if over is not None and sim.t - over > 0.48:
            break
    assert r.state == SafetyState.RUNNING
    for _ in range(3):  # disabled, braking
        assert _step(sim, enabled=False).command is not None
    sim.measured = sim.loop.limiter.last + np.array([0.25, 0.0])  # let go, then a push
    _step(sim)  # re-enabled while braking
    assert _step(sim).state != SafetyState.FAULT


def test_a_loop_without_joint_names_tracks_by_index():
    sim = Sim(accel=ACCEL, measured=(-0.5, 0.5))  # the default monitor: figures only
    for _ in range(5):
        sim.feed_state()
        sim.feed_tokens()
        sim.feed_plan([0.9, -0.9])
        assert sim.tick().command is not None
    assert sim.loop.tracking.worst[1] in ("joint 0", "joint 1")


def test_a_disable_between_two_ticks_clears_the_fault():
    """/gr00t/enable off and on again within one tick (two service calls between ticks)."""
    sim, results = blocked_sim(max_error=0.2)
    assert results[-1].state == SafetyState.FAULT and sim.loop.tracking_fault is not None
    sim.loop.clear_tracking_fault()  # the node does this as the disable arrives
    assert sim.loop.tracking_fault is None
    for _ in range(5):
        sim.feed_state()
        sim.feed_tokens()
        sim.feed_plan([0.9, -0.9])
        assert sim.tick().state != SafetyState.FAULT
