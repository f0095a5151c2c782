"""Always-on command safety for System 1 (ROS-free).

Two pieces:

- `CommandLimiter` turns any target vector into a command that is finite, inside the
  embodiment's position limits and at most `velocity_limit * dt` away from the previous
  command, per joint. Non-finite targets are replaced by the last safe command. It starts
  from the measured position (`reset`), so enabling never jumps.
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

import numpy as np


class SafetyState(enum.Enum):
    """What System 1 does this tick."""

    DISABLED = "disabled"  # /gr00t/enable false: nothing is published
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


class CommandLimiter:
    """Position clamp + per-tick rate limit + non-finite guard, per joint.

    Args:
        lower, upper: np (A,) position limits (lower < upper, finite).
        velocity: np (A,) velocity limits (> 0), units per second.
        dt: the control period in seconds; a tick moves a joint at most velocity * dt.
    """

    def __init__(self, lower: np.ndarray, upper: np.ndarray, velocity: np.ndarray, dt: float) -> None:
        lower = np.asarray(lower, dtype=np.float64).reshape(-1)  # (A,)
        upper = np.asarray(upper, dtype=np.float64).reshape(-1)  # (A,)
        velocity = np.asarray(velocity, dtype=np.float64).reshape(-1)  # (A,)
        if not (lower.shape == upper.shape == velocity.shape) or lower.size == 0:
            raise ValueError(
                f"limits must be equal-length non-empty vectors, got lower {lower.shape}, "
                f"upper {upper.shape}, velocity {velocity.shape}"
            )
        if not (np.isfinite(lower).all() and np.isfinite(upper).all() and (lower < upper).all()):
            raise ValueError("position limits must be finite with lower < upper for every joint")
        if not (np.isfinite(velocity).all() and (velocity > 0).all()):
            raise ValueError("velocity limits must be finite and > 0 for every joint")
        if not (math.isfinite(dt) and dt > 0):
            raise ValueError(f"control period dt must be finite and > 0, got {dt}")
        self.lower, self.upper, self.velocity, self.dt = lower, upper, velocity, float(dt)
        self.max_step = velocity * self.dt  # (A,)
        self.last: np.ndarray | None = None
        self.nonfinite_replaced = 0  # targets (vectors) that had a non-finite entry

    @property
    def dim(self) -> int:
        return self.lower.shape[0]

    def clamp(self, x: np.ndarray) -> np.ndarray:
        """Clip to the position limits (non-finite entries must be handled before)."""
        return np.minimum(np.maximum(x, self.lower), self.upper)

    def reset(self, measured: np.ndarray) -> np.ndarray:
        """Start from the measured position (clamped into the limits); returns it."""
        measured = np.asarray(measured, dtype=np.float64).reshape(-1)  # (A,)
        if measured.shape != self.lower.shape or not np.isfinite(measured).all():
            raise ValueError(
                f"reset needs a finite position vector of {self.dim} joints, got {measured!r}"
            )
        self.last = self.clamp(measured)
        return self.last.copy()

    def apply(self, target: np.ndarray) -> np.ndarray:
        """The safe command (A,) closest to `target` reachable this tick; becomes `last`."""
        if self.last is None:
            raise RuntimeError("CommandLimiter.apply() before reset(measured)")
        target = np.asarray(target, dtype=np.float64).reshape(-1)  # (A,)
        if target.shape != self.lower.shape:
            raise ValueError(f"target has {target.shape[0]} joints, expected {self.dim}")
        finite = np.isfinite(target)
        if not finite.all():
            self.nonfinite_replaced += 1
            target = np.where(finite, target, self.last)
        step = np.minimum(np.maximum(self.clamp(target) - self.last, -self.max_step), self.max_step)
        # last is inside the limits and so is last + step (the clamped target is on the same
        # side): the clamp below only guards against rounding.
        self.last = self.clamp(self.last + step)
        return self.last.copy()

    def limit_path(self, times: np.ndarray, rows: np.ndarray, t0: float = 0.0) -> np.ndarray:
        """Make a future path safe without changing `last`.

        Args:
            times: np (N,) seconds from now, increasing, > t0.
            rows: np (N, A) position targets.
            t0: the time (seconds from now) at which the path is at `last`.
        Returns np (N, A): finite, inside the limits, each point within velocity * (time gap)
        of the previous one, the first within velocity * (times[0] - t0) of `last`.
        """
        if self.last is None:
            raise RuntimeError("CommandLimiter.limit_path() before reset(measured)")
        rows = np.asarray(rows, dtype=np.float64)  # (N, A)
        out = np.empty_like(rows)
        prev, prev_t = self.last, float(t0)
        for k in range(rows.shape[0]):
            t = float(times[k])
            target = np.where(np.isfinite(rows[k]), rows[k], prev)
            room = self.velocity * max(t - prev_t, 0.0)  # (A,)
            prev = self.clamp(prev + np.minimum(np.maximum(self.clamp(target) - prev, -room), room))
            out[k] = prev
            prev_t = t
        return out


@dataclass(frozen=True)
class SupervisorInputs:
    """What the supervisor needs to know each tick (ages in seconds; None = never seen)."""

    enabled: bool
    state_age: float | None
    tokens_age: float | None
    fresh_plan: bool  # a plan from fresh inputs is available (needed to start)
    plan_exhausted: bool  # the plan being followed has run past its last row
    worker_alive: bool


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

    def decide(self, i: SupervisorInputs) -> tuple[SafetyState, str]:
        """The state for these inputs (pure: does not change the supervisor)."""
        state_stale = self._stale(i.state_age, self.state_staleness_s)
        tokens_stale = self._stale(i.tokens_age, self.token_staleness_s)
        if not i.enabled:
            return SafetyState.DISABLED, "disabled through /gr00t/enable"
        if not self.armed:
            if i.state_age is None:
                return SafetyState.WAITING, "no joint state received yet"
            if i.tokens_age is None:
                return SafetyState.WAITING, "no embedding tokens received yet"
            if state_stale:
                return SafetyState.WAITING, f"joint state is {i.state_age:.3f} s old"
            if tokens_stale:
                return SafetyState.WAITING, f"tokens are {i.tokens_age:.3f} s old"
            if not i.worker_alive:
                return SafetyState.WAITING, "inference thread is not running"
            if not i.fresh_plan:
                return SafetyState.WAITING, "waiting for the first plan"
            return SafetyState.RUNNING, "first plan from fresh inputs"
        if not i.worker_alive:
            return SafetyState.FAULT, "inference thread stopped"
        if state_stale:
            return SafetyState.HOLD_STALE_STATE, (
                f"joint state {i.state_age:.3f} s old > state_staleness_s "
                f"{self.state_staleness_s}")
        if tokens_stale:
            return SafetyState.HOLD_STALE_TOKENS, (
                f"tokens {i.tokens_age:.3f} s old > token_staleness_s {self.token_staleness_s}")
        if i.plan_exhausted:
            return SafetyState.HOLD_NO_PLAN, "the newest plan has run out (inference too slow?)"
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
