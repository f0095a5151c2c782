"""Synthetic rosbag2 MCAP bags for converter tests, written with the ``rosbags`` library.

``rosbags`` is not what gr00t-record writes with (that is ``mcap``), so these bags also check
that the converter reads rosbag2 bags from another writer (chunked, with metadata.yaml).

A :class:`Recording` is a robot's streams on one clock: joint states, forward_command
messages, camera frames whose pixels encode their index (so a test can tell which frame a
step took), and the instruction. :func:`delay_reception` turns a written bag into one whose
recorder received late (log times after the publish times), :func:`step_host_clock` into
one whose recorder's host clock stepped while another computer's did not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Collection

import numpy as np

from gr00t_policy.dataset.bag_streams import CHANNELS
from gr00t_policy.runtime.safety_state import SAFETY_STATE_TOPIC, SAFETY_STATE_TYPE


@dataclass
class Recording:
    """Streams to write; times in seconds from ``t0_ns``.

    state: (times (N,), names, positions (N, J)); commands: topic -> (times (M,), values
    (M, j)); frames: topic -> times (F,) (frame i is filled with value i % 256);
    instruction: (time, text) messages on /gr00t/instruction; custom_data: metadata.yaml's.
    encoding: the frames' sensor_msgs/Image encoding (8 bits per channel, 2 bytes a pixel
    for the yuv422 ones), or "jpeg": sensor_msgs/CompressedImage frames, a horizontal
    gradient plus the frame's value (decoded within a few levels of it); state_split: if > 0, each joint state is published as two
    messages, the first state_split joints and the rest (two drivers on one topic);
    trajectories: topic -> (times (M,), joint names (j,), times from start (P,), positions
    (M, P, j)[, header stamps (M,)]): trajectory_msgs/JointTrajectory messages of P points
    each, stamped 0 unless stamps are given (a list of such: senders naming other joints on
    one topic);
    stamp_offset_s: every header stamp this much later than the message's time;
    clock_step: (at, by): the recorder's clock is set by ``by`` seconds at ``at`` (an NTP
    step): the messages keep their order in the file, their log times from ``at`` on jump
    (a list of such: each step in turn, their ``by`` added up).
    joint_topics: topic -> (times (K,), names, positions (K, j)): more sensor_msgs/JointState
    topics (a teleoperation leader arm).
    safety_states: System 1's gr00t_msgs/SafetyState messages on /gr00t/safety_state, each
    (time, state), (time, state, stamp time) or (time, state, stamp time, previous): logged
    at ``time``, stamped at the stamp time (default, or None: ``time``), ``previous`` the
    given one (default: the state of the entry before, "" for the first).
    """

    state: tuple[np.ndarray, list[str], np.ndarray]
    commands: dict[str, tuple[np.ndarray, np.ndarray]]
    frames: dict[str, np.ndarray]
    trajectories: dict[str, tuple | list[tuple]] = field(
        default_factory=dict)
    instruction: list[tuple[float, str]] = field(default_factory=list)
    custom_data: dict[str, str] = field(default_factory=dict)
    image_size: int | dict[str, tuple[int, int]] = 16  # all frames, or topic -> (height, width)
    encoding: str = "rgb8"
    state_split: int = 0
    stamp_offset_s: float = 0.0  # header stamps this far from the messages' times
    clock_step: tuple[float, float] | list[tuple[float, float]] = (0.0, 0.0)  # (at, by) s
    t0_ns: int = 1_700_000_000_000_000_000
    joint_topics: dict[str, tuple[np.ndarray, list[str], np.ndarray]] = field(
        default_factory=dict)
    safety_states: list[tuple] = field(default_factory=list)


# The message's definition, as System 1 publishes it (read where the tests run: the source tree).
SAFETY_STATE_MSG = Path(__file__).resolve().parents[3] / "gr00t_msgs" / "msg" / "SafetyState.msg"


def frame_value(i: int) -> int:
    return i % 256


def write_bag(path: str | Path, rec: Recording) -> Path:
    """Write ``rec`` as a rosbag2 MCAP bag directory at ``path`` (metadata.yaml + .mcap)."""
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    ts = get_typestore(Stores.ROS2_JAZZY)
    if rec.safety_states:
        from rosbags.typesys import get_types_from_msg

        ts.register(get_types_from_msg(SAFETY_STATE_MSG.read_text(), SAFETY_STATE_TYPE))
    T = ts.types
    Time, Header = T["builtin_interfaces/msg/Time"], T["std_msgs/msg/Header"]

    def header(ns: int) -> object:
        ns += int(round(rec.stamp_offset_s * 1e9))
        return Header(stamp=Time(sec=ns // 10**9, nanosec=ns % 10**9), frame_id="")

    events: list[tuple[int, str, object]] = []
    times, names, pos = rec.state
    parts = ([slice(0, rec.state_split), slice(rec.state_split, None)] if rec.state_split
             else [slice(None)])
    for t, row in zip(times, pos):
        ns = rec.t0_ns + int(round(t * 1e9))
        for part in parts:
            events.append((ns, "/joint_states", T["sensor_msgs/msg/JointState"](
                header=header(ns), name=list(names)[part],
                position=np.asarray(row, np.float64)[part], velocity=np.zeros(0),
                effort=np.zeros(0))))
    for topic, (jtimes, jnames, jpos) in rec.joint_topics.items():
        for t, row in zip(jtimes, jpos):
            ns = rec.t0_ns + int(round(t * 1e9))
            events.append((ns, topic, T["sensor_msgs/msg/JointState"](
                header=header(ns), name=list(jnames), position=np.asarray(row, np.float64),
                velocity=np.zeros(0), effort=np.zeros(0))))
    layout = T["std_msgs/msg/MultiArrayLayout"](dim=[], data_offset=0)
    for topic, (ctimes, values) in rec.commands.items():
        for t, row in zip(ctimes, values):
            events.append((rec.t0_ns + int(round(t * 1e9)), topic, T[
                "std_msgs/msg/Float64MultiArray"](layout=layout, data=np.asarray(row, np.float64))))
    Point, Duration = (T["trajectory_msgs/msg/JointTrajectoryPoint"],
                       T["builtin_interfaces/msg/Duration"])
    unstamped, empty = Header(stamp=Time(sec=0, nanosec=0), frame_id=""), np.zeros(0)
    for topic, specs in rec.trajectories.items():
        for ttimes, joints, from_start, points, *stamped in (
                specs if isinstance(specs, list) else [specs]):
            due = np.round(np.asarray(from_start) * 1e9).astype(int)  # (P,) ns
            stamps = stamped[0] if stamped else [None] * len(ttimes)
            for t, rows, st in zip(ttimes, points, stamps):
                events.append((rec.t0_ns + int(round(t * 1e9)), topic, T[
                    "trajectory_msgs/msg/JointTrajectory"](
                        header=unstamped if st is None else header(
                            rec.t0_ns + int(round(st * 1e9))),
                        joint_names=list(joints), points=[Point(
                            positions=np.asarray(row, np.float64), velocities=empty,
                            accelerations=empty, effort=empty,
                            time_from_start=Duration(sec=int(d // 10**9), nanosec=int(d % 10**9)))
                            for row, d in zip(rows, due)])))
    pixel = CHANNELS.get(rec.encoding, 2)  # bytes a pixel; 2: the yuv422 encodings
    for topic, ftimes in rec.frames.items():
        height, width = ((rec.image_size, rec.image_size) if isinstance(rec.image_size, int)
                         else rec.image_size[topic])
        if rec.encoding == "jpeg":
            events += _jpeg_frames(T, header, rec.t0_ns, topic, ftimes, height, width)
            continue
        for i, t in enumerate(ftimes):
            ns = rec.t0_ns + int(round(t * 1e9))
            events.append((ns, topic, T["sensor_msgs/msg/Image"](
                header=header(ns), height=height, width=width, encoding=rec.encoding,
                is_bigendian=0, step=width * pixel,
                data=np.full(height * width * pixel, frame_value(i), np.uint8))))
    for t, text in rec.instruction:
        events.append((rec.t0_ns + int(round(t * 1e9)), "/gr00t/instruction",
                       T["std_msgs/msg/String"](data=text)))
    previous = ""
    for t, state, *more in rec.safety_states:
        stamp = more[0] if more and more[0] is not None else t
        stamped = rec.t0_ns + int(round(stamp * 1e9))
        events.append((rec.t0_ns + int(round(t * 1e9)), SAFETY_STATE_TOPIC,
                       T[SAFETY_STATE_TYPE](header=Header(stamp=Time(
                           sec=stamped // 10**9, nanosec=stamped % 10**9), frame_id=""),
                           state=state, previous=more[1] if len(more) > 1 else previous,
                           reason=f"test: {state}")))
        previous = state
    events.sort(key=lambda e: e[0])
    image_type = ("sensor_msgs/msg/CompressedImage" if rec.encoding == "jpeg"
                  else "sensor_msgs/msg/Image")
    types = {"/joint_states": "sensor_msgs/msg/JointState", "/gr00t/instruction": "std_msgs/msg/String",
             **{t: "sensor_msgs/msg/JointState" for t in rec.joint_topics},
             **{t: "std_msgs/msg/Float64MultiArray" for t in rec.commands},
             **{t: "trajectory_msgs/msg/JointTrajectory" for t in rec.trajectories},
             **{t: image_type for t in rec.frames},
             **({SAFETY_STATE_TOPIC: SAFETY_STATE_TYPE} if rec.safety_states else {})}
    path = Path(path)
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        for key, value in rec.custom_data.items():
            writer.set_custom_data(key, value)
        conns = {topic: writer.add_connection(topic, msgtype, typestore=ts)
                 for topic, msgtype in types.items()}
        steps = [(rec.t0_ns + int(round(at * 1e9)), int(round(by * 1e9))) for at, by in (
            rec.clock_step if isinstance(rec.clock_step, list) else [rec.clock_step])]
        for ns, topic, msg in events:
            logged = ns + sum(by for at, by in steps if ns >= at)
            writer.write(conns[topic], logged, ts.serialize_cdr(msg, types[topic]))
    return path


def _jpeg_frames(T, header, t0_ns: int, topic: str, ftimes: np.ndarray, height: int,
                 width: int) -> list[tuple[int, str, object]]:
    """CompressedImage events: a horizontal gradient plus frame_value(i), JPEG-encoded (one
    encoding per distinct value)."""
    import imageio.v3 as iio

    ramp = np.linspace(0, 64, width, dtype=np.float32)[None, :, None]  # (1, W, 1)
    encoded: dict[int, bytes] = {}
    out = []
    for i, t in enumerate(ftimes):
        value = frame_value(i)
        if value not in encoded:
            img = np.broadcast_to(np.clip(ramp + value, 0, 255).astype(np.uint8),
                                  (height, width, 3))
            encoded[value] = iio.imwrite("<bytes>", np.ascontiguousarray(img), extension=".jpg")
        ns = t0_ns + int(round(t * 1e9))
        out.append((ns, topic, T["sensor_msgs/msg/CompressedImage"](
            header=header(ns), format="jpeg", data=np.frombuffer(encoded[value], np.uint8))))
    return out


def delay_reception(bag: str | Path, delay: Callable[[str, float], float]) -> None:
    """Rewrite the bag's .mcap files as a recorder that received late would have written them:
    each message keeps its time as the publish time, and its log time becomes that plus
    ``delay(topic, seconds since the first message)`` seconds."""

    def retime(topic: str, publish_ns: int, t0: int) -> tuple[int, int]:
        return publish_ns + int(round(delay(topic, (publish_ns - t0) / 1e9) * 1e9)), publish_ns

    _rewrite(bag, retime, by_log_time=True)


def step_host_clock(bag: str | Path, at: float, by: float, remote: Collection[str]) -> None:
    """Rewrite the bag's .mcap files as if the recorder's host clock had been stepped by ``by``
    seconds ``at`` seconds after the first message (NTP, chrony) while the senders of the
    ``remote`` topics, on another computer, kept theirs: from ``at`` on every log time moves,
    and the publish times of the topics sent on the recorder's host; the messages keep their
    order in the file."""
    step = int(round(by * 1e9))

    def retime(topic: str, publish_ns: int, t0: int) -> tuple[int, int]:
        moved = publish_ns + (step if publish_ns - t0 >= at * 1e9 else 0)
        return moved, publish_ns if topic in remote else moved

    _rewrite(bag, retime, by_log_time=False)


def _rewrite(bag: str | Path, retime: Callable[[str, int, int], tuple[int, int]],
             by_log_time: bool) -> None:
    """Rewrite each .mcap file of ``bag`` with each message's (log time, publish time) from
    ``retime(topic, its publish time ns, the first one's ns)``; the messages in their new
    log-time order (``by_log_time``: a recorder writes as it receives), else in their order."""
    from mcap.reader import make_reader
    from mcap.writer import CompressionType, Writer

    for path in sorted(Path(bag).glob("*.mcap")):
        with open(path, "rb") as f:
            reader = make_reader(f)
            profile = reader.get_header().profile
            summary = reader.get_summary()
            metadata = [(m.name, dict(m.metadata)) for m in reader.iter_metadata()]
            messages = [(ch.topic, ch.id, m) for _, ch, m in reader.iter_messages()]
        t0 = min(m.publish_time for _, _, m in messages)
        timed = [(*retime(topic, m.publish_time, t0), cid, m) for topic, cid, m in messages]
        if by_log_time:
            timed.sort(key=lambda item: item[0])
        tmp = path.with_suffix(".rewrite")
        with open(tmp, "wb") as f:
            writer = Writer(f, compression=CompressionType.NONE)
            writer.start(profile=profile, library="gr00t_policy.testing.bags")
            schema_ids = {sid: writer.register_schema(s.name, s.encoding, s.data)
                          for sid, s in summary.schemas.items()}
            channel_ids = {cid: writer.register_channel(c.topic, c.message_encoding,
                                                        schema_ids.get(c.schema_id, 0),
                                                        dict(c.metadata))
                           for cid, c in summary.channels.items()}
            for log_time, publish_time, cid, m in timed:
                writer.add_message(channel_ids[cid], log_time, m.data, publish_time,
                                   m.sequence)
            for name, data in metadata:
                writer.add_metadata(name, data)
            writer.finish()
        tmp.replace(path)
