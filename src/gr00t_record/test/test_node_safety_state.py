"""The recorder and System 1's safety state over real DDS: an episode without System 1 records
and converts as before; with it, each bag starts with the state in force (published long
before `start`, heard through transient local), then every change, and from-bag leaves out
the steps commanded while it was not running; once it is gone, no state is carried."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from gr00t_common.safety_topic import SAFETY_STATE_QOS, SAFETY_STATE_TOPIC
from gr00t_msgs.msg import SafetyState
from gr00t_msgs.srv import SetInstruction
from gr00t_policy.runtime import safety_state
from gr00t_policy.dataset.bag import read_bag
from gr00t_policy.dataset.from_bag import convert_bags
from gr00t_policy.embodiment import parse_embodiment
from gr00t_testing import RosProbe
from std_srvs.srv import Trigger

sys.path.insert(0, str(Path(__file__).resolve().parent))  # test_node.py's tiny robot
from test_node import Robot, embodiment_dict, start_recorder  # noqa: E402


def state(name: str, previous: str, stamp_ns: int) -> SafetyState:
    msg = SafetyState(state=name, previous=previous, reason=f"test: {name}")
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, 10**9)
    return msg


def test_the_core_reads_system1s_names():
    assert safety_state.RUNNING == SafetyState.STATE_RUNNING
    assert safety_state.SAFETY_STATE_TYPE == "gr00t_msgs/msg/SafetyState"


def test_each_episode_starts_with_the_state_in_force_then_every_change(ros_domain_id, tmp_path):
    recorder, out = start_recorder(tmp_path)
    try:
        with RosProbe(domain_id=ros_domain_id) as probe:
            def call(name, request):
                return probe.call(SetInstruction if name == "start" else Trigger,
                                  f"/gr00t_record/{name}", request, timeout=60)

            robot = Robot(probe)  # joint states, a camera, commands at 20 Hz
            try:
                for topic, pub in robot.pubs.items():
                    if topic != "/extra":  # (not recorded here)
                        probe.wait_for_subscribers(pub, timeout=60)
                # Episode 0, no System 1 (a teleoperation): nothing about its state anywhere.
                reply = call("start", SetInstruction.Request(instruction="teleop"))
                assert reply.accepted and SAFETY_STATE_TOPIC not in reply.message, reply.message
                time.sleep(1.0)
                stop = call("stop", Trigger.Request())
                assert stop.success and SAFETY_STATE_TOPIC not in stop.message, stop.message
                # System 1 comes up disabled, published once, a while before the next start.
                pub = probe.publisher(SafetyState, SAFETY_STATE_TOPIC, SAFETY_STATE_QOS)
                began = time.time_ns()
                pub.publish(state("disabled", "", began))
                probe.wait_for_subscribers(pub, timeout=60)
                time.sleep(1.5)
                started = time.time_ns()
                reply = call("start", SetInstruction.Request(instruction="rollout"))
                assert reply.accepted and reply.instruction_id == 1, reply.message
                time.sleep(0.5)
                pub.publish(state("running", "disabled", time.time_ns()))
                time.sleep(1.2)
                pub.publish(state("hold_stale_tokens", "running", time.time_ns()))
                time.sleep(0.5)
                stop = call("stop", Trigger.Request())
                assert stop.success and f"{SAFETY_STATE_TOPIC} 3" in stop.message, stop.message
                # System 1 gone (a teleoperation next): its last state is no longer in force.
                probe.node.destroy_publisher(pub)
                time.sleep(1.0)
                assert call("start", SetInstruction.Request(instruction="teleop")).accepted
                stop = call("stop", Trigger.Request())
                assert stop.success and f"{SAFETY_STATE_TOPIC} 0" in stop.message, stop.message
            finally:
                robot.close()
    finally:
        recorder.stop()

    assert SAFETY_STATE_TOPIC not in read_bag(out / "episode_000000").topics
    bag = read_bag(out / "episode_000001")
    assert bag.topics[SAFETY_STATE_TOPIC] == "gr00t_msgs/msg/SafetyState"
    msgs = bag.messages[SAFETY_STATE_TOPIC]
    assert [m.state for _, m in msgs] == ["disabled", "running", "hold_stale_tokens"]
    (logged, first), sent = msgs[0], bag.publish_times[SAFETY_STATE_TOPIC][0]
    # Logged when the episode started; sent (and stamped) when System 1 published it.
    assert started <= logged < msgs[1][0], (started, logged)
    assert sent < started - 1e9 and first.header.stamp.sec * 10**9 + first.header.stamp.nanosec \
        == began
    # Converted: the teleoperation whole; System 1's run without its disabled start and its
    # hold (20 Hz commands: ~10 and ~10 steps), the 1.2 s it ran kept (~24 steps; sleeps
    # overrun on a busy host).
    emb = parse_embodiment(embodiment_dict())
    [teleop] = convert_bags([out / "episode_000000"], emb, tmp_path / "ds0")
    assert not teleop.system1_holds and teleop.steps >= 15, teleop.lines()
    [run] = convert_bags([out / "episode_000001"], emb, tmp_path / "ds1")
    assert set(run.system1_holds) == {"disabled", "hold_stale_tokens"}, run.lines()
    assert len(run.episodes) == 1 and 18 <= run.steps <= 32, run.lines()
