"""System 2 node: camera images + instruction in, EmbeddingTokens out at ``rate_hz``.

Wiring only: parameters (params.py), camera subscriptions that fit each camera's publishers
(cameras.py), image checks and conversion (image.py), the instruction in force
(instruction.py) and newest frames and the republish rule (frames.py) live in their own
modules; the token wire format (gr00t_common.tokens, shared with System 1) and rolling
statistics (gr00t_common.stats) in gr00t_common; the backbone is gr00t_policy's
BackboneRunner.

A managed (lifecycle) node (gr00t_common.lifecycle): configure reads the parameters, loads
the backbone, warms it up and creates the subscriptions, the SetInstruction service and
the (lifecycle) publishers, so frames and instructions are taken from then on; activate
starts the inference thread and the diagnostics timer; deactivate stops both before it
returns (no tokens while inactive); cleanup releases what configure built. A configure
failure is logged with its reason and the node stays unconfigured.

Threads while active: the executor thread runs the camera and instruction subscriptions, the
SetInstruction service, the camera subscription check and the 1 Hz diagnostics timer; it
only checks each camera message's layout and keeps the newest. One exception: with a
checkpoint whose instruction encoder is a pretrained language model (the nano-smollm2
preset), checking a new instruction runs that model once (24-50 ms on 2 cores; the states are
kept for the instruction, so repeating it costs nothing), in the service or topic callback.
A converter thread (converter.py) converts (or decodes) the newest message of every camera and resizes it to
the backbone's input size, timed to finish just before the next tick. A dedicated
inference thread ticks at ``rate_hz``, takes the newest frame of every camera and runs the
backbone. A slow inference therefore never delays a frame or a service reply, and when
inference is slower than the period the thread simply starts the next run at once with the
then-newest frames (no backlog). A tick that finds no new frame runs as soon as one arrives
instead of a period later, so a camera at about ``rate_hz`` is not halved by the beat
between its frames and the ticks. Publishing rules:
  - a camera never received, or whose newest frame arrived more than ``stale_image_s`` ago,
    blocks publishing (diagnostics ERROR names it; a warning every 2 s, from
    ``stale_image_s`` after start on, so a normal start-up does not warn);
  - nothing is republished when no camera has a new frame and the instruction is unchanged;
    an instruction change alone recomputes with the same frames.
Words of an instruction that the checkpoint's tokenizer does not know (the nano one reads
each as ``[UNK]``) are named once, as a warning, when the instruction is put in force, and in the
SetInstruction reply; the instruction is still accepted.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from cv_bridge import CvBridge
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import String

from gr00t_common.lifecycle import ManagedNode, run_managed
from gr00t_common.stamps import nanoseconds_to_stamp, stamp_to_nanoseconds
from gr00t_common.stats import RateMeter, RollingWindow, Throttle
from gr00t_msgs.msg import EmbeddingTokens
from gr00t_msgs.srv import SetInstruction
from gr00t_policy.runtime.stamps import (CLOCK_FIX, CLOCK_OFF_S, MAX_FUTURE_STAMP_S,
                                         clock_offset_s)
from gr00t_system2.cameras import CameraSubscriptions
from gr00t_system2.converter import FrameConverter
from gr00t_system2.diagnostics import System2Health, summarize
from gr00t_system2.frames import FrameStore, NoveltyGate, Snapshot
from gr00t_system2.image import ImageError, check_message, message_to_rgb, resize_rgb
from gr00t_system2.instruction import Decision, InstructionState
from gr00t_system2.params import System2Params, declare_and_read
from gr00t_common.tokens import TokenError, pack_tokens
from gr00t_common.teardown import run_process

NODE_NAME = "gr00t_system2"
TOKENS_TOPIC = "/gr00t/embedding_tokens"
INSTRUCTION_TOPIC = "/gr00t/instruction"
SET_INSTRUCTION_SERVICE = "/gr00t/set_instruction"
DIAGNOSTICS_TOPIC = "/diagnostics"

# Reliable, newest only: tokens are large and only the newest matters; large messages sent
# best effort lose fragments (docs/BENCHMARKS.md, "Figures behind defaults").
TOKENS_QOS = QoSProfile(
    depth=1,
    reliability=ReliabilityPolicy.RELIABLE,
    history=HistoryPolicy.KEEP_LAST,
    durability=DurabilityPolicy.VOLATILE,
)
LOG_THROTTLE_S = 2.0
# How often camera subscriptions are checked against their publishers (camera_qos /
# camera_transport auto): the first frames wait at most this long after a driver starts.
CAMERA_CHECK_S = 0.5


# How long deactivating waits for an inference in flight.
WORKER_JOIN_S = 10.0


class StartupError(RuntimeError):
    """The node cannot be configured (unreadable checkpoint, refused instruction, failed
    warm-up); the message is the reason."""


class System2Node(ManagedNode):
    """GR00T System 2: cameras + instruction -> EmbeddingTokens (see module docstring)."""

    deactivated_message = "deactivated: no tokens are published"

    def __init__(self, **node_kwargs) -> None:
        super().__init__(NODE_NAME, **node_kwargs)
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self._lingering: threading.Thread | None = None  # a worker that outlived its join
        self._new_frame = threading.Event()  # the converter stored frames the tick can use
        self._converter: FrameConverter | None = None  # one per activation (a thread runs once)
        self._diag_timer = None
        self.context.on_shutdown(self._stop.set)  # SIGINT/SIGTERM: stop before rcl goes away

    # -- lifecycle transitions (gr00t_common.lifecycle.ManagedNode) ------------------------
    def _activate(self) -> None:
        if self._lingering is not None and self._lingering.is_alive():
            # Clearing the stop flag would let it go on beside the new one, both publishing.
            raise RuntimeError(
                "the last activation's inference thread is still running (an inference "
                f"longer than {WORKER_JOIN_S:g} s: a full-size backbone on the CPU, a hung "
                "device call); activate again once it has ended")
        self._lingering = None
        self._gate = NoveltyGate()  # the first tick publishes, also on the frames seen before
        self._started = time.monotonic()
        self._stop.clear()
        self._new_frame.clear()
        self._converter = FrameConverter(
            self.frames, self._to_backbone_rgb, on_reject=self._reject,
            on_frame=self._new_frame.set, min_interval_s=self._period / 2)
        self._converter.start()
        self._worker = threading.Thread(target=self._inference_loop, name="gr00t_system2_inference", daemon=True)
        self._worker.start()
        self._diag_timer = self.create_timer(1.0, self._publish_diagnostics,
                                             callback_group=self._diag_group)
        self.get_logger().info(f"activated: publishing tokens at {self.params.rate_hz} Hz")

    def _stop_activity(self) -> None:
        """Stop the diagnostics timer and the inference thread (joined: no tokens after)."""
        if self._diag_timer is not None:
            self.destroy_timer(self._diag_timer)
            self._diag_timer = None
        self._stop.set()
        self._new_frame.set()  # a tick waiting for a frame wakes and sees the stop
        if self._worker is not None:
            self._worker.join(timeout=WORKER_JOIN_S)
            if self._worker.is_alive():
                self._lingering = self._worker
                self.get_logger().error(
                    f"the inference thread did not stop within {WORKER_JOIN_S:g} s (an "
                    "inference still running); it publishes nothing more, and activating "
                    "again waits for it to end")
            self._worker = None
        if self._converter is not None:
            self._converter.stop()
            self._converter = None

    def _release(self) -> None:
        """Destroy what configure created and drop the backbone: unconfigured again."""
        super()._release()
        for name in ("encoder", "instructions", "frames", "_tokens_pub", "_diag_pub"):
            self.__dict__.pop(name, None)

    # -- setup ---------------------------------------------------------------------------
    def _configure(self) -> None:
        self.params: System2Params = declare_and_read(self)
        p = self.params
        self.encoder = self._load_encoder(p)
        try:
            self.instructions = InstructionState(
                p.default_instruction, p.max_instruction_length, check=self._check_prompt
            )
        except ValueError as exc:
            raise StartupError(
                f"parameter default_instruction={p.default_instruction!r} is refused: {exc}; "
                "pass another with -p default_instruction:='...'"
            ) from exc
        self._warm_up()

        self.frames = FrameStore(p.camera_topics)
        self._bridge = CvBridge()
        self._gate = NoveltyGate()
        self._period = 1.0 / p.rate_hz
        self._rate = RateMeter(window_s=5.0)
        self._latency = RollingWindow(size=200)
        self._throttle = Throttle(LOG_THROTTLE_S)
        self._stats_lock = threading.Lock()
        self._stamps_off: dict[str, int] = {}  # topic -> frames stamped off the clock (runtime.stamps)
        self._stamp_off_now: set[str] = set()  # cameras whose newest frame is off (WARN)
        self._stamp_lags: dict[str, float | None] = {}  # topic -> s its newest frame's stamp
        # lay behind this node's clock on receipt (None: unstamped)
        self._sizes: dict[str, tuple[int, int]] = {}  # topic -> (width, height) of its last frame
        self._size_changes: dict[str, int] = {}  # topic -> times its resolution changed
        self._errors: dict[str, int] = {}
        self._published = 0
        self._repeat_noted: int | None = None  # instruction whose repeat on the topic was logged

        io_group = MutuallyExclusiveCallbackGroup()
        self._diag_group = MutuallyExclusiveCallbackGroup()
        self._tokens_pub = self.create_lifecycle_publisher(EmbeddingTokens, TOKENS_TOPIC,
                                                           TOKENS_QOS)
        self._diag_pub = self.create_lifecycle_publisher(DiagnosticArray, DIAGNOSTICS_TOPIC, 10)
        self._cameras = CameraSubscriptions(
            self, p.camera_topics, p.camera_qos, p.camera_transport, io_group,
            on_message=self._on_camera_message, on_problem=self._camera_problem,
            log=self.get_logger().info,
        )
        self._cameras.refresh()
        self.create_timer(CAMERA_CHECK_S, self._cameras.refresh, callback_group=io_group)
        self.create_subscription(
            String, INSTRUCTION_TOPIC, self._on_instruction_topic, 10, callback_group=io_group
        )
        self.create_service(
            SetInstruction, SET_INSTRUCTION_SERVICE, self._on_set_instruction,
            callback_group=io_group,
        )
        self.get_logger().info(
            f"configured: cameras {list(p.camera_topics)}, {p.rate_hz} Hz, backbone "
            f"{self.encoder.backbone_id}, {self.encoder.max_tokens} tokens x "
            f"{self.encoder.output_dim} as {p.token_dtype}, {self._default_note()}"
        )

    def _default_note(self) -> str:
        """The instruction in force at start, for the configure log."""
        current = self.instructions.current
        if current is None:
            return (f"no instruction yet: no tokens (and no motion) until one is set "
                    f"(gr00t-instruct '...', the {SET_INSTRUCTION_SERVICE} service or the "
                    f"{INSTRUCTION_TOPIC} topic)")
        return f"instruction 0: {current.text!r}{self._vocabulary_note(current)}"

    def _load_encoder(self, p: System2Params):
        import torch

        from gr00t_policy.backbone import BackboneRunner
        from gr00t_policy.devices import device_problem
        from gr00t_policy.export import CacheDirError

        problem = device_problem(p.device)
        if problem:
            raise StartupError(f"parameter device={p.device!r} {problem}")
        if p.torch_threads > 0:
            torch.set_num_threads(p.torch_threads)
        t0 = time.monotonic()
        try:
            encoder = BackboneRunner(p.checkpoint, device=p.device, dtype=p.dtype,
                                     backend=p.backend, cache_dir=p.cache_dir or None,
                                     num_threads=p.torch_threads)
        except CacheDirError as exc:  # onnxruntime exports the backbone into it
            raise StartupError(f"parameter cache_dir={p.cache_dir!r}: {exc}") from exc
        except Exception as exc:
            raise StartupError(
                f"could not load the backbone from parameter checkpoint={str(p.checkpoint)!r}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        if encoder.num_views != len(p.camera_topics):
            raise StartupError(
                f"parameter camera_topics lists {len(p.camera_topics)} camera(s) "
                f"{list(p.camera_topics)} but the checkpoint expects {encoder.num_views} view(s); "
                "list exactly one topic per view, in checkpoint order (gr00t-bringup and the "
                "launch file take them from the embodiment YAML's `cameras`: list as many "
                "there, or fine-tune a checkpoint for the robot's cameras)"
            )
        self.get_logger().info(
            f"loaded backbone {encoder.backbone_id} from {p.checkpoint} on {p.device}/{p.dtype} "
            f"({encoder.backend}) in {time.monotonic() - t0:.2f} s"
        )
        from gr00t_policy.checkpoint import PROVENANCE_FILE

        if encoder.image_crop == 1.0 and (Path(p.checkpoint) / PROVENANCE_FILE).is_file():
            self.get_logger().warning(
                f"{p.checkpoint} was converted from an official GR00T N1 checkpoint before "
                "converted checkpoints recorded the centre crop Isaac-GR00T feeds its images "
                "with (95% of each side): its frames are not cropped. Fix: convert it again "
                "(gr00t-policy convert), whose config.json then has backbone.image_crop 0.95")
        return encoder

    def _check_prompt(self, text: str) -> None:
        """Raise ValueError when ``text`` does not fit the backbone's max_tokens (with an
        instruction encoder this also computes the instruction's states, once)."""
        self.encoder.check_instruction(text)

    def _warm_up(self) -> None:
        """One encode on grey images: catches device/dtype problems before going live."""
        import numpy as np

        size = self.encoder.image_size
        images = [np.full((size, size, 3), 128, np.uint8) for _ in range(self.encoder.num_views)]
        t0 = time.perf_counter()
        try:
            current = self.instructions.current  # none set: any words do for a warm-up
            self.encoder.encode(images, "wave" if current is None else current.text,
                                prepared=True)
        except Exception as exc:
            raise StartupError(
                f"warm-up inference failed on device={self.params.device} "
                f"dtype={self.params.dtype}: {type(exc).__name__}: {exc}; try -p dtype:=float32"
            ) from exc
        self.get_logger().info(f"warm-up inference took {1e3 * (time.perf_counter() - t0):.1f} ms")

    # -- inputs --------------------------------------------------------------------------
    def _on_camera_message(self, index: int, topic: str, msg) -> None:
        """Executor thread, every frame: cheap checks, keep the newest for the next tick."""
        received = time.monotonic()
        self.frames.arrived(index)  # before any check: a camera whose frames are all
        # refused has still sent them (diagnostics: frames_received, "all N frames rejected")
        try:
            check_message(msg)
        except ImageError as exc:
            self._reject(index, exc, received)
            return
        stamp_ns = stamp_to_nanoseconds(msg.header.stamp)
        now_ns = self.get_clock().now().nanoseconds  # what an unstamped frame's tokens carry
        with self._stats_lock:
            self._stamp_lags[topic] = (now_ns - stamp_ns) / 1e9 if stamp_ns else None
        off = clock_offset_s(stamp_ns, now_ns, self.params.token_staleness_s)
        if off is not None:
            self._stamp_off(topic, stamp_ns, off, received)
        elif topic in self._stamp_off_now:  # the WARN clears with a good frame (only the
            # camera callbacks, one at a time, change the set: reading it here needs no lock)
            with self._stats_lock:
                self._stamp_off_now.discard(topic)
        self.frames.offer(index, msg, stamp_ns, msg.header.frame_id, received, now_ns)
        converter = self._converter
        if converter is not None:  # inactive: frames are kept, converted once active
            converter.offered()

    def _stamp_off(self, topic: str, stamp_ns: int, off: float, now: float) -> None:
        """A frame stamped further from this node's clock than System 1 takes tokens
        (token_staleness_s behind, MAX_FUTURE_STAMP_S ahead) is kept (System 1 decides on
        the tokens), but this is the one place that can say which camera it is: the tokens
        carry only the oldest frame's stamp."""
        with self._stats_lock:
            self._stamps_off[topic] = self._stamps_off.get(topic, 0) + 1
            self._stamp_off_now.add(topic)
            count = self._stamps_off[topic]
        if self._throttle.allow(("stamp", topic), now):
            where = f"{off:.3f} s behind" if off > 0 else f"{-off:.3f} s ahead of"
            late = ("if the camera's clock is right, its frames arrive that late (a driver "
                    "that buffers frames, a slow network link, a loaded host): make them "
                    "arrive sooner; else " if 0 < off <= CLOCK_OFF_S else "")
            self.get_logger().warning(
                f"camera {topic}: header stamp {stamp_ns / 1e9:.3f} is {where} this node's "
                f"clock as it arrives ({count} such frames so far): System 1 refuses tokens "
                f"stamped more than token_staleness_s={self.params.token_staleness_s:g} s "
                f"behind its clock or {MAX_FUTURE_STAMP_S:g} s ahead, and the tokens carry "
                f"the oldest camera's stamp, so it refuses every token built on this frame. "
                f"Fix: {late}{CLOCK_FIX}")

    def _to_backbone_rgb(self, index: int, msg):
        """Converter thread: a camera message as the backbone's (S, S, 3) uint8 RGB input."""
        rgb = message_to_rgb(msg, self._bridge)
        self._note_size(self.frames.topics[index], rgb.shape[1], rgb.shape[0])
        return resize_rgb(rgb, self.encoder.image_size, self.encoder.image_crop)

    def _note_size(self, topic: str, width: int, height: int) -> None:
        """Converter thread: a camera whose resolution changes mid-stream is named. Its
        frames are still used, but each is squeezed to the backbone's square input, so a new
        aspect ratio (or a crop) changes what the policy sees from what it was trained on."""
        with self._stats_lock:
            before = self._sizes.get(topic)
            self._sizes[topic] = (width, height)
            if before is None or before == (width, height):
                return
            self._size_changes[topic] = self._size_changes.get(topic, 0) + 1
            count = self._size_changes[topic]
        if self._throttle.allow(("size", topic), time.monotonic()):
            s = self.encoder.image_size
            self.get_logger().warning(
                f"camera {topic}: frames changed from {before[0]}x{before[1]} to "
                f"{width}x{height} mid-stream ({count} changes so far); each frame is "
                f"squeezed to the backbone's {s}x{s} input, so the policy sees the scene "
                "differently from its training. Fix: keep the camera driver at the "
                "resolution the policy was trained on")

    def _camera_problem(self, topic: str, text: str) -> None:
        if self._throttle.allow(("camera", topic), time.monotonic()):
            self.get_logger().error(text)

    def _reject(self, index: int, exc: ImageError, now: float) -> None:
        """A camera message refused (executor thread, or the converter's): counted, named."""
        topic = self.frames.topics[index]
        count = self.frames.reject(index, exc.reason)
        if self._throttle.allow(("reject", topic, exc.reason), now):
            self.get_logger().error(
                f"camera {topic}: rejected frame: {exc} ({count} rejected for this reason so "
                f"far; logged at most every {LOG_THROTTLE_S:.0f} s)"
            )

    def _on_set_instruction(self, request, response):
        decision, note = self._offer_instruction(request.instruction, "service")
        response.accepted = decision.accepted
        response.message = decision.message + note
        if decision.accepted and self._worker is None:  # configured, not active
            response.message += ("; System 2 is inactive: no tokens for it until it is "
                                 "activated")
        response.instruction_id = 0 if decision.instruction is None else decision.instruction.id
        return response

    def _on_instruction_topic(self, msg: String) -> None:
        """The text in force is ignored here (a publisher repeating its message would start
        a new instruction each time); the service restarts it explicitly."""
        self._offer_instruction(msg.data, INSTRUCTION_TOPIC, self.instructions.offer_change)

    def _offer_instruction(self, text: str, source: str, offer=None) -> tuple[Decision, str]:
        """Offer ``text`` (with ``offer``, default InstructionState.offer); returns the
        decision and the vocabulary note of an accepted one ("" or "; N word(s) not in the
        tokenizer's vocabulary ...")."""
        decision = (offer or self.instructions.offer)(text)
        if decision.repeat:
            if self._repeat_noted != decision.instruction.id:  # once per instruction
                self._repeat_noted = decision.instruction.id
                self.get_logger().info(
                    f"instruction from {source} {decision.message} (logged once; to start it "
                    f"again call {SET_INSTRUCTION_SERVICE})")
            return decision, ""
        note = ""
        if decision.accepted:
            note = self._vocabulary_note(decision.instruction)
            text = (f"instruction {decision.instruction.id} from {source}: "
                    f"{decision.instruction.text!r}{note}")
            if note:  # a warning: the model reads unknown words all as one token, so the
                # instruction may mean something else to it (a negation, a colour it never saw)
                self.get_logger().warning(text)
            else:  # (rclpy: one severity per logging call site)
                self.get_logger().info(text)
        else:
            self.get_logger().warning(f"instruction from {source} {decision.message}")
        return decision, note

    def _vocabulary_note(self, instruction) -> str:
        """'; <note>' when the backbone's tokenizer does not know some words of the
        instruction, else ''. Logged once, when the instruction is put in force: every tick
        encodes it again, and the words are as unknown then as they were the first time."""
        note = self.encoder.prompt.vocabulary_note(instruction.text)
        return f"; {note}" if note else ""

    # -- inference -----------------------------------------------------------------------
    def _inference_loop(self) -> None:
        """Tick at rate_hz; after an overrun start at once (newest frames, no backlog); a
        tick with nothing new runs again when a frame arrives (at most a period later)."""
        converter = self._converter  # this activation's; set before the thread starts
        next_tick = time.monotonic()
        waited = False  # the coming run waited for a frame past its tick
        while not self._stop.is_set():
            now = time.monotonic()
            if now < next_tick:
                self._stop.wait(next_tick - now)
                continue
            self._new_frame.clear()
            ran = False
            try:
                ran = self._step(now)
            except Exception as exc:  # keep serving; the error is logged and counted
                if self._stop.is_set() or not self.context.ok():
                    break  # shutting down: the publisher's context went away mid-step
                self._count_error("unexpected", exc, now, with_traceback=True)
            if ran:
                # On schedule: keep the tick grid. After waiting for a frame: a new grid from
                # this run, so runs are never closer than a period.
                next_tick = (now if waited else next_tick) + self._period
                if time.monotonic() > next_tick:
                    next_tick = time.monotonic()
                waited = False
                converter.schedule(next_tick)
            else:
                converter.schedule(None)
                self._new_frame.wait(self._period)
                next_tick, waited = time.monotonic(), True

    def _step(self, now: float) -> bool:
        """One tick; True when tokens were computed (published or failed)."""
        snapshot = self.frames.snapshot(now, self.params.stale_image_s)
        if not snapshot.complete:
            starting = now - self._started < self.params.stale_image_s
            if not starting and self._throttle.allow("missing", now):
                self.get_logger().warning(
                    "not publishing tokens, camera(s) missing: "
                    + "; ".join(f"{t} ({why}; subscription: {self._cameras.describe()[t]})"
                                for t, why in snapshot.missing.items())
                )
            return False
        instruction = self.instructions.current
        if instruction is None:
            return False  # none set yet: nothing to condition on
        if not self._gate.is_new(snapshot, instruction.id):
            return False
        self._gate.mark_used(snapshot, instruction.id)
        t0 = time.perf_counter()
        try:
            tokens, mask = self.encoder.encode([f.rgb for f in snapshot.frames], instruction.text,
                                               prepared=True)  # cropped, resized: _to_backbone_rgb
            latency = time.perf_counter() - t0
            data, mask_bytes, dtype_code = pack_tokens(tokens, mask, self.params.token_dtype)
        except (ValueError, RuntimeError) as exc:  # TokenError is a ValueError
            reason = "tokens" if isinstance(exc, TokenError) else "inference"
            self._count_error(reason, exc, now)
            return True
        self._latency.add(latency)
        self._tokens_pub.publish(self._tokens_msg(snapshot, instruction, tokens.shape,
                                                  data, mask_bytes, dtype_code, latency))
        self._rate.tick(time.monotonic())
        with self._stats_lock:
            self._published += 1
        return True

    def _tokens_msg(self, snapshot: Snapshot, instruction, shape, data: bytes,
                    mask_bytes: bytes, dtype_code: int, latency: float) -> EmbeddingTokens:
        msg = EmbeddingTokens()
        msg.header.stamp = nanoseconds_to_stamp(snapshot.oldest_stamp_ns())
        msg.header.frame_id = snapshot.frames[0].frame_id
        msg.instruction_id = instruction.id
        msg.instruction = instruction.text
        msg.num_tokens, msg.dim = int(shape[0]), int(shape[1])
        msg.dtype = dtype_code
        msg.data = data
        msg.attention_mask = mask_bytes
        msg.backbone_id = self.encoder.backbone_id
        msg.inference_latency = float(latency)
        return msg

    def _count_error(self, reason: str, exc: Exception, now: float, with_traceback: bool = False) -> None:
        with self._stats_lock:
            self._errors[reason] = self._errors.get(reason, 0) + 1
        if self._throttle.allow(("error", reason), now):
            text = f"no tokens published ({reason}): {type(exc).__name__}: {exc}"
            if with_traceback:
                import traceback

                text += "\n" + "".join(traceback.format_exception(exc))
            self.get_logger().error(text)

    # -- diagnostics ---------------------------------------------------------------------
    def _publish_diagnostics(self) -> None:
        now = time.monotonic()
        snapshot = self.frames.snapshot(now, self.params.stale_image_s)
        instruction = self.instructions.current
        with self._stats_lock:
            errors, published = dict(self._errors), self._published
            stamps_off = dict(self._stamps_off)
            stamp_off_now = set(self._stamp_off_now)
            stamp_lags = dict(self._stamp_lags)
            sizes, size_changes = dict(self._sizes), dict(self._size_changes)
        counts = self.frames.counts()
        level, message, values = summarize(System2Health(
            target_rate_hz=self.params.rate_hz,
            achieved_rate_hz=self._rate.rate(now),
            published=published,
            latency_median_s=self._latency.percentile(50),
            latency_p99_s=self._latency.percentile(99),
            overrun_share=self._latency.fraction_over(self._period),
            missing=dict(snapshot.missing),
            image_ages_s=dict(snapshot.ages),
            instruction_id=None if instruction is None else instruction.id,
            instruction="" if instruction is None else instruction.text,
            backbone_id=self.encoder.backbone_id,
            rejected=self.frames.rejections(),
            errors=errors,
            subscriptions=self._cameras.describe(),
            received={t: n for t, (n, _) in counts.items()},
            unused={t: n for t, (_, n) in counts.items()},
            lost=self._cameras.lost(),
            stamps_off=stamps_off,
            stamp_off_now=stamp_off_now,
            stamp_lags=stamp_lags,
            sizes=sizes,
            size_changes=size_changes,
        ))
        status = DiagnosticStatus()
        status.level = bytes([level])
        status.name = NODE_NAME
        status.message = message
        status.hardware_id = f"{self.params.device}/{self.params.dtype} backbone {self.encoder.backbone_id}"
        status.values = [KeyValue(key=k, value=v) for k, v in values]
        array = DiagnosticArray()
        array.header.stamp = self.get_clock().now().to_msg()
        array.status = [status]
        self._diag_pub.publish(array)

    # -- shutdown ------------------------------------------------------------------------
    def destroy_node(self) -> None:
        """Stop the inference thread, then destroy the node."""
        if hasattr(self, "_stop"):
            self._stop_activity()
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    """Run the node until SIGINT/SIGTERM (`gr00t_common.lifecycle.run_managed`: 0 on a clean
    stop, 1 when it cannot start, 2 on a malformed command line). Without autostart it waits
    unconfigured for a lifecycle manager."""
    return run_managed(System2Node, NODE_NAME, args)


def run() -> None:
    """The process's entry point (`system2_node`, `python -m`): `main`, then the exit with its
    status, bounded (`gr00t_common.teardown.run_process`)."""
    run_process(main)


if __name__ == "__main__":
    run()
