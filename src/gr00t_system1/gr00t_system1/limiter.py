"""Always-on command limits for System 1 (ROS-free): every command a robot receives is finite,
inside the position limits, within `velocity * dt` of the previous command and, for joints
with an acceleration limit, changes velocity by at most `acceleration * dt` per tick.
(Joints of trajectory controllers receive paths, not commands: the loop sets their command to
where the path sent has them, `follow`, and each path is limited from there, `path_to_rest`.)

Every command counts one control period `dt`, so commands must come about a period apart: a
timer that runs late fires its next tick close after (rcl keeps its phase), and two full
steps an instant apart would be one jump of two. `too_soon(now)` says when a command would
come less than `MIN_GAP` of a period after the last one; System 1 then gives none that tick
(the next comes a period later). Ordinary scheduling jitter stays well inside `MIN_GAP`,
and a command after a longer wait still moves one period's worth: a controller holds each
target until the next, so a larger step would be a larger jump, however long the wait.
A wait of more than `STALL_GAP` periods is a stall (`stalled`): a forward-command controller
held the last target meanwhile, so the joint stands still there and the next command must
start it again from rest, not go on at the velocity it had before the stall (that would be a
velocity jump the acceleration limit forbids). The caller says where the controllers have
taken the joints (`resume`: at rest at the last command, or along a trajectory the
controller was given) before the next `apply`.
A stall is measured on the controllers' clock: the monotonic clock (`apply`'s `mono`) where
the caller gives one, for a robot (the node clock is the wall clock, which NTP or PTP may
step: taken for a stall, a joint at full speed was restarted from rest), else the node clock
(`now`), for a simulator's /clock, on which its controllers run whether it runs slower or
faster than the wall.
A clock that jumps backwards (a stepped wall clock, a replayed /clock) skips one tick, and
the gap is measured from there on.

The command's velocity is `(x_k - x_{k-1}) / dt`. Per joint with an acceleration limit `a`,
each tick picks the velocity closest to the one that would reach the target, subject to:

1. arrival (soft): no faster than the speed from which braking at `a` stops at the target,
   `a * (sqrt(dt^2 + 2 d / a) - dt)` for a distance `d`, so the command settles on a
   target instead of overshooting and ringing around it;
2. acceleration (hard): within `a * dt` of the previous tick's velocity;
3. position limits (hard): no faster toward a limit than the speed from which braking at
   `a` stops before it, so a joint is never driven into a limit it cannot stop short of;
4. velocity (hard): within the velocity limit.

2-4 are compatible: a velocity that respected 3 last tick can always slow down by `a * dt`
and still respect it. The limiter starts at rest at the measured position (`reset`), so
enabling never jumps; a joint measured a little beyond a position limit starts from there
too, and its first command comes within the limit only if one tick from rest reaches it
(`first_reach`: the caller does not start a joint measured further out). Joints without an
acceleration limit are only clamped and rate limited. Non-finite targets are replaced by
the last safe command.
"""

from __future__ import annotations

import math

import numpy as np

_EPS = 1e-12
# Below this speed (units/s) a joint counts as at rest: stopping from it changes the
# velocity by less than any acceleration limit times a control period.
REST_SPEED = 1e-6
# The shortest gap between two commands, in control periods (`too_soon`): with it no
# command moves faster than 1 / MIN_GAP times a limit over the time since the last one.
MIN_GAP = 0.75
# A longer gap than this, in control periods, is a stall (`stalled`): the controllers held
# the last command long enough for the joints to stand still. Shorter gaps go on at the last
# velocity: one late tick, with the tick after it skipped (`too_soon`), leaves at most two
# periods between commands, too short for a joint's inertia to stop it.
STALL_GAP = 2.5


def _stopping_speed(distance: np.ndarray, accel: np.ndarray, dt: float) -> np.ndarray:
    """The largest speed that, moving one more tick of `dt` and then braking at `accel`,
    covers at most `distance` (>= 0): `a * (sqrt(dt^2 + 2 d / a) - dt)`."""
    d = np.maximum(distance, 0.0)
    return accel * (np.sqrt(dt * dt + 2.0 * d / accel) - dt)


