"""StateGate, ROS-free: its stamp rules (from the future, old on arrival, unstamped) and joint
states split across publishers."""

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


def test_joint_states_split_across_publishers_are_named_with_the_fix():
    gate = StateGate(G1, max_future_stamp_s=0.1)
    names = list(G1.monitored_joints)
    mid = {n: sum(G1.limits_of(n)) / 2 for n in names}
    arms, legs = names[:20], names[20:]  # two drivers, one topic
    first = gate.accept(arms, [mid[n] for n in arms], NOW, NOW, arrival=5.0)
    assert isinstance(first, Refusal) and "split across publishers" not in first.message
    second = gate.accept(legs, [mid[n] for n in legs], NOW, NOW, arrival=5.0)
    assert isinstance(second, Refusal) and second.counter == "dropped_joint_states_missing"
    assert "split across publishers" in second.message and "source_list" in second.message
    # A complete message is a state, and starts the count again.
    assert not isinstance(gate.accept(names, [mid[n] for n in names], NOW, NOW, 5.0), Refusal)
    again = gate.accept(arms, [mid[n] for n in arms], NOW, NOW, arrival=5.0)
    assert "split across publishers" not in again.message
    # One publisher that drops a joint now and another later is not two publishers.
    flaky = StateGate(G1, max_future_stamp_s=0.1)
    for dropped in (names[0], names[1]):
        kept = [n for n in names if n != dropped]
        out = flaky.accept(kept, [mid[n] for n in kept], NOW, NOW, arrival=5.0)
        assert isinstance(out, Refusal) and "split across publishers" not in out.message


def test_complete_joint_states_from_two_publishers_are_refused_naming_the_fix():
    # A second robot's driver, a simulator or a joint_state_publisher left running on the
    # domain: each message has every joint, so only their sequence numbers (per publisher)
    # tell the two streams apart. Planning on both would alternate between two robots.
    gate = StateGate(G1, max_future_stamp_s=0.1)
    names = list(G1.monitored_joints)
    mid = [sum(G1.limits_of(n)) / 2 for n in names]

    def state(seq):
        return gate.accept(names, mid, NOW, NOW, arrival=5.0, seq=seq)

    assert not isinstance(state(500), Refusal)
    assert not isinstance(state(1), Refusal)  # one number back: a restart, most likely
    got = [state(seq) for seq in (501, 2, 502, 3)]  # two publishers, interleaved
    refused = [g for g in got if isinstance(g, Refusal)]
    assert refused and refused[-1].counter == "dropped_joint_states_two_publishers"
    assert "more than one publisher" in refused[-1].message
    assert "ROS_DOMAIN_ID" in refused[-1].message and refused[-1].error
    assert isinstance(got[-1], Refusal)
    # Once the second one stops, one publisher's states are taken again.
    after = [state(seq) for seq in range(4, 4 + 200)]
    assert not isinstance(after[-1], Refusal)
    # A middleware without numbers (None) is not checked; one publisher restarting is fine.
    plain = StateGate(G1, max_future_stamp_s=0.1)
    for seq in (None, None, 7, 8, 1, 2, 3):
        assert not isinstance(plain.accept(names, mid, NOW, NOW, arrival=5.0, seq=seq), Refusal)
