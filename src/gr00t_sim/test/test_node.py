"""The sim node over real DDS: joint states, camera, forward commands, reset."""

import sys
import time

import numpy as np
import pytest

from gr00t_bringup.testing import NodeProcess, RosProbe, wait_until
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Float64MultiArray
from std_srvs.srv import Trigger

LEFT_ARM = ["left_shoulder_pitch_joint", "left_shoulder_roll_joint", "left_shoulder_yaw_joint",
            "left_elbow_joint", "left_wrist_roll_joint", "left_wrist_pitch_joint",
            "left_wrist_yaw_joint"]


@pytest.fixture
def sim(ros_domain_id, tmp_path):
    proc = NodeProcess([sys.executable, "-m", "gr00t_sim.node", "--ros-args", "-p", "seed:=3"],
                       tmp_path / "sim.log")
    yield proc
    code = proc.stop()
    assert code == 0, proc.output()[-3000:]


def positions(msg: JointState, names: list[str]) -> np.ndarray:
    index = {n: i for i, n in enumerate(msg.name)}
    return np.array([msg.position[index[n]] for n in names])


def rate(msgs, since: float) -> float:
    stamps = [m.header.stamp.sec + 1e-9 * m.header.stamp.nanosec for m in msgs]
    stamps = [s for s in stamps if s >= since]
    return (len(stamps) - 1) / (stamps[-1] - stamps[0])


def test_sim_node_topics_commands_and_reset(sim, ros_domain_id):
    with RosProbe(domain_id=ros_domain_id) as probe:
        states = probe.collect(JointState, "/joint_states")
        images = probe.collect(Image, "/camera/head/image_raw")
        wait_until(lambda: len(states) > 50 and len(images) > 5, 60, "joint states and images")
        first = states[0]
        assert len(first.name) == 43 and "left_elbow_joint" in first.name
        assert len(first.position) == 43 and len(first.velocity) == 43

        # Rates over ~2 s, from message stamps (sim time) and from wall arrival.
        n0, i0, t0 = len(states), len(images), time.monotonic()
        time.sleep(2.0)
        wall = time.monotonic() - t0
        assert (len(states) - n0) / wall >= 110, (len(states) - n0) / wall
        stamp_rate = rate(states[n0:], 0.0)
        assert 120 <= stamp_rate <= 130, stamp_rate
        assert 20 <= (len(images) - i0) / wall <= 36, (len(images) - i0) / wall
        img = images[-1]
        assert (img.height, img.width, img.encoding, img.step) == (224, 224, "rgb8", 672)
        assert len(img.data) == 224 * 672
        assert np.frombuffer(bytes(img.data), np.uint8).std() > 10

        # A wrong-size command moves nothing.
        pub = probe.publisher(Float64MultiArray, "/left_arm_controller/commands")
        probe.wait_for_subscribers(pub)
        before = positions(states[-1], LEFT_ARM)
        pub.publish(Float64MultiArray(data=[1.0, 1.0, 1.0]))
        time.sleep(1.0)
        assert np.abs(positions(states[-1], LEFT_ARM) - before).max() < 0.02
        assert "left_arm_controller: command has 3 values, expected 7" in sim.output()

        # A correct command moves the left arm to the target.
        target = before + np.array([0.3, 0.3, 0.3, 0.3, 0.3, 0.2, 0.2])  # collision-free
        pub.publish(Float64MultiArray(data=target.tolist()))
        wait_until(lambda: np.abs(positions(states[-1], LEFT_ARM) - target).max() < 0.08, 10,
                   "the left arm at its commanded target")
        assert np.abs(positions(states[-1], LEFT_ARM) - before).max() > 0.25

        # Reset with a chosen seed: parameter first, then the Trigger.
        req = SetParameters.Request(parameters=[Parameter(
            name="reset_seed",
            value=ParameterValue(type=ParameterType.PARAMETER_INTEGER, integer_value=42))])
        reply = probe.call(SetParameters, "/gr00t_sim/set_parameters", req)
        assert reply.results[0].successful
        reply = probe.call(Trigger, "/gr00t_sim/reset", Trigger.Request())
        assert reply.success and reply.message.startswith("seed 42;")
        wait_until(lambda: np.abs(positions(states[-1], LEFT_ARM) - before).max() < 0.08, 10,
                   "the left arm back at its rest pose after reset")
