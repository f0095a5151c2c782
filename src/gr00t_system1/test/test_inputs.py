"""StateGate's stamp rules, ROS-free: from the future, old on arrival, unstamped."""

from __future__ import annotations

from pathlib import Path

from gr00t_policy.embodiment import load_embodiment
from gr00t_system1.inputs import Refusal, StateGate

G1 = load_embodiment(Path(__file__).resolve().parents[3] / "config" / "unitree_g1.yaml")
NOW = 1_700_000_000.0


def accept(gate: StateGate, stamp: float):
    names = list(G1.monitored_joints)
    positions = [sum(G1.limits_of(n)) / 2 for n in names]  # mid-range: plausible
    return gate.accept(names, positions, stamp, NOW, arrival=5.0)


def test_a_stamp_older_than_the_staleness_limit_on_arrival_is_refused_naming_the_clock():
    gate = StateGate(G1, max_future_stamp_s=0.1, max_age_s=0.05)
    assert accept(gate, NOW - 0.04).stamp == NOW - 0.04  # late, within the limit: kept
    assert accept(gate, 0.0).stamp == NOW  # unstamped: the arrival stands in
    slow = accept(gate, NOW - 0.3)  # a host 0.3 s behind, or a publisher that late
    assert isinstance(slow, Refusal) and slow.counter == "refused_old_stamp_joint_states"
    assert "0.300 s behind" in slow.message and "state_staleness_s 0.05" in slow.message
    assert "PTP" in slow.message and not slow.error  # a warning: it may only be slow
    boot = accept(gate, 1234.5)  # stamped with the time since boot
    assert isinstance(boot, Refusal) and boot.error and "time since boot" in boot.message
    ahead = accept(gate, NOW + 1.0)
    assert isinstance(ahead, Refusal) and ahead.counter == "refused_future_stamp_joint_states"
    # Without a limit (the default) an old stamp is kept: the loop ages it.
    assert accept(StateGate(G1, max_future_stamp_s=0.1), NOW - 0.3).stamp == NOW - 0.3
