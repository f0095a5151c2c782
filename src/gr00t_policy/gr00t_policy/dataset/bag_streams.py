"""One embodiment's signals out of a bag: joint states, actions, camera frames, the instruction.

Which topics stand for what comes from the embodiment YAML: the state joints from a
``sensor_msgs/JointState`` topic (``/joint_states``), one camera topic per ``cameras`` entry
(``sensor_msgs/Image`` or ``sensor_msgs/CompressedImage``), and the actions from the
``controllers`` (forward_command: ``std_msgs/Float64MultiArray`` in the controller's joint
order; joint_trajectory: each point of a ``trajectory_msgs/JointTrajectory`` at its time,
until the next message replaces the rest, `_trajectory_series`;
joint_state: ``sensor_msgs/JointState``) or, for teleoperation, one ``sensor_msgs/JointState``
command topic naming every action joint (``action_topic``). Every error names the topic, what
is missing and how to fix it. A robot whose driver prefixes its joint names (ros2_control's
``prefix``: ``g1/left_elbow_joint``) is read with ``BagTopics.joint_prefix`` (the bag's own,
kept by gr00t-record, unless given): every joint name in the bag is that prefix + the YAML's
name, and the dataset gets the YAML's names.

A message's time is when it was sent (its publish time) when the topic's publish times are on
the recorder's clock (none after its reception, and its quickest within ``MAX_MIN_TRANSIT_S``
of the quickest of any topic: a clock behind the recorder's by more would pass its messages
off as sent that much earlier): a recorder kept waiting by a busy CPU receives messages late and
in bunches, and its reception times (log times) would show gaps and bursts the robot never
saw. Otherwise (a publisher on another host's clock, or a recorder that stored no send time)
the log time; and every topic's log time where some topic's clock and the recorder's stepped
apart mid-recording (`Bag.transit_moved`), since the log times alone are on one clock.
"""

from __future__ import annotations

import collections
import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gr00t_policy.dataset.bag import INSTRUCTION_KEY, Bag, BagError
from gr00t_policy.embodiment import EmbodimentConfig
from gr00t_policy.embodiment import decoder_types
from gr00t_policy.embodiment.joint_prefix import (ACTION_JOINT_PREFIX_KEY, JOINT_PREFIX_KEY,
                                                  prefix_fix, prefix_problem,
                                                  prefixed)
from gr00t_policy.embodiment.plausibility import PositionCheck
from gr00t_policy.runtime.stamps import CLOCK_FIX, CLOCK_OFF_S, MAX_FUTURE_STAMP_S

JOINT_STATE = "sensor_msgs/msg/JointState"
IMAGE = "sensor_msgs/msg/Image"
COMPRESSED_IMAGE = "sensor_msgs/msg/CompressedImage"
STRING = "std_msgs/msg/String"
FLOAT64_MULTI_ARRAY = "std_msgs/msg/Float64MultiArray"
JOINT_TRAJECTORY = "trajectory_msgs/msg/JointTrajectory"
# Controller type -> the command message a bag's controller topic is read as (the built-in
# decoders'; a plugin's controller has no reader here: pass --action-topic).
CONTROLLER_MESSAGES = {decoder_types.FORWARD_COMMAND: FLOAT64_MULTI_ARRAY,
                       decoder_types.JOINT_TRAJECTORY: JOINT_TRAJECTORY,
                       decoder_types.JOINT_STATE: JOINT_STATE}
DEFAULT_JOINT_STATES = "/joint_states"
DEFAULT_INSTRUCTION = "/gr00t/instruction"
# DDS delivers on one host in well under a millisecond, over a LAN in a few: a topic none of
# whose messages came within this of the quickest topic's is sent from another clock.
MAX_MIN_TRANSIT_S = 0.01


@dataclass(frozen=True)
class BagTopics:
    """Where a bag keeps each signal (None: the embodiment YAML decides), and how it names
    the joints: `joint_prefix` + the YAML's names (None: the bag's own, `prefix_for`)."""

    joint_states: str = DEFAULT_JOINT_STATES
    instruction: str = DEFAULT_INSTRUCTION
    action_topic: str | None = None  # a JointState command topic instead of the controllers
    joint_prefix: str | None = None
    action_joint_prefix: str | None = None  # the action topic's, where it differs

    def prefix_for(self, bag: Bag) -> str:
        """The joint-name prefix of ``bag``'s messages: ours if given, else the one
        gr00t-record kept in its metadata (its ``joint_prefix`` parameter), else none."""
        if self.joint_prefix is not None:
            return self.joint_prefix
        return _kept_prefix(bag, JOINT_PREFIX_KEY, "--joint-prefix") or ""

    def action_prefix_for(self, bag: Bag) -> str:
        """The joint-name prefix of ``action_topic``'s messages (a leader arm's driver may
        have its own): ours if given, else the recorder's ``action_joint_prefix`` from the
        metadata, else the robot's (`prefix_for`)."""
        if self.action_joint_prefix is not None:
            return self.action_joint_prefix
        kept = _kept_prefix(bag, ACTION_JOINT_PREFIX_KEY, "--action-joint-prefix")
        return self.prefix_for(bag) if kept is None else kept

    def all(self, emb: EmbodimentConfig) -> set[str]:
        topics = {self.joint_states, self.instruction, *(c.topic for c in emb.cameras)}
        if self.action_topic:
            topics.add(self.action_topic)
        else:
            topics.update(c.topic for c in emb.controllers)
        return topics


