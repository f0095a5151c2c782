"""The recorder and System 1's safety state over real DDS: an episode without System 1 records
as before; with it, each bag starts with the state in force (published long before `start`,
heard through transient local), then every change; once it is gone, no state is carried."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import yaml

from gr00t_common.safety_topic import SAFETY_STATE_QOS, SAFETY_STATE_TOPIC
from gr00t_msgs.msg import SafetyState
from gr00t_msgs.srv import SetInstruction
from gr00t_policy.runtime import safety_state
from gr00t_policy.dataset.bag import read_bag
from gr00t_testing import NodeProcess, RosProbe
from std_srvs.srv import Trigger

sys.path.insert(0, str(Path(__file__).resolve().parent))  # test_node.py's tiny robot
from test_node import embodiment_dict  # noqa: E402


def state(name: str, previous: str, stamp_ns: int) -> SafetyState:
    msg = SafetyState(state=name, previous=previous, reason=f"test: {name}")
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, 10**9)
    return msg


def test_the_core_reads_system1s_names():
    assert safety_state.RUNNING == SafetyState.STATE_RUNNING
    assert safety_state.SAFETY_STATE_TYPE == "gr00t_msgs/msg/SafetyState"


def test_each_episode_starts_with_the_state_in_force_then_every_change(ros_domain_id, tmp_path):
    emb_yaml = tmp_path / "tiny.yaml"
    emb_yaml.write_text(yaml.safe_dump(embodiment_dict()))
    out = tmp_path / "bags"
    recorder = NodeProcess(
        [sys.executable, "-m", "gr00t_record.node", "--ros-args", "-p", f"embodiment:={emb_yaml}",
         "-p", f"output_dir:={out}"], tmp_path / "rec.log")
    try:
        with RosProbe(domain_id=ros_domain_id) as probe:
            def call(name, request):
                return probe.call(SetInstruction if name == "start" else Trigger,
                                  f"/gr00t_record/{name}", request, timeout=60)

            # Episode 0, no System 1 (a teleoperation): nothing about its state anywhere.
            reply = call("start", SetInstruction.Request(instruction="teleop"))
            assert reply.accepted and SAFETY_STATE_TOPIC not in reply.message, reply.message
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
            time.sleep(0.3)
            pub.publish(state("running", "disabled", time.time_ns()))
            time.sleep(0.3)
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
