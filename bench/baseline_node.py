#!/usr/bin/env python3
"""The baseline for bench/graph_vs_baseline.py: GR00T deployed as ONE synchronous loop.

This is how the reference implementation runs the policy on a robot: per action chunk, take
the newest camera frame(s) and joint state, run the VLM (`BackboneRunner.encode`), then the
K-step DiT (`make_runner`, the same backend and thread count System 1 uses), then execute the
whole chunk open-loop -- row k at t0 + k * action_dt, where t0 is the moment inference
finished, each row held for one action_dt -- and only then observe again. Not shipped in the
packages; the bench starts it as a node process through gr00t_bringup's GraphRunner:

    bench/baseline_node.py --ros-args -p checkpoint:=DIR -p embodiment:=config/unitree_g1.yaml

It uses the same pieces as the graph, so the comparison is of the runtime structure only:
gr00t_system1's JointMapper, Planner (normalize, pad, sample, unnormalize) and decoder
plugins (forward_command messages; safety label "baseline"), and gr00t_system2's image
conversion. The rows are clamped to the embodiment's position limits (the reference does not
clamp; the random and trained nano policies stay within them anyway).

Topics: subscribes /joint_states and the embodiment's cameras; serves
/gr00t/set_instruction (same service type as System 2: the next chunk uses the new
instruction); publishes the controllers' commands, each chunk on /bench/baseline/action_chunk
(gr00t_msgs/ActionChunk: header stamp = the JointState stamp it was planned from,
inference_latency = VLM + conditioning + DiT) and per chunk a /diagnostics status
"gr00t_baseline" with vlm_ms, conditioning_ms, dit_ms, chunk_seq, instruction_id.
"""

from __future__ import annotations

import array
import sys
import threading
import time
from pathlib import Path

import numpy as np
import rclpy
from cv_bridge import CvBridge
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import Image, JointState

from gr00t_common.params import Range, Spec, declare_and_read
from gr00t_common.stamps import seconds_to_stamp, stamp_to_seconds
from gr00t_common.teardown import finish
from gr00t_msgs.msg import ActionChunk
from gr00t_msgs.srv import SetInstruction
from gr00t_policy.backend_names import BACKENDS

NODE_NAME = "gr00t_baseline"
CHUNK_TOPIC = "/bench/baseline/action_chunk"
STATE_QOS = QoSProfile(depth=5, reliability=ReliabilityPolicy.BEST_EFFORT)
CHUNK_QOS = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
LABEL = "baseline"

# Writable like any parameter declared without a descriptor (as before), though read once.
SPECS = (
    Spec("checkpoint", "string", "", "Checkpoint directory (gr00t_ros format). Required.",
         required=True, read_only=False, example="/path/to/checkpoint"),
    Spec("embodiment", "string", "", "Embodiment YAML path. Required.",
         required=True, read_only=False, example="config/unitree_g1.yaml"),
    Spec("backend", "string", "onnxruntime", "Action head backend of the DiT.",
         choices=BACKENDS, read_only=False),
    Spec("ort_threads", "integer", 1,
         "Intra-op threads of the DiT (onnxruntime, or torch for the torch backend).",
         range=Range(1, 64), read_only=False),
    Spec("torch_threads", "integer", 0,
         "torch intra-op threads for the VLM, or 0 to keep torch's default.",
         range=Range.at_least(0), read_only=False),
    Spec("denoising_steps", "integer", 4, "Euler steps K of the flow-matching sampler.",
         range=Range(1, 100), read_only=False),
    Spec("execute_steps", "integer", 0,
         "Rows of each chunk executed open-loop before observing again; 0: the whole chunk "
         "(at most the checkpoint's horizon).", range=Range.at_least(0), read_only=False),
    Spec("default_instruction", "string", "hold your position",
         "Instruction in force at start until one is set.", read_only=False),
    Spec("seed", "integer", -1, "Noise seed for the sampler; -1 draws one from the OS.",
         read_only=False),
    Spec("cache_dir", "string", "",
         "Where ONNX exports are cached. Empty: ~/.cache/gr00t_ros.", read_only=False),
)


