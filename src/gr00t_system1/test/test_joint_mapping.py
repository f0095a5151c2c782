"""JointMapper: by-name mapping, extra joints ignored, every bad message rejected with names."""

import math

import numpy as np
import pytest

from gr00t_system1.joint_mapping import (
    JointMapper, JointStateError, MissingJointsError, NonFiniteJointError)

JOINTS = ["a", "b", "c"]


def test_shuffled_order_and_extra_joints_map_by_name():
    m = JointMapper(JOINTS)
    out = m.map(["x", "c", "a", "y", "b"], [9.0, 3.0, 1.0, 8.0, 2.0])
    assert out.tolist() == [1.0, 2.0, 3.0]
    # Same names again (cached index) and then a different order.
    assert m.map(["x", "c", "a", "y", "b"], [0.0, 6.0, 4.0, 0.0, 5.0]).tolist() == [4.0, 5.0, 6.0]
    assert m.map(["b", "a", "c"], [2.0, 1.0, 3.0]).tolist() == [1.0, 2.0, 3.0]


def test_missing_joints_are_named():
    with pytest.raises(MissingJointsError) as info:
        JointMapper(JOINTS).map(["a", "x"], [1.0, 2.0])
    assert info.value.missing == ("b", "c")
    assert "b" in str(info.value) and "c" in str(info.value)


def test_a_missing_joint_is_shown_beside_the_alike_name_the_message_has():
    """A YAML written for another model of the arm (panda_* joints, the robot says fr3_*)."""
    m = JointMapper(["panda_joint1", "panda_joint2", "gripper"])
    names = ["fr3_joint1", "fr3_joint2", "gripper", "camera_tilt"]
    for _ in range(2):  # the second time from what the first computed
        with pytest.raises(MissingJointsError) as info:
            m.map(names, [0.0] * 4)
        text = str(info.value)
        assert "'panda_joint1' is not there but 'fr3_joint1' is" in text
        assert "'panda_joint2' is not there but 'fr3_joint2' is" in text
        assert "camera_tilt" not in text and "is not there but 'gripper'" not in text


def test_one_alike_name_for_several_missing_joints_is_not_offered():
    """A gripper driver publishing its own /joint_states beside the arm's: its message lacks
    every arm joint, and 'fr3_finger_joint2' is the closest name to each of them. Offering it
    seven times ("'fr3_joint1' is not there but 'fr3_finger_joint2' is", ...) reads as a
    renaming to do, where the names are right and the message is another driver's."""
    arm = [f"fr3_joint{i}" for i in range(1, 8)]
    m = JointMapper(arm + ["fr3_finger_joint1"])
    with pytest.raises(MissingJointsError) as info:
        m.map(["fr3_finger_joint1", "fr3_finger_joint2"], [0.02, 0.02])
    assert info.value.missing == tuple(arm)
    assert "is not there but" not in str(info.value), str(info.value)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_needed_joint_is_rejected(bad):
    with pytest.raises(NonFiniteJointError) as info:
        JointMapper(JOINTS).map(["a", "b", "c"], [0.0, bad, 0.0])
    assert info.value.joints == ("b",)


def test_non_finite_extra_joint_is_ignored():
    out = JointMapper(JOINTS).map(["a", "b", "c", "z"], [0.0, 1.0, 2.0, math.nan])
    assert np.isfinite(out).all()


def test_duplicates_and_length_mismatch_are_rejected():
    m = JointMapper(JOINTS)
    with pytest.raises(JointStateError, match="more than once"):
        m.map(["a", "b", "c", "a"], [0.0, 1.0, 2.0, 3.0])
    with pytest.raises(JointStateError, match="3 names but 2 positions"):
        m.map(["a", "b", "c"], [0.0, 1.0])
    with pytest.raises(ValueError, match="unique"):
        JointMapper(["a", "a"])


def test_a_prefix_maps_the_robots_names_to_the_yamls():
    """A ros2_control driver with a `prefix` publishes g1/a for the YAML's a."""
    m = JointMapper(JOINTS, prefix="g1/")
    assert m.joints == ("a", "b", "c")  # the YAML's names inside
    out = m.map(["g1/c", "x", "g1/a", "g1/b", "a"], [3.0, 9.0, 1.0, 2.0, 7.0])
    assert out.tolist() == [1.0, 2.0, 3.0]


def test_joints_there_under_a_prefix_name_the_joint_prefix_to_set():
    with pytest.raises(MissingJointsError) as info:
        JointMapper(JOINTS).map(["g1/a", "g1/b", "g1/c", "g1/d"], [0.0] * 4)
    assert info.value.missing == ("a", "b", "c")
    assert "set joint_prefix:=g1/" in str(info.value)


def test_a_wrong_prefix_names_the_prefix_the_joints_arrive_with():
    m = JointMapper(JOINTS, prefix="robot2_")
    with pytest.raises(MissingJointsError) as info:
        m.map(["robot1_a", "robot1_b", "robot1_c"], [0.0] * 3)
    text = str(info.value)
    assert info.value.missing == ("a", "b", "c")  # the YAML's names
    assert "robot2_a" in text and "joint_prefix 'robot2_'" in text  # what was looked for
    assert "set joint_prefix:=robot1_" in text
    with pytest.raises(MissingJointsError, match=r"set joint_prefix:=''"):
        m.map(["a", "b", "c"], [0.0] * 3)  # the robot has no prefix
