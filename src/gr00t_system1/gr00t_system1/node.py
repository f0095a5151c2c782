"""The System 1 node: joint states + embedding tokens -> safe joint commands at 120 Hz.

Wiring only; the decisions live in ROS-free modules (joint_mapping, tokens, planner, loop,
safety, chunk, execution, rtc). A managed (lifecycle) node (gr00t_common.lifecycle):

- configure: parameters, the embodiment, the checkpoint (PolicyBundle), the decoders (checked
  against the running ros2_control controllers' joints: controller_check), the runner and
  one warm-up inference; the subscriptions, the enable service and the (lifecycle)
  publishers. A failure is logged with its reason and the node stays unconfigured.
- activate: a fresh control loop, the inference thread and the control and diagnostics
  timers (steady clock; the node clock under use_sim_time); chunks and diagnostics are
  published. Commands follow `/gr00t/enable`.
- deactivate: commands brake a moving arm to rest within the acceleration limits (label
  "deactivating"), then the timers and the inference thread stop before the transition
  returns: no command after it (the controllers keep their last target, standing still). Activating again starts a new
  control loop, so the first command starts from the measured position, as enabling does.
- cleanup / shutdown: everything configure built is released.

Threads while active:

- the executor thread (SingleThreadedExecutor) runs the control timer, the subscriptions,
  the enable service and the 1 Hz diagnostics. The timer callback never waits for
  inference: it reads the newest plan reference, computes the command and publishes it;
- the inference thread (`InferenceWorker`) replans on every new joint state (at most every
  replan_period_ms) with the newest tokens and publishes each chunk on /gr00t/action_chunk.

The safety state goes out on /gr00t/safety_state (gr00t_msgs/SafetyState) whenever it
changes, before that tick's commands, and as "deactivating" before the braking of a
deactivation: what tells the policy's commands from System 1's own holding and braking in a
recording (gr00t-dataset from-bag) or an evaluation. Transient local: a subscriber that joins
later gets the state in force.

`/gr00t/enable` is the fast switch inside the active state: disabled (`/gr00t/enable` false,
or `start_enabled` false at configure) means no commands are published while the node stays
active, plans and publishes chunks, once a moving arm has been braked to rest (commands
labelled "disabled", within the acceleration limits); the robot's controllers keep that last
target. Enabled again while braking, the commands go on from the braking ones; enabled
later, from the command the controllers hold where the robot is measured near it (a sag
under gravity), else from the measured position (`CommandLoop._starts_from_measured`), so
the first commands move away from where the robot is held. The flag is kept across deactivate/activate (set at
configure from `start_enabled`); it can be set in any state once configured, and commands
flow only when the node is active AND enabled. Deactivate is the full stop. A latched fault
clears only when a person cycles the switch, false then true: true while enabled with a
fault latched is refused (success false), naming the fault and saying so.
"""

from __future__ import annotations

import array
import gc
import sys
import time

import numpy as np
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import JointState
from std_srvs.srv import SetBool

from gr00t_common.enable_reply import with_cleared
from gr00t_common.lifecycle import ManagedNode, run_managed
from gr00t_common.params import ParameterError
from gr00t_common.message_info import sequence_number
from gr00t_common.safety_topic import SAFETY_STATE_QOS, SAFETY_STATE_TOPIC
from gr00t_common.stamps import seconds_to_stamp, stamp_to_seconds
from gr00t_common.stats import RateCounter, RollingWindow, Throttle
from gr00t_msgs.msg import ActionChunk, EmbeddingTokens, SafetyState as SafetyStateMsg
from gr00t_policy.embodiment.plausibility import PositionCheck
from gr00t_system1 import params
from gr00t_system1.clock_check import ClockCheck
from gr00t_system1.controller_check import check_controllers, log_lines
from gr00t_system1.decoders import make_decoders
from gr00t_system1.loop import MIN_FIRST_KNOT, CommandLoop
from gr00t_policy.runtime.execution import make_executor
from gr00t_policy.runtime.planner import Plan, StateSample, TokenSample
from gr00t_policy.runtime.rtc import RtcLink, RtcSampling
from gr00t_policy.runtime.worker import InferenceWorker, Mailbox
from gr00t_system1.inputs import Refusal, StateGate, TokenGate
from gr00t_system1.limiter import STALL_GAP, CommandLimiter
from gr00t_system1.safety import SafetyState, Supervisor
from gr00t_system1.tracking import TrackingMonitor
from gr00t_common.tokens import TokenDecoder
from gr00t_common.teardown import run_process

