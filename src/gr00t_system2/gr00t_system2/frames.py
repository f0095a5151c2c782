"""Newest frame per camera, staleness, and the "is there anything new?" rule (no ROS).

Camera callbacks `offer` each received message, unconverted (the newest replaces an older
one not yet used); the converter (converter.py) `take_pending`s them just before a tick,
converts only those and `put`s the results; the inference loop takes a `snapshot` of the
newest frame of every camera. A camera stream at 30 Hz and tokens at 10 Hz thus convert (or
decode) one frame in three, and never in the executor thread that receives the frames. A camera counts as missing when it never delivered a frame or its
newest frame was *received* more than ``stale_s`` ago (receipt time on this host's
monotonic clock, so a camera whose clock disagrees with ours is judged by when its frames
arrive, not by its stamps).

Every message that arrives is counted (`arrived`), before any check, and every one refused
(`reject`, with its reason): a camera whose frames all arrive and are all refused is then
missing as "all N frames rejected (<reason>)", not "never received".

Republish rule (`NoveltyGate`): tokens are computed only when at least one camera has a
frame that was not used for the previous tokens, or the instruction changed since then.
An instruction change alone recomputes with the same frames: the tokens depend on the
instruction, so that is new information for System 1.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Frame:
    """One accepted camera frame."""

    rgb: np.ndarray  # (H, W, 3) uint8 RGB
    stamp_ns: int  # header.stamp of the image, in nanoseconds
    frame_id: str
    received: float  # time.monotonic() at receipt, seconds
    seq: int  # per-camera counter of accepted frames, starting at 1
    received_ns: int = 0  # receipt time on the node's (ROS) clock, ns; 0: not known


@dataclass(frozen=True)
class Pending:
    """One received camera message, not yet converted."""

    msg: Any  # sensor_msgs/Image or sensor_msgs/CompressedImage
    stamp_ns: int
    frame_id: str
    received: float  # time.monotonic() at receipt, seconds
    received_ns: int = 0  # receipt time on the node's (ROS) clock, ns; 0: not known


@dataclass(frozen=True)
class Snapshot:
    """The newest frame of every camera at one instant, or why some are missing."""

    frames: tuple[Frame | None, ...]
    missing: dict[str, str]  # topic -> "never received" | "stale: ..."; empty when complete
    ages: dict[str, float | None]  # topic -> seconds since receipt, None if never received

    @property
    def complete(self) -> bool:
        return not self.missing

    def oldest_stamp_ns(self) -> int:
        """The oldest header stamp among the frames (the stamp the tokens carry). A camera
        stamping 0 (unstamped) counts with its frame's receipt time on the node clock
        instead: left out, a frozen unstamped camera's old view went into tokens stamped as
        fresh as the other cameras' frames, and with every camera unstamped the tokens
        (stamped 0) looked new to System 1 however old their frames. 0 only when a frame's
        receipt time is not known either."""
        if not self.complete:
            raise ValueError("oldest_stamp_ns needs every camera's frame; some are missing")
        stamps = [f.stamp_ns or f.received_ns for f in self.frames if f is not None]
        return min((s for s in stamps if s != 0), default=0)

    def seqs(self) -> tuple[int, ...]:
        return tuple(0 if f is None else f.seq for f in self.frames)


class FrameStore:
    """Thread-safe newest-frame slot per camera topic (order = checkpoint view order)."""

    def __init__(self, topics: Sequence[str]) -> None:
        if not topics:
            raise ValueError("FrameStore needs at least one camera topic")
        self.topics = tuple(topics)
        self._lock = threading.Lock()
        self._frames: list[Frame | None] = [None] * len(self.topics)
        self._pending: list[Pending | None] = [None] * len(self.topics)
        self._arrived = [0] * len(self.topics)
        self._replaced = [0] * len(self.topics)
        self._rejected: dict[tuple[int, str], int] = {}  # (index, reason) -> frames
        # index -> reason -> frames rejected since its newest accepted frame
        self._rejected_since: list[dict[str, int]] = [{} for _ in self.topics]

    def arrived(self, index: int) -> None:
        """Count a message of camera ``index`` as it arrives, before it is checked."""
        with self._lock:
            self._arrived[index] += 1

    def reject(self, index: int, reason: str) -> int:
        """Count a message of camera ``index`` refused for ``reason``; return how many it
        has had refused for that reason."""
        with self._lock:
            key = (index, reason)
            self._rejected[key] = self._rejected.get(key, 0) + 1
            since = self._rejected_since[index]
            since[reason] = since.get(reason, 0) + 1
            return self._rejected[key]

    def rejections(self) -> dict[tuple[str, str], int]:
        """(topic, reason) -> messages refused for it."""
        with self._lock:
            return {(self.topics[i], r): n for (i, r), n in self._rejected.items()}

    def offer(self, index: int, msg: Any, stamp_ns: int, frame_id: str, received: float,
              received_ns: int = 0) -> None:
        """Keep camera ``index``'s newest received message until the next `take_pending`
        (``received``: monotonic s; ``received_ns``: the node clock's ns, for
        `Snapshot.oldest_stamp_ns`)."""
        with self._lock:
            if self._pending[index] is not None:
                self._replaced[index] += 1
            self._pending[index] = Pending(msg, int(stamp_ns), frame_id, float(received),
                                           int(received_ns))

    def has_pending(self) -> bool:
        with self._lock:
            return any(p is not None for p in self._pending)

    def take_pending(self) -> list[tuple[int, Pending]]:
        """(camera index, message) of every camera with a message offered since the last call."""
        with self._lock:
            taken = [(i, p) for i, p in enumerate(self._pending) if p is not None]
            self._pending = [None] * len(self.topics)
        return taken

    def counts(self) -> dict[str, tuple[int, int]]:
        """topic -> (messages arrived, messages offered but replaced by a newer one before
        being used)."""
        with self._lock:
            return {t: (self._arrived[i], self._replaced[i]) for i, t in enumerate(self.topics)}

    def put(self, index: int, rgb: np.ndarray, stamp_ns: int, frame_id: str, received: float,
            received_ns: int = 0) -> Frame:
        """Replace camera ``index``'s newest frame; return the stored Frame."""
        with self._lock:
            prev = self._frames[index]
            frame = Frame(rgb, int(stamp_ns), frame_id, float(received),
                          1 if prev is None else prev.seq + 1, int(received_ns))
            self._frames[index] = frame
            self._rejected_since[index] = {}
        return frame

    def snapshot(self, now: float, stale_s: float) -> Snapshot:
        """Newest frames at monotonic time ``now``; cameras older than ``stale_s`` are missing."""
        with self._lock:
            frames = tuple(self._frames)
            arrived = list(self._arrived)
            since = [dict(r) for r in self._rejected_since]
        missing: dict[str, str] = {}
        ages: dict[str, float | None] = {}
        for topic, frame, n, rejected in zip(self.topics, frames, arrived, since):
            refused = sum(rejected.values())
            if frame is None:
                ages[topic] = None
                if n == 0:
                    missing[topic] = "never received"
                elif refused == n:
                    missing[topic] = f"all {n} frames rejected ({_reasons(rejected)})"
                elif refused:
                    missing[topic] = (f"none of {n} frames usable yet ({refused} rejected: "
                                      f"{_reasons(rejected)})")
                else:
                    missing[topic] = f"{n} frames received, none converted yet"
                continue
            age = now - frame.received
            ages[topic] = age
            if age > stale_s:
                missing[topic] = f"stale: last frame {age:.2f} s ago > stale_image_s={stale_s}"
                if refused:
                    missing[topic] = (f"stale: last usable frame {age:.2f} s ago > "
                                      f"stale_image_s={stale_s}; {refused} frames rejected "
                                      f"since ({_reasons(rejected)})")
        return Snapshot(frames, missing, ages)


def _reasons(counts: dict[str, int]) -> str:
    """'blank' for one reason; 'blank 3, encoding 2' for several."""
    if len(counts) == 1:
        return next(iter(counts))
    return ", ".join(f"{r} {n}" for r, n in sorted(counts.items(), key=lambda kv: -kv[1]))


class NoveltyGate:
    """Remembers what the previous tokens were computed from; says whether a run is new."""

    def __init__(self) -> None:
        self._last: tuple[tuple[int, ...], int] | None = None

    def is_new(self, snapshot: Snapshot, instruction_id: int) -> bool:
        """True when some frame or the instruction differs from the previous run's."""
        return self._last != (snapshot.seqs(), instruction_id)

    def mark_used(self, snapshot: Snapshot, instruction_id: int) -> None:
        self._last = (snapshot.seqs(), instruction_id)
