"""How far a header stamp may lie from the receiving node's clock, in one place.

A stamp a little ahead of the receiver's clock is the offset between two machines' clocks
(`MAX_FUTURE_STAMP_S`, System 1's `max_future_stamp_s` default). A stamp more than
`CLOCK_OFF_S` away from it, either way, says more about the publisher's clock than about its
timing: stamps in time since boot, a machine without PTP / chrony, `use_sim_time` set on one
node and not the other. System 1 refuses such inputs, System 2 names the camera that sends
them, and `gr00t-dataset from-bag` reports them in a recording.
"""

from __future__ import annotations

MAX_FUTURE_STAMP_S = 0.1
CLOCK_OFF_S = 1.0
NS_PER_S = 1_000_000_000
# What to do about a clock that is off, in every message that finds one.
CLOCK_FIX = ("synchronise the clocks (PTP / chrony), stamp with the ROS clock (not the time "
             "since boot), or set use_sim_time the same on every node")


def clock_offset_s(stamp_ns: int, now_ns: int, max_behind_s: float = CLOCK_OFF_S) -> float | None:
    """Seconds the stamp lies behind `now_ns` (negative: ahead) when System 1 would refuse
    it: more than `max_behind_s` behind (default CLOCK_OFF_S, far enough to refuse whatever
    its staleness limits; pass the input's staleness limit to ask about that input), more
    than MAX_FUTURE_STAMP_S ahead; None otherwise, and for a stamp of 0 (unstamped)."""
    if stamp_ns == 0:
        return None
    behind = (now_ns - stamp_ns) / NS_PER_S
    return behind if behind > max_behind_s or -behind > MAX_FUTURE_STAMP_S else None
