"""Decoder plugins: the safe command -> one controller's message.

One embodiment feeds several controllers; each `controllers[i]` entry of the embodiment YAML
becomes one decoder instance, picked by its `type` the way ros2_control picks a controller.
Types are looked up in the entry-point group `gr00t_system1.decoders` (name -> class), so a
third-party package adds a decoder by registering its class there:

    entry_points={"gr00t_system1.decoders": ["my_driver = my_pkg.decoders:MyDecoder"]}

Built in:

- `forward_command`: std_msgs/Float64MultiArray in the controller's joint order, RELIABLE
  (ros2_control's forward_command_controller subscribes reliably and rejects a message whose
  size differs from its joint count). `layout.dim[0]` is labelled with the System 1 safety
  state ("running", "hold_stale_state", ...); the controller ignores the layout.
- `joint_trajectory`: trajectory_msgs/JointTrajectory for joint_trajectory_controller's
  `~/joint_trajectory` topic: the commands of the next control ticks, a point a period,
  then the newest chunk's rows on the chunk's own times, then points braking to rest
  (`CommandLoop.path`), every point clamped and velocity- and acceleration-limited from the
  current command. By default (`header_stamp: tick`) the message is stamped with the tick's
  time and starts with the current command at 0, so the controller runs it on the shared
  clock however late it takes it up; `header_stamp: receipt` stamps it 0 ("start on
  receipt") for a controller on another clock. The controller must have
  `interpolate_from_desired_state: true` (controller_check warns when it does not).
- `joint_state`: sensor_msgs/JointState (name, position) as many humanoid drivers take.

Every decoder receives the same safe command; it never changes values, only selects and
orders its joints. A message that names joints names them as the robot does: `ros_joints`,
System 1's `joint_prefix` + the YAML's names (`joints`). A plugin whose `__init__` predates
`joint_prefix` (it takes no such keyword) still runs where the prefix is empty, and is refused,
naming the fix, where one is set (`make_decoders`).

A decoder lists the `params` keys it takes in `PARAMS`; `decoder_params`
(gr00t_policy.embodiment.decoder_types, where the built-ins' PARAMS live) checks a controller's
`params` against them, here and in `gr00t-bringup check` alike.
"""

from __future__ import annotations

import abc
import array
import importlib.metadata
import inspect
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from builtin_interfaces.msg import Duration, Time
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray, MultiArrayDimension
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from gr00t_policy.embodiment import (
    DECODER_ENTRY_POINT_GROUP,
    FORWARD_COMMAND,
    JOINT_STATE,
    JOINT_TRAJECTORY,
)
from gr00t_policy.embodiment.decoder_types import (BUILTIN_DECODER_PARAMS, DecoderParam,
                                                   DecoderSpecError, clash_message,
                                                   decoder_params, plugin_clashes)
from gr00t_policy.embodiment.joint_prefix import prefixed

ENTRY_POINT_GROUP = DECODER_ENTRY_POINT_GROUP

# Reliable; a few samples of history so that a briefly slow reader misses no tick.
COMMAND_QOS = QoSProfile(
    depth=10,
    reliability=ReliabilityPolicy.RELIABLE,
    history=HistoryPolicy.KEEP_LAST,
    durability=DurabilityPolicy.VOLATILE,
)


class DecoderError(ValueError):
    """A controller entry that no decoder can serve (unknown type, bad joints or params)."""