NODE_NAME = "gr00t_system1"
TOKENS_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                        history=HistoryPolicy.KEEP_LAST, durability=DurabilityPolicy.VOLATILE)
# Best effort receives from reliable and best-effort publishers alike; only the newest
# joint state matters.
STATE_QOS = QoSProfile(depth=5, reliability=ReliabilityPolicy.BEST_EFFORT,
                       history=HistoryPolicy.KEEP_LAST, durability=DurabilityPolicy.VOLATILE)
CHUNK_QOS = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE,
                       history=HistoryPolicy.KEEP_LAST, durability=DurabilityPolicy.VOLATILE)
# The state (and the commands' label) while a deactivation brakes.
DEACTIVATING = SafetyStateMsg.STATE_DEACTIVATING
LOG_THROTTLE_S = 2.0  # at most one log line per kind of refused input this often
# This many stalls in a second (limiter.STALL_GAP) or more are named in the log.
STALLS_WARN_PER_S = 3
# Every diagnostics counter of refused inputs (published from the start, at 0).
REFUSAL_COUNTERS = (
    "dropped_joint_states_missing", "dropped_joint_states_non_finite",
    "dropped_joint_states_invalid", "dropped_joint_states_two_publishers",
    "implausible_joint_states", "refused_future_stamp_joint_states",
    "refused_old_stamp_joint_states", "refused_tokens", "refused_tokens_implausible",
    "refused_future_stamp_tokens", "refused_old_stamp_tokens")
GIL_SWITCH_INTERVAL_S = 0.0005


