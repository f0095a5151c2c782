"""The one rule for a stamp that lies too far from the receiving clock."""

from gr00t_policy.runtime.stamps import CLOCK_OFF_S, MAX_FUTURE_STAMP_S, NS_PER_S, clock_offset_s

NOW = 1_760_000_000 * NS_PER_S


def test_clock_offset_names_far_stamps_either_way_and_leaves_unstamped_alone():
    assert clock_offset_s(0, NOW) is None  # unstamped
    assert clock_offset_s(NOW - int(0.5 * NS_PER_S), NOW) is None  # late, not off
    assert clock_offset_s(NOW + int(0.05 * NS_PER_S), NOW) is None  # two hosts' offset
    # System 1 refuses what is more than MAX_FUTURE_STAMP_S ahead, whatever its limits.
    assert clock_offset_s(NOW + int(2 * MAX_FUTURE_STAMP_S * NS_PER_S), NOW) < 0
    boot = 3600 * NS_PER_S  # a camera stamping in time since boot
    assert clock_offset_s(boot, NOW) == (NOW - boot) / NS_PER_S
    ahead = clock_offset_s(NOW + int((CLOCK_OFF_S + 0.5) * NS_PER_S), NOW)
    assert ahead is not None and abs(ahead + CLOCK_OFF_S + 0.5) < 1e-9


def test_clock_offset_against_an_input_staleness_limit():
    # A camera 0.7 s behind: within CLOCK_OFF_S, but past a 0.5 s token_staleness_s.
    late = NOW - int(0.7 * NS_PER_S)
    assert clock_offset_s(late, NOW) is None
    assert abs(clock_offset_s(late, NOW, max_behind_s=0.5) - 0.7) < 1e-9
    assert clock_offset_s(NOW - int(0.3 * NS_PER_S), NOW, max_behind_s=0.5) is None
    assert clock_offset_s(0, NOW, max_behind_s=0.5) is None  # unstamped
