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


def blocked_sim(max_error):
    """Running towards (0.9, -0.9) with acceleration limits while the arm stays where it was
    at (-0.5, 0.5) (blocked, or its motors off): the commands and the states."""
    sim = Sim(accel=ACCEL, measured=(-0.5, 0.5))
    sim.loop.tracking = TrackingMonitor(["shoulder", "elbow"], max_error=max_error, for_s=0.1)
    sim.feed_state()
    sim.feed_tokens()
    sim.feed_plan([0.9, -0.9])
    results = []
    for _ in range(240):  # 2 s
        sim.feed_state()
        sim.feed_tokens()
        sim.feed_plan([0.9, -0.9])
        results.append(sim.tick())
    return sim, results


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