def _kept_prefix(bag: Bag, key: str, flag: str) -> str | None:
    """The prefix gr00t-record kept under ``key`` in ``bag``'s metadata; None if none."""
    prefix = bag.custom_data.get(key)
    if prefix is None:
        return None
    problem = prefix_problem(prefix)
    if problem:
        raise BagError(f"bag {bag.path}: its metadata's {key} {problem}. Fix: pass the "
                       f"prefix with {flag}")
    return prefix


@dataclass
class Streams:
    """A bag's signals on one clock (seconds since ``t0_ns``).

    state_t (N,), state (N, S) float64; commands: per controller (times (n,), values (n, j),
    action columns (j,)); frames: camera -> (times (F,), raw messages); image_shapes: camera
    -> (height, width) of its frames, as `check_frames` found them (a dataset keeps one per
    camera, so the bags are compared on them before anything is written); counts of what
    was left out; the topics whose times are log times.
    """

    t0_ns: int
    state_t: np.ndarray
    state: np.ndarray
    commands: list[tuple[np.ndarray, np.ndarray, np.ndarray]]
    frames: dict[str, tuple[np.ndarray, list[Any]]]
    task: str
    image_shapes: dict[str, tuple[int, int]] = field(default_factory=dict)
    nan_states: int = 0
    bad_commands: dict[str, int] = field(default_factory=dict)
    log_time_topics: list[str] = field(default_factory=list)  # timed by reception, not sending
    # topic -> (messages left out for a position beyond its joint's limits + the embodiment's
    # plausibility.position_margin, the first such message's joints in words)
    implausible: dict[str, tuple[int, str]] = field(default_factory=dict)
    stamp_warnings: list[str] = field(default_factory=list)  # see `stamp_warnings`
    clock_warnings: list[str] = field(default_factory=list)  # see `clock_warnings`
    task_warnings: list[str] = field(default_factory=list)  # see `task_changes`
    publisher_warnings: list[str] = field(default_factory=list)  # see `publisher_warnings`


def sent_on_recorder_clock(bag: Bag, topic: str) -> bool:
    """Whether the topic's publish times are its messages' times (see the module docstring):
    none after its reception, its quickest message within MAX_MIN_TRANSIT_S of the
    quickest of any topic in the bag (a recorder behind all episode delays every topic),
    and no topic's transit moved (`Bag.transit_moved`: a clock stepped mid-recording, the
    recorder's forward or a sender's back). After such a step a topic whose publish times
    were kept would stay on the old timeline while the others' (sent on the recorder's
    host, whose publish times stepped with it) moved: rows would pair a command with a
    state sent the step later. The log times are all the recorder's, so every topic takes
    them (`clock_warnings` says so)."""
    if bag.transit_moved:
        return False
    transits = bag.quickest_transit_ns
    quickest = transits.get(topic)
    if quickest is None or quickest < 0:
        return False
    floor = min(q for q in transits.values() if q >= 0)
    return quickest - floor <= MAX_MIN_TRANSIT_S * 1e9


def timed_messages(bag: Bag, topic: str) -> list[tuple[int, Any]]:
    """The topic's [(time ns, message)] in time order: publish times when
    :func:`sent_on_recorder_clock`, else log times."""
    msgs = bag.messages.get(topic, [])
    if not sent_on_recorder_clock(bag, topic):
        return msgs
    sent = np.asarray(bag.publish_times[topic], dtype=np.int64)  # (n,)
    return [(int(sent[i]), msgs[i][1]) for i in np.argsort(sent, kind="stable")]


def _fix_hint(bag: Bag, msgtype: str) -> str:
    found = bag.topics_of_type(msgtype)
    return f"the bag's {msgtype} topics: {found}" if found else f"the bag has no {msgtype} topic"


def _require(bag: Bag, topic: str, what: str, fix: str, msgtypes: tuple[str, ...],
             type_fix: str | None = None) -> list:
    """The topic's timed messages; BagError where it has none (``fix``) or carries another
    type (``type_fix``, else ``fix``)."""
    msgs = timed_messages(bag, topic)
    if not msgs:
        hint = "; ".join(_fix_hint(bag, t) for t in msgtypes)
        raise BagError(f"bag {bag.path}: no messages on {topic} ({what}); {hint}. Fix: {fix}")
    msgtype = bag.topics.get(topic, "")
    if msgtype not in msgtypes:
        raise BagError(f"bag {bag.path}: {topic} ({what}) has type {msgtype}, expected one of "
                       f"{list(msgtypes)}. Fix: {type_fix or fix}")
    return msgs


