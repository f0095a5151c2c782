"""rosbag2 MCAP bags read without ROS: topics, types and CDR-decoded messages in log-time order.

A bag is what ``ros2 bag record -s mcap`` or ``gr00t-record`` writes: a directory with
``metadata.yaml`` and one or more ``.mcap`` files (or a single ``.mcap`` file). The MCAP
records are streamed from the start of each file (:class:`mcap.stream_reader.StreamReader`),
so a file whose writer was killed mid-write (no summary, no footer, no metadata.yaml) is read
up to its last complete record, with a warning; messages are decoded with the ``ros2msg``
schemas the file carries (``mcap_ros2``), so no ROS install and no message package is needed.

A camera's pixels can stay in the file (`read_bag(..., data_later=...)`): each such message
is decoded and kept without its ``data``, which becomes a :class:`PayloadRef` (where it is and
how many bytes), and :meth:`Bag.with_data` reads the bytes back when they are used. A raw
640x480 camera at 30 Hz is 1.6 GB a minute; converting an episode then needs memory for its
messages' headers, not for its pixels.

Each message keeps both of its MCAP times, in nanoseconds: the log time (when the recorder
received it) and the publish time (when it was sent, where the recorder stored that:
gr00t-record stores the DDS source timestamp; a recorder that does not repeats the log time).
Which one the converter pairs on is :mod:`.bag_streams`' choice.

A recorder whose clock was set back mid-recording (NTP or chrony stepping it: a robot
without a real-time clock, at boot) wrote log times that go back in the file: read in file
order, each such step is found (:class:`ClockBackWatch`, `Bag.clock_steps`), and the messages
are in log-time order within each part between steps (:meth:`Bag.parts`), not across them.
"""

from __future__ import annotations

import copy
import functools
import logging
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Collection

import numpy as np
import yaml

from gr00t_policy.dataset.layout import DatasetError

logger = logging.getLogger(__name__)

EPISODE_METADATA = "gr00t_episode"  # the MCAP metadata record gr00t-record writes first
INSTRUCTION_KEY = "instruction"
# custom_data gr00t-record adds when messages never reached it: "<topic> <count>, ..."
LOST_MESSAGES_KEY = "lost_messages"
# A log time this far before one written ahead of it in the file is the recorder's clock
# stepped back (NTP / chrony makestep), not the few milliseconds a recorder's threads may
# reorder messages by.
CLOCK_BACK_S = 0.1
# A topic whose every message sent over TRANSIT_MOVED_WINDOW_S came more than
# TRANSIT_MOVED_S slower than its quickest is on another clock from there on
# (`Bag.transit_moved`): a row would pair a state sent that much later with its command. A
# recorder kept waiting delays only what was sent while it waited, not a whole second of it.
TRANSIT_MOVED_S = 0.02
TRANSIT_MOVED_WINDOW_S = 1.0


@dataclass(frozen=True)
class ClockStep:
    """The recorder's clock set back mid-recording: the first message written after the step
    (on ``topic``) is logged at ``at`` ns, after one logged at ``latest`` ns; ``into_ns`` of
    recording came before it (the parts before summed, each on its own timeline)."""

    topic: str
    at: int
    latest: int
    into_ns: int

    @property
    def back_s(self) -> float:
        return (self.latest - self.at) / 1e9

    @property
    def into_s(self) -> float:
        return self.into_ns / 1e9


