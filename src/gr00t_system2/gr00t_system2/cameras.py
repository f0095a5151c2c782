"""Camera subscriptions that follow what each camera's publishers offer.

Camera drivers publish raw ``sensor_msgs/Image`` or ``sensor_msgs/CompressedImage``, some
reliable, some best effort (SensorDataQoS). Two parameters say how System 2 subscribes:

- ``camera_qos``: ``reliable``, ``best_effort``, or ``auto`` (default): reliable when every
  publisher of the topic is reliable, else best effort. A reliable subscription receives
  every frame a reliable publisher sends (lost fragments of a large frame are sent again),
  where a best-effort one drops most frames of 640x480 and larger; but a reliable
  subscription never connects to a best-effort publisher (docs/BENCHMARKS.md, "Camera
  streams").
- ``camera_transport``: ``raw`` (Image), ``compressed`` (CompressedImage, JPEG or PNG), or
  ``auto`` (default): the type the topic's publishers advertise.

`choose` is the decision, from the publishers' types and reliabilities (no ROS types).
`CameraSubscriptions` applies it: an ``auto`` camera is subscribed once a publisher appears,
and re-subscribed when its publishers change (a driver restarted with other settings);
`refresh` runs at start and on a timer (node.CAMERA_CHECK_S). It counts frames lost in DDS (the message-lost event)
and describes each camera's subscription for the diagnostics.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image

AUTO, RELIABLE, BEST_EFFORT = "auto", "reliable", "best_effort"
RAW, COMPRESSED = "raw", "compressed"
CAMERA_QOS = (AUTO, RELIABLE, BEST_EFFORT)
CAMERA_TRANSPORTS = (AUTO, RAW, COMPRESSED)
TYPES = {RAW: "sensor_msgs/msg/Image", COMPRESSED: "sensor_msgs/msg/CompressedImage"}
MSG_CLASSES = {RAW: Image, COMPRESSED: CompressedImage}


@dataclass(frozen=True)
class PublisherInfo:
    """What `choose` needs of one publisher of a camera topic."""

    node: str
    topic_type: str
    reliable: bool


@dataclass(frozen=True)
class Choice:
    """How to subscribe to one camera topic."""

    transport: str  # RAW | COMPRESSED
    reliable: bool

    def describe(self) -> str:
        return f"{TYPES[self.transport]}, {RELIABLE if self.reliable else BEST_EFFORT}"


@dataclass(frozen=True)
class Decision:
    """`choose`'s answer: a Choice, or None with why not; `problem` says what will not work."""

    choice: Choice | None
    why: str = ""
    problem: str = ""


def _publisher_list(publishers: Sequence[PublisherInfo]) -> str:
    return ", ".join(f"{p.node or '?'} ({p.topic_type}, {RELIABLE if p.reliable else BEST_EFFORT})"
                     for p in publishers)


def choose(topic: str, publishers: Sequence[PublisherInfo], qos: str, transport: str) -> Decision:
    """How to subscribe to ``topic`` given its ``publishers`` and the two parameters.

    An ``auto`` parameter with no publisher yet gives no Choice (wait and ask again). A
    fixed parameter always gives one; `problem` then names a publisher it cannot hear.
    """
    if qos not in CAMERA_QOS:
        raise ValueError(f"camera_qos={qos!r}: use one of {', '.join(CAMERA_QOS)}")
    if transport not in CAMERA_TRANSPORTS:
        raise ValueError(f"camera_transport={transport!r}: use one of {', '.join(CAMERA_TRANSPORTS)}")
    if transport == AUTO:
        offered = {p.topic_type for p in publishers}
        known = [t for t in (RAW, COMPRESSED) if TYPES[t] in offered]
        if not publishers:
            return Decision(None, "no publisher yet (camera_transport=auto waits for one)")
        if not known:
            return Decision(None, "no publisher of a camera type", problem=(
                f"camera {topic}: its publishers offer {sorted(offered)}; System 2 takes "
                f"{TYPES[RAW]} or {TYPES[COMPRESSED]}: publish one of those on {topic}"))
        if len(known) == 2:
            return Decision(None, "publishers of two types", problem=(
                f"camera {topic}: publishers offer both {TYPES[RAW]} and {TYPES[COMPRESSED]} "
                f"({_publisher_list(publishers)}); keep one type per topic, or set "
                "camera_transport:=raw or :=compressed"))
        transport = known[0]
    same_type = [p for p in publishers if p.topic_type == TYPES[transport]]
    problem = ""
    if any(p.topic_type != TYPES[transport] for p in publishers):
        problem = (f"camera {topic}: camera_transport={transport} subscribes {TYPES[transport]} "
                   f"but publishers offer {_publisher_list(publishers)}; set camera_transport "
                   "to auto or to the type they publish")
    if qos == AUTO:
        if not same_type:
            return Decision(None, "no publisher yet (camera_qos=auto waits for one)", problem=problem)
        reliable = all(p.reliable for p in same_type)
    else:
        reliable = qos == RELIABLE
        best_effort = [p for p in same_type if not p.reliable]
        if reliable and best_effort:
            problem = (f"camera {topic}: camera_qos=reliable cannot connect to best-effort "
                       f"publisher(s) {_publisher_list(best_effort)}; set camera_qos:=auto or "
                       ":=best_effort, or make the camera driver publish reliable")
    return Decision(Choice(transport, reliable), problem=problem)


