"""BagWriter: rosbag2 MCAP bags that another reader opens, and that survive a SIGKILL.

The bags are written with the ``mcap`` library and read back with ``rosbags`` (an
independent rosbag2 implementation: it parses metadata.yaml version 9 and the MCAP file),
and with the ``mcap`` reader's summary.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray

from gr00t_policy.dataset.bag import BagError, read_bag
from gr00t_record.bag_writer import BagWriter, qos_to_dict
from gr00t_record.msgdefs import MessageDefinitionError, dependencies, message_definition

RELIABLE = qos_to_dict("keep_last", 10, "reliable", "volatile")


def cdr(msg) -> bytes:
    """What a DDS subscription delivers (rclpy's serialize_message appends stray bytes that
    a strict CDR reader refuses; over DDS they are not there)."""
    from rosbags.typesys import Stores, get_typestore

    ts = get_typestore(Stores.ROS2_JAZZY)
    T = ts.types
    if isinstance(msg, JointState):
        header = T["std_msgs/msg/Header"](stamp=T["builtin_interfaces/msg/Time"](
            sec=0, nanosec=0), frame_id="")
        return bytes(ts.serialize_cdr(T["sensor_msgs/msg/JointState"](
            header=header, name=list(msg.name), position=np.array(msg.position),
            velocity=np.zeros(0), effort=np.zeros(0)), "sensor_msgs/msg/JointState"))
    layout = T["std_msgs/msg/MultiArrayLayout"](dim=[], data_offset=0)
    return bytes(ts.serialize_cdr(T["std_msgs/msg/Float64MultiArray"](
        layout=layout, data=np.array(msg.data)), "std_msgs/msg/Float64MultiArray"))


def write_some(path, n=20):
    w = BagWriter(path, {"instruction": "raise your left hand", "episode_index": "3"})
    w.add_topic("/joint_states", "sensor_msgs/msg/JointState", [RELIABLE])
    w.add_topic("/arm/commands", "std_msgs/msg/Float64MultiArray",
                [qos_to_dict("keep_last", 1, "best_effort", "volatile", deadline_ns=10**8)])
    w.add_topic("/gr00t/instruction", "std_msgs/msg/String")
    t0 = 1_800_000_000 * 10**9
    for i in range(n):
        w.write("/joint_states", cdr(
            JointState(name=["a", "b"], position=[float(i), -float(i)])), t0 + i * 8_000_000)
        if i % 4 == 0:
            w.write("/arm/commands", cdr(Float64MultiArray(data=[i / 10])),
                    t0 + i * 8_000_000 + 1000)
    return w


def test_independent_reader_lists_topics_counts_qos_and_metadata(tmp_path):
    from mcap.reader import make_reader
    from rosbags.interfaces import QosReliability
    from rosbags.rosbag2 import Reader
    from rosbags.typesys import Stores, get_typestore

    w = write_some(tmp_path / "episode_000003")
    assert w.close() == {"/joint_states": 20, "/arm/commands": 5, "/gr00t/instruction": 0}
    bag = tmp_path / "episode_000003"
    assert sorted(p.name for p in bag.iterdir()) == ["episode_000003_0.mcap", "metadata.yaml"]
    with Reader(bag) as reader:  # rosbags: metadata.yaml v9 + the MCAP file
        topics = {c.topic: (c.msgtype, c.msgcount) for c in reader.connections}
        assert topics == {"/joint_states": ("sensor_msgs/msg/JointState", 20),
                          "/arm/commands": ("std_msgs/msg/Float64MultiArray", 5),
                          "/gr00t/instruction": ("std_msgs/msg/String", 0)}
        assert reader.message_count == 25 and reader.duration == 19 * 8_000_000 + 1
        qos = {c.topic: c.ext.offered_qos_profiles for c in reader.connections}
        assert qos["/joint_states"][0].reliability == QosReliability.RELIABLE
        assert qos["/arm/commands"][0].deadline.nsec == 10**8
        ts = get_typestore(Stores.ROS2_JAZZY)
        rows = [ts.deserialize_cdr(raw, c.msgtype) for c, _, raw in reader.messages()
                if c.topic == "/joint_states"]
        assert [r.position[0] for r in rows] == list(range(20))
    with open(bag / "episode_000003_0.mcap", "rb") as f:  # the mcap library's summary
        reader = make_reader(f)
        header, summary = reader.get_header(), reader.get_summary()
        assert header.profile == "ros2"
        assert {s.encoding for s in summary.schemas.values()} == {"ros2msg"}
        channel = next(c for c in summary.channels.values() if c.topic == "/arm/commands")
        assert channel.message_encoding == "cdr" and "best_effort" in channel.metadata[
            "offered_qos_profiles"] and channel.metadata["topic_type_hash"].startswith("RIHS01_")
        assert summary.statistics.message_count == 25
        meta = {m.name: m.metadata for m in reader.iter_metadata()}
        assert meta["gr00t_episode"]["instruction"] == "raise your left hand"
        assert "topics_with_message_count" in meta["rosbag2"]["serialized_metadata"]
    ours = read_bag(bag)
    assert ours.complete and ours.custom_data["instruction"] == "raise your left hand"


def test_message_definitions_follow_rosbag2():
    text = message_definition("sensor_msgs/msg/JointState")
    assert text.startswith("# This is a message")  # the .msg file as installed
    assert "\n" + "=" * 80 + "\nMSG: std_msgs/Header\n" in text
    assert "\nMSG: builtin_interfaces/Time\n" in text
    assert dependencies("MultiArrayLayout  layout  # x\nfloat64[] data\nint32 A=1\n",
                        "std_msgs") == ["std_msgs/MultiArrayLayout"]
    with pytest.raises(MessageDefinitionError, match="not installed"):
        message_definition("no_such_pkg/msg/Thing")


WRITER = textwrap.dedent("""
    import sys, time
    from rclpy.serialization import serialize_message
    from std_msgs.msg import String
    from gr00t_record.bag_writer import BagWriter
    w = BagWriter(sys.argv[1], {"instruction": "wave"})
    w.add_topic("/chatter", "std_msgs/msg/String")
    payload = "x" * 5000
    i = 0
    while True:
        w.write("/chatter", serialize_message(String(data=f"{i} {payload}")), 10**18 + i * 1000)
        print(i, flush=True)  # written: the parent may kill us any time after this line
        i += 1
        time.sleep(0.001)
