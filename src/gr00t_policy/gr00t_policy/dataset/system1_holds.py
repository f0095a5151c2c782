"""Which of a bag's command updates System 1 sent while holding or braking, not as the policy.

A recording of System 1's own runs (rollouts to fine-tune on, failures to study) holds the
commands System 1 publishes while it is not running: a hold on stale joint states or tokens
or without a plan, a fault, disabled, deactivating (gr00t_msgs/msg/SafetyState). They are
its safety behaviour, not actions the policy chose; as dataset rows they would teach a policy
to stop dead on its own. System 1 publishes its state on :data:`SAFETY_STATE_TOPIC` at each
change, before that tick's commands, stamped with the tick it began at on its node clock (the
stamp of that tick's commands); gr00t-record writes the state in force when an episode starts
first, then every change.

The state a command was sent in:

- a command with a header stamp (sensor_msgs/JointState; trajectory_msgs/JointTrajectory
  with System 1's ``header_stamp: tick``): the newest state stamped at or before it, both on
  System 1's node clock. On the conversion's clock that state begins with the first command
  of the topic stamped at or after it (however late the recorder received either message);
- one without (std_msgs/Float64MultiArray; a trajectory stamped 0): the newest state message
  sent at or before it, both on the bag's times (the publish time where the conversion times
  the command topic by it, `bag_streams.sent_on_recorder_clock`, else the log time): the
  state goes out before its tick's commands. On log times a state and its tick's first
  command may reach the recorder in either order (separate topics), so the row at a change
  may take the state on either side of it.

Each message names the state before it (``previous``; "" once activated), so in stamp order
each follows the one before. Where one does not (`chain_breaks`), a second System 1 on the
domain published there too (another graph, a node left running), or the recorder lost a
change: the report says so, since the steps left out around there may be the wrong ones.

Before the first state message the state in force is that message's ``previous`` (a recorder
hears every change from when it subscribed, so the first one it heard ended ``previous``);
"" (System 1 had just been activated: the commands before are not its) leaves them as they
are. A bag without the topic has no holds here: a teleoperation recording converts as before.

The conversion (`from_bag`) leaves out the steps whose action is such an update and splits
the recording there (`resample.align`'s ``withheld``), as it does at a long command gap:
a dataset's rows stay evenly spaced in time. A step whose window holds a later update
that is no hold's takes that one instead (System 1 at 120 Hz held for a tick or two inside
a 50-ms step), and nothing is split.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from gr00t_policy.dataset.bag import Bag
from gr00t_policy.dataset.bag_streams import (BagTopics, header_stamp_ns,
                                              sent_on_recorder_clock, timed_messages)
from gr00t_policy.embodiment import EmbodimentConfig
from gr00t_policy.runtime.safety_state import RUNNING, SAFETY_STATE_TOPIC

KEEP_FLAG = "--keep-system1-holds"


NEVER = np.iinfo(np.int64).max  # a change no command of a topic follows


def _begins_on_topic(bag: Bag, topic: str, changes: list, sent_ns: list[int],
                     log_ns: list[int]) -> np.ndarray:
    """(C,) int64 ns on the conversion's clock at which each state change begins for
    ``topic``'s commands (NEVER where no command follows it); see the module docstring.
    Kept in integer ns: a float64 of ns since 1970 is off by up to 128 ns."""
    msgs = timed_messages(bag, topic)
    stamped = [(stamp, t) for t, m in msgs if (stamp := header_stamp_ns(m))]
    if stamped and len(stamped) == len(msgs):
        stamps = np.array([s for s, _ in stamped], dtype=np.int64)  # (n,)
        times = np.array([t for _, t in stamped] + [NEVER], dtype=np.int64)  # (n + 1,)
        order = np.argsort(stamps, kind="stable")
        first = np.searchsorted(stamps[order], [header_stamp_ns(m) for m in changes], side="left")
        return times[np.append(order, len(stamps))[first]]
    on_sent = sent_on_recorder_clock(bag, topic)
    return np.array([s if on_sent and s > 0 else g for s, g in zip(sent_ns, log_ns)],
                    dtype=np.int64)


def _in_stamp_order(msgs: list) -> list:
    """The state messages in the order System 1 stamped them (a recorder may log them out of
    it): each (log time ns, message, index in ``msgs``)."""
    order = sorted(range(len(msgs)), key=lambda i: (header_stamp_ns(msgs[i][1]), msgs[i][0]))
    return [(msgs[i][0], msgs[i][1], i) for i in order]


def chain_breaks(bag: Bag) -> int:
    """How many of the bag's state messages, in stamp order, do not follow the one before:
    their ``previous`` is neither that one's state nor "" (an activation)."""
    msgs = [m for _, m, _ in _in_stamp_order(bag.messages.get(SAFETY_STATE_TOPIC) or [])]
    return sum(1 for a, b in zip(msgs, msgs[1:]) if str(b.previous) not in ("", str(a.state)))