def qos_for(choice: Choice) -> QoSProfile:
    """Newest frame only: the node uses one frame per tick and never wants a backlog."""
    return QoSProfile(
        depth=1,
        history=HistoryPolicy.KEEP_LAST,
        reliability=ReliabilityPolicy.RELIABLE if choice.reliable else ReliabilityPolicy.BEST_EFFORT,
        durability=DurabilityPolicy.VOLATILE,
    )


class CameraSubscriptions:
    """One subscription per camera topic, (re)made to fit its publishers (see module doc).

    ``on_message(index, topic, msg)`` runs in the executor for every received frame;
    ``on_problem(topic, text)`` for a configuration that cannot work (throttled by the
    caller); ``log(text)`` for each (re)subscription.
    """

    def __init__(self, node: Node, topics: Sequence[str], qos: str, transport: str,
                 callback_group: Any, on_message: Callable[[int, str, Any], None],
                 on_problem: Callable[[str, str], None], log: Callable[[str], None]) -> None:
        self._node = node
        self.topics = tuple(topics)
        self._qos, self._transport = qos, transport
        self._group = callback_group
        self._on_message = on_message
        self._on_problem = on_problem
        self._log = log
        self._lock = threading.Lock()
        self._subs: list[Any] = [None] * len(self.topics)
        self._choices: list[Choice | None] = [None] * len(self.topics)
        self._status: list[str] = ["not checked yet"] * len(self.topics)
        self._lost = [0] * len(self.topics)  # on the current subscription
        self._lost_before = [0] * len(self.topics)  # on the earlier ones

    def refresh(self) -> None:
        """Subscribe each camera the way its publishers need now (no-op when unchanged)."""
        for index, topic in enumerate(self.topics):
            infos = self._node.get_publishers_info_by_topic(topic)
            publishers = [PublisherInfo(
                node=f"{i.node_namespace.rstrip('/')}/{i.node_name}", topic_type=i.topic_type,
                reliable=i.qos_profile.reliability == ReliabilityPolicy.RELIABLE) for i in infos]
            decision = choose(topic, publishers, self._qos, self._transport)
            if decision.problem:
                self._on_problem(topic, decision.problem)
            if decision.choice is None:
                with self._lock:
                    if self._choices[index] is None:
                        self._status[index] = decision.why
                continue  # keep an existing subscription until there is a better one
            if decision.choice == self._choices[index]:
                continue
            self._subscribe(index, topic, decision.choice, publishers)

    def _subscribe(self, index: int, topic: str, choice: Choice,
                   publishers: Sequence[PublisherInfo]) -> None:
        old = self._subs[index]
        if old is not None:
            self._node.destroy_subscription(old)
        events = SubscriptionEventCallbacks(message_lost=lambda s, i=index: self._count_lost(i, s))
        self._subs[index] = self._node.create_subscription(
            MSG_CLASSES[choice.transport], topic,
            lambda msg, i=index, t=topic: self._on_message(i, t, msg),
            qos_for(choice), callback_group=self._group, event_callbacks=events)
        with self._lock:
            self._choices[index] = choice
            self._status[index] = choice.describe()
            self._lost_before[index] += self._lost[index]
            self._lost[index] = 0
        found = _publisher_list(publishers) or "none yet"
        self._log(f"camera {topic}: {'re' if old is not None else ''}subscribed as "
                  f"{choice.describe()} (camera_qos={self._qos}, camera_transport="
                  f"{self._transport}; publishers: {found})")

    def _count_lost(self, index: int, status: Any) -> None:
        with self._lock:
            self._lost[index] = int(status.total_count)

    def describe(self) -> dict[str, str]:
        """topic -> "<type>, <reliability>" or why it is not subscribed yet."""
        with self._lock:
            return dict(zip(self.topics, self._status))

    def lost(self) -> dict[str, int]:
        """topic -> frames DDS reported lost (all subscriptions of the camera so far)."""
        with self._lock:
            return {t: self._lost_before[i] + self._lost[i] for i, t in enumerate(self.topics)}

    def destroy(self) -> None:
        for index, sub in enumerate(self._subs):
            if sub is not None:
                self._node.destroy_subscription(sub)
                self._subs[index] = None
                self._choices[index] = None