def _controller_type_fix(ctrl: Any, found: str, fix: str) -> str:
    """What to do about a controller topic the bag recorded with another message type: the
    YAML's `type` names another controller than the robot runs (the recorded one is right)."""
    reads = [t for t, m in CONTROLLER_MESSAGES.items() if m == found]
    if not reads:
        return fix
    return (f"the robot's controller on it sends {found}: set controllers[{ctrl.name}].type "
            f"to {reads[0]!r} in the embodiment YAML (the controller type the robot runs), "
            "then convert again")


def _names_columns(names: list[str], wanted: list[str]) -> np.ndarray | None:
    """Index into ``names`` of each wanted joint, or None if one is missing."""
    index = {n: i for i, n in enumerate(names)}
    if not all(w in index for w in wanted):
        return None
    return np.array([index[w] for w in wanted])


def _prefix_words(prefix: str) -> str:
    return f" (--joint-prefix {prefix!r} + the YAML's names)" if prefix else ""


def _missing_joints(bag: Bag, topic: str, msgs: list, yaml_names: list[str], prefix: str,
                    what: str, fix: str, flag: str = "--joint-prefix") -> BagError:
    seen = sorted({n for _, m in msgs for n in m.name})
    wanted = prefixed(prefix, yaml_names)
    missing = [j for j in wanted if j not in seen]
    shown = missing[:12] + ([f"... {len(missing) - 12} more"] if len(missing) > 12 else [])
    fix = prefix_fix(yaml_names, seen, prefix, flag + " {}") or fix
    return BagError(
        f"bag {bag.path}: {topic} lacks {len(missing)} of the {len(wanted)} {what} "
        f"joints{_prefix_words(prefix)}: {shown}; it names {seen[:12]}"
        f"{' ...' if len(seen) > 12 else ''}. Fix: {fix}")


def _joint_series(bag: Bag, topic: str, msgs: list, yaml_names: list[str], what: str,
                  fix: str, prefix: str = "",
                  flag: str = "--joint-prefix") -> tuple[np.ndarray, np.ndarray, int]:
    """(log times ns (n,), positions (n, len(yaml_names)), messages dropped for NaN / no
    joints) of the joints the messages name ``prefix`` + each of ``yaml_names``; ``flag``:
    the option that sets ``prefix``, for the fix."""
    wanted = list(prefixed(prefix, yaml_names))
    cache: dict[tuple[str, ...], np.ndarray | None] = {}
    times, rows, dropped = [], [], 0
    for t, msg in msgs:
        key = tuple(msg.name)
        if key not in cache:
            cache[key] = _names_columns(list(key), wanted)
        cols = cache[key]
        pos = np.asarray(msg.position, dtype=np.float64)
        if cols is None or len(pos) != len(key):
            dropped += 1
            continue
        row = pos[cols]
        if not np.isfinite(row).all():
            dropped += 1
            continue
        times.append(t)
        rows.append(row)
    if not rows and all(v is None for v in cache.values()):
        named = {n for key in cache for n in key}
        if all(w in named for w in wanted):
            raise _split_joints(bag, topic, cache, wanted, what)
        raise _missing_joints(bag, topic, msgs, yaml_names, prefix, what, fix, flag)
    if not rows:
        raise _unusable_joints(bag, topic, msgs, wanted, what)
    return np.array(times, dtype=np.int64), np.array(rows).reshape(-1, len(wanted)), dropped


def _split_joints(bag: Bag, topic: str, cache: dict, wanted: list[str], what: str) -> BagError:
    """Every joint is named on the topic, but no single message names them all."""
    groups = [[n for n in key if n in wanted] for key in cache]
    shown = [g[:4] + (["..."] if len(g) > 4 else []) for g in groups if g][:4]
    return BagError(
        f"bag {bag.path}: no message on {topic} names all {len(wanted)} {what} joints: they "
        f"come in separate messages ({len(groups)} kinds, e.g. {shown}), as when two drivers "
        "publish on one topic. Fix: record one merged sensor_msgs/JointState topic (a "
        "joint_state_broadcaster, or a relay that merges the drivers' messages) and pass it "
        "with --joint-states-topic / --action-topic")