class ClockBackWatch:
    """Log times in the order they are written, cut where one lies more than CLOCK_BACK_S
    before the latest of its part (the recorder's clock went back): `read_bag` over a bag's
    files (`Bag.clock_steps`, `Bag.parts`), the recorder over the episode it records
    (gr00t_record.clock_watch).

    Each part is on one timeline. A message written just after a step but logged just before
    it (one of the recorder's threads took its time before the step and wrote it after:
    within CLOCK_BACK_S of the part before's latest, more than CLOCK_BACK_S ahead of the new
    part, while that is under CLOCK_BACK_S old) belongs to the part before."""

    def __init__(self) -> None:
        self.steps: list[ClockStep] = []
        self._first: int | None = None  # the current part's first log time
        self._latest: int | None = None  # the current part's latest so far
        self._before_ns = 0  # how long the parts before the current one lasted
        self._previous: int | None = None  # the latest of the part before

    @property
    def part(self) -> int:
        """The index of the current part (the steps found so far)."""
        return len(self.steps)

    def observe(self, topic: str, t: int) -> int:
        """Note a message on ``topic`` logged at ``t`` (ns), the next in file order; the index
        of the part it belongs to."""
        t = int(t)
        if self._latest is None or self._first is None:
            self._first = self._latest = t
            return 0
        tolerance = int(CLOCK_BACK_S * 1e9)
        if t < self._latest - tolerance:
            self._before_ns += self._latest - self._first
            self.steps.append(ClockStep(topic, t, self._latest, self._before_ns))
            self._previous, self._first, self._latest = self._latest, t, t
            return self.part
        if (self._previous is not None and abs(t - self._previous) <= tolerance
                and t > self._latest + tolerance and self._latest - self._first < tolerance):
            return self.part - 1  # taken before the step, written after it
        self._latest = max(self._latest, t)
        return self.part


class BagError(DatasetError):
    """A bag that cannot be read, or that lacks what a conversion needs."""


def _truncated() -> tuple[type[Exception], ...]:
    """What the ``mcap`` stream reader raises where a file ends inside a record: EndOfFile
    (an McapError) at a record's first byte, ``struct.error`` inside a record's header or a
    field (it unpacks what a short read returned), ValueError (a string cut mid-character).
    Each is the end of a file whose writer was killed, or whose disk filled."""
    from mcap.exceptions import McapError

    return (McapError, EOFError, ValueError, struct.error)


@dataclass(frozen=True)
class PayloadRef:
    """A message's ``data`` left in the bag: the ``ordinal``-th message of its topic in
    ``Bag.files[file]``, ``nbytes`` long (``len()`` is that, as for the bytes)."""

    file: int
    ordinal: int
    nbytes: int

    def __len__(self) -> int:
        return self.nbytes


