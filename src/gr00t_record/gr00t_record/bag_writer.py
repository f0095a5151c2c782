"""One rosbag2 bag directory in the MCAP storage format, written so that a kill loses nothing.

Layout, as ``ros2 bag record -s mcap`` writes it (rosbag2 Jazzy, metadata version 9):

    <bag>/<bag>_0.mcap    MCAP, profile "ros2": one schema per type (encoding ros2msg, the
                          .msg text with its dependencies, gr00t_record.msgdefs), one channel
                          per topic (message encoding cdr; metadata offered_qos_profiles, a
                          YAML list of the publishers' QoS, and topic_type_hash), CDR messages
                          with log time = when the recorder received them
    <bag>/metadata.yaml   rosbag2_bagfile_information (topics with types, QoS, type hashes
                          and message counts, start, duration, files, custom_data,
                          ros_distro), written at close, also stored in the MCAP file as
                          the "rosbag2" metadata record

Durability: messages are not chunked (rosbag2's "fastwrite" storage preset) and every record
is handed to the operating system as soon as it is written, so a recorder killed with SIGKILL
leaves an MCAP file that reads up to its last complete message; only the summary, the footer
and metadata.yaml are missing (gr00t-dataset reads such a file and says so). The file is
synced to the disk at most FSYNC_PERIOD_S after a message and at close (the directory too,
after metadata.yaml), so a power cut loses about the last second, not the page cache's
worth. The episode's
custom data (its instruction) is written first, as the MCAP metadata record
"gr00t_episode", so it survives too.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from gr00t_record.msgdefs import message_definition, type_hash

EPISODE_METADATA = "gr00t_episode"  # read back by gr00t_policy.dataset.bag
METADATA_VERSION = 9  # rosbag2 Jazzy
LIBRARY = "gr00t-record"
# A power cut loses at most about this much of a recording (fsync is a few ms on an SSD).
FSYNC_PERIOD_S = 1.0
RMW_INFINITE = {"sec": 9223372036, "nsec": 854775807}


def qos_to_dict(history: str, depth: int, reliability: str, durability: str,
                deadline_ns: int | None = None, lifespan_ns: int | None = None,
                liveliness: str = "automatic", lease_ns: int | None = None,
                avoid_ros_namespace_conventions: bool = False) -> dict[str, Any]:
    """One offered QoS profile as metadata version 9 writes it (policy names, {sec, nsec});
    a duration of None is infinite."""
    def duration(ns: int | None) -> dict[str, int]:
        return dict(RMW_INFINITE) if ns is None else {"sec": ns // 10**9, "nsec": ns % 10**9}

    return {"history": history, "depth": int(depth), "reliability": reliability,
            "durability": durability, "deadline": duration(deadline_ns),
            "lifespan": duration(lifespan_ns), "liveliness": liveliness,
            "liveliness_lease_duration": duration(lease_ns),
            "avoid_ros_namespace_conventions": bool(avoid_ros_namespace_conventions)}


class BagWriter:
    """Writes one bag directory; :meth:`close` finishes the MCAP file and writes metadata.yaml.

    Args:
        path: the bag directory to create (must not exist).
        custom_data: string pairs for metadata.yaml's custom_data and the MCAP record
            "gr00t_episode" (written at once).
        ros_distro: metadata.yaml's ros_distro.
    """

    def __init__(self, path: str | Path, custom_data: Mapping[str, str] | None = None,
                 ros_distro: str | None = None) -> None:
        from mcap.writer import CompressionType, Writer

        self.path = Path(path)
        if self.path.exists():
            raise FileExistsError(f"bag {self.path} already exists; pick another name")
        self.path.mkdir(parents=True)
        self.file = self.path / f"{self.path.name}_0.mcap"
        self.custom_data = {str(k): str(v) for k, v in (custom_data or {}).items()}
        self.ros_distro = ros_distro or os.environ.get("ROS_DISTRO", "jazzy")
        self._stream = open(self.file, "xb")
        self._mcap = Writer(self._stream, use_chunking=False, compression=CompressionType.NONE)
        self._mcap.start(profile="ros2", library=LIBRARY)
        self._schemas: dict[str, int] = {}
        self._topics: dict[str, dict[str, Any]] = {}  # topic -> type, qos, hash, channel, count
        self.start_ns: int | None = None
        self.end_ns: int | None = None
        if self.custom_data:
            self._mcap.add_metadata(EPISODE_METADATA, self.custom_data)
        self._stream.flush()
        self._synced = time.monotonic()
        self.closed = False

    def note(self, key: str, value: str) -> None:
        """A custom_data entry learnt while recording (e.g. lost messages): in metadata.yaml
        and the rosbag2 record written at `close`, not in the gr00t_episode record written
        at open."""
        self.custom_data[str(key)] = str(value)

    @property
    def counts(self) -> dict[str, int]:
        return {t: int(v["count"]) for t, v in self._topics.items()}

    def has_topic(self, topic: str) -> bool:
        return topic in self._topics

    def add_topic(self, topic: str, msgtype: str, offered_qos: Sequence[Mapping[str, Any]] = (),
                  type_description_hash: str | None = None) -> None:
        """Register a topic (its schema once per type); raises MessageDefinitionError when
        the type's .msg file is not installed."""
        if topic in self._topics:
            raise ValueError(f"topic {topic} is already in bag {self.path}")
        if msgtype not in self._schemas:
            self._schemas[msgtype] = self._mcap.register_schema(
                name=msgtype, encoding="ros2msg", data=message_definition(msgtype).encode())
        qos = [dict(q) for q in offered_qos]
        digest = type_description_hash or type_hash(msgtype)
        channel = self._mcap.register_channel(
            topic=topic, message_encoding="cdr", schema_id=self._schemas[msgtype],
            metadata={"offered_qos_profiles": yaml.safe_dump(qos, sort_keys=False) if qos else "",
                      "topic_type_hash": digest})
        self._topics[topic] = {"type": msgtype, "qos": qos, "hash": digest,
                               "channel": channel, "count": 0}
        self._stream.flush()

    def offered_qos(self, topic: str) -> list[dict[str, Any]]:
        return list(self._topics[topic]["qos"])

    def set_offered_qos(self, topic: str, offered_qos: Sequence[Mapping[str, Any]]) -> None:
        """The topic's publishers changed while recording: metadata.yaml (written at close)
        lists these; the MCAP channel keeps those it was added with."""
        self._topics[topic]["qos"] = [dict(q) for q in offered_qos]

    def write(self, topic: str, data: bytes, log_time_ns: int,
              publish_time_ns: int | None = None) -> None:
        """Append one CDR-serialized message and hand it to the OS at once."""
        entry = self._topics.get(topic)
        if entry is None:
            raise KeyError(f"topic {topic} was not added to bag {self.path}; add_topic first")
        self._mcap.add_message(channel_id=entry["channel"], log_time=int(log_time_ns),
                               data=bytes(data),
                               publish_time=int(publish_time_ns or log_time_ns),
                               sequence=entry["count"])
        self._stream.flush()
        if time.monotonic() - self._synced >= FSYNC_PERIOD_S:
            os.fsync(self._stream.fileno())
            self._synced = time.monotonic()
        entry["count"] += 1
        self.start_ns = log_time_ns if self.start_ns is None else min(self.start_ns, log_time_ns)
        self.end_ns = log_time_ns if self.end_ns is None else max(self.end_ns, log_time_ns)

    def metadata(self) -> dict[str, Any]:
        """metadata.yaml's content (rosbag2_bagfile_information, version 9)."""
        start = self.start_ns or 0
        duration = (self.end_ns - self.start_ns) if self.start_ns is not None else 0
        total = sum(self.counts.values())
        return {"rosbag2_bagfile_information": {
            "version": METADATA_VERSION,
            "storage_identifier": "mcap",
            "duration": {"nanoseconds": int(duration)},
            "starting_time": {"nanoseconds_since_epoch": int(start)},
            "message_count": total,
            "topics_with_message_count": [
                {"topic_metadata": {"name": topic, "type": v["type"],
                                    "serialization_format": "cdr",
                                    "offered_qos_profiles": v["qos"],
                                    "type_description_hash": v["hash"]},
                 "message_count": v["count"]}
                for topic, v in self._topics.items()],
            "compression_format": "",
            "compression_mode": "",
            "relative_file_paths": [self.file.name],
            "files": [{"path": self.file.name,
                       "starting_time": {"nanoseconds_since_epoch": int(start)},
                       "duration": {"nanoseconds": int(duration)},
                       "message_count": total}],
            "custom_data": dict(self.custom_data),
            "ros_distro": self.ros_distro,
        }}

    def abandon(self) -> None:
        """Let go of the file without finishing it, after :meth:`close` failed (a full
        disk): what reached it reads up to its last complete message."""
        if self.closed:
            return
        self.closed = True
        try:
            self._stream.close()  # the descriptor is released even when this flush fails
        except OSError:  # the failure close() raised already, again: reported there
            pass

    def close(self) -> dict[str, int]:
        """Finish the MCAP file (summary, footer) and write metadata.yaml; returns the counts."""
        if self.closed:
            return self.counts
        meta = self.metadata()
        text = yaml.safe_dump(meta, sort_keys=False)
        self._mcap.add_metadata("rosbag2", {"serialized_metadata": yaml.safe_dump(
            meta["rosbag2_bagfile_information"], sort_keys=False)})
        self._mcap.finish()
        self._stream.flush()
        os.fsync(self._stream.fileno())
        self._stream.close()
        tmp = self.path / "metadata.yaml.tmp"
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(self.path / "metadata.yaml")
        directory = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(directory)  # the rename, and the new files' entries
        finally:
            os.close(directory)
        self.closed = True
        return self.counts
