"""ROS 2 node `gr00t_expert`: the scripted expert (gr00t_sim.expert) driving the simulator
over ROS, the way a teleoperator or a scripted routine drives a robot while gr00t-record
records it.

Services:
- /gr00t_expert/start (gr00t_msgs/srv/ResetSim: seed, instruction): stop commanding, reset
  the simulator through /gr00t_sim/reset with the same request, plan the task on the reset
  scene (the expert's own copy of the world, reset with the seed the simulator reports; the
  cube positions are checked against its reply), wait for a joint state from after the reset
  and `settle_s`, then command. The reply is the simulator's.
- /gr00t_expert/stop (std_srvs/srv/Trigger): stop commanding (the robot holds the last
  targets).

While commanding, every action_dt it publishes the expert's next action row (gr00t-collect's
``expert.act()``, without collect's perturbation) to each forward_command controller of the
embodiment YAML (std_msgs/Float64MultiArray, the controller's joints in order). After the
plan ends it keeps sending the final row, as the expert holds it in gr00t-collect.
Subscribes to /joint_states (only to know that the robot has been seen after the reset: the
messages are not even deserialized).

One thread (a single-threaded executor): the timer, the services and the subscription never
run at once, and the start service's coroutine gives way only while it awaits the simulator's
reset. A second executor thread only cost CPU time, and on a busy machine too little CPU is
what makes the timer late: a tick late by more than a period is skipped by the timer (the plan
goes on one row per tick, so the robot holds its targets a period longer; the recording shows
that as a repeated action).
"""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")  # the world is never rendered; set before mujoco

import time  # noqa: E402

import numpy as np  # noqa: E402
from rclpy.callback_groups import ReentrantCallbackGroup  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from sensor_msgs.msg import JointState  # noqa: E402
from std_msgs.msg import Float64MultiArray  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402

from gr00t_common import plain_node  # noqa: E402
from gr00t_common.params import declare_and_read  # noqa: E402
from gr00t_common.teardown import run_process
from gr00t_msgs.srv import ResetSim  # noqa: E402
from gr00t_sim.expert import ScriptedExpert, expert_config  # noqa: E402
from gr00t_sim.expert_params import SPECS  # noqa: E402
from gr00t_sim.snapshot import OBJECT_NAMES  # noqa: E402
from gr00t_sim.tasks import CUBE_COLORS, Task  # noqa: E402
from gr00t_sim.world import SimWorld  # noqa: E402

START_SERVICE = "/gr00t_expert/start"
STOP_SERVICE = "/gr00t_expert/stop"
SIM_RESET = "/gr00t_sim/reset"


class ExpertNode(Node):
    """See the module docstring."""

    def __init__(self) -> None:
        super().__init__("gr00t_expert")
        p = declare_and_read(self, SPECS)  # parameters and their checks: expert_params.py
        from gr00t_policy.embodiment import load_embodiment

        self.embodiment = load_embodiment(p["embodiment"])
        self.settle_s = p["settle_s"]
        self.world = SimWorld(self.embodiment)
        self.expert = ScriptedExpert(self.world, self.embodiment.action_joints,
                                     self.embodiment.action_dt,
                                     expert_config(self.world.sim,
                                                   waist_ik_scale=p["waist_ik_scale"]))
        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        index = {n: i for i, n in enumerate(self.embodiment.action_joints)}
        self.outputs = []
        for ctrl in self.embodiment.controllers:
            if ctrl.type != "forward_command":
                raise ValueError(f"controller {ctrl.name}: type {ctrl.type!r}; the expert node "
                                 "publishes forward_command controllers only")
            self.outputs.append((self.create_publisher(Float64MultiArray, ctrl.topic, reliable),
                                 np.array([index[j] for j in ctrl.joints])))
        # The start service awaits the reset client's reply: in one mutually exclusive group
        # (the default) that reply would wait for the service to finish, for ever.
        group = ReentrantCallbackGroup()
        self.reset_client = self.create_client(ResetSim, SIM_RESET, callback_group=group)
        self.create_service(ResetSim, START_SERVICE, self._on_start, callback_group=group)
        self.create_service(Trigger, STOP_SERVICE, self._on_stop)
        self.create_subscription(JointState, "/joint_states", self._on_joint_state, reliable,
                                 raw=True)
        self.active = False
        self.go_at = float("inf")  # monotonic time of the first command
        self.reset_ns = 0  # node clock at the reset reply
        self.state_ns = 0  # node clock of the newest joint state
        self.create_timer(self.embodiment.action_dt, self._tick)
        self.get_logger().info(
            f"expert up for {self.embodiment.name!r}: {len(self.outputs)} controllers, "
            f"{1 / self.embodiment.action_dt:g} Hz; {START_SERVICE} (seed, instruction)")

    def _on_joint_state(self, data: bytes) -> None:
        self.state_ns = self.get_clock().now().nanoseconds

    def _tick(self) -> None:
        if not self.active or time.monotonic() < self.go_at or self.state_ns <= self.reset_ns:
            return
        row = self.expert.act()  # (A,) absolute joint targets
        for pub, cols in self.outputs:
            pub.publish(Float64MultiArray(data=row[cols].tolist()))

    async def _on_start(self, request: ResetSim.Request,
                        response: ResetSim.Response) -> ResetSim.Response:
        self.active = False
        try:
            task = Task.parse(request.instruction)
        except ValueError as exc:
            response.success, response.message = False, f"refused: {exc}"
            return response
        if not self.reset_client.wait_for_service(timeout_sec=10.0):
            response.success = False
            response.message = f"{SIM_RESET} is not available; is the simulator running?"
            return response
        reply = await self.reset_client.call_async(
            ResetSim.Request(seed=request.seed, instruction=request.instruction))
        if not reply.success:
            return reply
        self.reset_ns = self.get_clock().now().nanoseconds
        self.world.reset(int(reply.state.seed))
        reported = dict(zip(reply.state.object_names, reply.state.object_positions))
        for name, color in zip(OBJECT_NAMES, CUBE_COLORS):
            p = reported.get(name)
            mine = self.world.cube_position(color)
            if p is None or np.abs(np.array([p.x, p.y, p.z]) - mine).max() > 1e-6:
                self.get_logger().error(
                    f"the simulator's {name} is not where seed {reply.state.seed} puts it "
                    f"({p} vs {mine.tolist()}); the plan may miss")
        self.expert.reset(task)
        self.go_at = time.monotonic() + self.settle_s
        self.active = True
        self.get_logger().info(f"start: seed {reply.state.seed}, {task.instruction!r}")
        return reply

    def _on_stop(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        response.success, response.message = self.active, (
            "stopped commanding" if self.active else "was not commanding")
        self.active = False
        return response


def main(args: list[str] | None = None) -> int:
    """Run the node until SIGINT/SIGTERM; the exit status (`gr00t_common.plain_node.run`)."""
    return plain_node.run(ExpertNode, args=args, name="gr00t_expert")


def run() -> None:
    """The process's entry point (`expert_node`, `python -m`): `main`, then the exit with its
    status, bounded (`gr00t_common.teardown.run_process`)."""
    run_process(main)


if __name__ == "__main__":
    run()