class Decoder(abc.ABC):
    """Base class: one controller, one publisher.

    Args:
        node: the System 1 node (publishers are created on it).
        spec: the controller entry of the embodiment YAML (name, type, topic, joints, params).
        action_joints: the column order of the command vectors passed to `publish`.
        joint_prefix: the robot's joint-name prefix (System 1's parameter).

    `joints` are the YAML's names (for the command's columns and messages about the YAML);
    `ros_joints` the same joints as the robot names them (joint_prefix + name): a message
    that names joints uses these.

    Subclasses set `wants_path` if they need the future path, implement `_create_publisher`
    and `publish`, and list the `params` keys they accept in `PARAMS`: name -> `DecoderParam`
    (default, meaning and allowed values, checked), or name -> a plain default (the name is
    checked, the value passed through). `self.params` holds the checked values.
    """

    wants_path: bool = False
    # A path decoder whose messages are timed on the node clock (stamped with the tick),
    # not from when the controller takes them up: the loop then keeps the knots of the path
    # sent on one grid (`CommandLoop(path_grid=...)`, for this decoder's joints), which helps
    # only such controllers.
    stamped_paths: bool = False
    PARAMS: Mapping[str, DecoderParam | Any] = {}

    @property
    def ticks_per_message(self) -> int:
        """Control ticks from one message to the next (a path decoder's path must reach at
        least that far point by point: `CommandLoop.path_ticks`)."""
        return 1

    def __init__(self, node: Node, spec: Any, action_joints: Sequence[str], *,
                 joint_prefix: str = "") -> None:
        self.name = spec.name
        self.type = spec.type
        self.topic = spec.topic
        self.joints = tuple(spec.joints)
        self.joint_prefix = joint_prefix
        self.ros_joints = prefixed(joint_prefix, self.joints)
        where = {n: i for i, n in enumerate(action_joints)}
        missing = [j for j in self.joints if j not in where]
        if missing:
            raise DecoderError(
                f"controller {spec.name!r}: joints {missing} are not action joints of the "
                "embodiment; a controller can only command joints the policy drives"
            )
        self.indices = np.array([where[j] for j in self.joints], dtype=np.int64)  # (n,)
        try:
            self.params = decoder_params(f"decoder {spec.type}", self.PARAMS,
                                         dict(getattr(spec, "params", {}) or {}))
        except DecoderSpecError as exc:
            raise DecoderError(f"controller {spec.name!r} ({type(self).__name__}): "
                               f"{exc}") from None
        self.published = 0
        self.publisher = self._create_publisher(node)

    @abc.abstractmethod
    def _create_publisher(self, node: Node) -> Any:
        """Create and return this decoder's publisher on `node`."""

    @abc.abstractmethod
    def publish(self, command: np.ndarray, path: tuple[np.ndarray, np.ndarray] | None,
                stamp: Time, state_label: str) -> None:
        """Publish one tick; add 1 to `published` for each message sent (the node reads it:
        a path decoder's joints go on from the path it last sent after a stall).

        Args:
            command: np.float64 (A,) the safe command, in action-joint order; read-only
                (every decoder gets the same array: convert a copy).
            path: (times (N,) seconds from now, positions (N, A)) safe future, or None when
                no decoder asked for it; read-only, as `command`.
            stamp: the tick time (node clock).
            state_label: the safety state's name ("running", "hold_stale_tokens", ...).
        """


def _float64_array(values: np.ndarray) -> array.array:
    return array.array("d", np.ascontiguousarray(values, dtype=np.float64).tobytes())