class CommandLimiter:
    """Position clamp + velocity and acceleration limits + non-finite guard, per joint.

    Args:
        lower, upper: np (A,) position limits (lower < upper, finite).
        velocity: np (A,) velocity limits (> 0), units per second.
        dt: the control period in seconds.
        acceleration: np (A,) acceleration limits (> 0, units per second squared), inf for a
            joint without one; None: no joint has one.
    """

    def __init__(self, lower: np.ndarray, upper: np.ndarray, velocity: np.ndarray, dt: float,
                 acceleration: np.ndarray | None = None) -> None:
        lower = np.asarray(lower, dtype=np.float64).reshape(-1)  # (A,)
        upper = np.asarray(upper, dtype=np.float64).reshape(-1)  # (A,)
        velocity = np.asarray(velocity, dtype=np.float64).reshape(-1)  # (A,)
        accel = (np.full(lower.shape, math.inf) if acceleration is None
                 else np.asarray(acceleration, dtype=np.float64).reshape(-1))  # (A,)
        if not (lower.shape == upper.shape == velocity.shape == accel.shape) or lower.size == 0:
            raise ValueError(
                f"limits must be equal-length non-empty vectors, got lower {lower.shape}, "
                f"upper {upper.shape}, velocity {velocity.shape}, acceleration {accel.shape}")
        if not (np.isfinite(lower).all() and np.isfinite(upper).all() and (lower < upper).all()):
            raise ValueError("position limits must be finite with lower < upper for every joint")
        if not (np.isfinite(velocity).all() and (velocity > 0).all()):
            raise ValueError("velocity limits must be finite and > 0 for every joint")
        if np.isnan(accel).any() or not (accel > 0).all():
            raise ValueError("acceleration limits must be > 0 for every joint (inf: none)")
        if not (math.isfinite(dt) and dt > 0):
            raise ValueError(f"control period dt must be finite and > 0, got {dt}")
        self.lower, self.upper, self.velocity, self.dt = lower, upper, velocity, float(dt)
        self.acceleration = accel
        self._bounded = np.isfinite(accel)  # (A,) joints with an acceleration limit
        self._accel = np.where(self._bounded, accel, 1.0)  # (A,) finite stand-in for the math
        self.max_step = velocity * self.dt  # (A,)
        self.last: np.ndarray | None = None
        self.last_velocity: np.ndarray | None = None  # (A,) of the last command
        self.last_time: float | None = None  # when it was given (apply's `now`), if said
        self.last_mono: float | None = None  # and on the monotonic clock (apply's `mono`)
        self.nonfinite_replaced = 0  # targets (vectors) that had a non-finite entry
        self.clock_jumps_back = 0  # ticks whose clock was behind the last command's time
        self.stalls = 0  # stalls while a joint was moving (`resume`)

    @property
    def dim(self) -> int:
        return self.lower.shape[0]

    def clamp(self, x: np.ndarray) -> np.ndarray:
        """Clip to the position limits (non-finite entries must be handled before)."""
        return np.minimum(np.maximum(x, self.lower), self.upper)

    def reset(self, measured: np.ndarray) -> np.ndarray:
        """Start at rest from the measured position; returns it clamped into the limits.
        The next command is one step from the measured position itself, not from the
        clamp: a joint measured beyond a limit by e and clamped first would move e plus a
        full step in one tick (twice the velocity limit without an acceleration limit; at
        any e, an acceleration from rest the limit forbids). The caller starts a joint only
        where the limit is within `first_reach`."""
        measured = np.asarray(measured, dtype=np.float64).reshape(-1)  # (A,)
        if measured.shape != self.lower.shape or not np.isfinite(measured).all():
            raise ValueError(
                f"reset needs a finite position vector of {self.dim} joints, got {measured!r}")
        self.last = measured.copy()  # beyond a limit the first `apply` clamps, in its step
        self.last_velocity = np.zeros_like(self.last)
        self.last_time = self.last_mono = None
        return self.clamp(measured)

    def first_reach(self) -> np.ndarray:
        """How far (A,) the first command after a `reset` may be from the measured position:
        one tick from rest, `acceleration * dt^2` (at most `velocity * dt`), or `velocity *
        dt` for a joint without an acceleration limit. A joint measured further beyond a
        position limit than this cannot be brought within it by one command."""
        reach = self.velocity * self.dt
        return np.where(self._bounded, np.minimum(reach, self._accel * self.dt ** 2), reach)

    def too_soon(self, now: float) -> bool:
        """Whether a command at `now` (the clock `apply` was given) would come less than
        MIN_GAP periods after the last one (module docstring); False after a reset or a
        command without a time. A clock that jumped backwards counts as too soon once: the
        last command's time moves back to `now`, so commands go on a period later instead of
        stopping until the clock has caught up with where it was."""
        if self.last_time is None:
            return False
        if now < self.last_time:
            self.last_time = now
            self.clock_jumps_back += 1
            return True
        return now - self.last_time < MIN_GAP * self.dt

    def stalled(self, now: float, mono: float | None = None) -> bool:
        """Whether a command at `now` comes more than STALL_GAP periods after the last one:
        on the monotonic clock where `mono` is given for both, else on the node clock
        (module docstring); False after a reset or a command without a time."""
        if self.last_time is None:
            return False
        if mono is not None and self.last_mono is not None:
            return mono - self.last_mono > STALL_GAP * self.dt
        return now - self.last_time > STALL_GAP * self.dt

    def resume(self, position: np.ndarray, velocity: np.ndarray) -> None:
        """After a stall: the joints are now at `position` moving at `velocity` (A,), where
        the controllers took them while no command came (at rest at the last command for a
        controller that holds its target); the next `apply` goes on from there."""
        if self.last is None:
            raise RuntimeError("CommandLimiter.resume() before reset(measured)")
        position = np.asarray(position, dtype=np.float64).reshape(-1)  # (A,)
        velocity = np.asarray(velocity, dtype=np.float64).reshape(-1)  # (A,)
        if (position.shape != self.lower.shape or velocity.shape != self.lower.shape
                or not (np.isfinite(position).all() and np.isfinite(velocity).all())):
            raise ValueError(f"resume needs finite position and velocity vectors of {self.dim} "
                             f"joints, got {position!r}, {velocity!r}")
        self.stalls += int(self.moving)
        self.last = self.clamp(position)
        self.last_velocity = np.clip(velocity, -self.velocity, self.velocity)
        self.last_time = self.last_mono = None  # the stall is over: no gap to keep

    def follow(self, joints: np.ndarray, position: np.ndarray,
               velocity: np.ndarray) -> np.ndarray:
        """After `apply`: the joints `joints` (A,) bool belong to controllers that run a path
        they were sent, on their own clock; they are where that path has them now,
        `position` at `velocity` (A,), whenever this tick came (a late tick, a stall), not
        one limited step on from the last command. The next path starts from there. Returns
        the command, those joints replaced."""
        if self.last is None:
            raise RuntimeError("CommandLimiter.follow() before reset(measured)")
        joints = np.asarray(joints, dtype=bool).reshape(-1)  # (A,)
        position = np.asarray(position, dtype=np.float64).reshape(-1)
        velocity = np.asarray(velocity, dtype=np.float64).reshape(-1)
        ok = np.isfinite(position) & np.isfinite(velocity)
        joints = joints & ok  # a non-finite point (never on a path) leaves the joint as it is
        # New arrays, not written into: the paths kept keep the command they started from.
        self.last = np.where(joints, self.clamp(np.where(ok, position, 0.0)), self.last)
        self.last_velocity = np.where(
            joints, np.clip(np.where(ok, velocity, 0.0), -self.velocity, self.velocity),
            self.last_velocity)
        return self.last.copy()

    @property
    def moving(self) -> bool:
        """Whether a joint with an acceleration limit still has velocity: stopping it now, by
        publishing nothing more, would change its velocity in one step (a joint without one
        may stop at once)."""
        if self.last_velocity is None:
            return False
        return bool((np.abs(self.last_velocity[self._bounded]) > REST_SPEED).any())

    def stopping_point(self) -> np.ndarray:
        """Where the last command comes to rest if System 1 brakes at once, as hard as the
        acceleration limits allow (the last command itself for joints without one): the
        target of a hold that stops the arm without overshooting and coming back."""
        if self.last is None:
            raise RuntimeError("CommandLimiter.stopping_point() before reset(measured)")
        return self._rest_point(self.last, self.last_velocity)

    def _rest_point(self, pos: np.ndarray, vel: np.ndarray) -> np.ndarray:
        """Where (pos, vel) comes to rest braking at the acceleration limits (A,)."""
        travel = vel * np.abs(vel) / (2.0 * self._accel)  # (A,) continuous braking distance
        return self.clamp(np.where(self._bounded, pos + travel, pos))

    @property
    def longest_stop_s(self) -> float:
        """Seconds the slowest joint takes to brake from its velocity limit to rest."""
        return float(np.where(self._bounded, self.velocity / self._accel, 0.0).max())

    def _step(self, last: np.ndarray, vel: np.ndarray, target: np.ndarray, dt: float,
              passing: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """One limited step of `dt` from (last, vel) toward a finite target inside the
        limits: (position, velocity). `passing` (A,) bool: joints whose target is a point
        to pass through, not to stop at (no arrival limit, 1. in the module docstring)."""
        vmax = self.velocity
        exact = (target - last) / dt  # (A,) the velocity that lands on the target
        a = self._accel
        arrive = _stopping_speed(np.abs(target - last), a, dt)
        if passing is not None:
            arrive = np.where(passing, np.inf, arrive)
        v = np.clip(exact, -np.minimum(vmax, arrive), np.minimum(vmax, arrive))
        v = np.clip(v, vel - a * dt - _EPS, vel + a * dt + _EPS)
        v = np.clip(v, -_stopping_speed(last - self.lower, a, dt),
                    _stopping_speed(self.upper - last, a, dt))
        v = np.clip(v, -vmax, vmax)
        bounded = np.where(v == exact, target, last + v * dt)  # land exactly when allowed
        step = np.clip(target - last, -dt * vmax, dt * vmax)  # joints without a limit
        x = self.clamp(np.where(self._bounded, bounded, last + step))
        return x, (x - last) / dt

    def apply(self, target: np.ndarray, now: float | None = None,
              mono: float | None = None, passing: np.ndarray | None = None) -> np.ndarray:
        """The safe command (A,) closest to `target` reachable this tick; becomes `last`,
        given at `now` (seconds, the node clock; for `too_soon` and `stalled`) and `mono`
        (time.monotonic(); for `stalled`). `passing` (A,) bool: joints whose target is a
        point of a path already sent, passed through at speed rather than stopped at
        (every hard limit still holds)."""
        if self.last is None:
            raise RuntimeError("CommandLimiter.apply() before reset(measured)")
        target = np.asarray(target, dtype=np.float64).reshape(-1)  # (A,)
        if target.shape != self.lower.shape:
            raise ValueError(f"target has {target.shape[0]} joints, expected {self.dim}")
        finite = np.isfinite(target)
        if not finite.all():
            self.nonfinite_replaced += 1
            target = np.where(finite, target, self.last)
        self.last, self.last_velocity = self._step(self.last, self.last_velocity,
                                                   self.clamp(target), self.dt, passing)
        self.last_time, self.last_mono = now, mono
        return self.last.copy()

    def limit_path(self, times: np.ndarray, rows: np.ndarray, t0: float = 0.0) -> np.ndarray:
        """Make a future path safe without changing `last`.

        Args:
            times: np (N,) seconds from now, increasing, > t0.
            rows: np (N, A) position targets.
            t0: the time (seconds from now) at which the path is at `last`.
        Returns np (N, A): finite, inside the limits, each point reached from the previous
        within the velocity and acceleration limits over its time gap, starting from `last`
        and its velocity.
        """
        return self._walk(times, rows, t0)[0]

    def path_to_rest(self, times: np.ndarray, rows: np.ndarray, t0: float, gap: float,
                     passing: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """`limit_path`, then points `gap` apart that brake it to rest at the acceleration
        limits: (times (N + R,), rows (N + R, A)). A trajectory controller that gets no newer
        message runs the path to its end and stops there; ending at rest, it stops within
        the limits instead of dead from full speed. N may be 0 (a path from `last` alone).
        `passing` (N, A) bool: points to pass through at speed (`apply`'s `passing`), such
        as those of a path already sent that the new one keeps; None: none."""
        if not (math.isfinite(gap) and gap > 0):
            raise ValueError(f"gap must be finite and > 0, got {gap}")
        out, prev, vel, prev_t = self._walk(times, rows, t0, passing)
        target = self._rest_point(prev, vel)  # (A,) where braking at once comes to rest
        most = int(math.ceil(self.longest_stop_s / gap)) + 8  # bound: the soft landing's ticks
        tail_t, tail = [], []
        while (np.abs(vel[self._bounded]) > REST_SPEED).any() and len(tail) < most:
            prev, vel = self._step(prev, vel, target, gap)
            prev_t += gap
            tail_t.append(prev_t)
            tail.append(prev)
        if not tail:
            return np.asarray(times, dtype=np.float64), out
        return (np.concatenate([np.asarray(times, dtype=np.float64), tail_t]),
                np.vstack([out, np.array(tail)]))

    def _walk(self, times: np.ndarray, rows: np.ndarray, t0: float,
              passing: np.ndarray | None = None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """The safe path (N, A) from `last` and its velocity, and where it ends: (rows, end
        position, end velocity, end time). `passing`: as `path_to_rest`'s."""
        if self.last is None:
            raise RuntimeError("CommandLimiter.limit_path() before reset(measured)")
        rows = np.asarray(rows, dtype=np.float64).reshape(len(times), self.dim)  # (N, A)
        out = np.empty_like(rows)
        prev, vel, prev_t = self.last, self.last_velocity, float(t0)
        for k in range(rows.shape[0]):
            t = float(times[k])
            gap = t - prev_t
            target = self.clamp(np.where(np.isfinite(rows[k]), rows[k], prev))
            if gap > 0:
                prev, vel = self._step(prev, vel, target, gap,
                                       None if passing is None else passing[k])
            out[k] = prev
            prev_t = t
        return out, prev, vel, prev_t
