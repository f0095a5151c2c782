"""ROS 2 node `gr00t_sim`: the MuJoCo tabletop (the embodiment's robot: G1, Apollo) as a
robot on the ROS graph.

Threads: physics (500 Hz, paced to the wall clock: sleep to each step's deadline; late steps
are counted as overruns and logged), rendering (head camera at `camera_hz`), and the executor
(command subscriptions, reset service) in the main thread. One lock guards the MjData.

Publishes
- /joint_states (sensor_msgs/JointState): every robot joint of the model (G1: 43, Apollo: 32),
  names as in the model,
  position + velocity, every `joint_state_decimation` physics steps (4 -> 125 Hz);
- the embodiment's first camera's topic (G1: /camera/head/image_raw; sensor_msgs/Image):
  `simulator.image_size` square rgb8 (224), frame_id "<camera>_camera" ("head_camera");
- /gr00t_sim/state (gr00t_msgs/SimState, reliable, 25 Hz): seed and reset count, the cubes'
  and palms' world positions, and the task set at the last reset with its success criterion
  (gr00t_sim.tasks) evaluated on that very state (success, margin); see gr00t_sim.snapshot;
- /clock (rosgraph_msgs/Clock) when `publish_clock` is true.
Stamps: by default the simulator behaves like a robot: every message is stamped with the
wall clock at the moment its state was read, so nodes on the wall clock judge ages honestly
even when physics falls behind real time on a loaded machine (the world then just moves
slower). With `publish_clock` true, stamps are `start + simulated time` and /clock carries
the same time, for use_sim_time consumers.

Subscribes: /<controller>/commands (std_msgs/Float64MultiArray, reliable) for each
forward_command controller of the embodiment YAML, values in the controller's joint order.
A message of the wrong size or with a non-finite value is rejected with a log line. A value
beyond its joint's position limits in the embodiment YAML (where a real joint stops; System 1
never sends one) is applied as the model allows (MuJoCo clamps it to the model's range, which
can be wider: the G1's thumb_1), logged (once a second per controller) and counted in the
10-second stats line, so a sender that bypasses System 1's limits does not go unnoticed.

Service /gr00t_sim/reset (gr00t_msgs/ResetSim): new cube positions drawn from the request's
seed (< 0: the previous seed + 1) and the rest pose, and the task to judge from then on (the
request's instruction; "" for none, an unknown one is refused and nothing is reset). The
reply's message lists the seed and the cube positions; its state is the scene after the
reset, as /gr00t_sim/state reports it.
"""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")  # before mujoco is imported (offscreen, no display)

import threading  # noqa: E402
import time  # noqa: E402

import mujoco  # noqa: E402
import numpy as np  # noqa: E402
import rclpy  # noqa: E402
from rclpy._rclpy_pybind11 import RCLError  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from rosgraph_msgs.msg import Clock  # noqa: E402
from sensor_msgs.msg import Image, JointState  # noqa: E402
from std_msgs.msg import Float64MultiArray  # noqa: E402

from gr00t_msgs.msg import SimState  # noqa: E402
from gr00t_msgs.srv import ResetSim  # noqa: E402
from gr00t_common import plain_node  # noqa: E402
from gr00t_common.params import declare_and_read  # noqa: E402
from gr00t_common.stats import Throttle  # noqa: E402
from gr00t_common.teardown import run_process
from gr00t_sim.params import SPECS  # noqa: E402
from gr00t_sim.snapshot import Snapshot, to_msg  # noqa: E402
from gr00t_sim.tasks import CUBE_COLORS, Task  # noqa: E402
from gr00t_sim.world import SimWorld, HeadCamera  # noqa: E402

STATE_DECIMATION = 20  # physics steps per /gr00t_sim/state message (500 Hz / 20 = 25 Hz)


