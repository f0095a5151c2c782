"""Checking the controller entries against the ros2_control controllers that will take them.

What the controllers do with System 1's messages (ros2_controllers, Jazzy):

- forward_command_controller (and position_controllers/JointGroupPositionController): a
  std_msgs/Float64MultiArray carries no joint names; entry i goes to the i-th joint of the
  controller's `joints` parameter. A YAML listing them in another order moves the wrong
  joints, and nothing anywhere reports it; a different count makes the controller's update
  fail and the controller manager deactivate it. The entries go to the command interface
  named by its `interface_name` parameter: System 1 sends positions, which a controller
  commanding `velocity` (velocity_controllers/JointGroupVelocityController sets it so) or
  `effort` would apply as rad/s or N m.
- joint_trajectory_controller: joints are matched by name, but a message naming a joint it
  does not have is refused, and so is one that leaves some of its `joints` out unless
  `allow_partial_joints_goal` is true. Unless `interpolate_from_desired_state` (newer
  releases; `open_loop_control` in older ones) is true, each new trajectory starts from the
  measured position; System 1 sends one every tick or every few, so the arm would restart
  from where it sags to ~120 times a second.

At configure, `check_controllers` reads those parameters from each forward_command /
joint_trajectory controller whose node is in the graph (the topic's namespace:
/arm_controller/commands -> /arm_controller), from a node of its own. Joints that do not
match, or a forward_command controller whose `interface_name` is not `position`, raise
ControllerMismatch, naming both values and the fix (the joint_prefix to set where the
controller's joints are the YAML's with another prefix: our joints are System 1's
`joint_prefix` + the YAML's names, as the controller is configured with them); the
trajectory setting is a warning. A controller whose node is not in the graph (a simulator, a
driver without ros2_control) or does not answer is not checked, and the returned lines say so.

Whatever the type, a command topic that nothing subscribes to is a warning (a
joint_trajectory entry given `.../commands`, a typo in the namespace): the commands would go
nowhere, the robot would stand still, and the tracking check would not see it (every plan
starts from where the robot is). Where the controller's node is in the graph, the warning
lists the topics it does subscribe to.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from typing import Any

from gr00t_policy.embodiment import FORWARD_COMMAND, JOINT_TRAJECTORY
from gr00t_policy.embodiment.joint_prefix import fitting_prefixes, prefix_fix, prefixed
from gr00t_system1.decoders import Decoder, DecoderError

PARAMETER_TIMEOUT_S = 5.0
# A reading may be asked again: a fresh client's first reply can be lost (service_call).
RESEND_AFTER_S = 0.5
# Parameters read per controller type.
JOINTS = "joints"
INTERFACE = "interface_name"  # forward_command_controller's command interface
POSITION = "position"  # the only one System 1's commands are meant for
INTERPOLATE = ("interpolate_from_desired_state", "open_loop_control")
PARTIAL = "allow_partial_joints_goal"
CHECKED_TYPES = {FORWARD_COMMAND: (JOINTS, INTERFACE),
                 JOINT_TRAJECTORY: (JOINTS, PARTIAL, *INTERPOLATE)}


class ControllerMismatch(DecoderError):
    """A controller entry that the running controller would apply to other joints, or refuse."""


def controller_node(topic: str) -> str:
    """The controller's node for its command topic: /ns/arm_controller/commands -> /ns/arm_controller."""
    return posixpath.dirname(topic) or "/"


def compare(type_: str, name: str, node: str, ours: Sequence[str],
            params: dict[str, Any], prefix: str = "") -> list[str]:
    """Warnings for one controller whose parameters were read (`params`: name -> value, None
    when not set); raises ControllerMismatch when its joints would not take our command, or
    would take it as something other than positions. `ours`: the YAML's joint names, which
    the controller knows as `prefix` + name (System 1's joint_prefix)."""
    interface = params.get(INTERFACE)
    # Empty: the controller refuses to configure itself, so it applies nothing.
    if type_ == FORWARD_COMMAND and interface and interface != POSITION:
        raise ControllerMismatch(
            f"controller {name!r}: {node} has {INTERFACE} {interface!r}: it would apply System "
            f"1's joint positions (rad) as {interface} commands. Fix: command these joints "
            f"through a controller with {INTERFACE}: {POSITION} "
            "(forward_command_controller/ForwardCommandController with "
            f"{INTERFACE}: {POSITION}, or position_controllers/JointGroupPositionController)")
    theirs = params.get(JOINTS)
    if theirs is not None:
        theirs = list(theirs)
        wire = list(prefixed(prefix, ours))
        spelt = f" (with joint_prefix {prefix!r})" if prefix else ""
        fix = prefix_fix(ours, theirs, prefix, "joint_prefix:={}")
        if type_ == FORWARD_COMMAND and theirs != wire:
            reorder = ("list the controller's joints in the YAML in the controller's order (or "
                       "the other way round in the controller's configuration)")
            # Under the fitting prefix the order may still differ: then both are the fix.
            in_order = any(theirs == list(prefixed(p, ours))
                           for p in fitting_prefixes(ours, theirs))
            raise ControllerMismatch(
                f"controller {name!r}: {node} applies a {FORWARD_COMMAND} command to its joints "
                f"in the order {theirs}, but the embodiment YAML lists{spelt} {wire}: entry i "
                "of every command would move the controller's i-th joint. Fix: "
                + (reorder if not fix else fix if in_order else f"{fix}, and {reorder}"))
        extra, missing = sorted(set(wire) - set(theirs)), sorted(set(theirs) - set(wire))
        if type_ == JOINT_TRAJECTORY and (extra or (missing and not params.get(PARTIAL))):
            raise ControllerMismatch(
                f"controller {name!r}: {node} refuses a trajectory naming joints it does not "
                f"have or (without {PARTIAL}) leaving some of its joints out: the YAML"
                f"{spelt} also sends {extra or 'none'} and leaves out {missing or 'none'}. Fix: "
                + (f"{fix}" if fix else "the YAML controller's joints must be the controller's "
                   "`joints` parameter (any order)"))
    if type_ == JOINT_TRAJECTORY and not any(params.get(p) for p in INTERPOLATE):
        set_here = [p for p in INTERPOLATE if params.get(p) is not None]
        return [
            f"controller {name!r}: {node} has {' and '.join(f'{p} false' for p in set_here)}: "
            "it starts every new trajectory from the measured position, and System 1 sends one "
            "every tick (or every_n_ticks), so the arm restarts from wherever it sags. Fix: set "
            "interpolate_from_desired_state: true (open_loop_control in older "
            "joint_trajectory_controller releases) in the controller's configuration"
        ] if set_here else []
    return []


