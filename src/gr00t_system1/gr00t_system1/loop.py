"""One control tick, ROS-free: newest plan + safety -> the command to publish (or none).

The node's timer callback calls `CommandLoop.tick` and publishes what it returns; all the
decisions live here so they are unit tested without DDS:

1. ages of the newest state / tokens, whether a new plan from fresh inputs is waiting
   (planned for the instruction of the newest tokens: one made for a replaced instruction
   is never taken);
2. the `Supervisor` picks the state (RUNNING, HOLD_*, WAITING, DISABLED);
3. on the first publishing tick after enabling, the limiter and the chunk executor start
   from the measured position (no jump), unless the loop published on the tick before (it
   was braking after a disable): then they go on from the last command and its velocity;
4. RUNNING: a new plan goes to the chunk executor (`gr00t_policy.runtime.execution`: the
   chunk mode, e.g. a cross-fade) and its command is the target;
   HOLD_*: where the last command comes to rest when braking at the acceleration limits
   (`hold_last_command`, and every fault) or the measured position (`hold_measured`) is the
   target;
5. the `CommandLimiter` makes the target safe; that is the command. A tick that comes too
   soon after the last command (`CommandLimiter.too_soon`: the tick after a late one) gives
   none, so two full steps never reach a controller an instant apart. A tick after a stall
   (`CommandLimiter.stalled`: no command for more than 2.5 periods) first tells the limiter
   where the controllers took the joints meanwhile (`_catch_up`): a forward-command
   controller held the last command, so its joints stand still there and start again from
   rest; a trajectory controller (`path_joints`) ran on along the last path it was sent, so
   its joints go on from that path's position and velocity now.
6. Disabled (or waiting) after publishing while moving: the loop keeps publishing, towards
   where the last command comes to rest when braking at the acceleration limits, until it
   is at rest and no path a trajectory controller runs still moves (`brake`), then
   publishes nothing: a forward-command controller holds its last target, and that target
   then stands still instead of stopping dead mid-motion.
   (The node brakes the same way when it is deactivated.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gr00t_policy.runtime.execution import ChunkExecutor
from gr00t_policy.runtime.planner import Plan, StateSample, TokenSample
from gr00t_system1.limiter import REST_SPEED, CommandLimiter
from gr00t_system1.safety import (
    ON_STALE_CHOICES, SafetyState, Supervisor, SupervisorInputs)
from gr00t_system1.tracking import TrackingMonitor


# A sent path whose points still to come lie further than this (rad or m) from where it is
# now still moves (`_sent_paths_move`): braking must send the controller a path to rest.
REST_MOVE = 1e-9
# A node clock that moves this much more (or less) than the monotonic one between two ticks
# stepped (`CommandLoop._move_paths`); NTP slewing moves it by microseconds a tick.
CLOCK_STEP_S = 1e-3
# A time within this many float64 steps (at its magnitude) of a path point's is that point's
# (`position_on_path`): the rounding of a sum of times (a wall clock's seconds since 1970
# step by ~0.24 us), not a controller that has moved on past the point.
ON_POINT_ULPS = 16
# A path keeps the path sent up to a knot at least this many control periods after its tick
# (`_kept_knots`), on a knot or off it: the controller takes the message up later than the
# tick (System 1 itself sent it 2.9-5.0 ms after its tick, p50-p99, on fourier_gr1 and the
# 2-vCPU dev machine; then transport, 0.2-0.7 ms, and the wait for the controller's next
# update, up to 2 ms at 500 Hz: bench/trajectory_stream.py), and where the new path had
# parted from the old before then, the controller stepped from one to the other.
MIN_FIRST_KNOT = 1.0
# A tick this close to a knot of the paths' grid (s) is on it (`_kept_knots`).
ON_KNOT_S = 1e-6
# At a re-arm after System 1 commanded (disabled, then enabled), the controllers still hold
# the last commands: commands go on from them, not from the measured position, where every
# joint is measured within this (rad or m; at most a tenth of its range) of where it is held
# (`_robot_at_held`): a position-controlled arm sags under gravity by its steady-state
# error, and a first command at the measured position moved the target by that sag in one
# tick (0.037 rad against the 0.004 one command from rest may move a G1 arm): the drives'
# holding torque let go at once. Further away, something else moved the robot (a teleop
# through the same controller, a push): the measured position is then where its controller
# holds it, and commands start there.
REARM_HELD_TOLERANCE = 0.05


@dataclass(frozen=True)
class TickResult:
    """What one tick decided.

    Attributes:
        state: the safety state for this tick.
        command: np.float64 (A,) safe command to publish, or None (publish nothing).
        new_plan: the plan taken into use this tick (for latency statistics), else None.
    """

    state: SafetyState
    command: np.ndarray | None
    new_plan: Plan | None


def input_age(sample: StateSample | TokenSample | None, now: float, mono: float) -> float | None:
    """Age of an input (None if never received): the larger of its age by arrival and by
    header stamp, so an input stamped long ago is stale however recently it arrived."""
    return None if sample is None else sample.age(now, mono)


class CommandLoop:
    """The control loop's state: chunk executor, limiter and supervisor for one embodiment.

    Args:
        limiter: limits of the commanded joints (the action joints, then any held joints
            System 1 drives to their held positions), dt = control period.
        supervisor: the safety state machine (owns the staleness limits).
        executor: how plans become commands (the chunk mode; `make_executor`).
        on_stale: "hold_last_command" or "hold_measured".
        held_posture: np (H,) the held positions of the commanded held joints (default none);
            the limiter's vector is the A action joints followed by these H.
        path_joints: np.bool_ (A + H,) the joints whose controllers follow the path
            (`path`, trajectory decoders) rather than hold each command; None: none.
        path_ticks: how many control periods a path covers point by point before the
            chunk's rows (`path`): at least the ticks between two messages of the sparsest
            trajectory decoder, plus one.
        path_grid: which trajectory controllers run each path on the node clock from its
            tick (decoders that stamp their messages, `Decoder.stamped_paths`): np.bool_
            (A + H,) their joints, or True / False for every path joint. Their paths keep
            the knots of the path sent on one steady grid (`_kept_knots`), so neither tick
            jitter nor the controller's pick-up delay bunches two velocity changes together.
        joint_names: the A + H joints' names, for messages (default: their indices).
        tracking: compares each joint state with the command in force when it was measured
            (`gr00t_system1.tracking`); default: figures only, never a fault.

    `sim_time`: whether the node clock is a simulator's /clock (use_sim_time; the node sets
    it each tick): then its controllers run on it, and stalls are measured on it, not on the
    monotonic clock (`CommandLimiter.stalled`).
    """

    def __init__(self, limiter: CommandLimiter, supervisor: Supervisor, *,
                 executor: ChunkExecutor, on_stale: str,
                 held_posture: np.ndarray | None = None,
                 path_joints: np.ndarray | None = None, path_ticks: int = 1,
                 path_grid: bool | np.ndarray = False,
                 joint_names: list[str] | None = None,
                 tracking: TrackingMonitor | None = None) -> None:
        if on_stale not in ON_STALE_CHOICES:
            raise ValueError(f"on_stale must be one of {list(ON_STALE_CHOICES)}, got {on_stale!r}")
        if isinstance(path_ticks, bool) or not isinstance(path_ticks, int) or path_ticks < 1:
            raise ValueError(f"path_ticks must be an int >= 1, got {path_ticks!r}")
        self.path_ticks = path_ticks
        self.path_grid = path_grid  # `_grid_joints` reads it
        self.joint_names = list(joint_names or [])
        self.sim_time = False
        self._mono = float("-inf")  # monotonic time of the tick in progress
        # At a (re)arm: (the start, how many more commands trajectory joints not yet sent a
        # path stay there): `_hold_paths_at`.
        self._rearm: tuple[np.ndarray, int] | None = None
        self._clock_back_mono = float("-inf")  # when the node clock last went back
        self.held_posture = (np.zeros(0) if held_posture is None
                             else np.asarray(held_posture, dtype=np.float64).reshape(-1))  # (H,)
        self.limiter = limiter
        self.path_joints = (np.zeros(limiter.dim, dtype=bool) if path_joints is None
                            else np.asarray(path_joints, dtype=bool).reshape(-1))  # (A + H,)
        if self.path_joints.shape != (limiter.dim,):
            raise ValueError(f"path_joints has {self.path_joints.size} entries, the limiter "
                             f"{limiter.dim} joints")
        # The paths made (`path`), by serial number: (its `now`, times (N,) from then, rows
        # (N, A + H), the command it starts from); the newest, and those some joint's
        # controller was last sent (`path_sent`). Kept as given (the limiter replaces `last`
        # rather than writing into it): assembled only after a stall.
        self._paths: dict[int, tuple[float, np.ndarray, np.ndarray, np.ndarray]] = {}
        self._newest_path = 0  # serial of the newest path; 0: none yet
        # Per joint: the serial of the path its controller was last sent; 0: not reported
        # (then the newest stands in).
        self._path_of = np.zeros(limiter.dim, dtype=np.int64)
        self.supervisor = supervisor
        self.executor = executor
        self.on_stale = on_stale
        self._used_seq = 0  # newest plan seq given to the executor
        self._plan_until = float("inf")  # end time of the newest chunk taken in
        self._hold_target: np.ndarray | None = None  # fixed when a hold starts
        self._hold_measured = False  # the hold target is a measured position, not a stop
        self.now = float("-inf")  # node-clock time of the tick in progress
        self.stale_instruction_plans = 0  # plans refused: made for a replaced instruction
        self.stale_state_plans = 0  # plans refused: their state was stale when they came
        self.run_out_plans = 0  # plans refused: their chunk had run out when they came
        # The newest plan refused as too late (either of those): offered every tick, counted
        # once.
        self._late_seq = 0
        # Why the newest plan that came was refused as too old (None once one is taken).
        self._plans_refused: str | None = None
        self._refused_seq = 0  # the newest of them (it stays `plan` for ticks: counted once)
        self._brake_target: np.ndarray | None = None  # fixed when braking to rest starts
        self._taken_instruction: int | None = None  # instruction_id of the last plan taken
        self.tracking = tracking or TrackingMonitor(
            self.joint_names or [f"joint {j}" for j in range(limiter.dim)],
            max_error=float("inf"), for_s=0.0)
        if self.tracking.checked.shape != (limiter.dim,):
            raise ValueError(f"tracking checks {self.tracking.checked.size} joints, the limiter "
                             f"has {limiter.dim}")
        self._tracking_latched = False  # the tracking fault latched this tick
        self._tracked_seq = 0  # the newest joint state compared with its command
        # Latched when the robot stopped following (`tracking`), until /gr00t/enable is off.
        self._tracking_fault: str | None = None

    def _fresh_plan(self, plan: Plan | None, tokens: TokenSample | None,
                    mono: float) -> Plan | None:
        if plan is None or plan.seq <= self._used_seq:
            return None
        if plan.state.age(self.now, mono) > self.supervisor.state_staleness_s:
            # Planned from a state that is stale by now. One already stale when it was handed
            # over (`latency`): an action head slower than the staleness limit (an N1-size
            # head on a Jetson) has every plan refused, and the loop waits or holds; it says
            # why, not "waiting for the first plan".
            latency = plan.done - plan.state.arrival
            limit = self.supervisor.state_staleness_s
            if latency > limit and plan.seq != self._late_seq:
                self._late_seq = plan.seq
                self.stale_state_plans += 1
                self._plans_refused = (
                    f"plan {plan.seq} came {latency:.3f} s after the joint state it was planned "
                    f"from, more than state_staleness_s {limit:g} "
                    f"({self.stale_state_plans} plan(s) refused so far): inference (with any "
                    "inference_delay_ms) is slower than the staleness limit; raise "
                    "state_staleness_s above the plan latency (-p state_staleness_s:=...) or "
                    "run a faster action head")
            return None
        if plan.state.arrival < self._clock_back_mono:
            return None  # planned before the node clock went back: its times are ahead
        if self.now > plan.chunk.end_time:
            # Its chunk ran out before it came (inference slower than the chunk, with a
            # staleness limit raised to let it in): taken, it set the target to its last row,
            # where the policy wanted the arm a latency ago, for one tick of RUNNING before
            # the hold: a start towards it, braked at once, at every plan.
            if plan.seq != self._late_seq:
                self._late_seq = plan.seq
                self.run_out_plans += 1
                span = plan.chunk.end_time - plan.chunk.stamp
                self._plans_refused = (
                    f"plan {plan.seq} came {plan.done - plan.state.arrival:.3f} s after the "
                    f"joint state it was planned from, longer than the {span:g} s its chunk "
                    f"covers ({self.run_out_plans} plan(s) run out on arrival so far): "
                    "inference (with any inference_delay_ms) is slower "
                    "than the chunk; no staleness limit makes it follow. Run a faster action "
                    "head, or lower inference_delay_ms")
            return None
        if tokens is not None and plan.instruction_id != tokens.instruction_id:
            # Planned for an instruction that has since been replaced: with a slow head the
            # plan in flight when a new instruction's tokens arrive still carries the old
            # one (e.g. the first plan after enabling for a new episode), and following it
            # for one latency turns the waist and arms towards the old task.
            if plan.seq != self._refused_seq:
                self._refused_seq = plan.seq
                self.stale_instruction_plans += 1
            return None
        return plan

    def tick(self, now: float, mono: float, *, enabled: bool, state: StateSample | None,
             tokens: TokenSample | None, plan: Plan | None, worker_healthy: bool,
             worker_problem: str = "inference thread stopped",
             fault: str | None = None, planning_s: float | None = None,
             tokens_refused: str | None = None,
             state_refused: str | None = None) -> TickResult:
        """Decide this tick's command.

        Args:
            now: node-clock seconds (chunks and token stamps use this clock).
            mono: time.monotonic() (arrival times use this clock).
            enabled: the /gr00t/enable flag.
            state, tokens: the newest accepted inputs (None = never received).
            plan: the newest plan from the inference thread (None = none yet).
            worker_healthy: whether the inference thread is alive and not failing.
            worker_problem: why it is not (the fault's reason).
            fault: a fault the node latched (e.g. an implausible measurement): hold the last
                command, whatever `on_stale` says, until it is cleared.
            planning_s: how long the plan in progress has taken so far
                (`InferenceWorker.in_progress_s`; None: none is): named while waiting for
                a plan or holding without one.
            tokens_refused: why the newest tokens were refused (None: accepted, or none
                came); only said in the safety state's reason.
            state_refused: why the newest joint state was refused (None: accepted, or
                none came); only said in the safety state's reason.

        The joints of trajectory controllers are commanded where the path they were sent
        has them (`_as_sent`): that is where the controller is, whatever plan came since,
        and the next path starts from there.
        """
        self._advance(now, mono)
        stall = self._stall_mono(mono)  # the clock stalls are measured on (None: the node's)
        fresh = self._fresh_plan(plan, tokens, mono)
        exhausted = fresh is None and now > self._plan_until
        previous = self.supervisor.state
        self._track(enabled, state, previous)
        node_fault = fault
        if fault is None:
            fault = self._tracking_fault
        if fault is None and not previous.publishes and state is not None:
            fault = self._cannot_start_at(state.command_positions, now, stall)
        s = self.supervisor.update(SupervisorInputs(
            enabled=enabled,
            state_age=input_age(state, now, mono),
            tokens_age=input_age(tokens, now, mono),
            fresh_plan=fresh is not None,
            plan_exhausted=exhausted,
            worker_alive=worker_healthy,
            worker_problem=worker_problem,
            fault=fault,
            plans_refused=self._plans_refused,
            planning_s=planning_s,
            tokens_refused=tokens_refused,
            state_refused=state_refused,
        ))
        if not s.publishes:
            self.executor.clear()
            if self.limiter.too_soon(now):
                return TickResult(s, None, None)
            command = self.brake(now, mono)
            if command is not None:
                self.tracking.commanded(now, command)
            return TickResult(s, command, None)
        self._brake_target = None
        if not previous.publishes:
            if not self._starts_from_measured(now, stall, state.command_positions):
                # Re-enabled while braking, or where the controllers hold the robot: go on
                # from the last command and its velocity (at rest after a stall: _catch_up).
                start = self.limiter.last.copy()
            else:
                # (Re)armed: start from the measured position so enabling never jumps.
                start = self.limiter.reset(state.command_positions)
                self.tracking.reset()
                self._forget_paths()
                self._hold_paths_at(start)
            self.executor.reset(start[: self._action_dim])
        self._catch_up(now, stall)
        swapped = None
        if s == SafetyState.RUNNING:
            if fresh is not None:
                if (self._taken_instruction not in (None, fresh.instruction_id)
                        and self.limiter.last is not None):
                    # The first plan of a new instruction: the old one's chunks leave the
                    # executor now (an ensemble would average them in for up to a chunk's
                    # length, ~0.2 s of the old task); on from what was last commanded.
                    self.executor.reset(self.limiter.last[: self._action_dim])
                self.executor.push(fresh, now)
                self._plans_refused = None
                self._taken_instruction = fresh.instruction_id
                self._used_seq = fresh.seq
                self._plan_until = fresh.chunk.end_time
                swapped = fresh
            target = np.concatenate([self.executor.command(now), self.held_posture])
        else:
            fault_starts = s == SafetyState.FAULT and previous != SafetyState.FAULT
            # The robot stopped following during another fault's hold (the worker died): its
            # command must come back to it all the same, unless the node distrusts the
            # measurement.
            tracking_starts = (self._tracking_latched and node_fault is None
                               and not self._hold_measured)
            if (self._hold_target is None or not previous.holds or fault_starts
                    or tracking_starts):
                # Fix the hold target when a hold starts: following the live measured
                # position would let a position-controlled arm sink under gravity, tick
                # after tick, onto its stops. A fault always holds the last command: the
                # measurement may be what is wrong (an implausible state never reaches the
                # mailbox, so hold_measured only ever uses a plausible one). A fault that
                # starts during another hold replaces that hold's target too. Except when
                # the robot stopped following (`tracking`): then the command returns to where
                # it is, so that it does not jump there when it follows again.
                self._hold_measured = state is not None and (
                    self._tracking_fault is not None
                    or (self.on_stale == "hold_measured" and s != SafetyState.FAULT))
                if self._hold_measured:
                    self._hold_target = self.limiter.clamp(state.command_positions)
                    if self._tracking_fault is not None:
                        # Joints left out of the check (hands that grip) are not where the
                        # robot failed: they stop, as in any fault, and keep their grip.
                        self._hold_target = np.where(self.tracking.checked, self._hold_target,
                                                     self.limiter.stopping_point())
                else:
                    # Stop as the acceleration limits allow, where the arm comes to rest.
                    self._hold_target = self.limiter.stopping_point()
            target = self._hold_target
        if self.limiter.too_soon(now):
            return TickResult(s, None, swapped)
        command = self._apply(target, now, stall)
        self.tracking.commanded(now, command)
        if s.holds:
            # Resume from the held command: new plans start from here.
            self.executor.reset(command[: self._action_dim])
        return TickResult(s, command, swapped)

    @property
    def plans_refused(self) -> str | None:
        """Why the newest plan that came was refused as too late: planned from a state already
        stale when it came (inference slower than state_staleness_s), or its chunk already
        run out (slower than the chunk); None once a plan is taken."""
        return self._plans_refused

    @property
    def tracking_fault(self) -> str | None:
        """Why the loop latched a fault because the robot stopped following; None if not."""
        return self._tracking_fault

    def clear_tracking_fault(self) -> None:
        """A person disabled System 1: the tracking fault no longer holds (also done by any
        tick that sees it disabled)."""
        self._tracking_fault = None
        self.tracking.interrupt()

    def _track(self, enabled: bool, state: StateSample | None, previous: SafetyState) -> None:
        """Compare a new joint state with the command in force when it was measured, while
        publishing; latch the fault `tracking` names. Disabling clears it."""
        self._tracking_latched = False
        if not enabled:
            self.clear_tracking_fault()
        elif not previous.publishes:
            self.tracking.interrupt()  # an excursion must be seen through, not assumed
        if state is None or state.seq == self._tracked_seq:
            return
        self._tracked_seq = state.seq
        if not (enabled and previous.publishes):
            return
        reason = self.tracking.measured(state.stamp, state.command_positions)
        if reason is not None and self._tracking_fault is None:
            self._tracking_fault = reason
            self._tracking_latched = True

    def _starts_from_measured(self, now: float, mono: float | None,
                              measured: np.ndarray) -> bool:
        """Whether publishing now starts from the measured position `measured` (A + H,): at
        the first command since the loop began, or after a stall (disabled, or a hold that
        came to rest) where the robot is not where the controllers hold it
        (`REARM_HELD_TOLERANCE`). Otherwise commands go on from the last one (re-enabled
        while braking, or from where the controllers hold the joints: `_catch_up`)."""
        lim = self.limiter
        if lim.last is None:
            return True
        if lim.last_time is not None and not lim.stalled(now, mono):
            return False
        return not self._robot_at_held(measured, now)

    def _robot_at_held(self, measured: np.ndarray, now: float) -> bool:
        """Whether every joint is measured within `REARM_HELD_TOLERANCE` (or a tenth of its
        range) of where its controller holds it at `now` (`_held`)."""
        lim = self.limiter
        measured = np.asarray(measured, dtype=np.float64).reshape(-1)
        if measured.shape != lim.lower.shape or not np.isfinite(measured).all():
            return False
        held, _ = self._held(now)
        tolerance = np.minimum(REARM_HELD_TOLERANCE, 0.1 * (lim.upper - lim.lower))
        return bool((np.abs(measured - held) <= tolerance).all())

    def _cannot_start_at(self, measured: np.ndarray, now: float,
                         mono: float | None) -> str | None:
        """Why the loop must not start from `measured` (A + H,), or None. A joint measured
        beyond a position limit further than one tick from rest reaches (the plausibility
        margin lets such a reading in; `CommandLimiter.first_reach`: a period's travel at
        the acceleration limit, or at the velocity limit for a joint without one) would be
        commanded to the limit in one step, a jump those limits forbid: nothing is
        published until it is within."""
        lim = self.limiter
        measured = np.asarray(measured, dtype=np.float64).reshape(-1)
        if measured.shape != lim.lower.shape or not np.isfinite(measured).all():
            return None  # the state gate names these; reset refuses them
        excess = np.maximum(lim.lower - measured, measured - lim.upper)  # (A + H,) > 0: beyond
        reach = lim.first_reach()  # (A + H,)
        over = np.flatnonzero(excess > reach)
        # Asked every tick while not publishing: where the controllers hold the joints (a
        # walk along the paths sent) only once a joint is that far out.
        if not over.size or not self._starts_from_measured(now, mono, measured):
            return None
        j = int(over[np.argmax(excess[over])])
        name = self.joint_names[j] if self.joint_names else f"joint {j}"
        side, limit = (("upper", lim.upper[j]) if measured[j] > lim.upper[j]
                       else ("lower", lim.lower[j]))
        which = "acceleration" if math.isfinite(lim.acceleration[j]) else "velocity"
        return (f"{name} is measured at {measured[j]:.4f}, {excess[j]:.4f} beyond its {side} "
                f"limit {limit:.4f} ({over.size} joint(s) beyond; one command from rest "
                f"moves it {reach[j]:.4f} at most): the first command would move it to the "
                f"limit in one step, beyond its {which} limit. Fix: move it "
                "within its limits (or correct the limit in the embodiment YAML); System 1 "
                "starts once it is")

    def _stall_mono(self, mono: float | None) -> float | None:
        """The monotonic time to measure stalls on: None under sim time (the node clock)."""
        return None if self.sim_time else mono

    def _advance(self, now: float, mono: float | None) -> None:
        """Take the tick's times; a node clock behind the last tick's went back; one that
        moved further than the monotonic clock on a robot stepped (`_move_paths`)."""
        if mono is not None and self._mono > float("-inf") and self.now > float("-inf"):
            self._move_paths((now - self.now) - (mono - self._mono))
        if now < self.now:
            self._clock_went_back(now, mono)
        self.now = now
        if mono is not None:
            self._mono = mono

    def _move_paths(self, step: float) -> None:
        """The node clock stepped by `step` s against the monotonic one (NTP or PTP stepping
        a robot's wall clock, either way): the paths sent go on on the controllers' clock,
        so they move by the step, and are read at the same place on them. On a robot that
        is a monotonic clock (joint_trajectory_controller counts its trajectory's time from
        the update periods since ros2_controllers' 2024 releases); under sim time the
        controllers' clock is this one, and nothing moves."""
        if self.sim_time or abs(step) <= CLOCK_STEP_S:
            return
        self._paths = {k: (sent + step, times, rows, start)
                       for k, (sent, times, rows, start) in self._paths.items()}

    def _clock_went_back(self, now: float, mono: float | None) -> None:
        """The node clock went back (a simulator reset, a bag replayed in a loop, a stepped
        wall clock; the limiter counts them): the chunks held are stamped on the old
        timeline, ahead of `now`. An ensemble kept them live, weighing most, at their first
        row, for as long as the jump: 1 s after a 2-s jump it still commanded the old plan
        while every new plan said otherwise. So they are dropped: the executor holds the
        last command until the next plan (none made before now is taken: `_fresh_plan`), and
        the loop holds if none comes. (The paths sent: `_move_paths`.)"""
        if self.limiter.last is not None:
            self.executor.reset(self.limiter.last[: self._action_dim])
        self._plan_until = now
        self._clock_back_mono = self._mono if mono is None else mono
        self.tracking.reset()  # its commands' times are on the old timeline

    def brake(self, now: float | None = None, mono: float | None = None) -> np.ndarray | None:
        """One command of braking to rest, given at node-clock time `now`: towards where the
        last command comes to rest at the acceleration limits (fixed when braking starts),
        within every limit; None once it is at rest and no path a trajectory controller was
        sent still moves (`_sent_paths_move`), or before any command. The loop calls it
        while it does not publish otherwise; the node calls it when it is deactivated, a
        period apart."""
        stall = self._stall_mono(mono)
        if now is not None:
            if now != self.now:  # the node's call (the loop's comes within its tick)
                self._advance(now, mono)
            self._catch_up(now, stall)
        if not self.limiter.moving and (now is None or not self._sent_paths_move(now)):
            return None
        if self._brake_target is None:
            self._brake_target = self.limiter.stopping_point()
        if now is None:
            return self.limiter.apply(self._brake_target)
        return self._apply(self._brake_target, now, stall)

    def _apply(self, target: np.ndarray, now: float, stall: float | None) -> np.ndarray:
        """The limiter's command towards `target`, the joints of trajectory controllers where
        the paths they were sent have them now (`_as_sent`, `CommandLimiter.follow`)."""
        target, passing, velocity = self._as_sent(target, now)
        command = self.limiter.apply(target, now, stall, passing)
        if passing is None:
            return command
        return self.limiter.follow(passing, target, velocity)

    def _sent_paths_move(self, now: float) -> bool:
        """Whether a path some trajectory controller was sent still moves after `now`: with
        the command at rest (the path's first rows stood still), publishing nothing would
        leave the controller to run the rest of it, the plan, after a disable."""
        given = self._paths_given()
        for serial in np.unique(given[self.path_joints]):
            if serial not in self._paths:
                continue
            sent, times, rows, _ = self._paths[serial]
            joints = self.path_joints & (given == serial)
            ahead = rows[sent + times > now][:, joints]  # (M, J) the points still to come
            here, _ = self._on_path(serial, now)
            if ahead.size and (np.abs(ahead - here[joints]) > REST_MOVE).any():
                return True
        return False

    def _as_sent(self, target: np.ndarray,
                 now: float) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """(target, passing, velocity) for `CommandLimiter.apply` and `follow`: the joints of
        trajectory controllers (passing marks them) are where the path they were last sent
        has them at `now`, at its velocity there: the controller runs it on its own clock,
        whenever this tick comes, and the next path must start where it is (a command one
        limited step on from the last lagged a late tick, a stall or a chunk row it ran
        into, and the next path then jumped the controller back). A plan that came since
        reaches them through the next path, which starts from there: with every_n_ticks > 1
        the commands in between took the new plan while the controller did not. Joints
        never sent a path are left as they are, except after a (re)arm (`_hold_paths_at`):
        they stay at its start, at rest, until their controller's first message."""
        if not self.path_joints.any():
            return target, None, None
        waiting = self.path_joints & (self._path_of > 0)
        out = np.array(target, dtype=np.float64)
        velocity = np.zeros_like(out)
        if self._rearm is not None:
            start, left = self._rearm
            idle = self.path_joints & (self._path_of == 0)
            if left > 0 and idle.any():
                out[idle] = start[idle]
                waiting = waiting | idle
                self._rearm = (start, left - 1)
            else:
                self._rearm = None
        if not waiting.any():
            return target, None, None
        for serial in np.unique(self._path_of[waiting]):
            if serial not in self._paths:  # never sent one (0), or forgotten by a re-arm
                continue
            # The controller's velocity now: the next path's first step changes it by at
            # most the acceleration limit times a period (on a point: the segment that
            # reached it, as a command's velocity is the step that reached it).
            p, v = self._on_path(serial, now, incoming=True)
            joints = waiting & (self._path_of == serial)
            out[joints] = p[joints]
            velocity[joints] = v[joints]
        return out, waiting, velocity

    def _paths_given(self) -> np.ndarray:
        """(A + H,) the serial of the path each joint's controller runs: the one it was last
        sent (`path_sent`), else the newest (a decoder that does not report its messages)."""
        return np.where(self._path_of > 0, self._path_of, self._newest_path)

    def _on_path(self, serial: int, t: float, *,
                 incoming: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Where path `serial`, followed from its start command, is at node-clock time `t`,
        and its velocity there (`position_on_path`)."""
        sent, times, rows, start = self._paths[serial]
        return position_on_path(np.concatenate([[sent], sent + times]),
                                np.vstack([start, rows]), t, incoming=incoming)

    def _catch_up(self, now: float, mono: float | None) -> None:
        """After a stall (no command for more than `STALL_GAP` periods), tell the limiter
        where the controllers took the joints meanwhile: the joints of controllers that hold
        their target stand still at the last command; those that follow a path go on from
        where the path their controller was last sent has them (`path_sent`; with
        `every_n_ticks` > 1 an older one than the newest), at its velocity there (at rest past
        its end)."""
        lim = self.limiter
        if lim.last is None or not lim.stalled(now, mono):
            return
        lim.resume(*self._held(now))
        # A stop fixed before the stall lies ahead of where the joints stopped meanwhile:
        # stop again from here, rather than start the stopped joints towards it.
        self._brake_target = None
        if self._hold_target is not None and not self._hold_measured:
            self._hold_target = lim.stopping_point()

    def _held(self, now: float) -> tuple[np.ndarray, np.ndarray]:
        """Where the controllers have the joints at `now`, and at what velocity (A + H,
        each): those that hold their target at the last command, at rest; those that follow
        a path where the path their controller was last sent has them (`path_sent`; with
        `every_n_ticks` > 1 an older one than the newest), at its velocity there (at rest
        past its end)."""
        lim = self.limiter
        position, velocity = lim.last.copy(), np.zeros(lim.dim)
        given = self._paths_given()
        if self._rearm is not None:
            # Re-armed, and no message since for some controllers: those joints stand where
            # the re-arm started them (`_as_sent` holds them there), not on the newest path,
            # which no controller was sent.
            given = np.where(self._path_of > 0, given, 0)
        for serial in np.unique(given[self.path_joints]):
            if serial not in self._paths:
                continue
            # A command is the position a period after the one before it (`path` starts
            # from the current command as now's): the next command, one step on from the
            # path a period ago, is where the controller is now.
            p, v = self._on_path(serial, now - lim.dt)
            joints = self.path_joints & (given == serial)
            position[joints] = p[joints]
            velocity[joints] = v[joints]
        return position, velocity

    @property
    def _action_dim(self) -> int:
        return self.limiter.dim - self.held_posture.shape[0]

    def path(self, now: float, lead_s: float) -> tuple[np.ndarray, np.ndarray]:
        """The safe future for trajectory decoders: (times (N,), positions (N, A)).

        Running with a chunk ahead: first a point every `lead_s` (one control period) for
        `path_ticks` periods, each the command the loop will give then with no newer plan
        (the chunk mode's target, `ChunkExecutor.preview`, one limited step on from the
        point before), then the newest chunk's rows after those, with what the chunk mode
        commands there (`ChunkExecutor.future`), made safe from the last point; all from
        the current command and its velocity (the command counts as now's). A controller
        therefore runs through the same positions a forward-command controller is sent,
        period by period, until its next message: a first point at the chunk's next row,
        up to one row gap ahead, let its velocity change by the acceleration limit times
        that gap within one period. The chunk's own timing after them keeps a controller
        sent only every n-th path going at the plan's speed. In a hold, while braking
        (`brake`) or before the first chunk, it brakes from the current command, a point
        every `lead_s`, and stays at rest to the end of those periods. Either way it ends with
        the points that brake it to rest (`CommandLimiter.path_to_rest`), so a trajectory
        controller left without newer messages stops within the limits. With `path_grid`
        the points a period apart lie on the grid of the paths sent, the first one or two
        kept from the path each controller runs (`_kept_knots`) when the tick came off it.
        """
        last = self.limiter.last
        if last is None:
            raise RuntimeError("CommandLoop.path() before the first published command")
        kept_t, kept, keep = self._kept_knots(now, lead_s)  # (K,), (K, A + H), (A + H,)
        n = kept_t.size
        # The points a period apart: the kept knots, then more on the same grid, covering at
        # least `path_ticks` periods, and with `path_grid` the knots the next path will keep
        # (up to `MIN_FIRST_KNOT` periods after a tick up to a period late) besides: beyond
        # them come the chunk's rows, whose gaps allow larger steps than a period's.
        cover = self.path_ticks + (math.ceil(MIN_FIRST_KNOT) if self._grid_joints().any()
                                   else 0)
        start = float(kept_t[-1]) if n else 0.0
        more = max(int(math.ceil(cover - start / lead_s - 1e-9)), 1)
        grid_t = np.concatenate([kept_t, start + lead_s * np.arange(1, more + 1)])  # (G,)
        passing = np.zeros((grid_t.size, last.shape[0]), dtype=bool)
        passing[:n] = keep

        def on_grid(targets: np.ndarray) -> np.ndarray:
            """`targets` (G, A + H) with the kept knots in place."""
            out = np.array(targets, dtype=np.float64)
            out[:n] = np.where(keep, kept, out[:n])
            return out

        running = self.supervisor.state == SafetyState.RUNNING and self._brake_target is None
        future = self.executor.future(now) if running else None
        if future is not None:
            future_t, future_rows = future
            keep_rows = future_t > grid_t[-1] + 1e-9
            ahead_t = np.concatenate([grid_t, future_t[keep_rows]])  # (N,)
            targets = np.vstack([self.executor.preview(now, grid_t), future_rows[keep_rows]])
            held = np.broadcast_to(self.held_posture, (ahead_t.size, self.held_posture.size))
            ahead = np.hstack([targets, held])  # (N, A + H)
            ahead[:grid_t.size] = on_grid(ahead[:grid_t.size])
            passing = np.vstack([passing, np.zeros((ahead_t.size - grid_t.size, last.shape[0]),
                                                   dtype=bool)])
            gap = float(np.diff(future_t[keep_rows])[-1]) if keep_rows.sum() > 1 else lead_s
            return self._sent(now, *self.limiter.path_to_rest(ahead_t, ahead, t0=0.0,
                                                              gap=gap, passing=passing))
        ahead_t, ahead = kept_t, on_grid(np.broadcast_to(self.limiter.stopping_point(),
                                                         (n, last.shape[0])))
        passing = passing[:n]
        if (self.supervisor.state.holds and self._brake_target is None
                and self._hold_target is not None and self._hold_measured):
            # A hold towards a measured position (hold_measured, a tracking fault): the path
            # goes there as the next commands would, a period apart, then brakes to rest.
            ahead_t, passing = grid_t, np.pad(passing, ((0, grid_t.size - n), (0, 0)))
            ahead = on_grid(np.broadcast_to(self._hold_target, (grid_t.size, last.shape[0])))
        # Nothing ahead: braking from the current command (past the kept knots), a point
        # every lead_s, then at rest to the end of the grid: a path covers the same periods
        # as a running one. One that ended a period after its tick (at rest, the command at
        # lead_s) was refused by a stamped controller taking it up later than that ("ends in
        # the past", every message of a hold).
        times, rows = self.limiter.path_to_rest(ahead_t, ahead, t0=0.0, gap=lead_s,
                                                passing=passing)
        rest = last if times.size == 0 else rows[-1]
        tail = grid_t[grid_t > (times[-1] if times.size else 0.0) + ON_KNOT_S]
        times = np.concatenate([times, tail])
        rows = np.vstack([rows, np.broadcast_to(rest, (tail.size, last.shape[0]))])
        return self._sent(now, times, rows)

    def _kept_knots(self, now: float,
                    lead_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The knots of the paths sent that the next path keeps: (times (K,) from `now`,
        positions (K, A + H), joints (A + H,) bool), K in 0..2 (at MIN_FIRST_KNOT 1).

        A trajectory controller's velocity changes only at a path's points. The paths'
        points after the first lie a period apart, on one grid that each path inherits from
        the one before; a tick that comes off that grid (scheduling jitter: early, late)
        and sent a path whose first step changed the velocity at once gave the controller
        two velocity changes within less than a period, each up to the acceleration limit
        times a period: 2.3 times the limit at ticks 0.3 ms late (bench/trajectory_jitter.py).
        So the next path keeps the path each joint's controller runs up to a knot at least
        `MIN_FIRST_KNOT` periods after the tick, and changes course only there: the
        controller takes the message up milliseconds after the tick, and a path that parted
        from the one it ran before then stepped it across (a tick on a knot that changed
        course at once: 2.3-3.1 times the limit from a real node, bench/trajectory_stream.py).
        With no path to keep (a start, a re-arm, a node clock that went back), the
        trajectory joints whose command is at rest keep it up to a knot a period on, the
        first of a fresh grid; moving ones keep nothing. Otherwise joints never sent a
        path keep nothing, and without `path_grid` (a controller that times a path from
        when it takes it up: keeping knots shortens the first segment, which magnifies that
        delay) nothing is kept."""
        empty = (np.zeros(0), np.zeros((0, self.limiter.dim)), np.zeros(self.limiter.dim, bool))
        grid = self._grid_joints()
        if not grid.any():
            return empty
        fresh = self._newest_path not in self._paths
        if not fresh and now < self._paths[self._newest_path][0]:
            fresh = True  # the node clock went back: the grid is on the old timeline
        if fresh:
            # No path to keep (a start, a re-arm, a clock that went back): at rest, the
            # controllers hold the command, and the path keeps it for a period all the same
            # (a fresh grid), as they take the message up milliseconds after the tick; one
            # that left it at once stepped them 1.6-2.1 times the acceleration limit.
            velocity = self.limiter.last_velocity
            resting = grid & (True if velocity is None else np.abs(velocity) <= REST_SPEED)
            if not resting.any():
                return empty
            return (np.array([MIN_FIRST_KNOT * lead_s]), self.limiter.last[None, :].copy(),
                    resting)
        sent, times, _, _ = self._paths[self._newest_path]
        first = sent + float(times[0])  # a knot of the grid
        place = (now - first) / lead_s
        # The knots after now, from a period on (`MIN_FIRST_KNOT`). A tick within `ON_KNOT_S`
        # of a knot (or rounding, at a wall clock's seconds since 1970) is on it: a first
        # segment of 1e-14 s made the limiter's step from it divide rounding by that.
        tolerance = max(ON_POINT_ULPS * float(np.spacing(abs(now))), ON_KNOT_S)
        on_knot = abs(place - round(place)) * lead_s <= tolerance
        knots = [first + (round(place) + 1 if on_knot else math.ceil(place)) * lead_s]
        while knots[-1] - now < MIN_FIRST_KNOT * lead_s - tolerance:
            knots.append(knots[-1] + lead_s)
        keep = grid & (self._path_of > 0)
        positions = np.zeros((len(knots), self.limiter.dim))
        for serial in np.unique(self._path_of[keep]):
            joints = keep & (self._path_of == serial)
            if serial not in self._paths:
                keep = keep & ~joints
                continue
            for i, t in enumerate(knots):
                positions[i, joints] = self._on_path(serial, t)[0][joints]
        if not keep.any():
            return empty
        return np.array(knots) - now, positions, keep

    def _grid_joints(self) -> np.ndarray:
        """(A + H,) the path joints on the knot grid (`path_grid`)."""
        if isinstance(self.path_grid, (bool, np.bool_)):
            return self.path_joints & bool(self.path_grid)
        return self.path_joints & np.asarray(self.path_grid, dtype=bool).reshape(-1)

    def _sent(self, now: float, times: np.ndarray,
              rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Keep the path (times from `now`) with the command it starts from, for
        `_catch_up`; returns it, read-only: every decoder gets these arrays and the loop
        keeps them, so a plugin that wrote into them (units converted in place) would
        change what the next decoder sends and where the joints go on from after a stall."""
        times, rows = np.asarray(times), np.asarray(rows)
        times.flags.writeable = False
        rows.flags.writeable = False
        self._newest_path += 1
        self._paths[self._newest_path] = (now, times, rows, self.limiter.last)
        self._keep_paths_in_use()
        return times, rows

    def path_sent(self, joints: np.ndarray) -> None:
        """The newest path (`path`) went to the controllers of `joints` (indices into the
        A + H command vector): after a stall they go on from it. The node reports each
        trajectory decoder that published; a joint never reported goes on from the newest."""
        if self._newest_path:
            self._path_of[np.asarray(joints, dtype=np.int64)] = self._newest_path
            self._keep_paths_in_use()

    def _keep_paths_in_use(self) -> None:
        used = {self._newest_path, *self._path_of[self.path_joints].tolist()}
        for serial in [k for k in self._paths if k not in used]:
            del self._paths[serial]

    def _forget_paths(self) -> None:
        self._paths.clear()
        self._path_of[:] = 0

    def _hold_paths_at(self, start: np.ndarray) -> None:
        """At a (re)arm, the trajectory joints stay at `start` until their controller's first
        message (which a decoder sent every n-th tick may send up to n - 1 commands later;
        for at most `path_ticks` commands, so a decoder that never reports its messages is
        not held for good): the message then starts from where they were commanded, at
        rest, rather than from commands of a plan the controller never got. Counted in
        commands, not time: a stall or a stepped clock does not end the wait early."""
        self._rearm = (np.asarray(start, dtype=np.float64).copy(), self.path_ticks)


def position_on_path(times: np.ndarray, rows: np.ndarray, t: float, *,
                     incoming: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Where a path of points (times (N,) increasing, rows (N, A)), followed piecewise
    linearly, is at time `t`, and its velocity there: (position (A,), velocity (A,)). Before
    its start: its first point at rest; past its end: its last point at rest (a path
    ends at rest). On a point itself, the velocity of the segment leaving it, or with
    `incoming` of the one arriving at it (a command's velocity: the step that reached it);
    within ON_POINT_ULPS of a point's time counts as on it (a tick a period after a path was
    made lands on its first point up to rounding)."""
    n = times.shape[0]
    if t <= times[0]:
        return rows[0].copy(), np.zeros(rows.shape[1])
    i = min(int(np.searchsorted(times, t, side="right")) - 1, n - 1)  # times[i] <= t
    arriving = None
    if incoming:  # on point i, or just before point i + 1: the segment that reaches it
        rounding = ON_POINT_ULPS * float(np.spacing(abs(t)))
        if i > 0 and t - times[i] <= rounding and times[i] > times[i - 1]:
            arriving = i - 1
        elif i + 1 < n and times[i + 1] - t <= rounding:
            arriving = i
    if i == n - 1:  # past the end
        velocity = np.zeros(rows.shape[1])
        if arriving is not None and times[i] > times[i - 1]:
            velocity = (rows[i] - rows[i - 1]) / (times[i] - times[i - 1])
        return rows[-1].copy(), velocity
    segment = (rows[i + 1] - rows[i]) / (times[i + 1] - times[i])
    position = rows[i] + segment * (t - times[i])
    if arriving is None or arriving == i:
        return position, segment
    return position, (rows[i] - rows[i - 1]) / (times[i] - times[i - 1])