class SimNode(Node):
    """See the module docstring."""

    def __init__(self) -> None:
        super().__init__("gr00t_sim")
        p = declare_and_read(self, SPECS)  # parameters and their checks: gr00t_sim/params.py
        from gr00t_policy.embodiment import load_embodiment

        self.embodiment = load_embodiment(p["embodiment"])
        self.world = SimWorld(self.embodiment)
        self.world.reset(p["seed"])
        # One rendered camera: the embodiment's first (the nano policy reads one view).
        self.camera_spec = self.embodiment.cameras[0]
        self.task: Task | None = None  # judged in /gr00t_sim/state; set by each reset
        self.reset_count = 0
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.dt = float(self.world.model.opt.timestep)
        self.js_decimation = p["joint_state_decimation"]
        self.camera_period = 1.0 / p["camera_hz"] if p["camera_hz"] > 0 else 0.0
        self.publish_clock = p["publish_clock"]
        self.start_ns = self.get_clock().now().nanoseconds
        self.start_wall = time.monotonic()
        self.sim_elapsed_steps = 0  # never reset: the stamp base
        self.overruns = 0
        self.resyncs = 0
        self.step_time_s = 0.0

        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.js_pub = self.create_publisher(JointState, "/joint_states", reliable)
        self.image_pub = self.create_publisher(Image, self.camera_spec.topic, reliable)
        self.state_pub = self.create_publisher(SimState, "/gr00t_sim/state", reliable)
        self.clock_pub = self.create_publisher(Clock, "/clock", 10) if self.publish_clock else None
        self.controllers = {}
        # controller -> (its joints, (n, 2) their position limits in the embodiment YAML)
        self.limits: dict[str, tuple[list[str], np.ndarray]] = {}
        self.beyond_limits = 0  # commands with a value beyond its joint's limits
        self._limit_log = Throttle(1.0)
        for ctrl in self.embodiment.controllers:
            if ctrl.type != "forward_command":
                self.get_logger().warning(
                    f"controller {ctrl.name}: type {ctrl.type!r} is not served (only "
                    f"forward_command); its joints hold their targets")
                continue
            index = self.world.actuator_index(list(ctrl.joints))
            self.controllers[ctrl.name] = index
            self.limits[ctrl.name] = (list(ctrl.joints), np.array(
                [self.embodiment.limits_of(j) for j in ctrl.joints]))
            self.create_subscription(
                Float64MultiArray, ctrl.topic,
                lambda msg, name=ctrl.name, idx=index: self._on_command(name, idx, msg), reliable)
        self.create_service(ResetSim, "/gr00t_sim/reset", self._on_reset)
        self.js_msg = JointState()
        self.js_msg.name = list(self.world.robot_joints)

        self.physics_thread = threading.Thread(target=self._physics_loop, name="physics")
        self.render_thread = threading.Thread(target=self._render_loop, name="render",
                                              daemon=True)
        self.physics_thread.start()
        if p["camera_hz"] > 0:
            self.render_thread.start()
        self.create_timer(10.0, self._log_stats)
        self.get_logger().info(
            f"{self.embodiment.name} sim up: {len(self.world.robot_joints)} joints, physics {1 / self.dt:.0f} Hz, "
            f"joint states {1 / (self.dt * self.js_decimation):.0f} Hz, camera {p['camera_hz']} Hz,"
            f" controllers {list(self.controllers)}, seed {self.world.seed}")

    # -- time ----------------------------------------------------------------------------
    def _stamp(self, steps: int):
        """Stamp for a state read after `steps` physics steps: simulated time with /clock,
        else the wall clock now (call it when the state is read)."""
        if not self.publish_clock:
            return self.get_clock().now().to_msg()
        ns = self.start_ns + round(steps * self.dt * 1e9)
        return rclpy.time.Time(nanoseconds=ns).to_msg()

    def _publish(self, publisher, msg) -> bool:
        """Publish; False once shutdown has begun (the context goes invalid before the
        threads are stopped), so the thread can end quietly. Other errors propagate."""
        try:
            publisher.publish(msg)
            return True
        except RCLError:
            if self.stop_event.is_set() or not self.context.ok():
                return False
            raise

    # -- physics -------------------------------------------------------------------------
    def _physics_loop(self) -> None:
        period = self.dt
        deadline = time.monotonic()
        while not self.stop_event.is_set():
            t0 = time.perf_counter()
            with self.lock:
                self.world.step()
                self.sim_elapsed_steps += 1
                steps = self.sim_elapsed_steps
                publish_js = steps % self.js_decimation == 0
                if publish_js:
                    pos = self.world.joint_positions()
                    vel = self.world.joint_velocities()
                    js_stamp = self._stamp(steps)
                snapshot = None
                if steps % STATE_DECIMATION == 0:
                    snapshot = Snapshot.of_world(self.world, self.task, self.reset_count)
                    state_stamp = self._stamp(steps)
            self.step_time_s += time.perf_counter() - t0
            if publish_js:
                self.js_msg.header.stamp = js_stamp
                self.js_msg.position = pos.tolist()
                self.js_msg.velocity = vel.tolist()
                if not self._publish(self.js_pub, self.js_msg):
                    return
                if self.clock_pub is not None:
                    self._publish(self.clock_pub, Clock(clock=self.js_msg.header.stamp))
            if snapshot is not None:
                self._publish(self.state_pub, to_msg(snapshot, state_stamp))
            deadline += period
            now = time.monotonic()
            late = now - deadline
            if late > period:  # more than a whole step behind the wall clock
                self.overruns += 1
                if late > 0.1:  # fell far behind: restart the pacing from now
                    self.resyncs += 1
                    deadline = now
            elif late < 0:
                time.sleep(-late)

    # -- rendering -----------------------------------------------------------------------
    def _render_loop(self) -> None:
        try:
            camera = HeadCamera(self.world, self.camera_spec.name)
        except Exception as exc:  # noqa: BLE001 - report and keep the rest of the sim alive
            self.get_logger().error(f"head camera disabled: could not create a renderer "
                                    f"({exc}); set MUJOCO_GL=egl or osmesa")
            return
        model = self.world.model
        data = mujoco.MjData(model)
        msg = Image(height=camera.size, width=camera.size, encoding="rgb8", is_bigendian=0,
                    step=camera.size * 3)
        msg.header.frame_id = f"{self.camera_spec.name}_camera"
        next_t = time.monotonic()
        self.render_ms: list[float] = []
        try:
            while not self.stop_event.is_set():
                with self.lock:
                    data.qpos[:] = self.world.data.qpos
                    stamp = self._stamp(self.sim_elapsed_steps)
                t0 = time.perf_counter()
                mujoco.mj_kinematics(model, data)
                mujoco.mj_camlight(model, data)
                rgb = camera.render(data)  # (H, W, 3) uint8
                self.render_ms.append((time.perf_counter() - t0) * 1e3)
                msg.header.stamp = stamp
                msg.data = rgb.tobytes()
                if not self._publish(self.image_pub, msg):
                    return
                next_t += self.camera_period
                delay = next_t - time.monotonic()
                if delay > 0:
                    self.stop_event.wait(delay)
                else:
                    next_t = time.monotonic()
        finally:
            camera.close()

    # -- commands and services -----------------------------------------------------------
    def _on_command(self, name: str, index: np.ndarray, msg: Float64MultiArray) -> None:
        values = np.asarray(msg.data, dtype=np.float64)
        if values.shape != (len(index),):
            self.get_logger().error(
                f"{name}: command has {values.size} values, expected {len(index)} "
                f"(one per joint of the controller); ignored")
            return
        if not np.all(np.isfinite(values)):
            self.get_logger().error(f"{name}: command has non-finite values {values.tolist()}; "
                                    f"ignored")
            return
        joints, lim = self.limits[name]  # (n,), (n, 2)
        beyond = np.flatnonzero((values < lim[:, 0]) | (values > lim[:, 1]))
        if beyond.size:
            self.beyond_limits += 1
            if self._limit_log.allow(name, time.monotonic()):
                j = int(beyond[0])
                joint = joints[j]
                lo, hi = self.world.model.actuator_ctrlrange[index[j]]
                self.get_logger().error(
                    f"{name}: command {joint}={values[j]:.4f} is beyond its limits "
                    f"[{lim[j, 0]:.4f}, {lim[j, 1]:.4f}] ({self.embodiment.source}; "
                    f"{beyond.size} joint(s) of this command, {self.beyond_limits} command(s) "
                    f"so far): a real joint stops at its limit, and System 1 never sends past "
                    f"it, so this sender bypassed System 1's limits; applied within the "
                    f"model's range [{lo:.4f}, {hi:.4f}]")
        with self.lock:
            self.world.data.ctrl[index] = values

    def _on_reset(self, request: ResetSim.Request,
                  response: ResetSim.Response) -> ResetSim.Response:
        task, refusal = None, None
        if request.instruction.strip():
            try:
                task = Task.parse(request.instruction)
            except ValueError as exc:
                refusal = f"refused, nothing was reset: {exc}"
        with self.lock:
            if refusal is None:
                seed = int(request.seed)
                if seed < 0:
                    seed = (self.world.seed or 0) + 1
                self.world.reset(seed)
                self.task = task
                self.reset_count += 1
                cubes = self.world.cube_positions()
            snapshot = Snapshot.of_world(self.world, self.task, self.reset_count)
            stamp = self._stamp(self.sim_elapsed_steps)
        response.state = to_msg(snapshot, stamp)
        if refusal is not None:
            response.success, response.message = False, refusal
            self.get_logger().error(f"reset: {refusal}")
            return response
        response.success = True
        response.message = f"seed {seed}; " + "; ".join(
            f"{c} {np.round(cubes[c], 4).tolist()}" for c in CUBE_COLORS)
        self.get_logger().info(f"reset: {response.message}")
        return response

    def _log_stats(self) -> None:
        steps = max(self.sim_elapsed_steps, 1)
        render = getattr(self, "render_ms", [])
        render_txt = f", render {np.median(render[-300:]):.1f} ms/frame" if render else ""
        rtf = steps * self.dt / max(time.monotonic() - self.start_wall, 1e-9)
        self.get_logger().info(
            f"physics: {steps} steps, real-time factor {rtf:.3f}, {self.overruns} steps > 1 "
            f"period late ({100 * self.overruns / steps:.2f}%), {self.resyncs} resyncs, "
            f"{1e6 * self.step_time_s / steps:.0f} us/step{render_txt}, "
            f"{self.beyond_limits} command(s) beyond the embodiment's joint limits")

    def close(self) -> None:
        self.stop_event.set()
        self.physics_thread.join(timeout=5.0)
        if self.render_thread.is_alive():
            self.render_thread.join(timeout=5.0)
        self._log_stats()


def main(args: list[str] | None = None) -> int:
    """Run the node until SIGINT/SIGTERM; the exit status (`gr00t_common.plain_node.run`: 0
    on a clean stop, non-zero with one fatal line when it cannot start)."""
    return plain_node.run(SimNode, close=SimNode.close, args=args, name="gr00t_sim")


def run() -> None:
    """The process's entry point (`sim_node`, `python -m`): `main`, then the exit with its
    status, bounded (`gr00t_common.teardown.run_process`)."""
    run_process(main)


if __name__ == "__main__":
    run()