def read_parameters(node: str, names: Sequence[str], timeout: float) -> dict[str, Any] | None:
    """`names` -> value (None: not declared) of the node's parameters, or None when it did
    not answer within `timeout`. From a node of its own (safe inside a callback); one request
    per name: rclcpp and rclpy answer a request naming any undeclared parameter with no
    values at all."""
    from rcl_interfaces.msg import ParameterType
    from rcl_interfaces.srv import GetParameters

    from gr00t_common.service_call import calls_from_own_node

    field = {ParameterType.PARAMETER_BOOL: "bool_value",
             ParameterType.PARAMETER_STRING: "string_value",
             ParameterType.PARAMETER_STRING_ARRAY: "string_array_value"}
    appeared, replies = calls_from_own_node(
        "gr00t_system1_controller_check", GetParameters, f"{node.rstrip('/')}/get_parameters",
        [GetParameters.Request(names=[n]) for n in names], timeout, resend_after=RESEND_AFTER_S)
    if not appeared or None in replies:  # replies stop at the first one not answered
        return None
    values = [r.values[0] if r.values else None for r in replies]
    return {n: getattr(v, field[v.type]) if v is not None and v.type in field else None
            for n, v in zip(names, values)}


def check_controllers(node: Any, decoders: Sequence[Decoder],
                      timeout: float = PARAMETER_TIMEOUT_S) -> list[tuple[bool, str]]:
    """Check each decoder against its running controller (module docstring); returns
    (is_warning, line) for the log. Raises ControllerMismatch (see compare)."""
    running = {posixpath.join(ns, name) for name, ns in node.get_node_names_and_namespaces()}
    lines: list[tuple[bool, str]] = []
    absent: list[str] = []
    for d in decoders:
        lines += _unheard(node, d, running)
        kind = d.type
        if kind not in CHECKED_TYPES:
            continue
        where = controller_node(d.topic)
        if where not in running:
            absent.append(where)
            continue
        params = read_parameters(where, CHECKED_TYPES[kind], timeout)
        if params is None:
            lines.append((True, f"controller {d.name!r}: {where} did not answer a parameter "
                                f"request within {timeout:g} s; its joint order is not checked"))
            continue
        warnings = compare(kind, d.name, where, d.joints, params, d.joint_prefix)
        lines += [(True, w) for w in warnings]
        if params.get(JOINTS) is not None and not warnings:
            lines.append((False, f"controller {d.name!r}: {where}'s joints match the YAML"))
    if absent:
        lines.append((True, f"no node {', '.join(absent)} in the graph (a simulator, a driver "
                            "without ros2_control, or controllers not started yet): their "
                            "joints are not checked against the YAML"))
    return lines


def _unheard(node: Any, decoder: Decoder, running: set[str]) -> list[tuple[bool, str]]:
    """A warning when nothing subscribes to the decoder's topic (module docstring);
    `running`: the graph's nodes' full names."""
    topic = node.resolve_topic_name(decoder.topic)
    if node.count_subscribers(topic) > 0:
        return []
    where = controller_node(topic)
    hint = ""
    if where in running:
        by_node = node.get_subscriber_names_and_types_by_node(
            posixpath.basename(where), posixpath.dirname(where))
        theirs = sorted(t for t, _ in by_node if t != "/parameter_events")
        hint = f"; node {where} subscribes to {theirs or 'nothing'}"
    return [(True, f"controller {decoder.name!r}: nothing subscribes to {topic}{hint}: the "
                   "commands would go nowhere and the robot would stand still. Fix: set the "
                   "YAML controller's topic to the one its controller reads "
                   "(joint_trajectory_controller: <controller>/joint_trajectory; "
                   "forward_command_controller: <controller>/commands), or start the "
                   "controller first")]


def log_lines(logger, lines: list[tuple[bool, str]]) -> None:
    """Log `check_controllers`' lines, the warnings as warnings. Two call sites: rclpy
    refuses a logging call site whose severity changes between calls (a configure with one
    matching controller and one absent raised there)."""
    for warn, line in lines:
        if warn:
            logger.warning(line)
        else:
            logger.info(line)