""")


def test_sigkill_loses_nothing_written(tmp_path):
    bag = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(bag)], stdout=subprocess.PIPE,
                            text=True, env=os.environ.copy())
    confirmed = -1
    deadline = time.monotonic() + 60
    while confirmed < 300 and time.monotonic() < deadline:
        confirmed = int(proc.stdout.readline())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    assert not (bag / "metadata.yaml").exists()
    got = read_bag(bag)
    assert not got.complete and any("cut off" in w for w in got.warnings)
    assert got.custom_data["instruction"] == "wave"  # written first, survives
    texts = [m.data.split()[0] for _, m in got.messages["/chatter"]]
    assert len(texts) >= confirmed + 1  # every message confirmed before the kill is there
    assert texts == [str(i) for i in range(len(texts))]  # in order, none damaged
    np.testing.assert_array_equal(np.diff([t for t, _ in got.messages["/chatter"]]), 1000)


def image_cdr(value: int) -> bytes:
    from rosbags.typesys import Stores, get_typestore

    ts = get_typestore(Stores.ROS2_JAZZY)
    T = ts.types
    header = T["std_msgs/msg/Header"](stamp=T["builtin_interfaces/msg/Time"](
        sec=0, nanosec=0), frame_id="")
    return bytes(ts.serialize_cdr(T["sensor_msgs/msg/Image"](
        header=header, height=2, width=2, encoding="rgb8", is_bigendian=0, step=6,
        data=np.full(12, value, np.uint8)), "sensor_msgs/msg/Image"))


def test_a_bag_cut_at_any_byte_reads_up_to_its_last_complete_message(tmp_path):
    """A full disk or a kill can end the file anywhere, inside a record's header too (where
    the mcap reader raised struct.error, which passed every except clause): each cut reads
    as the messages that were whole before it, with the cut-off warning, pixels included."""
    from mcap.records import Channel, Message
    from mcap.stream_reader import StreamReader

    w = write_some(tmp_path / "whole", n=12)
    w.add_topic("/camera", "sensor_msgs/msg/Image")
    for i in range(6):
        w.write("/camera", image_cdr(i), 1_800_000_001 * 10**9 + i)
    w.close()
    data = (tmp_path / "whole" / "whole_0.mcap").read_bytes()
    ends, first_channel = [], None  # (offset where each message record ends, its topic)
    with open(tmp_path / "whole" / "whole_0.mcap", "rb") as f:
        topics = {}
        for record in StreamReader(f).records:
            if isinstance(record, Channel):
                topics[record.id] = record.topic
                first_channel = first_channel or f.tell()
            elif isinstance(record, Message):
                ends.append((f.tell(), topics[record.channel_id]))
    bag = tmp_path / "cut"
    bag.mkdir()
    failures = []
    for cut in range(1, ends[-1][0] + 1):
        (bag / "cut_0.mcap").write_bytes(data[:cut])
        if cut < first_channel:
            with pytest.raises(BagError, match="cut off before its first complete message"):
                read_bag(bag)
            continue
        try:
            got = read_bag(bag, data_later={"/camera"})
            pixels = [bytes(m.data) for m in got.with_data(
                "/camera", [m for _, m in got.messages.get("/camera", [])])]
        except Exception as exc:  # noqa: BLE001 - every failure is collected and shown
            failures.append(f"cut at {cut}: {type(exc).__name__} {exc}")
            continue
        whole = [topic for end, topic in ends if end <= cut]
        want = {t: whole.count(t) for t in ("/joint_states", "/arm/commands", "/camera")}
        assert {t: got.counts.get(t, 0) for t in want} == want, cut
        assert not got.complete and any("cut off" in x for x in got.warnings), cut
        assert pixels == [bytes([i] * 12) for i in range(want["/camera"])], cut
    assert not failures, failures[:5]


def test_the_file_reaches_the_disk_every_second_and_at_close(tmp_path, monkeypatch):
    """A power cut loses the page cache: the writer fsyncs the bag at most FSYNC_PERIOD_S
    after a message, and the file, metadata.yaml and the directory at close."""
    import gr00t_record.bag_writer as bw

    synced = []
    real = os.fsync
    monkeypatch.setattr(bw.os, "fsync", lambda fd: (synced.append(fd), real(fd))[1])
    clock = [100.0]
    monkeypatch.setattr(bw.time, "monotonic", lambda: clock[0])
    w = write_some(tmp_path / "bag", n=4)  # all within one second: no sync yet
    assert synced == []
    clock[0] += bw.FSYNC_PERIOD_S
    w.write("/joint_states", cdr(JointState(name=["a", "b"], position=[0.0, 0.0])),
            1_800_000_001 * 10**9)
    assert len(synced) == 1
    w.close()
    assert len(synced) == 4  # the MCAP file, metadata.yaml, the directory