def _unusable_joints(bag: Bag, topic: str, msgs: list, wanted: list[str], what: str) -> BagError:
    """Messages name the joints, but none has a finite position for each of them."""
    short, nan = 0, dict.fromkeys(wanted, 0)
    for _, msg in msgs:
        names = list(msg.name)
        cols = _names_columns(names, wanted)
        pos = np.asarray(msg.position, dtype=np.float64)
        if cols is None:
            continue
        if len(pos) != len(names):
            short += 1
            continue
        for joint, value in zip(wanted, pos[cols]):
            nan[joint] += int(not np.isfinite(value))
    worst = sorted((j for j in wanted if nan[j]), key=lambda j: -nan[j])
    parts = []
    if short:
        parts.append(f"{short} have fewer positions than names (position empty?)")
    if worst:
        parts.append("non-finite positions in " + ", ".join(
            f"{j} ({nan[j]} messages)" for j in worst[:6]) + (" ..." if len(worst) > 6 else ""))
    return BagError(
        f"bag {bag.path}: none of the {len(msgs)} messages on {topic} has a usable position for "
        f"every {what} joint: {'; '.join(parts)}. Fix: the robot must report these joints "
        "(a joint that is off, e.g. an unpowered gripper, cannot be in the embodiment's "
        "state), or record the topic that carries them")


def header_stamp_ns(msg: Any) -> int:
    """A message's header stamp in ns; 0 where it has no header (or a stamp of 0)."""
    header = getattr(msg, "header", None)
    if header is None:
        return 0
    return int(header.stamp.sec) * 10**9 + int(header.stamp.nanosec)


def _trajectory_series(msgs: list, joints: list[str],
                       end_ns: int) -> tuple[np.ndarray, np.ndarray, int]:
    """A joint_trajectory controller's commands, one per point: point i of a message with a
    header stamp is the command at the stamp + its time_from_start, as the controller runs
    it (System 1's `header_stamp: tick`: the command of its tick at 0), where the stamp is
    on the message times' clock (within STAMP_AHEAD_S / STAMP_BEHIND_S of its sending, as
    `stamp_warnings` checks); of one stamped 0 (or on another clock), sent at t, the
    command at t + (its time_from_start - the first point's), the first point at the
    sending as a forward command's. The controller runs through the points until the
    next message replaces the rest, so a message's points due at or after the next one's
    sending are left out, and the last one's after ``end_ns`` (the last joint state: no
    state to pair them with). System 1's decoder sends the next ticks' commands a period
    apart every ``every_n_ticks`` ticks: the first point alone would be its command only on
    the ticks it sends on, held for the ticks between (rows of a stale, stepped command).
    Messages without the joints, without points, with a point of another size or a
    non-finite position, or with times from start that do not increase are skipped and
    counted. Returns (times ns (n,), positions (n, len(joints)), messages skipped)."""
    kept, bad = [], 0
    for t, msg in msgs:
        names = list(msg.joint_names)
        idx = _names_columns(names, joints)
        points = list(msg.points)
        if (idx is None or not points
                or any(len(p.positions) != len(names) for p in points)):
            bad += 1
            continue
        due = np.array([p.time_from_start.sec * 10**9 + p.time_from_start.nanosec
                        for p in points], dtype=np.int64)  # (P,)
        values = np.array([np.asarray(p.positions, dtype=np.float64)[idx]
                           for p in points])  # (P, j)
        if not np.isfinite(values).all() or (np.diff(due) <= 0).any():
            bad += 1
            continue
        stamp = header_stamp_ns(msg)
        on_clock = stamp and -STAMP_BEHIND_S * 1e9 <= stamp - t <= STAMP_AHEAD_S * 1e9
        kept.append(((stamp + due) if on_clock else (t + due - due[0]), values))
    times, rows = [], []
    for k, (at, values) in enumerate(kept):
        until = kept[k + 1][0][0] if k + 1 < len(kept) else end_ns + 1
        n = max(1, int(np.searchsorted(at, until, side="left")))  # the first point always
        times.append(at[:n])
        rows.append(values[:n])
    if not times:
        return np.zeros(0, dtype=np.int64), np.zeros((0, len(joints))), bad
    return np.concatenate(times), np.concatenate(rows), bad


def _no_trajectory(bag: Bag, ctrl: Any, msgs: list, prefix: str) -> None:
    """BagError where no trajectory message names every joint of the controller (as
    ``prefix`` + its YAML name): each names some (a controller taking partial goals) or
    others (another robot's names, or another prefix)."""
    named = [set(m.joint_names) for _, m in msgs]
    joints = prefixed(prefix, ctrl.joints)
    missing = [j for j in joints if not any(j in n for n in named)]
    partial = not missing and not any(set(joints) <= n for n in named)
    if not (missing or partial):
        return  # they name the joints: the count of skipped messages says why
    seen = sorted(set().union(*named))
    what = (f"no message names all {len(joints)} joints of controller {ctrl.name} at "
            f"once (partial goals: each names some of them, e.g. {sorted(named[0])[:6]})"
            if partial else f"its messages never name {missing[:8]} of controller "
            f"{ctrl.name}'s joints{_prefix_words(prefix)} (they name {seen[:8]}"
            f"{' ...' if len(seen) > 8 else ''})")
    fix = prefix_fix(list(ctrl.joints), seen, prefix, "--joint-prefix {}") or (
        "set controllers[].joints in the embodiment YAML to the names the "
        f"controller is sent; {PARTIAL_GOALS_FIX}")
    raise BagError(
        f"bag {bag.path}: {ctrl.topic}: {what}, so no row has a command for every action "
        f"joint. Fix: {fix}")


