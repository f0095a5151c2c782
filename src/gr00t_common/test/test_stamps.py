"""gr00t_common.stamps: the one stamp <-> seconds / nanoseconds conversion."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from builtin_interfaces.msg import Duration, Time
from rclpy.time import Time as RclpyTime

from gr00t_common.stamps import (nanoseconds_to_stamp, seconds_to_stamp, stamp_to_nanoseconds,
                                 stamp_to_seconds)


def test_seconds_to_stamp_matches_rclpy_time():
    for t in [0.0, 1e-9, 0.5, 1.999999999, 1764780000.123456, *np.random.default_rng(0)
              .uniform(0, 2e9, 200)]:
        mine = seconds_to_stamp(float(t))
        assert isinstance(mine, Time)
        assert mine == RclpyTime(nanoseconds=int(float(t) * 1e9)).to_msg(), t


def test_round_trips():
    stamp = Time(sec=1764780000, nanosec=123_456_789)
    assert stamp_to_nanoseconds(stamp) == 1_764_780_000_123_456_789
    assert nanoseconds_to_stamp(stamp_to_nanoseconds(stamp)) == stamp
    assert stamp_to_seconds(stamp) == stamp.sec + stamp.nanosec * 1e-9
    assert seconds_to_stamp(12.25) == Time(sec=12, nanosec=250_000_000)
    assert stamp_to_seconds(seconds_to_stamp(12.25)) == 12.25


def test_reading_is_duck_typed():
    assert stamp_to_seconds(SimpleNamespace(sec=3, nanosec=500_000_000)) == 3.5
    assert stamp_to_seconds(Duration(sec=0, nanosec=50_000_000)) == pytest.approx(0.05)
    assert stamp_to_nanoseconds(SimpleNamespace(sec=2, nanosec=7)) == 2_000_000_007


def test_negative_times_are_refused():
    with pytest.raises(ValueError, match="negative"):
        seconds_to_stamp(-0.5)
    with pytest.raises(ValueError, match="negative"):
        nanoseconds_to_stamp(-1)
