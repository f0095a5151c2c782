"""What every command a robot receives must be, checked on what a test recorded.

    rec = CommandRecorder(probe, [c.topic for c in emb.controllers])
    ...
    count = assert_commands_safe(emb, rec.snapshot(), period)

For every controller topic of the embodiment, every command (`msg.data`, in the controller's
joint order) is finite, inside the joints' position limits, within `velocity * period` of the
previous command, and its step differs from the previous step by at most
`acceleration * period^2` (the velocity changes by at most `acceleration * period` per tick).
Steps are only compared between commands that arrived less than 1.5 periods apart, i.e.
consecutive ticks: a gap means System 1 published nothing for a tick or more (disabled,
waiting) and started again from rest at the measured position. (Two periods would take a
single unpublished tick, received with a little jitter, for consecutive ticks.)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from gr00t_common.probe import RECORDING

SLACK = 1e-9  # float rounding in the comparisons
CONSECUTIVE = 1.5  # receive gaps (in periods) below which two commands are successive ticks


class CommandRecorder:
    """(receive monotonic time, message) of every message on `topics`, appended by the probe's
    spin thread. Subscribed with `RECORDING`'s deep history, so a stalled probe thread does not
    drop commands and make two non-successive ones look consecutive.

    Args:
        probe: a started `RosProbe`.
        topics: the topics to record (e.g. every controller topic of an embodiment).
        msg_type: their message type (default std_msgs/Float64MultiArray, the
            forward_command controllers').
    """

    def __init__(self, probe: Any, topics: Iterable[str], msg_type: Any = None) -> None:
        if msg_type is None:
            from std_msgs.msg import Float64MultiArray as msg_type
        self._lock = threading.Lock()
        self.msgs: dict[str, list[tuple[float, Any]]] = {t: [] for t in topics}
        for topic in self.msgs:
            probe.node.create_subscription(msg_type, topic,
                                           lambda m, t=topic: self._add(t, m), RECORDING)

    def _add(self, topic: str, msg: Any) -> None:
        with self._lock:
            self.msgs[topic].append((time.monotonic(), msg))

    def snapshot(self, topic: str | None = None) -> Any:
        """A copy of one topic's [(t, msg)], or of every topic's {topic: [(t, msg)]}."""
        with self._lock:
            if topic is not None:
                return list(self.msgs[topic])
            return {t: list(v) for t, v in self.msgs.items()}

    def labels_since(self, t0: float, topic: str) -> list[str]:
        """System 1's safety-state labels (`layout.dim[0].label`) received at or after t0."""
        return [m.layout.dim[0].label for t, m in self.snapshot(topic) if t >= t0]

    def count(self, label: str | None = None, after: float = 0.0) -> int:
        """Messages on all topics received after `after`, with that label if given."""
        return sum(1 for got in self.snapshot().values() for t, m in got
                   if t > after and (label is None or m.layout.dim[0].label == label))


def assert_commands_safe(emb: Any, recorded: Mapping[str, Sequence[tuple[float, Any]]],
                         period: float) -> int:
    """AssertionError naming the topic, the joint and the figure on the first violation;
    returns the number of commands checked."""
    total = 0
    for c in emb.controllers:
        got = list(recorded.get(c.topic, ()))
        if not got:
            continue
        values = np.array([list(m.data) for _, m in got], dtype=np.float64)  # (N, n)
        assert values.shape[1] == len(c.joints), (c.topic, values.shape)
        assert np.isfinite(values).all(), f"non-finite command on {c.topic}"
        lim = np.array([emb.limits_of(j) for j in c.joints])  # (n, 2)
        below, above = values < lim[:, 0] - SLACK, values > lim[:, 1] + SLACK
        assert not (below | above).any(), (
            f"{c.topic}: command outside the limits of "
            f"{[c.joints[j] for j in np.flatnonzero((below | above).any(axis=0))]}")
        t = np.array([r for r, _ in got])
        consecutive = np.diff(t) < CONSECUTIVE * period  # (N-1,)
        steps = np.diff(values, axis=0)  # (N-1, n)
        vel = np.array([_velocity_limit(emb, j) for j in c.joints])
        worst = np.abs(steps[consecutive]).max(axis=0, initial=0.0) / period
        assert (worst <= vel + SLACK / period).all(), (
            f"{c.topic}: velocity beyond the limit: {dict(zip(c.joints, worst.round(4)))}")
        accel = np.array([_acceleration_limit(emb, j) for j in c.joints])
        both = consecutive[1:] & consecutive[:-1]
        dv = np.abs(np.diff(steps, axis=0))[both].max(axis=0, initial=0.0) / period ** 2
        assert (dv <= accel + SLACK / period ** 2).all(), (
            f"{c.topic}: acceleration beyond the limit: {dict(zip(c.joints, dv.round(2)))}")
        total += len(got)
    return total


def _velocity_limit(emb: Any, joint: str) -> float:
    try:
        return emb.joint(joint).velocity_limit
    except KeyError:
        return emb.held(joint).velocity_limit


def _acceleration_limit(emb: Any, joint: str) -> float:
    try:
        limit = emb.joint(joint).acceleration_limit
    except KeyError:
        limit = emb.held(joint).acceleration_limit
    return np.inf if limit is None else limit