@dataclass
class Bag:
    """One bag, read.

    Attributes:
        path: the bag directory (or the .mcap file given).
        files: the .mcap files read, in order.
        topics: topic -> message type (``pkg/msg/Type``), every channel of every file.
        counts: topic -> messages read (complete ones).
        messages: topic -> [(log_time_ns, decoded message)] for the topics asked for, in
            log-time order (within each part, the parts in turn, where `clock_steps`).
        publish_times: topic -> the publish time (ns) of each message in ``messages``.
        custom_data: metadata.yaml ``custom_data`` merged with the ``gr00t_episode`` MCAP
            metadata record (the latter survives a cut-off recording).
        complete: every file ended with its MCAP footer and metadata.yaml was there.
        warnings: what was odd (a cut-off file, a missing metadata.yaml, undecodable types).
        publishers: topic -> how many publishers the recorder recorded it from (its
            offered_qos_profiles: one per publisher, in metadata.yaml and the MCAP channel;
            the most either lists), for the topics that list any.
        clock_steps: where the recorder's clock went back (a message logged more than
            CLOCK_BACK_S before one ahead of it in the files: NTP or chrony stepping it), in
            file order; :meth:`parts` cuts the bag there.
        message_parts: topic -> the part (index into :meth:`parts`) of each message in
            ``messages``, for a bag with ``clock_steps``.
        part: (index, count) of a part of a bag cut at its clock steps; (0, 1) for a bag.
    """

    path: Path
    files: list[Path]
    topics: dict[str, str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    messages: dict[str, list[tuple[int, Any]]] = field(default_factory=dict)
    publish_times: dict[str, list[int]] = field(default_factory=dict)
    custom_data: dict[str, str] = field(default_factory=dict)
    complete: bool = True
    warnings: list[str] = field(default_factory=list)
    publishers: dict[str, int] = field(default_factory=dict)
    clock_steps: list[ClockStep] = field(default_factory=list)
    message_parts: dict[str, list[int]] = field(default_factory=dict)
    part: tuple[int, int] = (0, 1)

    def parts(self) -> list[Bag]:
        """The bag cut where the recorder's clock went back (`clock_steps`): part k holds the
        messages written after the k-th step and before the next, in log-time order on that
        part's own timeline; ``[self]`` for a bag whose clock never went back. Sorted by log
        time whole, the messages after a step would fall among those before it (pairing a
        state with a command up to the step apart); each part alone is in order."""
        if not self.clock_steps:
            return [self]
        count = len(self.clock_steps) + 1
        parts = [Bag(path=self.path, files=self.files, topics=dict(self.topics),
                     counts=dict(self.counts), custom_data=dict(self.custom_data),
                     complete=self.complete, publishers=dict(self.publishers),
                     part=(k, count)) for k in range(count)]
        for topic, msgs in self.messages.items():
            # read_bag sorted each topic by (part, log time): a part is one slice of it.
            ends = np.searchsorted(np.asarray(self.message_parts[topic]), np.arange(count + 1))
            for k, part in enumerate(parts):
                part.messages[topic] = msgs[ends[k]:ends[k + 1]]
                part.publish_times[topic] = self.publish_times[topic][ends[k]:ends[k + 1]]
        return parts

    def with_data(self, topic: str, msgs: Iterable[Any]) -> Iterator[Any]:
        """Each of ``msgs`` (this bag's messages on ``topic``) with its ``data``: as it is when
        it was read with its data, else a copy with the bytes read back from the file.

        One pass over the bag's files for messages in file order (log-time order, as a
        recorder writes them); a message before the one last read starts the pass over."""
        cursor: Iterator[tuple[int, int, Any]] | None = None
        at = (-1, -1)  # (file, ordinal) of the message last read
        for msg in msgs:
            ref = msg.data
            if not isinstance(ref, PayloadRef):
                yield msg
                continue
            want = (ref.file, ref.ordinal)
            if cursor is None or want <= at:
                cursor = self._topic_messages(topic)
            for file, ordinal, stored in cursor:
                at = (file, ordinal)
                if at == want:
                    break
            else:
                raise BagError(f"{self.files[ref.file]}: message {ref.ordinal} of {topic} is no "
                               "longer there; was the bag changed while it was converted?")
            if len(stored.data) != ref.nbytes:
                raise BagError(f"{self.files[ref.file]}: message {ref.ordinal} of {topic} now "
                               f"holds {len(stored.data)} bytes, not {ref.nbytes}; was the bag "
                               "changed while it was converted?")
            yield _copy_with(msg, data=stored.data)

    def _topic_messages(self, topic: str) -> Iterator[tuple[int, int, Any]]:
        """(file index, ordinal, decoded message) of each message on ``topic``, in file
        order; a cut-off file ends quietly where `read_bag` stopped reading it."""
        from mcap.records import Channel, Message, Schema
        from mcap.stream_reader import StreamReader
        from mcap_ros2.decoder import DecoderFactory

        factory = DecoderFactory()
        for index, file in enumerate(self.files):
            schemas: dict[int, Any] = {}
            decoders: dict[int, Any] = {}
            ordinal = 0
            with open(file, "rb") as stream:
                try:
                    for record in StreamReader(stream).records:
                        if isinstance(record, Schema):
                            schemas[record.id] = record
                        elif isinstance(record, Channel) and record.topic == topic:
                            decode = factory.decoder_for(record.message_encoding,
                                                         schemas.get(record.schema_id))
                            if decode is not None:  # read_bag refused the topic otherwise
                                decoders[record.id] = decode
                        elif isinstance(record, Message) and record.channel_id in decoders:
                            yield index, ordinal, decoders[record.channel_id](record.data)
                            ordinal += 1
                except _truncated():
                    continue

    def topics_of_type(self, msgtype: str) -> list[str]:
        return sorted(t for t, ty in self.topics.items() if ty == msgtype)

    @functools.cached_property
    def transit_moved(self) -> dict[str, tuple[int, int]]:
        """topic -> (publish time ns, by ns) where its log time - publish time moved: every
        message it sent over at least TRANSIT_MOVED_WINDOW_S came more than TRANSIT_MOVED_S
        slower than its quickest, from that publish time on (its sender's clock and the
        recorder's stepped apart: the recorder's forward, or the sender's back), for each
        topic whose every message has a publish time. A recorder kept waiting delays what
        was sent while it waited; the next message sent after the wait comes quickly again."""
        out = {}
        for topic, msgs in self.messages.items():
            sent = np.asarray(self.publish_times.get(topic, []), np.int64)  # (n,)
            if len(sent) < 2 or len(sent) != len(msgs) or sent.min() <= 0:
                continue
            order = np.argsort(sent, kind="stable")
            transit = (np.array([t for t, _ in msgs], np.int64) - sent)[order]  # (n,)
            sent = sent[order]
            half = int(TRANSIT_MOVED_WINDOW_S * 1e9 / 2)
            bins = (sent - sent[0]) // half  # (n,) half-windows
            starts = np.flatnonzero(np.r_[True, np.diff(bins) > 0])
            lows = np.minimum.reduceat(transit, starts)  # each half-window's quickest
            which = bins[starts]
            # The last half-window may be cut short by the end of the recording.
            raised = (lows > transit.min() + TRANSIT_MOVED_S * 1e9) & (which < bins[-1])
            both = np.flatnonzero(raised[1:] & raised[:-1] & (np.diff(which) == 1))
            if len(both):
                k = int(both[0])
                out[topic] = (int(sent[starts[k]]), int(lows[k] - transit.min()))
        return out

    @functools.cached_property
    def quickest_transit_ns(self) -> dict[str, int]:
        """topic -> its shortest log time - publish time (ns), for each topic whose every
        message has a publish time; computed once (every topic's decision needs them all)."""
        out = {}
        for topic, msgs in self.messages.items():
            sent = self.publish_times.get(topic)
            # A publish time of 0 is "not recorded" (writers that fill only the log time),
            # not a time: such a topic has no publish times.
            if msgs and sent is not None and len(sent) == len(msgs) and min(sent) > 0:
                out[topic] = int((np.array([t for t, _ in msgs], dtype=np.int64)
                                  - np.asarray(sent, np.int64)).min())
        return out


def _copy_with(msg: Any, **fields: Any) -> Any:
    """A shallow copy of a decoded message with ``fields`` replaced. mcap_ros2's message
    classes are SimpleNamespaces whose fields live in ``__slots__``, which `copy.copy` leaves
    out (it copies the namespace's empty ``__dict__``), so they are copied here."""
    out = copy.copy(msg)
    for name in getattr(type(msg), "__slots__", ()):
        if hasattr(msg, name):
            setattr(out, name, getattr(msg, name))
    for name, value in fields.items():
        setattr(out, name, value)
    return out


def _offered_qos_count(profiles: Any) -> int:
    """How many profiles an offered_qos_profiles entry lists: a list (metadata.yaml version
    9), or the YAML text of one (older metadata.yaml, MCAP channel metadata); 0 unreadable."""
    if isinstance(profiles, str):
        try:
            profiles = yaml.safe_load(profiles) if profiles.strip() else []
        except yaml.YAMLError:
            return 0
    return len(profiles) if isinstance(profiles, list) else 0


def _count_publishers(bag: Bag, topic: str, profiles: Any) -> None:
    n = _offered_qos_count(profiles)
    if n:
        bag.publishers[topic] = max(n, bag.publishers.get(topic, 0))


JOINT_STATE = "sensor_msgs/msg/JointState"


def _compact_joint_state(msg: Any, names: dict[tuple[str, ...], tuple[str, ...]]) -> Any:
    """A decoded JointState holding the same values in less memory: its name list as one
    tuple shared by every message naming the same joints (``names``), its position,
    velocity and effort as float64 arrays. Decoded, a 43-joint message is ~10 KB of Python
    strings and floats: 9 GB for a 30-minute 500 Hz episode, all held until it is paired."""
    key = tuple(msg.name)
    msg.name = names.setdefault(key, key)
    for column in ("position", "velocity", "effort"):
        setattr(msg, column, np.asarray(getattr(msg, column), dtype=np.float64))
    return msg


def _metadata(path: Path) -> dict[str, Any] | None:
    meta = path / "metadata.yaml"
    if not meta.is_file():
        return None
    try:
        doc = yaml.safe_load(meta.read_text())
    except yaml.YAMLError as exc:
        raise BagError(f"{meta}: not valid YAML ({exc})") from None
    info = doc.get("rosbag2_bagfile_information") if isinstance(doc, dict) else None
    if not isinstance(info, dict):
        raise BagError(f"{meta}: no 'rosbag2_bagfile_information' mapping; is it a rosbag2 bag?")
    return info


def bag_files(path: str | Path) -> tuple[Path, list[Path], dict[str, Any] | None]:
    """(bag path, its .mcap files in order, metadata.yaml's rosbag2_bagfile_information or None)."""
    path = Path(path)
    if path.is_file():
        if path.suffix != ".mcap":
            raise BagError(f"{path}: not an .mcap file; pass the bag directory or its .mcap file")
        return path, [path], _metadata(path.parent)
    if not path.is_dir():
        raise BagError(f"bag {path} does not exist")
    info = _metadata(path)
    if info is not None:
        storage = str(info.get("storage_identifier", ""))
        if storage != "mcap":
            raise BagError(
                f"{path}: storage {storage!r}; only MCAP bags are read (convert one with "
                f"`ros2 bag convert` to storage_id mcap, or record with `-s mcap`)")
        files = [path / str(f) for f in info.get("relative_file_paths", [])]
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            raise BagError(f"{path}/metadata.yaml names files that are missing: {missing}")
        if files:
            return path, files, info
    files = sorted(path.glob("*.mcap"))
    if not files:
        found = sorted(p.name for p in path.iterdir())[:10]
        raise BagError(f"{path}: no .mcap file (found {found}); only rosbag2 MCAP bags are read")
    return path, files, info


def read_bag(path: str | Path, topics: Collection[str] | None = None,
             data_later: Collection[str] = ()) -> Bag:
    """Read a bag; decode the messages of ``topics`` (all topics when None). The messages of
    ``data_later`` topics keep a :class:`PayloadRef` in their ``data`` field instead of the
    bytes (:meth:`Bag.with_data` reads them back).

    Raises BagError for what is not a readable MCAP bag. A file cut off mid-write is not an
    error: its complete messages are kept and ``complete`` is False, with a warning.
    """
    from mcap.records import Channel, DataEnd, Footer, Message, Metadata, Schema
    from mcap.stream_reader import StreamReader
    from mcap_ros2.decoder import DecoderFactory

    root, files, info = bag_files(path)
    bag = Bag(path=root, files=files)
    if info is None:
        bag.complete = False
        bag.warnings.append(f"{root}: no metadata.yaml (the recorder did not close the bag; "
                            "was it killed?): reading the .mcap file(s) as far as they go")
    else:
        bag.custom_data.update({str(k): str(v) for k, v in (info.get("custom_data") or {}).items()})
        for entry in info.get("topics_with_message_count") or []:
            meta = entry.get("topic_metadata") if isinstance(entry, dict) else None
            if isinstance(meta, dict) and isinstance(meta.get("name"), str):
                _count_publishers(bag, meta["name"], meta.get("offered_qos_profiles"))
    factory = DecoderFactory()
    # topic -> (part, log time, publish time, message)
    read: dict[str, list[tuple[int, int, int, Any]]] = {}
    joint_names: dict[tuple[str, ...], tuple[str, ...]] = {}  # shared by JointStates
    clock = ClockBackWatch()  # the log times in file order: where the clock went back
    for file_index, file in enumerate(files):
        schemas: dict[int, Any] = {}
        channels: dict[int, Any] = {}
        decoders: dict[int, Any] = {}
        ordinals: dict[str, int] = {}  # data_later topic -> its messages so far in this file
        ended = False
        last_time = None
        before = sum(bag.counts.values())
        with open(file, "rb") as stream:
            try:
                for record in StreamReader(stream).records:
                    if isinstance(record, Schema):
                        schemas[record.id] = record
                    elif isinstance(record, Channel):
                        channels[record.id] = record
                        schema = schemas.get(record.schema_id)
                        bag.topics[record.topic] = schema.name if schema else ""
                        bag.counts.setdefault(record.topic, 0)
                        _count_publishers(bag, record.topic,
                                          record.metadata.get("offered_qos_profiles"))
                    elif isinstance(record, Message):
                        channel = channels.get(record.channel_id)
                        if channel is None:
                            raise BagError(f"{file}: a message on unknown channel "
                                           f"{record.channel_id} (the file is corrupt)")
                        bag.counts[channel.topic] += 1
                        last_time = record.log_time
                        part = clock.observe(channel.topic, last_time)
                        if topics is not None and channel.topic not in topics:
                            continue
                        decode = decoders.get(channel.id)
                        if decode is None:
                            decode = factory.decoder_for(channel.message_encoding,
                                                         schemas.get(channel.schema_id))
                            if decode is None:
                                raise BagError(
                                    f"{file}: topic {channel.topic} has encoding "
                                    f"{channel.message_encoding!r} and no ros2msg schema; "
                                    "only CDR messages with their .msg schema are read")
                            decoders[channel.id] = decode
                        try:
                            msg = decode(record.data)
                        except Exception as exc:  # noqa: BLE001 - any decoder failure
                            raise BagError(
                                f"{file}: a message on {channel.topic} does not decode with "
                                f"its schema {bag.topics[channel.topic]} ({exc!r})") from None
                        if bag.topics[channel.topic] == JOINT_STATE:
                            msg = _compact_joint_state(msg, joint_names)
                        if channel.topic in data_later and isinstance(
                                getattr(msg, "data", None), (bytes, bytearray, memoryview)):
                            ordinal = ordinals.get(channel.topic, 0)
                            ordinals[channel.topic] = ordinal + 1
                            msg.data = PayloadRef(file_index, ordinal, len(msg.data))
                        read.setdefault(channel.topic, []).append(
                            (part, int(record.log_time), int(record.publish_time), msg))
                    elif isinstance(record, Metadata) and record.name == EPISODE_METADATA:
                        bag.custom_data.update(record.metadata)
                    elif isinstance(record, (DataEnd, Footer)):
                        ended = True
            except _truncated() as exc:
                if isinstance(exc, BagError):
                    raise
                if not channels:
                    raise BagError(f"{file}: not a readable MCAP file, or cut off before its "
                                   f"first complete message ({type(exc).__name__} {exc})") from None
                ended = False
                logger.debug("%s: stream ended early: %s", file, exc)
        if not ended:
            bag.complete = False
            at = f", the last complete one logged at {last_time} ns" if last_time else ""
            bag.warnings.append(
                f"{file}: cut off mid-write (no MCAP footer): kept its "
                f"{sum(bag.counts.values()) - before} complete messages{at}")
    bag.clock_steps = clock.steps
    for topic, items in read.items():
        items.sort(key=lambda item: item[:2])  # each part in log-time order, the parts in turn
        bag.messages[topic] = [(log, msg) for _, log, _, msg in items]
        bag.publish_times[topic] = [pub for _, _, pub, _ in items]
        if bag.clock_steps:
            bag.message_parts[topic] = [part for part, _, _, _ in items]
    return bag
