"""gr00t_common.stats: percentiles, rolling windows, rates and log throttling (no ROS)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gr00t_common.stats import (RateCounter, RateMeter, RollingWindow, Throttle, finite,
                                percentiles)


def test_percentiles_match_numpy_and_are_nan_when_empty():
    values = np.random.default_rng(0).exponential(0.01, 101)
    assert percentiles(values, (50, 99)) == [float(np.percentile(values, 50)),
                                             float(np.percentile(values, 99))]
    assert percentiles(list(values), (90,), around=0.008) == [
        float(np.percentile(np.abs(values - 0.008), 90))]
    assert all(math.isnan(v) for v in percentiles([], (50, 99)))
    np.testing.assert_array_equal(finite([1.0, math.nan, 2.0, math.inf, -math.inf]), [1.0, 2.0])


def test_rolling_window_percentiles_over_the_recent_samples_counters_over_the_run():
    w = RollingWindow(size=100, late_threshold=0.015)
    assert len(w) == 0 and math.isnan(w.recent_max()) and w.percentile(50) is None
    assert all(math.isnan(v) for v in w.percentiles_ms(50, 99))
    w.add(0.5)  # whole-run max and late count keep it after it leaves the window
    w.add(math.nan)  # ignored
    for v in range(1, 101):
        w.add(v / 1000)
    assert len(w) == 100 and w.count == 101
    assert w.max_all == 0.5 and w.recent_max() == pytest.approx(0.1)
    assert w.late == 1 + 85  # 0.5 and 0.016 .. 0.100
    assert w.percentile(50) == pytest.approx(0.0505)
    assert w.percentiles_ms(50, 99) == [v * 1e3 for v in w.percentiles(50, 99)]
    # around: percentiles of |sample - around| (a period error against the nominal period)
    assert w.percentiles(0, around=0.05)[0] == pytest.approx(0.0)
    assert w.percentiles(100, around=0.05)[0] == pytest.approx(0.05)
    np.testing.assert_allclose(w.values(), np.arange(1, 101) / 1000)
    with pytest.raises(ValueError, match="size"):
        RollingWindow(size=0)


def test_rate_latency_throttle():
    meter = RateMeter(window_s=2.0)
    assert meter.rate(0.0) == 0.0
    for i in range(5):
        meter.tick(i * 0.1)
    assert meter.rate(0.5) == pytest.approx(10.0)  # window still filling: 5 events in 0.5 s
    for i in range(5, 41):
        meter.tick(i * 0.1)
    assert meter.rate(4.0) == pytest.approx(10.5)  # 21 events in the last 2 s
    assert meter.rate(10.0) == 0.0
    lat = RollingWindow(size=100)
    assert lat.percentile(50) is None and lat.fraction_over(0.1) is None
    for v in range(1, 101):
        lat.add(v / 1000)
    assert lat.percentile(50) == pytest.approx(0.0505)
    assert lat.fraction_over(0.09) == pytest.approx(0.10)
    thr = Throttle(2.0)
    assert thr.allow("k", 0.0) and not thr.allow("k", 1.9) and thr.allow("other", 1.9)
    assert thr.allow("k", 2.0)


def test_rate_counter_counts_between_readings():
    counter = RateCounter(now=10.0)
    counter.add()
    counter.add(3)
    assert counter.rate(12.0) == pytest.approx(2.0)
    assert math.isnan(counter.rate(12.0))  # no time passed since the last reading
    counter.add(5)
    assert counter.rate(17.0) == pytest.approx(1.0)
    assert counter.total == 9