def chain_note(breaks: int, publishers: int) -> str:
    """The report's warning for `chain_breaks` (``publishers``: how many the bag lists)."""
    who = (f"the bag lists {publishers} publishers there: two System 1 nodes published"
           if publishers > 1 else "two System 1 nodes published there (another graph on "
           "the same ROS domain, a node left running) or the recorder lost changes")
    return (f"{breaks} of System 1's state messages on {SAFETY_STATE_TOPIC} do not follow the "
            f"one before them (their `previous` is another state): {who}, so the steps left "
            "out as System 1's holds may be the wrong ones. Fix: record with one System 1 on "
            "the domain (`ros2 topic info -v /gr00t/safety_state`), or leave this bag out")


def commanded_states(bag: Bag, command_topics: Sequence[str], t0_ns: int,
                     update_t: np.ndarray) -> np.ndarray | None:
    """(M,) the System 1 state each update (``update_t``: s since ``t0_ns``, as
    `bag_streams.Streams` times them) was commanded in, "" where none is known; None where
    the bag has no message on SAFETY_STATE_TOPIC."""
    msgs = bag.messages.get(SAFETY_STATE_TOPIC) or []
    if not msgs:
        return None
    ordered = _in_stamp_order(msgs)
    changes = [m for _, m, _ in ordered]
    log_ns = [t for t, _, _ in ordered]
    published = bag.publish_times.get(SAFETY_STATE_TOPIC) or [0] * len(msgs)
    sent_ns = [published[i] for _, _, i in ordered]
    begins = np.full(len(changes), NEVER, dtype=np.int64)
    for topic in command_topics:
        begins = np.minimum(begins, _begins_on_topic(bag, topic, changes, sent_ns, log_ns))
    begins = np.maximum.accumulate(begins)  # (C,) ns
    # (C,) s since t0, as Streams times the updates: (ns - t0) / 1e9
    begins = np.where(begins == NEVER, np.inf, (begins - np.int64(t0_ns)) / 1e9)
    states = np.array([str(m.state) for m in changes] + [str(changes[0].previous)], dtype=object)
    index = np.searchsorted(begins, np.asarray(update_t, dtype=np.float64), side="right") - 1
    return states[index]  # index -1: the first message's `previous`


def for_updates(bag: Bag, emb: EmbodimentConfig, topics: BagTopics, t0_ns: int,
                update_t: np.ndarray, warnings: list[str]) -> np.ndarray | None:
    """(M,) per update, the System 1 state it was commanded in where that is not running
    ("" where it is, or none is known): `resample.align`'s ``withheld``. None where the bag
    has no System 1 state, or where the actions are not System 1's commands (a
    teleoperation ``action_topic``: said in ``warnings``)."""
    if not bag.messages.get(SAFETY_STATE_TOPIC):
        return None
    if topics.action_topic:
        warnings.append(action_topic_note(topics.action_topic))
        return None
    if breaks := chain_breaks(bag):
        warnings.append(chain_note(breaks, bag.publishers.get(SAFETY_STATE_TOPIC, 0)))
    states = commanded_states(bag, [c.topic for c in emb.controllers], t0_ns, update_t)
    return np.where((states == RUNNING) | (states == ""), "", states).astype(object)


def in_runs(labels: np.ndarray, runs: Sequence[dict]) -> dict[str, int]:
    """State -> the steps of ``runs`` (`resample.Steps.runs`) whose action it labels (a
    conversion that kept them); most first."""
    picked = [str(s) for run in runs for s in labels[run["action"]] if s]
    names, n = np.unique(np.array(picked, dtype=str), return_counts=True)
    return dict(sorted(zip(names.tolist(), n.tolist()), key=lambda kv: -kv[1]))


def report_line(counts: Mapping[str, int], kept: bool) -> str:
    """The conversion report's line for the steps System 1 commanded while not running."""
    total = sum(counts.values())
    each = ", ".join(f"{state} {n}" for state, n in counts.items())
    if kept:
        return (f"kept ({KEEP_FLAG}): {total} steps commanded by System 1 while not running "
                f"({each}): its holds and brakes, trained on as the policy's actions")
    return (f"left out: {total} steps commanded by System 1 holding or braking ({each}; from "
            f"{SAFETY_STATE_TOPIC}), not the policy's actions; the recording is split there. "
            f"{KEEP_FLAG} keeps them")


def action_topic_note(action_topic: str) -> str:
    """The report's warning where the bag has System 1's state but the actions come from
    another topic (a teleoperation leader): the state is not about those commands."""
    return (f"{SAFETY_STATE_TOPIC} is in the bag, but the actions are {action_topic}'s "
            "(--action-topic), not System 1's commands: no step is left out for System 1's "
            "holds")