PARTIAL_GOALS_FIX = ("a sender of partial goals must name every joint of the controller in "
                     "each message, or record its commanded positions as one "
                     "sensor_msgs/JointState topic and pass it with --action-topic")


def _partial_goals(bag: Bag, ctrl: Any, msgs: list, prefix: str) -> None:
    """BagError where some trajectory messages name only some of the controller's joints
    (as ``prefix`` + its YAML names) beside messages naming all: each is skipped, so the
    rows it commanded would take every joint's previous command, a stepped action that lags
    the robot's motion."""
    wanted = set(prefixed(prefix, ctrl.joints))
    partial = [named for _, m in msgs for named in [set(m.joint_names)]
               if named & wanted and not wanted <= named]
    if not partial:
        return
    raise BagError(
        f"bag {bag.path}: {ctrl.topic}: {len(partial)} of {len(msgs)} messages name only some "
        f"of controller {ctrl.name}'s {len(wanted)} joints (partial goals, e.g. "
        f"{sorted(partial[0])[:6]}); they cannot be rows, and the rows they commanded would "
        "repeat the previous command of every joint (a stepped action behind the robot's "
        f"motion). Fix: {PARTIAL_GOALS_FIX}")


def _no_forward_command(bag: Bag, ctrl: Any, msgs: list) -> None:
    """BagError where no message of a forward_command topic is a command for the
    controller's joints: its values number another count (a gripper command carrying both
    fingers, a controller the YAML lists other joints of), or are not finite."""
    sizes = collections.Counter(len(m.data) for _, m in msgs)
    other = {n: k for n, k in sizes.items() if n != len(ctrl.joints)}
    what = (", ".join(f"{k} with {n} values" for n, k in sorted(other.items())) if other
            else "every one has a non-finite value")
    raise BagError(
        f"bag {bag.path}: {ctrl.topic}: none of its {len(msgs)} messages is a command for "
        f"controller {ctrl.name}'s {len(ctrl.joints)} joints {list(ctrl.joints)[:8]} "
        f"({what}). Fix: list in controllers[].joints exactly the joints the controller "
        "takes, in its order (its `joints` parameter), or record the topic its commands "
        "are sent on")


def _controller_series(bag: Bag, emb: EmbodimentConfig, ctrl: Any, fix: str,
                       end_ns: int, prefix: str) -> tuple:
    joints = list(ctrl.joints)
    cols = np.array([emb.action_joints.index(j) for j in joints])
    what = f"commands of controller {ctrl.name} ({ctrl.type})"
    if ctrl.type not in CONTROLLER_MESSAGES:
        raise BagError(f"controller {ctrl.name}: type {ctrl.type!r} has no bag reader (known: "
                       f"{', '.join(CONTROLLER_MESSAGES)}); pass --action-topic with a "
                       "sensor_msgs/JointState command topic instead")
    msgs = _require(bag, ctrl.topic, what, fix, (CONTROLLER_MESSAGES[ctrl.type],),
                    _controller_type_fix(ctrl, bag.topics.get(ctrl.topic, ""), fix))
    if ctrl.type == decoder_types.FORWARD_COMMAND:
        times, rows, bad = [], [], 0
        for t, msg in msgs:
            values = np.asarray(msg.data, dtype=np.float64)
            if values.shape != (len(joints),) or not np.isfinite(values).all():
                bad += 1
                continue
            times.append(t)
            rows.append(values)
        if not times:
            _no_forward_command(bag, ctrl, msgs)
        return np.array(times, dtype=np.int64), np.array(rows).reshape(-1, len(joints)), cols, bad
    if ctrl.type == decoder_types.JOINT_TRAJECTORY:
        times, rows, bad = _trajectory_series(msgs, list(prefixed(prefix, joints)), end_ns)
        if not len(times):
            _no_trajectory(bag, ctrl, msgs, prefix)
        elif bad:
            _partial_goals(bag, ctrl, msgs, prefix)
        return times, rows, cols, bad
    times, rows, bad = _joint_series(bag, ctrl.topic, msgs, joints, what, fix,  # joint_state
                                     prefix)
    return times, rows, cols, bad


def task_changes(bag: Bag, topics: BagTopics, first_action_ns: int, task: str) -> list[str]:
    """A warning when another instruction was published during the episode: the whole bag
    is labelled with one (``task``), so the steps after the change train on the wrong words."""
    said = ((t, m.data.strip()) for t, m in timed_messages(bag, topics.instruction))
    later = [(t, text) for t, text in said if t > first_action_ns and text and text != task]
    if not later:
        return []
    t, text = later[0]
    return [f"{topics.instruction} changed to {text!r} {(t - first_action_ns) / 1e9:.2f} s after "
            f"the first command, but the whole episode is labelled {task!r}: the steps after "
            "it train on the wrong instruction. Fix: record one instruction per episode "
            "(gr00t-record stop, then start with the new one)"]


