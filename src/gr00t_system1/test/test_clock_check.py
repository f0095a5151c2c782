"""ClockCheck: the joint states' stamps say whether the controller manager's clock is ours."""

import math

from gr00t_system1.clock_check import AHEAD_S, BEHIND_S, ClockCheck


def feed(check, lags, rate=100.0, start=50.0):
    """One joint state per lag, `rate` a second; True if any closed a window with a problem."""
    return [check.add(lag, start + i / rate) for i, lag in enumerate(lags)]


def test_a_shared_clock_with_a_little_transport_delay_is_no_problem():
    check = ClockCheck(window_s=1.0)
    assert math.isnan(check.min_lag_s)  # no window yet
    said = feed(check, [0.0004 + 0.002 * (i % 7 == 0) for i in range(250)])
    assert not any(said) and check.problem is None
    assert 0.0003 < check.min_lag_s < 0.0005


def test_a_controller_clock_behind_is_named_with_the_fix():
    check = ClockCheck(window_s=1.0)
    said = feed(check, [BEHIND_S + 0.002 + 0.001 * (i % 3) for i in range(150)])
    assert said.count(True) == 1  # said when the first window closes
    assert "at least 5.0 ms after their stamps" in check.problem
    assert "header_stamp: receipt" in check.problem


def test_a_controller_clock_ahead_is_named_and_a_recovery_clears_it():
    check = ClockCheck(window_s=1.0)
    feed(check, [-AHEAD_S - 0.003] * 150)
    assert "stamped 8.0 ms or more ahead of System 1's clock" in check.problem
    feed(check, [0.0005] * 250, start=60.0)  # the clocks were synchronized
    assert check.problem is None


def test_one_message_within_the_window_that_arrives_promptly_clears_a_lag():
    """The smallest lag counts: delays that vary by message are not taken for a clock."""
    check = ClockCheck(window_s=1.0)
    lags = [0.012] * 150
    lags[40] = 0.0008
    assert not any(feed(check, lags + [float("nan")] * 3))
    assert check.problem is None
