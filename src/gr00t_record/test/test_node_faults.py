"""The recorder node in this process, on faults a recording on a robot meets: a topic whose
type this process cannot load, and a disk that fills up mid-episode. The node must keep
answering, keep what it wrote, and say why."""

from __future__ import annotations

import errno
import time
from pathlib import Path

import pytest
import rclpy
from rclpy.serialization import serialize_message
from rclpy.time import Time
from sensor_msgs.msg import Image
from std_msgs.msg import String

import gr00t_record.node as recorder
from gr00t_msgs.srv import SetInstruction
from gr00t_policy.dataset.bag import read_bag
from std_srvs.srv import Trigger

G1 = Path(__file__).resolve().parents[3] / "config" / "unitree_g1.yaml"


@pytest.fixture
def node(ros_domain_id, tmp_path):
    rclpy.init(args=["recorder_faults", "--ros-args", "-p", f"embodiment:={G1}",
                     "-p", f"output_dir:={tmp_path / 'bags'}", "-p", "extra_topics:=['/extra']"])
    made = recorder.RecorderNode()
    yield made
    made.close_episode()
    made.destroy_node()
    rclpy.shutdown()


def wait_for_publisher(node, topic: str) -> None:
    deadline = time.monotonic() + 10
    while not node.get_publishers_info_by_topic(topic):
        assert time.monotonic() < deadline, f"no publisher seen on {topic}"
        time.sleep(0.05)


def start(node, text="raise your left hand"):
    return node._on_start(SetInstruction.Request(instruction=text), SetInstruction.Response())


def test_a_type_it_cannot_load_is_refused_and_the_rest_recorded(node, monkeypatch):
    def cannot_load(msgtype):
        raise ModuleNotFoundError(f"No module named '{msgtype.split('/')[0]}'")

    node.create_publisher(String, "/extra", 1)
    wait_for_publisher(node, "/extra")
    monkeypatch.setattr(recorder, "_message_class", cannot_load)
    node._discover()  # used to raise out of the timer and end the node
    assert "/extra" in node.refused and "/extra" not in node.types
    assert start(node).accepted


def test_a_start_on_a_full_disk_is_refused_with_why(node, monkeypatch):
    node.create_publisher(String, "/gr00t/instruction", 1)
    wait_for_publisher(node, "/gr00t/instruction")

    def full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(recorder, "BagWriter", full)
    reply = start(node)  # used to raise out of the service callback and end the node
    assert not reply.accepted and "No space left on device" in reply.message
    assert node.writer is None
    monkeypatch.undo()
    assert start(node).accepted


def test_a_camera_topic_of_another_type_is_refused(node):
    # The G1's head camera topic, published as a String (a camera_info or a packet stream
    # would be the same): recorded, it would be a day of episodes from-bag cannot read.
    node.create_publisher(String, "/camera/head/image_raw", 1)
    wait_for_publisher(node, "/camera/head/image_raw")
    node._discover()
    assert "/camera/head/image_raw" in node.refused


def test_a_full_disk_closes_the_episode_with_what_it_holds_and_stop_says_why(node):
    node.create_publisher(String, "/gr00t/instruction", 1)
    wait_for_publisher(node, "/gr00t/instruction")
    reply = start(node)
    assert reply.accepted, reply.message
    path = node.writer.path
    data = serialize_message(String(data="raise your left hand"))
    node._on_message("/gr00t/instruction", data, {})
    node._on_message("/gr00t/instruction", data, {})

    def full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    node.writer.write = full
    node._on_message("/gr00t/instruction", data, {})  # used to raise in the callback
    assert node.writer is None
    stop = node._on_stop(Trigger.Request(), Trigger.Response())
    assert not stop.success
    assert "No space left on device" in stop.message and "free space" in stop.message
    assert "2 messages" in stop.message
    assert len(read_bag(path).messages["/gr00t/instruction"]) == 2  # kept, and readable
    # A client that lost that reply and asks again gets the same answer.
    again = node._on_stop(Trigger.Request(), Trigger.Response())
    assert not again.success and again.message == stop.message
    # The next episode records, and its stop answers for itself.
    assert start(node).accepted
    assert node._on_stop(Trigger.Request(), Trigger.Response()).success