def _task(bag: Bag, topics: BagTopics, first_action_ns: int, override: str | None) -> str:
    if override:
        return override
    if bag.custom_data.get(INSTRUCTION_KEY, "").strip():
        return bag.custom_data[INSTRUCTION_KEY].strip()
    said = [(t, m.data) for t, m in timed_messages(bag, topics.instruction) if m.data.strip()]
    before = [text for t, text in said if t <= first_action_ns]
    if before or said:
        return (before or [said[0][1]])[-1].strip()
    raise BagError(f"bag {bag.path}: no instruction: no '{INSTRUCTION_KEY}' in its metadata "
                   f"(gr00t-record writes it) and no {STRING} on {topics.instruction}. Fix: pass "
                   "--task TEXT, or record the instruction topic")


def clock_warnings(bag: Bag) -> list[str]:
    """A line where a topic's transit moved (`Bag.transit_moved`): every topic is timed by
    its reception."""
    if not bag.transit_moved:
        return []
    topic, (at, by) = next(iter(sorted(bag.transit_moved.items(), key=lambda kv: kv[1][0])))
    first = min(t for msgs in bag.messages.values() for t, _ in msgs[:1])
    return [f"{topic}: from {max(0.0, (at - first) / 1e9):.2f} s into the recording its "
            f"messages reached the recorder {by / 1e9:.3f} s later than before (its sender's "
            "clock and the recorder's stepped apart: NTP or chrony moving one of them): every "
            "topic is timed by its reception (log) time, which is on the recorder's clock "
            "alone. Fix: keep the clocks from stepping while recording (chrony: `makestep 1 "
            "3` steps only at boot, then slews)"]


# Header stamps this far ahead of their reception, or behind it, would be refused by System 1
# on the robot (its max_future_stamp_s default; an age no staleness limit allows).
STAMP_AHEAD_S, STAMP_BEHIND_S = MAX_FUTURE_STAMP_S, CLOCK_OFF_S


def stamp_warnings(bag: Bag, topics: list[str]) -> list[str]:
    """A line per topic whose header stamps lie far from their messages' times: the
    conversion does not read stamps, but System 1 would refuse those inputs on the robot
    (a clock that is off, or stamps in time since boot), so the team hears it now."""
    out = []
    for topic in topics:
        timed = timed_messages(bag, topic)
        stamps = [(t, m.header.stamp) for t, m in timed if hasattr(m, "header")]
        if not stamps:
            continue
        lag = np.array([t / 1e9 - (st.sec + st.nanosec / 1e9) for t, st in stamps
                        if st.sec or st.nanosec])  # (n,) seconds behind; unstamped left out
        if not lag.size:
            continue
        ahead, behind = int((lag < -STAMP_AHEAD_S).sum()), int((lag > STAMP_BEHIND_S).sum())
        if ahead or behind:
            worst = float(lag[np.argmax(np.abs(lag))])
            out.append(
                f"{topic}: {ahead + behind} of {lag.size} header stamps are more than "
                f"{STAMP_AHEAD_S:g} s ahead of or {STAMP_BEHIND_S:g} s behind when the message "
                f"was sent (worst {abs(worst):.3f} s {'behind' if worst > 0 else 'ahead'}); "
                "this conversion does not use them (a trajectory's points are timed from its "
                "sending then), but System 1 refuses such inputs on the robot: "
                f"{CLOCK_FIX}")
    return out


def publisher_warnings(bag: Bag, topics: list[str]) -> list[str]:
    """A line per topic of the conversion (state, commands, cameras) the bag recorded from
    several publishers (its offered_qos_profiles, `Bag.publishers`): their messages are one
    stream to the conversion, so a second sender naming the same joints (a
    joint_state_publisher a launch file started beside the driver, sending zeros; a second
    teleoperation node) puts its values in the rows as though they were the robot's."""
    return [f"{topic}: recorded from {bag.publishers[topic]} publishers, whose messages are "
            "taken as one stream: where two name the same joints (e.g. a joint_state_publisher "
            "beside the robot's driver) the rows mix their values. Fix: check with `ros2 topic "
            f"info -v {topic}`, stop the other publisher and record again, or leave this bag out"
            for topic in topics if bag.publishers.get(topic, 0) > 1]


def _plausible(emb: EmbodimentConfig, topic: str, joints: list[str], times: np.ndarray,
               rows: np.ndarray, implausible: dict) -> tuple[np.ndarray, np.ndarray]:
    """The rows within their joints' limits widened by plausibility.position_margin (what
    System 1 accepts from a robot); the others counted under ``implausible[topic]``: an
    encoder glitch or a driver in degrees would set the dataset's normalization range."""
    check = PositionCheck.of(emb, joints)
    bad = check.implausible(rows)  # (n,)
    if bad.any():
        implausible[topic] = (int(bad.sum()), check.describe(rows[np.flatnonzero(bad)[0]]))
    return times[~bad], rows[~bad]


