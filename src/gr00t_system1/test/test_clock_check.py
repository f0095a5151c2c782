"""ClockCheck: whether stamped trajectory paths reach their controller in time by its clock,
from System 1's send delays and the joint states' stamps."""

import math

from gr00t_system1.clock_check import EARLY_S, PICKUP_MARGIN_S, ClockCheck

KEEP = 1 / 120  # a path keeps the path sent for one period at 120 Hz


def feed(check, lags, send=0.003, rate=100.0, start=50.0):
    """One joint state per lag, `rate` a second, each after a tick sent `send` s late; the
    windows that closed with a problem."""
    said = []
    for i, lag in enumerate(lags):
        check.add_send(send)
        said.append(check.add(lag, start + i / rate))
    return said


def test_a_shared_clock_and_a_quick_send_are_no_problem():
    check = ClockCheck(KEEP, window_s=1.0)
    assert math.isnan(check.offset_s)  # no window yet
    said = feed(check, [0.0004 + 0.002 * (i % 7 == 0) for i in range(250)])
    assert not any(said) and check.problem is None
    assert -0.0005 < check.offset_s < -0.0003 and check.send_p99_s == 0.003


def test_a_controller_clock_ahead_takes_paths_up_too_late():
    """4 ms ahead with a 3-ms send: taken up after the kept period (the review's fuzz: 1.48-
    1.72 times the limit, missed by the thresholds it replaced)."""
    check = ClockCheck(KEEP, window_s=1.0)
    said = feed(check, [-0.004 + 0.0002 * (i % 3) for i in range(150)])
    assert said.count(True) == 1  # said when the first window closes
    assert "up to 9.5 ms after their ticks by its clock" in check.problem
    assert "+4.0 ms from System 1's" in check.problem and "header_stamp: receipt" in check.problem


def test_a_slow_send_alone_is_too_late():
    """One clock, but System 1 publishes 7 ms after its ticks (a loaded machine)."""
    check = ClockCheck(KEEP, window_s=1.0)
    feed(check, [0.0003] * 150, send=0.007)
    assert check.problem is not None and "lower control_rate_hz" in check.problem
    assert 0.007 + PICKUP_MARGIN_S - 0.0003 > KEEP


def test_a_controller_clock_behind_by_more_than_the_send_takes_paths_up_early():
    check = ClockCheck(KEEP, window_s=1.0)
    feed(check, [0.0035] * 150, send=0.003)  # behind 3.5 ms, sent 3 ms after: in time
    assert check.problem is None
    feed(check, [0.003 + EARLY_S + 0.003] * 250, send=0.003, start=60.0)  # 8 ms behind
    assert "5.0 ms before their stamps by its clock" in check.problem
    assert "8.0 ms behind System 1's" in check.problem
    feed(check, [0.0005] * 250, start=70.0)  # the clocks were synchronized
    assert check.problem is None


def test_one_message_within_the_window_that_arrives_promptly_sets_the_offset():
    """The smallest lag counts: delays that vary by message are not taken for a clock."""
    check = ClockCheck(KEEP, window_s=1.0)
    lags = [0.012] * 150
    lags[40] = 0.0008
    assert not any(feed(check, lags + [float("nan")] * 3))
    assert check.problem is None and abs(check.offset_s + 0.0008) < 1e-12
