"""How long System 1 held in an episode, from its /gr00t/safety_state changes.

A hold (a stale joint state or tokens, no plan in time, a latched fault) stops the arm
whatever the policy planned: an episode missed during one is System 1's safety stop, not
the policy's miss. The states come from `gr00t_msgs/SafetyState` (`state`); the holds are
`gr00t_policy.runtime.safety_state.HOLDS`.
"""

from __future__ import annotations

from collections.abc import Sequence

from gr00t_policy.runtime.safety_state import HOLDS


def is_hold(state: str) -> bool:
    return state in HOLDS


def held_seconds(changes: Sequence[tuple[float, str]], end: float) -> dict[str, float]:
    """{hold state: seconds in it} from `changes` [(time, state entered)], in time order, the
    first the state in force when the episode began, up to `end`. Times on one clock (the
    evaluator's receipt times: a message's delivery delay shifts both ends alike)."""
    held: dict[str, float] = {}
    for (t, state), (t_next, _) in zip(changes, [*changes[1:], (end, "")]):
        if is_hold(state) and t_next > t:
            held[state] = held.get(state, 0.0) + min(t_next, end) - t
    return {k: round(v, 3) for k, v in held.items()}
