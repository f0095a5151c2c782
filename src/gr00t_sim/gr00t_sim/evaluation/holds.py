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


def held_seconds(changes: Sequence[tuple[float, float | None, str]],
                 end: float) -> dict[str, float]:
    """{hold state: seconds in it} from `changes` [(receipt time, stamp or None, state
    entered)], in order, the first the state in force when the episode began (no stamp), up
    to `end` (a receipt time).

    A hold between two of System 1's messages lasts the difference of their stamps: both on
    System 1's clock (the simulated one under sim time), untouched by the evaluator's
    delivery. By receipt, a 0.1-s hold whose two messages the evaluator's executor took up
    together after a stall read 0.00 s. The episode's edges have only receipt times (the
    enable, `end`), and so does a message without a stamp."""
    held: dict[str, float] = {}
    for (t, stamp, state), (t_next, stamp_next, _) in zip(changes,
                                                         [*changes[1:], (end, None, "")]):
        if not is_hold(state):
            continue
        if stamp and stamp_next and stamp_next >= stamp:
            seconds = stamp_next - stamp
        else:
            seconds = min(t_next, end) - t
        if seconds > 0:
            held[state] = held.get(state, 0.0) + seconds
    return {k: round(v, 3) for k, v in held.items()}