def test_a_camera_stream_from_bag_would_refuse_is_recorded_and_named(node):
    # A driver left on its Bayer output: every frame is recorded (the bag is the raw record),
    # but the first one tells the operator now, not at conversion after a day of episodes.
    camera = "/camera/head/image_raw"
    node.create_publisher(Image, camera, 1)
    wait_for_publisher(node, camera)
    assert start(node).accepted
    path = node.writer.path
    bayer = serialize_message(Image(height=4, width=4, encoding="bayer_rggb8", step=4,
                                    data=bytes(16)))
    for _ in range(3):
        node._on_message(camera, bayer, {})
    stop = node._on_stop(Trigger.Request(), Trigger.Response())
    assert stop.success
    assert "bayer_rggb8" in stop.message and "from-bag will refuse" in stop.message
    assert "rgb8 or bgr8" in stop.message  # the fix
    assert len(read_bag(path).messages[camera]) == 3
    # The next episode starts clean: a good camera is not reported.
    assert start(node).accepted
    good = serialize_message(Image(height=4, width=4, encoding="rgb8", step=12, data=bytes(48)))
    node._on_message(camera, good, {})
    stop = node._on_stop(Trigger.Request(), Trigger.Response())
    assert stop.success and "refuse" not in stop.message


def test_joint_states_without_the_yamls_names_are_recorded_and_named(node):
    # A driver whose names carry a prefix the recorder was not given: every message is
    # recorded, but the operator hears now, not at conversion, which joint_prefix to set.
    from sensor_msgs.msg import JointState

    joints = node.embodiment.state_joints
    node.create_publisher(JointState, "/joint_states", 1)
    wait_for_publisher(node, "/joint_states")
    node._discover()
    assert start(node).accepted
    path = node.writer.path
    prefixed = serialize_message(JointState(name=["g1/" + n for n in joints],
                                            position=[0.0] * len(joints)))
    for _ in range(3):
        node._on_message("/joint_states", prefixed, {})
    stop = node._on_stop(Trigger.Request(), Trigger.Response())
    assert stop.success
    assert (f"/joint_states: the episode's first message lacks {len(joints)} of the "
            f"{len(joints)} state joints") in stop.message
    assert "set joint_prefix:=g1/" in stop.message and "--joint-prefix g1/" in stop.message
    assert len(read_bag(path).messages["/joint_states"]) == 3
    # The next episode starts clean: names the YAML has are not reported.
    assert start(node).accepted
    node._on_message("/joint_states", serialize_message(
        JointState(name=list(joints), position=[0.0] * len(joints))), {})
    stop = node._on_stop(Trigger.Request(), Trigger.Response())
    assert stop.success and "lacks" not in stop.message


def test_a_leader_arms_own_prefix_is_checked_and_kept_in_the_bag(ros_domain_id, tmp_path):
    """A g1/ robot teleoperated by a leader arm whose own driver has no prefix: the leader's
    first message is read with action_joint_prefix (not the robot's), and the bag keeps both
    prefixes for from-bag."""
    from sensor_msgs.msg import JointState

    rclpy.init(args=["recorder_leader", "--ros-args", "-p", f"embodiment:={G1}",
                     "-p", f"output_dir:={tmp_path / 'bags'}", "-p", "joint_prefix:=g1/",
                     "-p", "action_topic:=/leader/joint_states",
                     "-p", "action_joint_prefix:=''"])
    node = recorder.RecorderNode()
    try:
        emb = node.embodiment
        node.create_publisher(JointState, "/joint_states", 1)
        node.create_publisher(JointState, "/leader/joint_states", 1)
        for topic in ("/joint_states", "/leader/joint_states"):
            wait_for_publisher(node, topic)
        node._discover()
        assert start(node).accepted
        path = node.writer.path
        node._on_message("/joint_states", serialize_message(JointState(
            name=["g1/" + n for n in emb.state_joints],
            position=[0.0] * len(emb.state_joints))), {})
        node._on_message("/leader/joint_states", serialize_message(JointState(
            name=list(emb.action_joints), position=[0.0] * len(emb.action_joints))), {})
        stop = node._on_stop(Trigger.Request(), Trigger.Response())
        assert stop.success and "lacks" not in stop.message, stop.message
        meta = read_bag(path).custom_data
        assert meta["joint_prefix"] == "g1/" and meta["action_joint_prefix"] == ""
    finally:
        node.close_episode()
        node.destroy_node()
        rclpy.shutdown()


