"""The sim node over real DDS: joint states, camera, forward commands, reset, scene state."""

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from gr00t_common.stamps import stamp_to_seconds
from gr00t_testing import NodeProcess, RosProbe, wait_until
from gr00t_msgs.msg import SimState
from gr00t_msgs.srv import ResetSim
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Float64MultiArray

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
    stamps = [stamp_to_seconds(m.header.stamp) for m in msgs]
    stamps = [s for s in stamps if s >= since]
    return (len(stamps) - 1) / (stamps[-1] - stamps[0])


def test_sim_node_topics_commands_and_reset(sim, ros_domain_id):
    with RosProbe(domain_id=ros_domain_id) as probe:
        states = probe.collect(JointState, "/joint_states")
        images = probe.collect(Image, "/camera/head/image_raw")
        scenes = probe.collect(SimState, "/gr00t_sim/state")
        wait_until(lambda: len(states) > 50 and len(images) > 5 and len(scenes) > 5, 60,
                   "joint states, images and scene states")
        first = states[0]
        assert len(first.name) == 43 and "left_elbow_joint" in first.name
        assert len(first.position) == 43 and len(first.velocity) == 43

        # Rates over ~2 s, from message stamps (sim time) and from wall arrival.
        n0, i0, s0, t0 = len(states), len(images), len(scenes), time.monotonic()
        time.sleep(2.0)
        wall = time.monotonic() - t0
        assert 15 <= (len(scenes) - s0) / wall <= 30, (len(scenes) - s0) / wall  # 25 Hz
        assert (len(states) - n0) / wall >= 110, (len(states) - n0) / wall
        stamp_rate = rate(states[n0:], 0.0)
        assert 120 <= stamp_rate <= 130, stamp_rate
        assert 20 <= (len(images) - i0) / wall <= 36, (len(images) - i0) / wall
        img = images[-1]
        assert (img.height, img.width, img.encoding, img.step) == (224, 224, "rgb8", 672)
        assert len(img.data) == 224 * 672
        assert np.frombuffer(bytes(img.data), np.uint8).std() > 10
        # Before any reset: the start scene (seed parameter 3), no task judged.
        scene = scenes[-1]
        assert (scene.seed, scene.reset_count, scene.instruction, scene.task_kind) == (
            3, 0, "", "")
        assert not scene.success and np.isnan(scene.margin)
        assert scene.header.frame_id == "world"
        assert list(scene.object_names) == ["red_cube", "green_cube", "blue_cube"]
        assert list(scene.palm_names) == ["left_palm", "right_palm"]
        assert len(scene.object_positions) == 3 and len(scene.palm_positions) == 2

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
        assert "beyond its limits" not in sim.output()

        # A value past a joint's limit in the YAML (thumb_1: Unitree's 0.611 rad, inside the
        # model's 0.724) is applied as the model allows, and said.
        hand = probe.publisher(Float64MultiArray, "/right_hand_controller/commands")
        probe.wait_for_subscribers(hand)
        hand.publish(Float64MultiArray(data=[0.0, 0.7, 0.0, 0.0, 0.0, 0.0, 0.0]))
        wait_until(lambda: "beyond its limits" in sim.output(), 10, "the sim to say so")
        assert ("right_hand_controller: command right_hand_thumb_1_joint=0.7000 is beyond its "
                "limits [-1.0472, 0.6109]") in sim.output()
        assert "applied within the model's range [-1.0472, 0.7243]" in sim.output()

        # An unknown task is refused and resets nothing.
        reply = probe.call(ResetSim, "/gr00t_sim/reset",
                           ResetSim.Request(seed=42, instruction="wave"))
        assert not reply.success and "known" in reply.message
        assert (reply.state.seed, reply.state.reset_count) == (3, 0)

        # Reset with a chosen seed and task, in one request.
        reply = probe.call(ResetSim, "/gr00t_sim/reset", ResetSim.Request(
            seed=42, instruction="Touch the red cube with your left hand."))
        assert reply.success and reply.message.startswith("seed 42;")
        task = "touch the red cube with your left hand"
        assert (reply.state.seed, reply.state.reset_count, reply.state.instruction,
                reply.state.task_kind) == (42, 1, task, "touch")
        assert reply.state.time_since_reset == 0.0
        wait_until(lambda: np.abs(positions(states[-1], LEFT_ARM) - before).max() < 0.08, 10,
                   "the left arm back at its rest pose after reset")

        # The scene state now judges that task; its margin is the palm-to-cube distance.
        wait_until(lambda: scenes[-1].reset_count == 1, 10, "a scene state of the reset")
        scene = scenes[-1]
        assert (scene.seed, scene.instruction, scene.task_kind) == (42, task, "touch")
        palm, cube = scene.palm_positions[0], scene.object_positions[0]  # left palm, red cube
        distance = np.linalg.norm([palm.x - cube.x, palm.y - cube.y, palm.z - cube.z])
        assert scene.margin == pytest.approx(distance, abs=1e-9)
        assert scene.threshold == 0.05 and scene.success is bool(distance <= 0.05)
        assert not scene.success  # the arms are at rest, below the table's edge

        # An empty request steps to the next seed and judges nothing.
        reply = probe.call(ResetSim, "/gr00t_sim/reset", ResetSim.Request(), resend=False)
        assert reply.success and reply.message.startswith("seed 43;")
        assert (reply.state.seed, reply.state.reset_count, reply.state.instruction) == (
            43, 2, "")


GR1_YAML = Path(__file__).resolve().parents[3] / "config" / "fourier_gr1.yaml"


@pytest.mark.parametrize("param,says", [
    # A reset's seed < 0 means the previous + 1; the first scene has none: refused by its
    # range, not by numpy ("expected non-negative integer", naming no parameter).
    ("seed:=-1", "parameter seed=-1 is out of range: it must be >= 0"),
    ("joint_state_decimation:=0", "parameter joint_state_decimation"),
    (f"embodiment:={GR1_YAML}", "embodiment 'fourier_gr1' has no `simulator:` section"),
], ids=["seed", "decimation", "embodiment"])
def test_a_sim_that_cannot_start_says_why_in_one_line_and_exits_1(ros_domain_id, param, says):
    done = subprocess.run([sys.executable, "-m", "gr00t_sim.node", "--ros-args", "-p", param],
                          capture_output=True, text=True, timeout=120)
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "Traceback" not in out and "[gr00t_sim]: cannot start: " in out, out
    assert says in out, out
