"""Header stamps (builtin_interfaces/Time) <-> seconds or nanoseconds.

Reading is duck-typed on `.sec` / `.nanosec`, so it takes a message's stamp, a Duration or
a test double alike. Writing builds builtin_interfaces.msg.Time the way
`rclpy.time.Time(nanoseconds=...).to_msg()` does, without a Time object per message.
"""

from __future__ import annotations

from typing import Any

from builtin_interfaces.msg import Time

NS_PER_S = 1_000_000_000


def stamp_to_seconds(stamp: Any) -> float:
    """Seconds of a stamp (anything with .sec and .nanosec)."""
    return stamp.sec + stamp.nanosec * 1e-9


def stamp_to_nanoseconds(stamp: Any) -> int:
    """Nanoseconds of a stamp, exact (anything with .sec and .nanosec)."""
    return stamp.sec * NS_PER_S + stamp.nanosec


def nanoseconds_to_stamp(ns: int) -> Time:
    """builtin_interfaces/Time for `ns` >= 0 nanoseconds."""
    ns = int(ns)
    if ns < 0:
        raise ValueError(f"a stamp cannot be negative: {ns} ns")
    return Time(sec=ns // NS_PER_S, nanosec=ns % NS_PER_S)


def seconds_to_stamp(t: float) -> Time:
    """builtin_interfaces/Time for `t` >= 0 seconds, truncated to the nanosecond (as
    `rclpy.time.Time(nanoseconds=int(t * 1e9)).to_msg()`)."""
    return nanoseconds_to_stamp(int(t * 1e9))
