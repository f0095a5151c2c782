"""The System 1 safety state machine (ROS-free); the command limits are `limiter.py`.

- `Supervisor` is the explicit state machine that decides, every control tick, whether
  System 1 publishes, and what: RUNNING follows the plan; the HOLD_* states hold (the last
  command, or the measured position, per the embodiment's `on_stale`); DISABLED and WAITING
  publish nothing. Every transition is logged once, with its reason.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from dataclasses import dataclass



class SafetyState(enum.Enum):
    """What System 1 does this tick."""

    DISABLED = "disabled"  # /gr00t/enable false: nothing is published (once braked to rest)
    WAITING = "waiting"  # enabled, but no fresh state / tokens / first plan yet: nothing published
    RUNNING = "running"  # following the newest plan
    HOLD_STALE_STATE = "hold_stale_state"  # /joint_states older than state_staleness_s
    HOLD_STALE_TOKENS = "hold_stale_tokens"  # tokens older than token_staleness_s
    HOLD_NO_PLAN = "hold_no_plan"  # the newest plan has run out (inference stalled)
    FAULT = "fault"  # the inference thread died: hold until restarted

    @property
    def publishes(self) -> bool:
        return self not in (SafetyState.DISABLED, SafetyState.WAITING)

    @property
    def holds(self) -> bool:
        return self in HOLD_STATES


HOLD_STATES = frozenset(
    {SafetyState.HOLD_STALE_STATE, SafetyState.HOLD_STALE_TOKENS, SafetyState.HOLD_NO_PLAN,
     SafetyState.FAULT}
)

ON_STALE_CHOICES = ("hold_last_command", "hold_measured")

# Where an operator looks when an input is missing or stale: the reasons below say it, since
# the reason is what /diagnostics, the console and `gr00t-instruct --wait` show.
NO_TOKENS_WHY = ("System 2 publishes none until an instruction is set (gr00t-instruct '...') "
                 "and while a camera has no frames; System 2's /diagnostics say which")
STALE_TOKENS_WHY = ("System 2 stopped publishing: its /diagnostics say why (a camera "
                    "missing or stale), or it is not running")
DISABLED_WHY = ("start_enabled false or /gr00t/enable set false; it plans but commands nothing "
                "until /gr00t/enable is set true (ros2 service call /gr00t/enable "
                "std_srvs/srv/SetBool '{data: true}')")
NO_STATE_WHY = "no joint states from the robot's driver or the simulator (is it running?)"


@dataclass(frozen=True)
class SupervisorInputs:
    """What the supervisor needs to know each tick (ages in seconds; None = never seen)."""

    enabled: bool
    state_age: float | None
    tokens_age: float | None
    fresh_plan: bool  # a plan from fresh inputs is available (needed to start)
    plan_exhausted: bool  # the plan being followed has run past its last row
    worker_alive: bool
    # Why the inference thread is not healthy (when worker_alive is False).
    worker_problem: str = "inference thread stopped"
    # A fault the node latched (e.g. an implausible measured position): hold, do not plan.
    fault: str | None = None
    # Why the plans that came were not followed (e.g. each planned from a state that was
    # stale by the time it arrived): named while waiting for a plan or holding without one.
    plans_refused: str | None = None
    # Seconds the inference thread has spent on the plan in progress (None: none is): a plan
    # that never returns leaves it alive and failing nothing, so this is what names a stall.
    planning_s: float | None = None
    # Why the newest tokens that came were refused (None: they were accepted, or none came):
    # a backbone_id from another checkpoint must not read as "no tokens".
    tokens_refused: str | None = None
    # Why the newest joint state that came was refused (None: accepted, or none came): a
    # driver whose every message lacks a joint (or is split across publishers) must not
    # read as "no joint states from the robot's driver (is it running?)".
    state_refused: str | None = None


class Supervisor:
    """The System 1 safety state machine; logs each transition once through `log`.

    Args:
        state_staleness_s: joint states older than this (by arrival) are stale.
        token_staleness_s: tokens older than this are stale.
        log: called as log(old_state, new_state, reason) once per transition (the node
            logs it through its logger).
    """

    def __init__(self, state_staleness_s: float, token_staleness_s: float,
                 log: Callable[[SafetyState, SafetyState, str], None] | None = None) -> None:
        for name, value in (("state_staleness_s", state_staleness_s),
                            ("token_staleness_s", token_staleness_s)):
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be finite and > 0, got {value}")
        self.state_staleness_s = float(state_staleness_s)
        self.token_staleness_s = float(token_staleness_s)
        self._log = log
        self.state = SafetyState.DISABLED
        self.reason = "not enabled"
        self.armed = False  # published since the last enable
        self.transitions = 0

    def _stale(self, age: float | None, limit: float) -> bool:
        return age is None or age > limit

    @staticmethod
    def _stale_why(refused: str | None, otherwise: str) -> str:
        """Why an input is stale: its newest messages' refusal, if they were refused."""
        return f"the newest were refused: {refused}" if refused is not None else otherwise

    def decide(self, i: SupervisorInputs) -> tuple[SafetyState, str]:
        """The state for these inputs (pure: does not change the supervisor)."""
        state_stale = self._stale(i.state_age, self.state_staleness_s)
        tokens_stale = self._stale(i.tokens_age, self.token_staleness_s)
        if not i.enabled:
            # A fault latched meanwhile holds the robot as soon as it is enabled: say it now.
            latched = f"; a fault is latched: {i.fault}" if i.fault is not None else ""
            return SafetyState.DISABLED, DISABLED_WHY + latched
        if i.fault is not None:
            return (SafetyState.FAULT if self.armed else SafetyState.WAITING), i.fault
        if not self.armed:
            if i.state_age is None:
                if i.state_refused is not None:
                    return SafetyState.WAITING, ("no joint state accepted yet: "
                                                 f"{i.state_refused}")
                return SafetyState.WAITING, f"no joint state received yet: {NO_STATE_WHY}"
            if i.tokens_age is None:
                if i.tokens_refused is not None:
                    return SafetyState.WAITING, ("no embedding tokens accepted yet: "
                                                 f"{i.tokens_refused}")
                return SafetyState.WAITING, f"no embedding tokens received yet ({NO_TOKENS_WHY})"
            if state_stale:
                return SafetyState.WAITING, (f"joint state is {i.state_age:.3f} s old: "
                                             f"{self._stale_why(i.state_refused, NO_STATE_WHY)}")
            if tokens_stale:
                why = self._stale_why(i.tokens_refused, STALE_TOKENS_WHY)
                return SafetyState.WAITING, f"tokens are {i.tokens_age:.3f} s old: {why}"
            if not i.worker_alive:
                return SafetyState.WAITING, f"no plans: {i.worker_problem}"
            if not i.fresh_plan:
                if i.plans_refused is not None:
                    return SafetyState.WAITING, f"no plan to follow: {i.plans_refused}"
                if i.planning_s is not None:
                    return SafetyState.WAITING, (f"waiting for the first plan: it has been in "
                                                 f"progress for {i.planning_s:.3f} s")
                return SafetyState.WAITING, "waiting for the first plan"
            return SafetyState.RUNNING, "first plan from fresh inputs"
        if not i.worker_alive:
            return SafetyState.FAULT, i.worker_problem
        if state_stale:
            return SafetyState.HOLD_STALE_STATE, (
                f"joint state {i.state_age:.3f} s old > state_staleness_s "
                f"{self.state_staleness_s}: {self._stale_why(i.state_refused, NO_STATE_WHY)}")
        if tokens_stale:
            return SafetyState.HOLD_STALE_TOKENS, (
                f"tokens {i.tokens_age:.3f} s old > token_staleness_s {self.token_staleness_s}: "
                f"{self._stale_why(i.tokens_refused, STALE_TOKENS_WHY)}")
        if i.plan_exhausted:
            if self.state.holds and self.state != SafetyState.HOLD_NO_PLAN:
                # Inputs just came back: the plan in hand was made before the hold, so wait
                # in the same hold for one from the fresh inputs rather than blame inference.
                return self.state, "inputs are fresh again; waiting for a plan from them"
            if i.plans_refused is not None:
                return SafetyState.HOLD_NO_PLAN, (f"the newest plan has run out: "
                                                  f"{i.plans_refused}")
            if i.planning_s is not None:
                return SafetyState.HOLD_NO_PLAN, (
                    f"the newest plan has run out and the next has been in progress for "
                    f"{i.planning_s:.3f} s (inference slower than the chunk, or stalled)")
            return SafetyState.HOLD_NO_PLAN, ("the newest plan has run out and no newer one "
                                              "came (inference slower than the chunk?)")
        return SafetyState.RUNNING, "fresh inputs"

    def update(self, i: SupervisorInputs) -> SafetyState:
        """Move to the state for these inputs; log it if it changed."""
        new, reason = self.decide(i)
        if new == SafetyState.DISABLED:
            self.armed = False
        elif new.publishes:
            self.armed = True
        if new != self.state:
            old, self.state, self.reason = self.state, new, reason
            self.transitions += 1
            if self._log is not None:
                self._log(old, new, reason)
        else:
            self.reason = reason
        return new