def _duration(seconds: float) -> Duration:
    ns = max(int(round(seconds * 1e9)), 0)
    return Duration(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


class ForwardCommandDecoder(Decoder):
    """std_msgs/Float64MultiArray for ros2_control's forward_command_controller."""

    PARAMS = BUILTIN_DECODER_PARAMS[FORWARD_COMMAND]

    def _create_publisher(self, node: Node) -> Any:
        self._msg = Float64MultiArray()
        self._dim = MultiArrayDimension(label="", size=len(self.joints), stride=len(self.joints))
        self._msg.layout.dim = [self._dim]
        return node.create_publisher(Float64MultiArray, self.topic, COMMAND_QOS)

    def publish(self, command: np.ndarray, path: tuple[np.ndarray, np.ndarray] | None,
                stamp: Time, state_label: str) -> None:
        self._dim.label = state_label
        self._msg.data = _float64_array(command[self.indices])
        self.publisher.publish(self._msg)
        self.published += 1


class JointTrajectoryDecoder(Decoder):
    """trajectory_msgs/JointTrajectory for joint_trajectory_controller (`~/joint_trajectory`).

    Each message is the loop's safe path (`CommandLoop.path`): the next ticks' commands a
    period apart, up to the next message and one more, then the chunk's rows on their own
    times (a hold: braking from the current command), then points that brake to rest, so a
    controller that gets no newer message (System 1 stopped or stalled) ends the trajectory
    standing still rather than stopping dead from the chunk's speed; sent every n-th tick,
    it runs on at the plan's speed in between.

    Params (BUILTIN_DECODER_PARAMS): every_n_ticks, publish every n-th control tick. A new
    plan reaches the controller with the next message; until then System 1's commands for
    these joints stay on the path sent (`CommandLoop._as_sent`). header_stamp: tick (the
    default) stamps each message with the tick's time and puts the current command first,
    at 0: joint_trajectory_controller (Jazzy) then plays the path on its clock from that
    stamp, whenever it takes the message up; with a stamp of 0 (receipt) it times the path
    from the update that takes it up and starts it from its last command, which it tags
    one update early, so each message changes the joints' speed at once.
    """

    wants_path = True
    PARAMS = BUILTIN_DECODER_PARAMS[JOINT_TRAJECTORY]

    def _create_publisher(self, node: Node) -> Any:
        self._every = self.params["every_n_ticks"]
        self.stamped_paths = self.params["header_stamp"] == "tick"
        self._tick = 0
        return node.create_publisher(JointTrajectory, self.topic, COMMAND_QOS)

    @property
    def ticks_per_message(self) -> int:
        return self._every

    def publish(self, command: np.ndarray, path: tuple[np.ndarray, np.ndarray] | None,
                stamp: Time, state_label: str) -> None:
        self._tick += 1
        if (self._tick - 1) % self._every:
            return
        if path is None:
            raise ValueError("JointTrajectoryDecoder.publish needs the path (wants_path is True)")
        times, rows = path  # (N,), (N, A)
        msg = JointTrajectory()
        msg.joint_names = list(self.ros_joints)
        points = []
        if self.stamped_paths:  # the path from now on the node clock, from where it is now
            msg.header.stamp = stamp
            first = JointTrajectoryPoint()
            first.positions = _float64_array(command[self.indices])
            first.time_from_start = _duration(0.0)
            points.append(first)
        # (else header stamp 0: the controller times the points from when it takes it up)
        for t, row in zip(times, rows[:, self.indices]):
            p = JointTrajectoryPoint()
            p.positions = _float64_array(row)
            p.time_from_start = _duration(float(t))
            points.append(p)
        msg.points = points
        self.publisher.publish(msg)
        self.published += 1


class JointStateDecoder(Decoder):
    """sensor_msgs/JointState command (header stamp, name, position)."""

    PARAMS = BUILTIN_DECODER_PARAMS[JOINT_STATE]

    def _create_publisher(self, node: Node) -> Any:
        self._msg = JointState()
        self._msg.name = list(self.ros_joints)
        return node.create_publisher(JointState, self.topic, COMMAND_QOS)

    def publish(self, command: np.ndarray, path: tuple[np.ndarray, np.ndarray] | None,
                stamp: Time, state_label: str) -> None:
        self._msg.header.stamp = stamp
        self._msg.position = _float64_array(command[self.indices])
        self.publisher.publish(self._msg)
        self.published += 1


# The built-in names are the embodiment schema's (gr00t_policy.embodiment.BUILTIN_DECODER_TYPES,
# their one home): each gets its class here.
BUILTIN_DECODERS: dict[str, type[Decoder]] = {
    FORWARD_COMMAND: ForwardCommandDecoder,
    JOINT_TRAJECTORY: JointTrajectoryDecoder,
    JOINT_STATE: JointStateDecoder,
}


def installed_decoders() -> dict[str, importlib.metadata.EntryPoint | type[Decoder]]:
    """Registered decoder names: the built-ins and the entry-point group. A plugin registered
    under a built-in's name is refused: it would silently change what every YAML using that
    type sends to its controller."""
    clashes = plugin_clashes()
    if clashes:
        raise DecoderError(clash_message(clashes))
    found: dict[str, importlib.metadata.EntryPoint | type[Decoder]] = dict(BUILTIN_DECODERS)
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        found[ep.name] = ep
    return found


def load_decoder_class(name: str) -> type[Decoder]:
    """The decoder class registered as `name`; DecoderError lists the installed names."""
    known = installed_decoders()
    if name not in known:
        raise DecoderError(
            f"unknown decoder type {name!r}; installed decoders: {sorted(known)} (register more "
            f"under the {ENTRY_POINT_GROUP!r} entry-point group)"
        )
    item = known[name]
    cls = item if isinstance(item, type) else item.load()
    if not (isinstance(cls, type) and issubclass(cls, Decoder)):
        raise DecoderError(f"decoder {name!r} resolves to {cls!r}, which is not a Decoder subclass")
    return cls


def _takes_joint_prefix(cls: type[Decoder]) -> bool:
    """Whether `cls(...)` takes the `joint_prefix` keyword (its own, or through **kwargs)."""
    params = inspect.signature(cls.__init__).parameters.values()
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return any(p.kind is p.VAR_KEYWORD or (p.name == "joint_prefix" and p.kind in named)
               for p in params)


def _make_decoder(cls: type[Decoder], node: Node, spec: Any, action_joints: Sequence[str],
                  joint_prefix: str) -> Decoder:
    plugin = (f"decoder {cls.__module__}.{cls.__qualname__} (controller {spec.name!r}, type "
              f"{spec.type!r})")
    fix = ("Fix: give its __init__ a keyword `joint_prefix: str = \"\"` and pass it on: "
           "super().__init__(node, spec, action_joints, joint_prefix=joint_prefix)")
    if _takes_joint_prefix(cls):
        decoder = cls(node, spec, action_joints, joint_prefix=joint_prefix)
    elif not joint_prefix:
        # Written before joint_prefix: with none set, its names are the robot's already.
        decoder = cls(node, spec, action_joints)
    else:
        raise DecoderError(f"{plugin} takes no joint_prefix, so its messages would name the "
                           f"joints without the robot's prefix {joint_prefix!r}. {fix}")
    if decoder.ros_joints != prefixed(joint_prefix, decoder.joints):
        raise DecoderError(f"{plugin} takes joint_prefix={joint_prefix!r} but names its joints "
                           f"{list(decoder.ros_joints)}: it did not pass the prefix on. {fix}")
    return decoder


def make_decoders(node: Node, controllers: Sequence[Any], action_joints: Sequence[str],
                  joint_prefix: str = "") -> list[Decoder]:
    """One decoder per controller entry, in YAML order; their messages name the joints with
    `joint_prefix`."""
    return [_make_decoder(load_decoder_class(spec.type), node, spec, action_joints, joint_prefix)
            for spec in controllers]