def test_messages_lost_in_its_queue_are_counted_named_and_kept_in_the_metadata(ros_domain_id,
                                                                               tmp_path):
    """The recorder stalls while a publisher sends 40 messages into a queue of 5: 35 never
    reach it. They are counted from the publisher's sequence numbers, logged, named in the
    stop reply and stored in metadata.yaml."""
    import yaml

    rclpy.init(args=["recorder_losses", "--ros-args", "-p", f"embodiment:={G1}",
                     "-p", f"output_dir:={tmp_path / 'bags'}", "-p", "extra_topics:=['/extra']",
                     "-p", "queue_depth:=5"])
    node = recorder.RecorderNode()
    try:
        pub = node.create_publisher(String, "/extra", 100)
        wait_for_publisher(node, "/extra")
        node._discover()  # subscribes, and sees one publisher
        deadline = time.monotonic() + 10
        while pub.get_subscription_count() < 1:
            assert time.monotonic() < deadline, "the recorder's subscription never matched"
            time.sleep(0.05)
        assert start(node).accepted
        path = node.writer.path

        def drain() -> None:
            end = time.monotonic() + 1.0
            while time.monotonic() < end:
                rclpy.spin_once(node, timeout_sec=0.05)

        pub.publish(String(data="0"))
        drain()
        for i in range(40):  # the recorder does not spin meanwhile: its queue keeps 5
            pub.publish(String(data=str(i + 1)))
        time.sleep(0.3)
        drain()
        assert node.losses.lost == {"/extra": 35}
        stop = node._on_stop(Trigger.Request(), Trigger.Response())
        assert stop.success and "LOST 35 on /extra" in stop.message
        assert "queue_depth" in stop.message
        meta = yaml.safe_load((path / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
        assert meta["custom_data"]["lost_messages"] == "/extra 35"
        assert len(read_bag(path).messages["/extra"]) == 6
    finally:
        node.close_episode()
        node.destroy_node()
        rclpy.shutdown()


def discard(node):
    return node._on_discard(Trigger.Request(), Trigger.Response())


def test_a_discard_of_the_retry_is_not_taken_for_a_repeat_of_the_first(node, tmp_path):
    # A failed try is discarded while it records, the retry fails too and is discarded a
    # few seconds later: that is a new request, not a client repeating the first one.
    out = tmp_path / "bags"
    assert start(node).accepted
    first = discard(node)
    assert first.success and "episode_000000" in first.message
    assert start(node).accepted  # the number is used again
    second = discard(node)
    assert second.success, second.message
    assert node.writer is None
    assert not list(out.glob("episode_*")), "the failed retry is still in the data"
    assert sorted(p.name for p in (out / "discarded").iterdir()) == [
        "episode_000000", "episode_000000.1"]
    # A client that lost the second reply and asks again gets it, and nothing more moves.
    again = discard(node)
    assert again.success and again.message == second.message


def disk_full(*_args, **_kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_discard_after_a_full_disk_takes_that_episode_not_the_good_one_before(node, tmp_path):
    # Episode 0 is good; the disk fills during episode 1, so far that its bag cannot be
    # closed either. The operator discards the failed try: episode 1 goes, 0 stays.
    out = tmp_path / "bags"
    node.create_publisher(String, "/gr00t/instruction", 1)
    wait_for_publisher(node, "/gr00t/instruction")
    data = serialize_message(String(data="raise your left hand"))
    assert start(node).accepted
    node._on_message("/gr00t/instruction", data, {})
    assert node._on_stop(Trigger.Request(), Trigger.Response()).success
    assert start(node).accepted
    node._on_message("/gr00t/instruction", data, {})
    node.writer.write = disk_full
    node.writer.close = disk_full
    node._on_message("/gr00t/instruction", data, {})
    assert node.writer is None
    stop = node._on_stop(Trigger.Request(), Trigger.Response())
    assert not stop.success and "could not be closed" in stop.message
    gone = discard(node)
    assert gone.success and "episode_000001" in gone.message, gone.message
    assert sorted(p.name for p in out.glob("episode_*")) == ["episode_000000"]
    assert (out / "discarded" / "episode_000001").is_dir()


@pytest.mark.parametrize("request_", ["stop", "discard"])
def test_a_disk_full_at_close_is_answered_and_the_recorder_keeps_serving(node, tmp_path,
                                                                         request_):
    # The disk fills between the episode's last message and the stop (or discard): closing
    # the bag fails. It used to raise out of the service callback and end the process.
    node.create_publisher(String, "/gr00t/instruction", 1)
    wait_for_publisher(node, "/gr00t/instruction")
    assert start(node).accepted
    path = node.writer.path
    data = serialize_message(String(data="raise your left hand"))
    node._on_message("/gr00t/instruction", data, {})
    node._on_message("/gr00t/instruction", data, {})
    node.writer.close = disk_full
    if request_ == "stop":
        reply = node._on_stop(Trigger.Request(), Trigger.Response())
        assert not reply.success
        assert "No space left on device" in reply.message and "free space" in reply.message
        assert len(read_bag(path).messages["/gr00t/instruction"]) == 2  # kept, readable
    else:
        reply = discard(node)
        assert reply.success and "episode_000000" in reply.message, reply.message
        assert (tmp_path / "bags" / "discarded" / path.name).is_dir()
    assert node.writer is None
    assert start(node).accepted  # still serving
    assert node._on_stop(Trigger.Request(), Trigger.Response()).success


def wait_for_publishers(node, topic: str, n: int) -> None:
    deadline = time.monotonic() + 10
    while node.count_publishers(topic) < n:
        assert time.monotonic() < deadline, f"{n} publishers never seen on {topic}"
        time.sleep(0.05)


def test_a_second_publisher_on_joint_states_is_named_and_kept_in_the_metadata(node):
    """A joint_state_publisher left running beside the driver: from-bag would take its
    messages as the robot's. The start reply says so, and a publisher that joins during the
    episode is listed in metadata.yaml, where from-bag counts them."""
    from sensor_msgs.msg import JointState

    node.create_publisher(JointState, "/joint_states", 10)  # the robot's driver
    stray = node.create_publisher(JointState, "/joint_states", 10)
    wait_for_publishers(node, "/joint_states", 2)
    reply = start(node)
    assert reply.accepted
    assert "WARNING 2 publishers on /joint_states" in reply.message
    assert "ros2 topic info -v /joint_states" in reply.message
    path = node.writer.path
    assert node._on_stop(Trigger.Request(), Trigger.Response()).success
    assert read_bag(path).publishers["/joint_states"] == 2
    # One publisher at the start, a second one joins mid-episode.
    node.destroy_publisher(stray)
    deadline = time.monotonic() + 10
    while node.count_publishers("/joint_states") != 1:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    reply = start(node)
    assert reply.accepted and "WARNING" not in reply.message
    path = node.writer.path
    node.create_publisher(JointState, "/joint_states", 10)
    wait_for_publishers(node, "/joint_states", 2)
    node._discover()
    assert node._on_stop(Trigger.Request(), Trigger.Response()).success
    assert read_bag(path).publishers["/joint_states"] == 2


class SteppedClock:
    """The node clock, set by the test: a robot's clock stepped back by NTP or `date -s`."""

    def __init__(self, ns: int) -> None:
        self.ns = ns

    def now(self):
        return Time(nanoseconds=self.ns)


def test_the_recorders_clock_set_back_mid_episode_is_named_at_once_and_at_stop(node):
    # from-bag cuts such a bag at the step into two episodes (its log times no longer order
    # its messages across it): the operator hears it while the demonstration can still be
    # recorded again whole.
    node.create_publisher(String, "/gr00t/instruction", 1)
    wait_for_publisher(node, "/gr00t/instruction")
    clock = SteppedClock(1_000_000_000_000)
    node.get_clock = lambda: clock
    assert start(node).accepted
    data = serialize_message(String(data="raise your left hand"))
    for _ in range(3):
        clock.ns += 10_000_000
        node._on_message("/gr00t/instruction", data, {})
    clock.ns -= 50_000_000  # within CLOCK_BACK_S: reordering noise, not a step
    node._on_message("/gr00t/instruction", data, {})
    assert node.clock.problem == ""
    clock.ns -= 1_000_000_000
    node._on_message("/gr00t/instruction", data, {})
    assert "clock went back 1.050 s" in node.clock.problem
    stop = node._on_stop(Trigger.Request(), Trigger.Response())
    assert stop.success  # recorded all the same: the bag is the raw record
    assert "clock went back 1.050 s" in stop.message and "record it again" in stop.message
    assert "will cut this bag there into two episodes" in stop.message
    # The next episode starts with a clean slate.
    assert start(node).accepted
    clock.ns += 10_000_000
    node._on_message("/gr00t/instruction", data, {})
    assert "clock went back" not in node._on_stop(Trigger.Request(), Trigger.Response()).message


def test_a_second_system1_state_publisher_is_named_at_start(node):
    """Two System 1 nodes on the domain (another graph, a node left running): their states
    would mix in from-bag's choice of which steps were holds; the start reply says so."""
    from gr00t_common.safety_topic import SAFETY_STATE_QOS, SAFETY_STATE_TOPIC
    from gr00t_msgs.msg import SafetyState

    node.create_publisher(SafetyState, SAFETY_STATE_TOPIC, SAFETY_STATE_QOS)
    reply = start(node)
    assert reply.accepted and SAFETY_STATE_TOPIC not in reply.message, reply.message
    assert node._on_stop(Trigger.Request(), Trigger.Response()).success
    node.create_publisher(SafetyState, SAFETY_STATE_TOPIC, SAFETY_STATE_QOS)
    wait_for_publishers(node, SAFETY_STATE_TOPIC, 2)
    reply = start(node)
    assert reply.accepted
    assert f"WARNING 2 publishers on {SAFETY_STATE_TOPIC}: two System 1 nodes" in reply.message
    assert node._on_stop(Trigger.Request(), Trigger.Response()).success
