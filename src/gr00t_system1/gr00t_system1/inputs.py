"""What System 1 accepts from its two inputs, ROS-free: joint states and embedding tokens.

Each gate turns a message into a sample for the planner or a `Refusal` that says why, which
counter it counts under in diagnostics, how loudly to log it, and whether it latches a fault:

- stamps: 0 means unstamped (the arrival time stands in); a stamp further ahead of the node's
  clock than `max_future_stamp_s` is refused, and so is one already older than the input's
  staleness limit as it arrives (naming the stamp and the clock fix); an old stamp within it
  is kept, so the input is as old as its stamp says and goes stale by it (it is never made
  fresh by its arrival time);
- joint states: every joint System 1 reads (state, action and held joints) present, once,
  finite, and within its limits widened by the embodiment's `plausibility.position_margin`;
  a position beyond that latches a fault (a broken encoder or wrong joint names), so the
  state is never planned on and never held toward; and from one publisher: complete states
  from two (another robot's driver, a simulator or a joint_state_publisher on the same
  domain) are refused while their sequence numbers interleave (`SecondPublisher`);
- tokens: the System 2 -> System 1 contract (gr00t_common.tokens) and, where the checkpoint
  recorded them, the range of values its System 2 produces.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from gr00t_common.tokens import TokenDecoder, TokenError
from gr00t_policy.embodiment.joint_prefix import prefixed
from gr00t_policy.embodiment.plausibility import PositionCheck
from gr00t_policy.runtime.planner import StateSample, TokenSample
from gr00t_policy.runtime.stamps import CLOCK_FIX, CLOCK_OFF_S
from gr00t_policy.token_stats import TokenRange
from gr00t_system1.joint_mapping import (
    JointMapper, JointStateError, MissingJointsError, NonFiniteJointError)


@dataclass(frozen=True)
class Refusal:
    """A refused input.

    Attributes:
        counter: diagnostics counter it counts under.
        message: the log line: what was wrong and the fix.
        error: log as an error (else a warning).
        fault: when set, the node latches a fault with this reason.
    """

    counter: str
    message: str
    error: bool = True
    fault: str | None = None


def checked_stamp(stamp_s: float, now: float, max_future_s: float, what: str,
                  max_age_s: float | None = None, age_name: str = "") -> float | Refusal:
    """The input's time on the node clock (`now` for an unstamped one), or a Refusal for a
    stamp from the future or, given `max_age_s` (parameter `age_name`), one already older
    than that on arrival: a message stale before it arrived says more about the publisher's
    clock than about its timing, and the refusal names the stamp and the fix."""
    if stamp_s == 0.0:
        return now
    if stamp_s - now > max_future_s:
        return Refusal(f"refused_future_stamp_{what}", (
            f"{what} refused: header stamp {stamp_s:.3f} is {stamp_s - now:.3f} s ahead of this "
            f"node's clock (max_future_stamp_s {max_future_s:g}); {CLOCK_FIX}"))
    if max_age_s is not None and now - stamp_s > max_age_s:
        behind = now - stamp_s
        return Refusal(f"refused_old_stamp_{what}", (
            f"{what} refused: header stamp {stamp_s:.3f} is {behind:.3f} s behind this node's "
            f"clock as it arrives, older than {age_name} {max_age_s:g}. Either it is that late "
            "(a publisher or System 2 slower than the limit, a stalled camera: tokens carry "
            f"their oldest frame's stamp) or the publisher's clock is off: {CLOCK_FIX}"),
            error=behind > CLOCK_OFF_S)  # else a warning: a slow publisher, most likely
    return stamp_s


def _split_across_publishers(sets: set[frozenset[str]], needed: frozenset[str]) -> bool:
    """Whether joint-name sets of incomplete messages are disjoint and cover ``needed``."""
    covered: set[str] = set()
    for names in sets:
        if covered & names:
            return False
        covered |= names
    return len(sets) > 1 and covered >= needed


class SecondPublisher:
    """Whether complete joint states come from more than one publisher, by their publication
    sequence numbers (gr00t_common.message_info): one publisher's only go up, a restart's go
    back once, and two publishers' keep going back as their messages interleave.

    Args:
        window: the complete messages looked at.
        back: this many numbers going back among them is a second publisher.
    """

    def __init__(self, window: int = 100, back: int = 2) -> None:
        self.window, self.back = window, back
        self._seen = 0  # complete messages with a number
        self._last: int | None = None
        self._backs: deque[int] = deque()  # which of them went back

    def observe(self, seq: int | None) -> bool:
        """One complete message's number (None: the middleware gives none, not judged);
        True while a second publisher is sending."""
        if seq is None:
            return False
        self._seen += 1
        if self._last is not None and seq <= self._last:
            self._backs.append(self._seen)
        self._last = seq
        while self._backs and self._backs[0] <= self._seen - self.window:
            self._backs.popleft()
        return len(self._backs) >= self.back


class StateGate:
    """Joint states -> StateSample, or a Refusal.

    Args:
        embodiment: the EmbodimentConfig (joints, limits, plausibility margin).
        max_future_stamp_s: how far ahead of the node clock a stamp may be.
        max_age_s: how far behind it a stamp may be on arrival (state_staleness_s); None:
            not checked.
        joint_prefix: the robot's joint-name prefix: the messages name each joint
            joint_prefix + its YAML name.
    """

    def __init__(self, embodiment: Any, max_future_stamp_s: float,
                 max_age_s: float | None = None, joint_prefix: str = "") -> None:
        emb = embodiment
        joints = emb.monitored_joints
        self.mapper = JointMapper(joints, joint_prefix)
        where = {n: i for i, n in enumerate(joints)}
        self._state_idx = np.array([where[n] for n in emb.state_joints], dtype=np.int64)
        self._action_idx = np.array([where[n] for n in emb.action_joints], dtype=np.int64)
        self._held_idx = np.array([where[n] for n in emb.commanded_held_joints], dtype=np.int64)
        self.check = PositionCheck.of(emb, joints)
        self.max_future_stamp_s = float(max_future_stamp_s)
        self.max_age_s = max_age_s
        self.seq = 0
        self._needed = frozenset(prefixed(joint_prefix, joints))  # as the messages name them
        # The distinct sets of needed joints that incomplete messages named since the last
        # complete one: sets that do not overlap and add up to all are publishers each
        # sending its own joints (say so, and the fix); one publisher that drops joints
        # sends overlapping sets.
        self._partial_sets: set[frozenset[str]] = set()
        self.second_publisher = SecondPublisher()

    def accept(self, names: Any, positions: Any, stamp_s: float, now: float,
               arrival: float, seq: int | None = None) -> StateSample | Refusal:
        """One /joint_states message: names, positions, header stamp (s), node-clock now,
        monotonic arrival time, its publication sequence number (None: not given)."""
        try:
            pos = self.mapper.map(names, positions)  # (n,) monitored-joint order
        except MissingJointsError as exc:
            if len(self._partial_sets) < 8:
                self._partial_sets.add(self._needed.intersection(map(str, names)))
            if _split_across_publishers(self._partial_sets, self._needed):
                return Refusal("dropped_joint_states_missing", (
                    f"{exc}. The joints it lacks come in other /joint_states messages: the "
                    "robot's joint states are split across publishers (two drivers on one "
                    "topic), and System 1 needs every joint in one message, measured at one "
                    "instant. Fix: merge them into one sensor_msgs/JointState stream (a "
                    "joint_state_broadcaster for all joints, or joint_state_publisher with "
                    "source_list) and remap System 1's /joint_states to it"))
            return Refusal("dropped_joint_states_missing", str(exc))
        except NonFiniteJointError as exc:
            return Refusal("dropped_joint_states_non_finite", f"dropped: {exc}", error=False)
        except JointStateError as exc:
            return Refusal("dropped_joint_states_invalid", f"dropped: {exc}")
        self._partial_sets.clear()
        problem = self.check.problem(pos)
        if problem is not None:
            return Refusal("implausible_joint_states", problem, fault=problem)
        if self.second_publisher.observe(seq):
            return Refusal("dropped_joint_states_two_publishers", (
                "dropped: complete joint states come from more than one publisher on "
                "/joint_states (their sequence numbers interleave): another robot's driver, a "
                "simulator or a joint_state_publisher on this ROS_DOMAIN_ID, and System 1 "
                "would plan from both robots' positions in turn. Fix: stop the other "
                "publisher, or run this robot on a ROS_DOMAIN_ID of its own (or remap System "
                "1's /joint_states to this robot's); states are taken again once one "
                "publisher is left"))
        stamp = checked_stamp(stamp_s, now, self.max_future_stamp_s, "joint_states",
                              self.max_age_s, "state_staleness_s")
        if isinstance(stamp, Refusal):
            return stamp
        self.seq += 1
        return StateSample(state=pos[self._state_idx], action_positions=pos[self._action_idx],
                           stamp=stamp, arrival=arrival, seq=self.seq,
                           held_positions=pos[self._held_idx])


class TokenGate:
    """EmbeddingTokens -> TokenSample, or a Refusal.

    Args:
        decoder: the wire-format check for this checkpoint.
        token_range: the checkpoint's recorded token range (None: not checked).
        max_future_stamp_s: how far ahead of the node clock a stamp may be.
        max_age_s: how far behind it a stamp may be on arrival (token_staleness_s); None:
            not checked.
    """

    def __init__(self, decoder: TokenDecoder, token_range: TokenRange | None,
                 max_future_stamp_s: float, max_age_s: float | None = None) -> None:
        self.decoder = decoder
        self.token_range = token_range
        self.max_future_stamp_s = float(max_future_stamp_s)
        self.max_age_s = max_age_s
        self.seq = 0

    def accept(self, msg: Any, stamp_s: float, now: float, arrival: float) -> TokenSample | Refusal:
        try:
            tokens, mask = self.decoder.decode(msg)
        except TokenError as exc:
            return Refusal("refused_tokens", str(exc))
        if self.token_range is not None:
            problem = self.token_range.problem(tokens, mask)
            if problem is not None:
                return Refusal("refused_tokens_implausible", problem)
        stamp = checked_stamp(stamp_s, now, self.max_future_stamp_s, "tokens", self.max_age_s,
                              "token_staleness_s")
        if isinstance(stamp, Refusal):
            return stamp
        self.seq += 1
        return TokenSample(tokens=tokens, mask=mask, stamp=stamp, arrival=arrival,
                           instruction_id=msg.instruction_id, seq=self.seq)