def _check_clock(bag: Bag) -> None:
    """ValueError for a bag whose recorder's clock went back mid-recording (`Bag.clock_steps`)
    given whole: after the step every time is off by it, so sorting by time would put the
    messages out of their order and pair states and commands up to the step apart, which no
    later check would see. Its parts (`Bag.parts`, as `convert_bags` takes them) are each
    on one timeline."""
    if bag.clock_steps:
        raise ValueError(f"bag {bag.path}: its recorder's clock went back mid-recording: "
                         "extract takes each of its parts (Bag.parts()), not the whole bag")


def extract(bag: Bag, emb: EmbodimentConfig, topics: BagTopics,
            task: str | None = None) -> Streams:
    """The embodiment's signals out of ``bag`` (read with at least ``topics.all(emb)``);
    BagError for a bag it cannot take them from, naming the topic and the fix."""
    _check_clock(bag)
    prefix = topics.prefix_for(bag)
    implausible: dict[str, tuple[int, str]] = {}
    yaml_fix = "record it (gr00t-record records every topic the embodiment YAML names)"
    state_msgs = _require(bag, topics.joint_states, f"joint states of embodiment {emb.name!r}",
                          f"{yaml_fix}, or pass --joint-states-topic TOPIC", (JOINT_STATE,))
    state_t, state, nan_states = _joint_series(
        bag, topics.joint_states, state_msgs, list(emb.state_joints), "state",
        "correct the joint names in the embodiment YAML's joint_groups (they must be the names "
        "the robot publishes, less --joint-prefix), or record the topic that carries these "
        "joints", prefix)
    state_t, state = _plausible(emb, topics.joint_states, list(emb.state_joints), state_t,
                                state, implausible)
    if not len(state_t):
        n, what = implausible[topics.joint_states]
        raise BagError(f"bag {bag.path}: every joint state on {topics.joint_states} is beyond "
                       f"its joints' limits (+ plausibility.position_margin), {n} messages, "
                       f"e.g. {what}. Fix: check the units (radians, metres) and the encoders' "
                       "calibration, and that the YAML's limits are the robot's")
    bad: dict[str, int] = {}
    commands = []
    if topics.action_topic:
        fix = "pass the sensor_msgs/JointState topic that carries the commanded positions"
        msgs = _require(bag, topics.action_topic, "commanded joint positions", fix, (JOINT_STATE,))
        times, rows, n = _joint_series(bag, topics.action_topic, msgs, list(emb.action_joints),
                                       "action", "correct the embodiment YAML's joint names, "
                                       "or pass the command topic that names these joints",
                                       topics.action_prefix_for(bag), "--action-joint-prefix")
        times, rows = _plausible(emb, topics.action_topic, list(emb.action_joints), times, rows,
                                 implausible)
        commands.append((times, rows, np.arange(len(emb.action_joints))))
        bad[topics.action_topic] = n
    else:
        fix = (f"{yaml_fix}, or pass --action-topic TOPIC (a sensor_msgs/JointState topic "
               "with the commanded positions, e.g. a teleoperation leader arm)")
        for ctrl in emb.controllers:
            times, rows, cols, n = _controller_series(bag, emb, ctrl, fix, int(state_t.max()),
                                                      prefix)
            times, rows = _plausible(emb, ctrl.topic, list(ctrl.joints), times, rows, implausible)
            commands.append((times, rows, cols))
            bad[ctrl.topic] = n
        covered = {j for c in emb.controllers for j in c.joints}
        missing = [j for j in emb.action_joints if j not in covered]
        if missing:
            raise BagError(f"embodiment {emb.name!r}: action joints {missing} are in no "
                           "controller, so no command topic carries them. Fix: add them to a "
                           "controller in the YAML, or pass --action-topic TOPIC")
    frames, shapes = {}, {}
    for cam in emb.cameras:
        msgs = _require(
            bag, cam.topic, f"camera {cam.name!r} of embodiment {emb.name!r}",
            f"{yaml_fix}; if the camera is on another topic, set cameras[].topic in the YAML",
            (IMAGE, COMPRESSED_IMAGE))
        shapes[cam.name] = check_frames([m for _, m in msgs], cam.topic,
                                        functools.partial(bag.with_data, cam.topic))
        frames[cam.name] = (np.array([t for t, _ in msgs], dtype=np.int64), [m for _, m in msgs])
    stamps = [s[0] for s in (state_t, *(c[0] for c in commands)) if len(s)]
    if not stamps or not all(len(c[0]) for c in commands):
        raise BagError(f"bag {bag.path}: no usable joint state or command (all were NaN, "
                       "of the wrong size, without the embodiment's joints or beyond their "
                       f"limits{_implausible_words(implausible)})")
    t0 = int(min(s.min() for s in stamps))
    first_action = int(max(c[0][0] for c in commands))
    used = [topics.joint_states, *(c.topic for c in emb.cameras),
            *([topics.action_topic] if topics.action_topic else [c.topic for c in emb.controllers])]
    the_task = _task(bag, topics, first_action, task)
    return Streams(
        log_time_topics=[t for t in used if not sent_on_recorder_clock(bag, t)],
        t0_ns=t0, state_t=(state_t - t0) / 1e9, state=state,
        commands=[((t - t0) / 1e9, v, cols) for t, v, cols in commands],
        frames={cam: ((t - t0) / 1e9, m) for cam, (t, m) in frames.items()},
        task=the_task, image_shapes=shapes, nan_states=nan_states, bad_commands=bad,
        implausible=implausible, stamp_warnings=stamp_warnings(bag, used),
        clock_warnings=clock_warnings(bag),
        task_warnings=[] if task else task_changes(bag, topics, first_action, the_task),
        publisher_warnings=publisher_warnings(bag, used))