class BaselineNode(Node):
    """Synchronous observe -> VLM -> DiT -> execute-the-whole-chunk loop in one thread."""

    def __init__(self) -> None:
        super().__init__(NODE_NAME)
        import torch

        from gr00t_policy.embodiment import load_embodiment
        from gr00t_policy.runtime.bundle import PolicyBundle
        from gr00t_system1.decoders import make_decoders
        from gr00t_system1.joint_mapping import JointMapper

        p = declare_and_read(self, SPECS)
        ckpt = Path(p["checkpoint"]).expanduser()
        emb = load_embodiment(p["embodiment"])
        self.backend = str(p["backend"])
        self.ort_threads = int(p["ort_threads"])
        self.vlm_threads = int(p["torch_threads"]) or torch.get_num_threads()
        torch.set_num_threads(self.vlm_threads)
        bundle = PolicyBundle.open(ckpt, emb)
        # The same backbone backend as System 2's default (auto), so that the two sides of
        # the comparison run the same models the same way.
        self.encoder = bundle.backbone_runner(backend="auto", cache_dir=p["cache_dir"] or None)
        runner = bundle.action_runner(self.backend, num_steps=int(p["denoising_steps"]),
                                      cache_dir=p["cache_dir"] or None,
                                      num_threads=self.ort_threads)
        self.planner = bundle.planner(runner, seed=None if p["seed"] < 0 else int(p["seed"]))
        self.action_dt = emb.action_dt
        steps = int(p["execute_steps"])
        if not 0 <= steps <= runner.horizon:
            raise ValueError(f"parameter execute_steps={steps} must be 0 (the whole chunk, "
                             f"{runner.horizon} rows) or 1..{runner.horizon}")
        self.execute_steps = steps or runner.horizon
        lim = emb.position_limits  # (A, 2)
        self.lo, self.hi = lim[:, 0], lim[:, 1]

        union = list(dict.fromkeys([*emb.state_joints, *emb.action_joints]))
        self.mapper = JointMapper(union)
        where = {n: i for i, n in enumerate(union)}
        self.state_idx = np.array([where[n] for n in emb.state_joints], dtype=np.int64)
        self.action_idx = np.array([where[n] for n in emb.action_joints], dtype=np.int64)
        self.action_joints = emb.action_joints
        self.decoders = make_decoders(self, emb.controllers, emb.action_joints)

        self.lock = threading.Lock()
        self.instruction = (0, str(p["default_instruction"]))
        self.state: tuple[np.ndarray, np.ndarray, float] | None = None
        self.frames: list[np.ndarray | None] = [None] * len(emb.cameras)
        self.bridge = CvBridge()
        self.create_subscription(JointState, "/joint_states", self._on_joint_state, STATE_QOS)
        for i, cam in enumerate(emb.cameras):
            self.create_subscription(Image, cam.topic, lambda m, i=i: self._on_image(i, m),
                                     qos_profile_sensor_data)
        self.create_service(SetInstruction, "/gr00t/set_instruction", self._on_set_instruction)
        self.chunk_pub = self.create_publisher(ActionChunk, CHUNK_TOPIC, CHUNK_QOS)
        self.diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.stop = threading.Event()
        self.failed = False
        self.thread = threading.Thread(target=self._loop, name="baseline_loop", daemon=True)
        self.thread.start()
        vlm = self.encoder.backend
        vlm_threads = 1 if vlm == "onnxruntime" else self.vlm_threads
        self.get_logger().info(
            f"baseline ready: VLM on {vlm} ({vlm_threads} threads), DiT {runner!r} on "
            f"{self.backend} ({self.ort_threads} threads), executes {self.execute_steps} of "
            f"{runner.horizon} rows at {self.action_dt} s per chunk")

    # -- inputs ----------------------------------------------------------------------------
    def _on_joint_state(self, msg: JointState) -> None:
        from gr00t_system1.joint_mapping import JointStateError

        try:
            pos = self.mapper.map(msg.name, msg.position)  # (n,) embodiment order
        except JointStateError as exc:
            self.get_logger().error(f"dropped joint state: {exc}", throttle_duration_sec=2.0)
            return
        stamp = stamp_to_seconds(msg.header.stamp)
        if stamp == 0.0:
            stamp = self.get_clock().now().nanoseconds * 1e-9
        with self.lock:
            self.state = (pos[self.state_idx], pos[self.action_idx], stamp)

    def _on_image(self, index: int, msg: Image) -> None:
        from gr00t_system2.image import ImageError, image_to_rgb

        try:
            rgb = image_to_rgb(msg, self.bridge)
        except ImageError as exc:
            self.get_logger().error(f"rejected frame: {exc}", throttle_duration_sec=2.0)
            return
        with self.lock:
            self.frames[index] = rgb

    def _on_set_instruction(self, request, response):
        text = str(request.instruction).strip()
        with self.lock:
            current = self.instruction
            if text:
                self.instruction = (current[0] + 1, text)
            response.accepted = bool(text)
            response.instruction_id = self.instruction[0]
        response.message = ("accepted: the next chunk uses it" if text else "refused: empty")
        return response

    # -- the synchronous loop --------------------------------------------------------------
    def _loop(self) -> None:
        try:
            self._run_loop()
        except Exception:  # noqa: BLE001 - reported; the node then exits non-zero
            if self.stop.is_set() or not self.context.ok():
                return  # a publish raced the shutdown
            import traceback

            self.failed = True
            self.get_logger().fatal(f"baseline loop failed:\n{traceback.format_exc()}")
            self.context.try_shutdown()

    def _run_loop(self) -> None:
        from gr00t_policy.runtime.planner import StateSample, TokenSample

        seq = 0
        while not self.stop.is_set():
            with self.lock:
                state, frames, (instr_id, text) = self.state, list(self.frames), self.instruction
            if state is None or any(f is None for f in frames):
                self.stop.wait(0.01)
                continue
            seq += 1
            t_start = time.monotonic()
            tokens, mask = self.encoder.encode(frames, text)  # (L, C), (L,)
            t_vlm = time.monotonic()
            self.planner.set_tokens(TokenSample(tokens=tokens, mask=mask, stamp=state[2],
                                                arrival=t_vlm, instruction_id=instr_id, seq=seq))
            t_cond = time.monotonic()
            plan = self._plan(StateSample(state=state[0], action_positions=state[1],
                                          stamp=state[2], arrival=t_start, seq=seq))
            t_done = time.monotonic()
            rows = np.clip(plan.chunk.rows, self.lo, self.hi)  # (H, A)
            self._publish_chunk(plan, rows, instr_id, t_done - t_start)
            self._publish_diag(seq, instr_id, t_vlm - t_start, t_cond - t_vlm, plan.latency_s)
            t0 = time.monotonic()
            for k in range(self.execute_steps):
                if self.stop.wait(max(0.0, t0 + k * self.action_dt - time.monotonic())):
                    return
                stamp = self.get_clock().now().to_msg()
                for d in self.decoders:
                    d.publish(rows[k], None, stamp, LABEL)
            # The last row is held for one action_dt before the next observation.
            self.stop.wait(max(0.0, t0 + self.execute_steps * self.action_dt - time.monotonic()))

    def _plan(self, sample):
        """One DiT sample; the torch backend gets System 1's thread count for it."""
        if self.backend != "torch":
            return self.planner.plan(sample)
        import torch

        torch.set_num_threads(self.ort_threads)
        try:
            return self.planner.plan(sample)
        finally:
            torch.set_num_threads(self.vlm_threads)

    def _publish_chunk(self, plan, rows: np.ndarray, instr_id: int, latency: float) -> None:
        msg = ActionChunk()
        msg.header.stamp = seconds_to_stamp(plan.state.stamp)
        msg.joint_names = list(self.action_joints)
        msg.horizon = int(rows.shape[0])
        msg.action_dt = float(self.action_dt)
        msg.positions = array.array("d", np.ascontiguousarray(rows).tobytes())
        msg.instruction_id = int(instr_id)
        msg.inference_latency = float(latency)
        self.chunk_pub.publish(msg)

    def _publish_diag(self, seq: int, instr_id: int, vlm_s: float, cond_s: float,
                      dit_s: float) -> None:
        status = DiagnosticStatus(name=NODE_NAME, message="running", hardware_id=self.backend)
        status.values = [KeyValue(key=k, value=v) for k, v in (
            ("vlm_ms", f"{vlm_s * 1e3:.3f}"), ("conditioning_ms", f"{cond_s * 1e3:.3f}"),
            ("dit_ms", f"{dit_s * 1e3:.3f}"), ("chunk_seq", str(seq)),
            ("instruction_id", str(instr_id)))]
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = self.get_clock().now().to_msg()
        self.diag_pub.publish(msg)

    def shutdown(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5.0)


def main(args: list[str] | None = None) -> int:
    rclpy.init(args=args)
    node: BaselineNode | None = None
    try:
        try:
            node = BaselineNode()
        except (ValueError, OSError, RuntimeError, KeyError) as exc:
            rclpy.logging.get_logger(NODE_NAME).fatal(f"cannot start: {exc}")
            return 1
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        try:
            executor.spin()
        except (KeyboardInterrupt, ExternalShutdownException):
            pass
        return 1 if node.failed else 0
    finally:
        finish(node.shutdown if node is not None else None, node,
               1 if node is None or node.failed else 0)


if __name__ == "__main__":
    sys.exit(main())