class System1Node(ManagedNode):
    """A managed node: configure loads the embodiment and the runner and wires the topics,
    activate starts the loop and the threads, deactivate stops them (module docstring)."""

    deactivated_message = "deactivated: no commands are published; controllers keep their " \
                          "last target"

    def __init__(self) -> None:
        super().__init__(NODE_NAME)
        self.enabled = False
        self.worker: InferenceWorker | None = None
        self.timer = self.diag_timer = None

    # -- lifecycle transitions (gr00t_common.lifecycle.ManagedNode) ------------------------

    def _after_configure(self) -> None:
        # Everything allocated so far (models, sessions, messages types) lives until cleanup:
        # move it out of the garbage collector's sight, so that a full collection, which
        # stops every thread, only walks what the loop allocates afterwards.
        gc.collect()
        gc.freeze()

    def _activate(self) -> None:
        # A fresh loop: its first publishing tick starts the limiter from the measured
        # position, so reactivating never jumps to where the robot was commanded before.
        self.loop = self._new_loop()
        self.fault = None  # activating is a person's decision too, like /gr00t/enable
        self.worker = InferenceWorker(self.planner, self.mailbox, is_fresh=self._inputs_fresh,
                                      on_plan=self._publish_chunk, log=self.get_logger(),
                                      niceness=self.settings.inference_niceness,
                                      delay_s=self.settings.inference_delay_ms / 1e3,
                                      min_period_s=self.settings.replan_period_ms / 1e3)
        self._last_tick = None
        self._last_plan_seq_seen = 0
        self._state_sent: tuple[str, int] | None = None  # (state, transitions) last published
        self._stalls_reported = 0  # the limiter's stall count at the last diagnostics
        self._stale_plans_reported = 0  # the loop's refused plans (stale, run out) at the last
        self._hang_warned: tuple[int, int] | None = None  # the plan in progress warned about
        self.worker.start()
        # Steady unless on sim time (ManagedNode.create_timer): a stepped wall clock must not
        # stop the ticks. The commands' times stay on the node clock (_command_time).
        self.timer = self.create_timer(self.period, self._on_tick)
        self.diag_timer = self.create_timer(1.0, self._publish_diagnostics)
        self.get_logger().info(
            "activated: " + ("enabled, commands start once the inputs are fresh" if self.enabled
                             else "disabled, no commands until /gr00t/enable true"))

    def _stop_activity(self) -> None:
        """Brake to rest, then stop the timers and the inference thread. Ticks run on this
        executor thread, so no command is published once this returns."""
        if self.timer is not None and self.context.ok():
            self._brake_to_rest()
        for timer in (self.timer, self.diag_timer):
            if timer is not None:
                self.destroy_timer(timer)
        self.timer = self.diag_timer = None
        if self.worker is not None:
            self.worker.stop()
            self.worker = None

    def _brake_to_rest(self) -> None:
        """Publish the loop's braking commands, one a control period, until the last command
        is at rest (`CommandLoop.brake`; at most the longest velocity / acceleration limit
        ratio, plus a margin): deactivating while the arm moves leaves the controllers a
        target that stands still, not one that stops dead. Nothing when at rest already and
        no trajectory controller's path still moves (`CommandLoop.brake`)."""
        # The trajectory joints keep to the path sent until the next message: up to
        # path_ticks periods before they brake.
        deadline = time.monotonic() + self.loop.limiter.longest_stop_s + \
            (10 + self.loop.path_ticks) * self.period
        braked, rested, announced = 0, False, False
        why = "deactivating: braking to rest, then no commands"
        while time.monotonic() < deadline:
            sent = time.monotonic()
            now = self._command_time()
            if self.loop.limiter.too_soon(now):
                # Not within MIN_GAP of the loop's last command, on the node clock (a
                # simulator's /clock may run slower than the wall clock).
                time.sleep(self.period / 4)
                continue
            if not announced:
                # Stamped as the first braking command, which follows it (SafetyState.msg);
                # stamped before the wait above it preceded that command by up to a period.
                self._send_state(DEACTIVATING, why, now)
                announced = True
            command = self.loop.brake(now, sent)
            if command is None:
                rested = True
                break
            path = self.loop.path(now, self.period) if self._needs_path else None
            try:
                self._publish(command, path, seconds_to_stamp(now), DEACTIVATING)
            except Exception as exc:  # noqa: BLE001 - rclpy raises its own error types
                if self.context.ok():
                    raise
                # The context shut down while braking (rclpy's own signal handlers, where
                # run_managed could not install its own): nothing can be sent.
                self.get_logger().warning(
                    f"stopped braking after {braked} commands: the ROS context shut down ({exc})")
                return
            self.commands += 1
            braked += 1
            # A period after this one, never sooner (no catching up after a late one).
            time.sleep(max(0.0, sent + self.period - time.monotonic()))
        if not announced:  # the node clock never left the last command's period
            self._send_state(DEACTIVATING, why, self._command_time())
        if not rested:  # the command, or a path a trajectory controller was sent, moves
            self.get_logger().warning(
                f"stopped braking after {braked} commands with the arm still moving: the node "
                "clock ran slower than the wall clock (a slow or stopped /clock); the "
                "controllers keep the last target")
        elif braked:
            self.get_logger().info(f"braked to rest in {braked} commands before stopping")

    def _release(self) -> None:
        """Destroy what configure created (publishers, subscriptions, service) and drop the
        models; the node is unconfigured again."""
        super()._release()
        for name in ("decoders", "planner", "mailbox", "loop", "token_gate", "state_gate",
                     "chunk_pub", "diag_pub", "state_pub", "rtc_link"):
            self.__dict__.pop(name, None)
        gc.unfreeze()

    # -- configure -----------------------------------------------------------------------

    def _configure(self) -> None:
        from gr00t_policy.embodiment import load_embodiment
        from gr00t_policy.embodiment.check import unbraked_warning
        from gr00t_policy.export import CacheDirError
        from gr00t_policy.runtime.bundle import PolicyBundle

        s = params.declare_and_read(self)
        self.settings = s
        emb = load_embodiment(s.embodiment)
        self.embodiment = emb
        if emb.unbraked_joints:
            self.get_logger().warn(unbraked_warning(emb))
        bundle = PolicyBundle.open(s.checkpoint, emb)

        self.rate_hz = s.control_rate_hz or emb.rates.system1_hz
        self.period = 1.0 / self.rate_hz
        self._state_stale = state_stale = s.state_staleness_s or emb.staleness.state_s
        self._token_stale = token_stale = s.token_staleness_s or emb.staleness.tokens_s
        self.enabled = emb.start_enabled if s.start_enabled is None else s.start_enabled
        if s.inference_delay_ms / 1e3 >= state_stale:
            raise ValueError(
                f"inference_delay_ms {s.inference_delay_ms:g} is not below state_staleness_s "
                f"{state_stale:g} s: every plan would come from a stale state and System 1 "
                "would only hold; raise state_staleness_s above the delay plus the plan "
                "latency (-p state_staleness_s:=...)")
        self._chunk_span_s = span = (bundle.config.action_head.action_horizon - 1) * emb.action_dt
        if (s.replan_period_ms + s.inference_delay_ms) / 1e3 >= span:
            raise ValueError(
                f"replan_period_ms {s.replan_period_ms:g} plus inference_delay_ms "
                f"{s.inference_delay_ms:g} is not below the {span * 1e3:g} ms a chunk covers: "
                "each chunk would run out before the next plan arrives and System 1 would "
                "hold between them; lower them (-p replan_period_ms:=...)")

        # Decoders first: an unknown type or bad joints fails before the slow runner build.
        # They command the action joints, then any held joints driven to their held position.
        self.action_joints = emb.action_joints
        # Plans asking for positions beyond the limits by more than the plausibility margin
        # (`_check_plan`): the limiter clamps them, so only this names them.
        self.action_check = PositionCheck.of(emb, emb.action_joints)
        self.decoders = make_decoders(self, emb.controllers, emb.command_joints, s.joint_prefix)
        # The running ros2_control controllers take these joints in this order (raises if not).
        log_lines(self.get_logger(), check_controllers(self, self.decoders))
        self._needs_path = any(d.wants_path for d in self.decoders)
        # Paths stamped with our ticks are played on the controller manager's clock.
        self.clock_check = (ClockCheck(MIN_FIRST_KNOT * self.period)
                            if any(d.stamped_paths for d in self.decoders) else None)

        token_range = bundle.token_range(s.token_range_tolerance)
        if token_range is None:
            self.get_logger().warn(
                f"{s.checkpoint} records no token_stats: tokens are checked for shape and "
                "finiteness only, not for plausible values; add them with `gr00t-policy "
                "token-stats CHECKPOINT --dataset DATASET`")
        self.token_gate = TokenGate(
            TokenDecoder(bundle.backbone_id, bundle.num_tokens, bundle.token_dim), token_range,
            s.max_future_stamp_s, self._token_stale)
        self.state_gate = StateGate(emb, s.max_future_stamp_s, self._state_stale,
                                    joint_prefix=s.joint_prefix)
        t0 = time.monotonic()
        if s.backend == "torch":
            import torch

            if s.device == "cpu":
                torch.set_num_threads(s.ort_threads)
            # process-wide, read when the CUDA graph is captured: set before the runner exists
            torch.set_float32_matmul_precision(s.float32_matmul_precision)
        # rtc plans each chunk on from the previous ones: onnxruntime and TensorRT need the
        # guided (or prefix) graph beside the plain one (exported on first use and cached);
        # the blend method samples plainly.
        rtc = s.chunk_mode == "rtc"
        prefix_rows = bundle.config.action_head.prefix_rows
        sampling = (RtcSampling(RtcLink(), bundle.processor, s.rtc_guidance_clip,
                                method=s.rtc_method, prefix_rows=prefix_rows) if rtc else None)
        try:
            runner = bundle.action_runner(s.backend, num_steps=s.denoising_steps,
                                          device=s.device, cache_dir=s.cache_dir or None,
                                          num_threads=s.ort_threads,
                                          guidance=rtc and s.rtc_method == "guidance",
                                          prefix=rtc and s.rtc_method == "prefix")
        except CacheDirError as exc:  # onnxruntime and tensorrt export into it
            raise ParameterError(f"parameter cache_dir={s.cache_dir!r}: {exc}") from exc
        self.get_logger().info(
            f"{runner!r} on {s.backend} ready in {time.monotonic() - t0:.1f} s; embodiment "
            f"{emb.name} ({emb.action_dim} joints, {len(self.decoders)} controllers), "
            f"{self.rate_hz:g} Hz, staleness state {state_stale} s / tokens {token_stale} s, "
            f"on_stale {emb.on_stale}, {'enabled' if self.enabled else 'disabled'}; "
            f"chunk_mode {s.chunk_mode}" + (f" ({s.rtc_method})" if rtc else "")
            + (f", inference_delay_ms {s.inference_delay_ms:g}" if s.inference_delay_ms else "")
            + (f", replan_period_ms {s.replan_period_ms:g}" if s.replan_period_ms else "")
            + (f", joint_prefix {s.joint_prefix!r}" if s.joint_prefix else ""))
        self.rtc_link = sampling.link if sampling is not None else None

        self.fault: str | None = None  # latched until /gr00t/enable is cycled
        self.loop = self._new_loop()  # checks the limits now; activate makes a fresh one

        self.mailbox = Mailbox()
        self.planner = bundle.planner(runner, seed=None if s.seed < 0 else s.seed,
                                      noise_scale=s.noise_scale, sampling=sampling)
        warm = self.planner.warm_up()
        self.get_logger().info(f"warm-up inference took {1e3 * warm:.1f} ms")

        # Counters and statistics (executor thread only, except the worker's own counters).
        self.refused = dict.fromkeys(REFUSAL_COUNTERS, 0)
        self.plans_beyond_limits = 0  # plans with a row beyond the widened limits
        self.beyond_limits: str | None = None  # what the newest plan asked for, if so
        self.tokens_refused: str | None = None  # why the newest tokens were refused, if so
        self.state_refused: str | None = None  # why the newest joint state was refused, if so
        self._log_throttle = Throttle(LOG_THROTTLE_S)
        self.ticks = self.commands = self.deadline_misses = 0
        self.period_stats = RollingWindow(size=1200, late_threshold=2.0 * self.period)
        self.tick_cost = RollingWindow(size=1200)
        self.latency_stats = RollingWindow(size=240)
        self.state_to_command = RollingWindow(size=240)
        self._replans = RateCounter(time.monotonic())
        self._last_tick: float | None = None
        self._last_plan_seq_seen = 0

        self.chunk_pub = self.create_lifecycle_publisher(ActionChunk, "/gr00t/action_chunk",
                                                         CHUNK_QOS)
        self.diag_pub = self.create_lifecycle_publisher(DiagnosticArray, "/diagnostics", 10)
        self.state_pub = self.create_lifecycle_publisher(SafetyStateMsg, SAFETY_STATE_TOPIC,
                                                         SAFETY_STATE_QOS)
        self.create_subscription(JointState, "/joint_states", self._on_joint_state, STATE_QOS)
        self.create_subscription(EmbeddingTokens, "/gr00t/embedding_tokens", self._on_tokens,
                                 TOKENS_QOS)
        self.create_service(SetBool, "/gr00t/enable", self._on_enable)

    def _new_loop(self) -> CommandLoop:
        """A control loop (limiter, supervisor, chunk executor) in its initial state."""
        emb = self.embodiment
        lim = emb.command_limits()  # action joints, then commanded held joints
        limiter = CommandLimiter(lim["lower"], lim["upper"], lim["velocity"], self.period,
                                 acceleration=lim["acceleration"])
        supervisor = Supervisor(self._state_stale, self._token_stale, log=self._log_transition)
        held = np.array([emb.held(n).position for n in emb.commanded_held_joints])
        s = self.settings
        executor = make_executor(s.chunk_mode, blend_s=s.blend_s,
                                 ensemble_decay_per_s=s.ensemble_decay_per_s, link=self.rtc_link)
        # Joints of trajectory controllers: they run on along the last path in a stall; those
        # whose messages are stamped with the tick keep their paths on one grid.
        path_joints = np.zeros(limiter.dim, dtype=bool)
        grid_joints = np.zeros(limiter.dim, dtype=bool)
        for d in self.decoders:
            if d.wants_path:
                path_joints[d.indices] = True
                grid_joints[d.indices] = d.stamped_paths
        # Their paths go point by point through the next commands until the next message.
        sparsest = max((d.ticks_per_message for d in self.decoders if d.wants_path), default=1)
        tracked = set(emb.tracked_joints)
        tracking = TrackingMonitor(list(emb.command_joints), max_error=emb.tracking.max_error,
                                   for_s=emb.tracking.for_s,
                                   checked=np.array([n in tracked for n in emb.command_joints]))
        return CommandLoop(limiter, supervisor, executor=executor, on_stale=emb.on_stale,
                           held_posture=held, path_joints=path_joints,
                           path_ticks=sparsest + 1,
                           path_grid=grid_joints,
                           joint_names=list(emb.command_joints), tracking=tracking)

    # -- inputs --------------------------------------------------------------------------

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _command_time(self) -> float:
        """The node clock's time for a command; tells the loop whether that clock is a
        simulator's /clock (its stalls are then measured on it, `CommandLoop.sim_time`).
        Only where commands are made: the input callbacks, at the sensors' rates, need not."""
        clock = self.get_clock()
        self.loop.sim_time = bool(getattr(clock, "ros_time_is_active", False))
        return clock.now().nanoseconds * 1e-9

    def _refuse(self, refusal: Refusal) -> None:
        """Count a refused input, log it (throttled: a broken sensor fails every message) and
        latch its fault, if it carries one."""
        self.refused[refusal.counter] = self.refused.get(refusal.counter, 0) + 1
        # One throttle per kind of refusal, so that one kind never hides another.
        if self._log_throttle.allow(refusal.counter, time.monotonic()):
            if refusal.error:
                self.get_logger().error(refusal.message)
            else:
                self.get_logger().warn(refusal.message)
        if refusal.fault is not None and self.fault is None:
            self.fault = refusal.fault

    def _on_joint_state(self, msg: JointState, info: dict) -> None:
        arrival = time.monotonic()
        stamp, now = stamp_to_seconds(msg.header.stamp), self._now()
        got = self.state_gate.accept(msg.name, msg.position, stamp, now, arrival,
                                     seq=sequence_number(info))
        if isinstance(got, Refusal):
            self._refuse(got)
            self.state_refused = got.message
        else:
            self.state_refused = None
            self.mailbox.put_state(got)
        if (self.clock_check is not None and stamp != 0.0 and now > 0.0  # (sim: no /clock yet)
                and self.clock_check.add(now - stamp, arrival)
                and self._log_throttle.allow("clock_check", arrival)):
            self.get_logger().warn(self.clock_check.problem)

    def _on_tokens(self, msg: EmbeddingTokens) -> None:
        arrival = time.monotonic()
        got = self.token_gate.accept(msg, stamp_to_seconds(msg.header.stamp), self._now(),
                                     arrival)
        if isinstance(got, Refusal):
            self._refuse(got)
            self.tokens_refused = got.message
            if self.mailbox.withdraw_tokens(msg.instruction_id):
                self.get_logger().warn(
                    f"holding: the tokens of instruction {msg.instruction_id} "
                    f"({msg.instruction!r}) were refused (above), and instruction "
                    f"{self.mailbox.tokens.instruction_id} is replaced: no plan until its "
                    "tokens are accepted")
        else:
            self.tokens_refused = None
            self.mailbox.put_tokens(got)

    def _inputs_fresh(self, state: StateSample, tokens: TokenSample) -> bool:
        mono, now = time.monotonic(), self._now()
        sup = self.loop.supervisor
        return (self.fault is None and self.loop.tracking_fault is None
                and state.age(now, mono) <= sup.state_staleness_s
                and tokens.age(now, mono) <= sup.token_staleness_s)

    def _on_enable(self, request: SetBool.Request, response: SetBool.Response) -> SetBool.Response:
        loop = getattr(self, "loop", None)  # made when the node is configured
        latched = self.fault or (loop.tracking_fault if loop is not None else None)
        if request.data and self.enabled and latched:
            # Only a change clears a fault (a person acted on it): true again changes nothing,
            # and a reply saying "enabled" would hide that the robot is still held.
            response.success = False
            response.message = (f"not enabled again: a fault is latched ({latched}) and the "
                                "commands hold; to clear it, call /gr00t/enable with false, "
                                "then true")
            self.get_logger().warning(response.message)
            return response
        cleared = []  # the caller is told what it cleared, not only the log
        if self.fault is not None and (not request.data or not self.enabled):
            # A person acted on it: the next joint state is checked afresh and latches the
            # fault again if the measurement is still implausible.
            cleared.append(self.fault)
            self.fault = None
        if not request.data and loop is not None and loop.tracking_fault is not None:
            # Cleared here, not at the next tick: off and on again within one tick is a cycle.
            cleared.append(loop.tracking_fault)
            loop.clear_tracking_fault()
        self.enabled = bool(request.data)
        response.success = True
        response.message = ("enabled: commands start from the measured position" if self.enabled
                            else "disabled: no commands are published; controllers keep their "
                                 "last target")
        if self.timer is None:
            response.message += " (the node is inactive: nothing is published until activated)"
        # A cleared fault latches again if its cause is still there (README).
        response.message = with_cleared(response.message, cleared)
        self.get_logger().info(response.message)
        return response

    # -- the control tick ----------------------------------------------------------------

    def _publish(self, command: np.ndarray, path: tuple[np.ndarray, np.ndarray] | None,
                 stamp: Time, label: str) -> None:
        """One command to every decoder; the loop learns which trajectory controllers got
        this tick's path (a decoder sent every n-th tick publishes on some only: its
        `published` count moves when it does). The command is read-only, as the path is
        (`CommandLoop.path`): every decoder gets the same arrays."""
        command.flags.writeable = False
        for d in self.decoders:
            before = d.published
            d.publish(command, path, stamp, label)
            if d.wants_path and d.published != before:
                self.loop.path_sent(d.indices)

    def _on_tick(self) -> None:
        mono = time.monotonic()
        if self._last_tick is not None:
            self.period_stats.add(mono - self._last_tick)
        self._last_tick = mono
        self.ticks += 1
        now = self._command_time()
        plan = self.worker.latest
        r = self.loop.tick(now, mono, enabled=self.enabled, state=self.mailbox.state,
                           tokens=self.mailbox.tokens, plan=plan,
                           worker_healthy=self.worker.healthy,
                           worker_problem=self.worker.problem, fault=self.fault,
                           planning_s=self.worker.in_progress_s(mono),
                           tokens_refused=self.tokens_refused,
                           state_refused=self.state_refused)
        supervisor = self.loop.supervisor
        if self._state_sent != (r.state.value, supervisor.transitions):
            self._send_state(r.state.value, supervisor.reason, now, supervisor.transitions)
        if r.command is not None:
            path = self.loop.path(now, self.period) if self._needs_path else None
            self._publish(r.command, path, seconds_to_stamp(now), r.state.value)
            if self.clock_check is not None:
                self.clock_check.add_send(self._now() - now)
            self.commands += 1
        if r.state == SafetyState.RUNNING:
            seq = plan.seq if plan is not None else 0
            if seq == self._last_plan_seq_seen:
                self.deadline_misses += 1  # no new plan since the previous tick
            self._last_plan_seq_seen = seq
        if r.new_plan is not None:
            self.latency_stats.add(r.new_plan.latency_s)
            self.state_to_command.add(self._now() - r.new_plan.state.stamp)
        self.tick_cost.add(time.monotonic() - mono)

    # -- outputs from the inference thread -------------------------------------------------

    def _check_plan(self, plan: Plan) -> None:
        """Name a plan that asks for positions beyond the limits by more than the plausibility
        margin (inference thread): the limiter clamps every command, so a damaged checkpoint
        (actions of 1e5 rad) drove each joint to its limit at the velocity limit while the
        node reported "running", level OK. The commands stay as they are: this only names
        it (diagnostics, a throttled warning)."""
        self.beyond_limits = self.action_check.plan_problem(plan.chunk.rows, f"plan {plan.seq}")
        if self.beyond_limits is None:
            return
        self.plans_beyond_limits += 1
        if self._log_throttle.allow("plans_beyond_limits", time.monotonic()):
            self.get_logger().warn(self.beyond_limits)

    def _publish_chunk(self, plan: Plan) -> None:
        self._check_plan(plan)
        self._replans.add()
        if not self.context.ok():
            return  # shutting down: the inference thread is about to be stopped
        msg = ActionChunk()
        msg.header.stamp = seconds_to_stamp(plan.state.stamp)
        # The YAML's names, without joint_prefix: the chunk is the policy's output (before
        # the limits), read by our tools against the YAML, not by the robot's controllers.
        msg.joint_names = list(self.action_joints)
        msg.horizon = plan.chunk.horizon
        msg.action_dt = plan.chunk.action_dt
        msg.positions = array.array("d", np.ascontiguousarray(plan.chunk.rows).tobytes())
        msg.instruction_id = plan.instruction_id
        msg.inference_latency = float(plan.latency_s)
        try:
            self.chunk_pub.publish(msg)
        except Exception:  # noqa: BLE001 - only a shutdown race is expected here
            if self.context.ok():
                raise

    # -- diagnostics -----------------------------------------------------------------------

    def _publish_diagnostics(self) -> None:
        sup = self.loop.supervisor
        state = sup.state
        stalls = self.loop.limiter.stalls - self._stalls_reported
        self._stalls_reported = self.loop.limiter.stalls
        if stalls >= STALLS_WARN_PER_S:  # (this timer runs once a second)
            self.get_logger().warning(
                f"{stalls} stalls in the last second: commands came more than "
                f"{STALL_GAP:g} control periods apart on the node clock, and each time the "
                "moving joints started again from rest (an overloaded machine; with "
                f"use_sim_time, a /clock published slower than "
                f"{self.rate_hz / STALL_GAP:.0f} Hz: the timer ticks on it)")
        refused = self.loop.stale_state_plans + self.loop.run_out_plans
        stale_plans = refused - self._stale_plans_reported
        self._stale_plans_reported = refused
        if stale_plans and self.loop.plans_refused is not None:
            # The state does not change while every plan is refused (waiting, or holding):
            # the transition log alone said "waiting for the first plan".
            self.get_logger().warning(f"{stale_plans} plan(s) refused in the last second: "
                                      f"{self.loop.plans_refused}")
        busy = self.worker.in_progress_s(time.monotonic())
        ended = (self.worker.plans, self.worker.failures)  # changes when a plan ends
        if busy is not None and busy > self._chunk_span_s and self._hang_warned != ended:
            self._hang_warned = ended
            self.get_logger().warning(
                f"a plan has been in progress for {busy:.3f} s, longer than the "
                f"{self._chunk_span_s:g} s a chunk covers: inference is stalled (a hung runner "
                "or GPU driver) or far too slow; System 1 holds until a plan comes "
                "(diagnostics plan_in_progress_ms)")
        p50, p99 = self.period_stats.percentiles_ms(50, 99)
        e50, e90, e99 = self.period_stats.percentiles_ms(50, 90, 99, around=self.period)
        l50, l99 = self.latency_stats.percentiles_ms(50, 99)
        s50, s99 = self.state_to_command.percentiles_ms(50, 99)
        c50, c99 = self.tick_cost.percentiles_ms(50, 99)
        values = {
            "safety_state": state.value,
            "reason": sup.reason,
            "enabled": str(self.enabled).lower(),
            "control_rate_hz": f"{self.rate_hz:g}",
            "period_median_ms": f"{p50:.3f}",
            "period_p99_ms": f"{p99:.3f}",
            "period_max_ms": f"{self.period_stats.recent_max() * 1e3:.3f}",
            "period_max_all_ms": f"{self.period_stats.max_all * 1e3:.3f}",
            "period_error_p50_ms": f"{e50:.3f}",
            "period_error_p90_ms": f"{e90:.3f}",
            "period_error_p99_ms": f"{e99:.3f}",
            "ticks": str(self.ticks),
            "ticks_late_2x_period": str(self.period_stats.late),
            "tick_cost_median_ms": f"{c50:.3f}",
            "tick_cost_p99_ms": f"{c99:.3f}",
            "commands_published": str(self.commands),
            "inference_latency_median_ms": f"{l50:.3f}",
            "inference_latency_p99_ms": f"{l99:.3f}",
            "state_to_command_median_ms": f"{s50:.3f}",
            "state_to_command_p99_ms": f"{s99:.3f}",
            "replans_per_s": f"{self._replans.rate(time.monotonic()):.1f}",
            "replans_total": str(self.worker.plans),
            "deadline_misses": str(self.deadline_misses),
            "planning_failures": str(self.worker.failures),
            "plans_for_replaced_instruction": str(self.loop.stale_instruction_plans),
            "plans_from_stale_state": str(self.loop.stale_state_plans),
            "plans_run_out_on_arrival": str(self.loop.run_out_plans),
            "plans_beyond_limits": str(self.plans_beyond_limits),
            "plan_beyond_limits": self.beyond_limits or "",
            **{key: str(count) for key, count in self.refused.items()},
            "fault": self.fault or self.loop.tracking_fault or "",
            "nonfinite_targets_replaced": str(self.loop.limiter.nonfinite_replaced),
            "clock_jumps_back": str(self.loop.limiter.clock_jumps_back),
            "stalls_while_moving": str(self.loop.limiter.stalls),
            **({} if self.clock_check is None else {
                "controller_clock_offset_ms": f"{self.clock_check.offset_s * 1e3:.3f}",
                "path_send_delay_p99_ms": f"{self.clock_check.send_p99_s * 1e3:.3f}",
                "clock_problem": self.clock_check.problem or ""}),
            "chunk_mode": self.settings.chunk_mode,
            "inference_delay_ms": f"{self.settings.inference_delay_ms:g}",
            "replan_period_ms": f"{self.settings.replan_period_ms:g}",
            "plan_latency_estimate_ms": f"{self.worker.latency.value * 1e3:.3f}",
            "plan_in_progress_ms": "" if busy is None else f"{busy * 1e3:.3f}",
            **self.loop.tracking.summary(),
        }
        if self.rtc_link is not None:
            values["rtc_frozen_rows"] = str(self.planner.sampling.last_frozen_rows)
            values["rtc_method"] = self.settings.rtc_method
        clock_problem = None if self.clock_check is None else self.clock_check.problem
        status = DiagnosticStatus()
        status.name = f"{NODE_NAME}: control loop"
        status.hardware_id = self.embodiment.name
        if state == SafetyState.FAULT:
            status.level = DiagnosticStatus.ERROR
        elif (state.holds or state == SafetyState.WAITING or self.beyond_limits is not None
              or clock_problem):
            status.level = DiagnosticStatus.WARN
        else:
            status.level = DiagnosticStatus.OK
        status.message = f"{state.value}: {sup.reason}"
        if self.beyond_limits is not None:
            status.message += f"; {self.beyond_limits}"
        if clock_problem:
            status.message += f"; {clock_problem}"
        status.values = [KeyValue(key=k, value=v) for k, v in values.items()]
        msg = DiagnosticArray()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.status = [status]
        self.diag_pub.publish(msg)

    def _send_state(self, state: str, reason: str, now: float, transitions: int = -1) -> None:
        """Publish the safety state (`SAFETY_STATE_TOPIC`), stamped `now` (the tick's time)."""
        msg = SafetyStateMsg()
        msg.header.stamp = seconds_to_stamp(now)
        msg.state = state
        msg.previous = self._state_sent[0] if self._state_sent is not None else ""
        msg.reason = reason
        self.state_pub.publish(msg)
        self._state_sent = (state, transitions)

    def _log_transition(self, old: SafetyState, new: SafetyState, reason: str) -> None:
        text = f"safety state {old.value} -> {new.value}: {reason}"
        if new.holds:
            self.get_logger().warn(text)
        else:
            self.get_logger().info(text)


def main(args: list[str] | None = None) -> int:
    """Run the node until SIGINT/SIGTERM (`gr00t_common.lifecycle.run_managed`: 0 on a clean
    stop, 1 when it cannot start, 2 on a malformed command line). A signal while active
    deactivates it first: a moving arm is braked to rest (a second signal exits at once).
    Without autostart it waits unconfigured for a lifecycle manager."""
    # The inference thread runs Python between onnxruntime calls; a short GIL switch interval
    # bounds how long the control timer can wait for the GIL (default 5 ms).
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    return run_managed(System1Node, NODE_NAME, args)


def run() -> None:
    """The process's entry point (`system1_node`, `python -m`): `main`, then the exit with its
    status, bounded (`gr00t_common.teardown.run_process`)."""
    run_process(main)


if __name__ == "__main__":
    run()