def _implausible_words(implausible: dict[str, tuple[int, str]]) -> str:
    return "".join(f"; {topic}: {n} beyond, e.g. {what}"
                   for topic, (n, what) in implausible.items())


# sensor_msgs/Image encodings read, with their bytes per pixel.
CHANNELS = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1}


def check_frames(msgs: list[Any], topic: str,
                 with_data: Callable[[list[Any]], Iterable[Any]] = iter,
                 ) -> tuple[int, int] | None:
    """Before anything is written: every raw Image has an encoding `image_rgb` reads, the
    camera's first size and as many bytes as its size says; a CompressedImage stream's first
    and last frames decode to 8-bit images of one size. BagError names the topic and the fix.
    ``with_data``: the messages with their bytes, where they were left in the bag
    (`Bag.with_data`).

    Returns the frames' (height, width) (None without messages): the size the camera's
    video will have, known before any frame is encoded."""
    raw = [m for m in msgs if not hasattr(m, "format")]
    sizes = set()
    for i, msg in enumerate(raw):
        if msg.encoding not in CHANNELS:
            raise BagError(f"{topic}: image encoding {msg.encoding!r} (message {i}) is not read "
                           f"(known: {sorted(CHANNELS)}); publish 8-bit colour images, e.g. "
                           "set the camera driver's pixel format to rgb8 or bgr8")
        sizes.add((msg.height, msg.width))
        if msg.step < msg.width * CHANNELS[msg.encoding] or len(msg.data) < msg.height * msg.step:
            raise BagError(f"{topic}: message {i} holds {len(msg.data)} bytes, too few for "
                           f"{msg.width}x{msg.height} {msg.encoding} (step {msg.step}); the "
                           "recording is damaged or the driver's step/size fields are wrong")
    compressed = [m for m in msgs if hasattr(m, "format")]
    for msg in with_data(compressed[:1] + compressed[-1:]):
        sizes.add(image_rgb(msg, topic).shape[:2])
    if len(sizes) > 1:
        raise BagError(f"{topic}: frames change size within the recording ({sorted(sizes)}); "
                       "record one resolution per camera")
    if not sizes:
        return None
    [(height, width)] = sizes
    return int(height), int(width)


def image_rgb(msg: Any, topic: str) -> np.ndarray:
    """A sensor_msgs/Image (rgb8, bgr8, rgba8, bgra8, mono8) or CompressedImage -> (H, W, 3) uint8."""
    if hasattr(msg, "format"):  # CompressedImage
        import imageio.v3 as iio

        try:
            rgb = np.asarray(iio.imread(bytes(msg.data)))
        except (OSError, ValueError, SyntaxError) as exc:  # PIL's errors for damaged data
            raise BagError(f"{topic}: a {msg.format!r} frame does not decode ({exc}): the "
                           "recording holds a damaged frame (a USB camera's MJPEG stream can "
                           "carry one). Fix: leave this bag out, or re-encode its camera "
                           "topic without the damaged frame") from None
        if rgb.dtype != np.uint8:
            raise BagError(f"{topic}: a {msg.format!r} frame decodes to {rgb.dtype} pixels, not "
                           "8-bit; record 8-bit colour images (jpeg, or png of rgb8/bgr8)")
        if rgb.ndim == 2:
            rgb = np.repeat(rgb[..., None], 3, axis=-1)
        return np.ascontiguousarray(rgb[..., :3])
    if msg.encoding not in CHANNELS:  # check_frames names it first in a conversion
        raise BagError(f"{topic}: image encoding {msg.encoding!r} is not read (known: "
                       f"{sorted(CHANNELS)}); publish 8-bit colour images")
    c = CHANNELS[msg.encoding]
    buf = np.frombuffer(bytes(msg.data), dtype=np.uint8)[: msg.height * msg.step]
    img = buf.reshape(msg.height, msg.step)[:, : msg.width * c].reshape(msg.height, msg.width, c)
    if msg.encoding.startswith("bgr"):
        img = img[..., [2, 1, 0]]
    elif c == 1:
        img = np.repeat(img, 3, axis=-1)
    return np.ascontiguousarray(img[..., :3])
