"""Recorded streams onto the dataset's time grid, with the rules the runtime uses.

Inputs are time series on one clock (a bag's log times, s): joint states, command updates
and camera frames, each at its own rate. Output: steps ``k`` at the dataset rate
(``dt`` = the embodiment's action_dt) such that

- the action of step k is a command update from the window ``[t_k, t_k + dt)`` of a grid
  that starts half a step before the first update (so a command stream at the dataset rate,
  jittering by less than dt/2, gives every update exactly once); the step's instant
  ``tau_k`` is that update's time. Each update is used at most once, in order. A late
  update of a stream at the dataset rate (a controller tick that ran late and the next one
  on time, both in window k + 1, window k empty) is step k's: a late tick neither repeats
  a row nor pushes its successor out;
- the state of step k is the newest joint state at or before ``tau_k``, and each camera's
  frame the newest at or before ``tau_k``: an observation is never paired with an action
  commanded before it, and state and action are taken at the same instant. This is
  gr00t-collect's row (state observed, then the targets commanded right after it) and the
  chunk timeline of docs/DESIGN.md ("Action chunk timeline");
- a window without an update (a command stream slower than the dataset rate, or a tick
  the controller missed: the robot held its targets) repeats the previous action for at
  most ``max_gap_steps`` steps (counted as repaired); a longer gap ends the episode there;
- a step whose state is older than ``max_state_age`` (the runtime's staleness.state_s) or
  whose frame is older than ``max_frame_age`` is invalid; runs of valid steps become
  episodes (runs shorter than ``min_steps`` are dropped), so invalid steps at the start (no
  camera frame yet) are dropped and a dropout in the middle splits the recording;
- a step whose action is an update ``withheld`` names (System 1 holding or braking,
  :mod:`.system1_holds`) is invalid in the same way, whatever else it lacks, and counted
  by that name; where its window holds a later update that is not withheld (a command
  stream faster than the dataset rate: System 1 at 120 Hz held for a tick or two), that
  one is the step's action instead, and the recording is not split.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from gr00t_policy.dataclass_cli import FieldError

# Why a step is not kept: the report's keys.
NO_STATE = "no joint state yet"
STALE_STATE = "joint state older than max_state_age"
NO_FRAME = "no camera frame yet"
STALE_FRAME = "camera frame older than max_frame_age"
ACTION_GAP = "no command for longer than max_gap_steps"
SHORT_RUN = "in a run shorter than min_steps"
# An update may come this many steps after its window (jitter) and still be that step's action.
LATE = 0.25
# A controller with at least this share of the busiest one's messages speaks in every tick.
REGULAR = 0.9
# A stream whose updates are this many steps apart (median) or more is at the dataset rate:
# an empty window followed by one holding two updates is a late tick, not a gap.
AT_RATE = 0.75


@dataclass(frozen=True)
class ResampleConfig:
    """Tolerances of the pairing rules (seconds, steps). Raises FieldError (a ValueError)
    naming a bad field, which gr00t-dataset from-bag reports as its flag.

    Attributes:
        dt: the dataset step (the embodiment's action_dt).
        max_state_age: a step's joint state may be at most this old (the runtime's
            staleness.state_s). There is no "no limit" (0 or inf): a dataset would pair
            states that System 1 refuses as stale on the robot, and at 0 a state counts
            only when it came at the very instant of its command, so nearly every step
            would be dropped.
        max_frame_age: a step's camera frame may be at most this old (training shows
            System 1 images up to 0.2 s older than the state).
        max_gap_steps: steps without a command update that repeat the previous action.
        min_steps: shorter runs of valid steps are dropped.
        group_s: command messages of several controllers this close together are one
            update (a controller tick publishes all of them).
    """

    dt: float
    max_state_age: float = 0.1
    max_frame_age: float = 0.2
    max_gap_steps: int = 2
    min_steps: int = 2
    group_s: float | None = None

    def __post_init__(self) -> None:
        for name in ("dt", "max_state_age", "max_frame_age"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise FieldError(name, f"ResampleConfig.{name} must be a finite number of "
                                 f"seconds > 0, got {value!r}")
        if self.max_gap_steps < 0:
            raise FieldError("max_gap_steps", f"ResampleConfig.max_gap_steps must be >= 0, got "
                             f"{self.max_gap_steps}")
        if self.min_steps < 1:
            raise FieldError("min_steps", f"ResampleConfig.min_steps must be >= 1, got "
                             f"{self.min_steps}")
        if self.group_s is not None and not 0 <= self.group_s < self.dt:
            raise FieldError("group_s", f"ResampleConfig.group_s={self.group_s!r} must be in "
                             "[0, dt)")

    @property
    def group(self) -> float:
        return self.dt / 4 if self.group_s is None else self.group_s


@dataclass
class Steps:
    """Indices of what each kept step pairs, per episode (run of valid steps).

    ``runs[i]`` holds, for episode i: ``tau`` (T,) step instants, ``state`` (T,) indices
    into the state series, ``action`` (T,) into the updates, ``frames`` {camera: (T,)}.
    ``dropped`` counts steps not kept, by reason; ``held`` the steps that repeat the
    previous action; ``withheld`` the steps not kept for their action's label (`align`'s
    ``withheld``), by label.
    """

    runs: list[dict] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)
    held: int = 0
    withheld: dict[str, int] = field(default_factory=dict)


def merge_commands(
    streams: list[tuple[np.ndarray, np.ndarray, np.ndarray]], width: int, group_s: float,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Command messages of several controllers -> complete action updates.

    An update is one controller tick: from its first message on, each controller at most once
    (a controller speaking again starts the next tick, so ticks that reached the bag close
    together stay two updates), the messages within ``group_s`` of the first, and later ones
    of the controllers that speak in (nearly) every tick while one of those has not spoken yet
    in an update one of them opened (a publisher preempted half-way through a tick: its rest
    still belongs to it, or the update would mix two ticks). An update's time is its first
    message's.

    Args:
        streams: per controller (times (n,), values (n, j), action columns (j,)).
        width: the action vector's length.
        group_s: messages within this much of an update's first message join it.
    Returns:
        (times (M,), actions (M, width), updates left out because some controller had not
        spoken yet).
    """
    events = sorted((float(t), c, i) for c, (times, _, _) in enumerate(streams)
                    for i, t in enumerate(times))
    current = np.full(width, np.nan)
    out_t: list[float] = []
    out_a: list[np.ndarray] = []
    early = 0
    start, opener = None, -1
    spoken: set[int] = set()
    most = max((len(times) for times, _, _ in streams), default=0)
    regular = {c for c, (times, _, _) in enumerate(streams) if len(times) >= REGULAR * most}

    def close() -> None:
        nonlocal early
        if np.isfinite(current).all():
            out_t.append(start)
            out_a.append(current.copy())
        else:
            early += 1

    for t, c, i in events:
        if start is not None:
            # A tick of the regular controllers that not all of them have finished.
            unfinished = c in regular and opener in regular and not regular <= spoken
            if c in spoken or (t - start > group_s and not unfinished):
                close()
                start, spoken = None, set()
        _, values, cols = streams[c]
        current[cols] = values[i]
        spoken.add(c)
        if start is None:
            start, opener = t, c
    if start is not None:
        close()
    actions = np.array(out_a).reshape(-1, width)  # (M, A)
    return np.array(out_t, dtype=np.float64), actions, early


def _newest_at_or_before(times: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """Index of the newest sample at or before each instant; -1 where none."""
    return np.searchsorted(times, tau, side="right") - 1


def _grid_start(update_t: np.ndarray, dt: float, at_rate: bool) -> float:
    """The grid's first window start: the updates' mean phase (circular, so jitter either
    way cancels) minus dt/2, placed so that the first update falls in the first window, or in
    the second when the first window would hold two updates of a stream at the dataset rate
    (the first of them a late tick whose window is the one before)."""
    angle = 2 * np.pi * np.mod(update_t, dt) / dt
    phase = float(np.angle(np.exp(1j * angle).mean())) * dt / (2 * np.pi)
    start = float(update_t[0] - np.mod(update_t[0] - (phase - dt / 2), dt))
    if at_rate and len(update_t) > 1 and update_t[1] < start + dt:
        start -= dt
    return start


def _kept_in_window(update_t: np.ndarray, withheld: np.ndarray, j: int, end: float) -> int:
    """The first update from ``j`` on, before ``end`` (the window's end), that ``withheld``
    does not name; ``j`` where there is none."""
    k = j + 1
    while k < len(update_t) and update_t[k] < end:
        if not withheld[k]:
            return k
        k += 1
    return j


def align(
    update_t: np.ndarray,
    state_t: np.ndarray,
    frame_t: dict[str, np.ndarray],
    cfg: ResampleConfig,
    withheld: np.ndarray | None = None,
) -> Steps:
    """Pair updates, states and frames step by step; see the module docstring.
    ``withheld``: (M,) per update, why it is no action to learn ("" where it is one)."""
    out = Steps()
    if len(update_t) == 0:
        return out
    dt = cfg.dt
    taus: list[float] = []
    picks: list[int] = []
    gap_reason: list[str | None] = []
    at_rate = len(update_t) > 1 and float(np.median(np.diff(update_t))) >= AT_RATE * dt
    t = _grid_start(update_t, dt, at_rate)
    last = -1
    held = 0
    while True:
        j = max(int(np.searchsorted(update_t, t, side="left")), last + 1)
        if j >= len(update_t):
            break
        # When window k has no update and j, the next window's first, shares that window with
        # j + 1, j is a tick that ran late (its successor came on time): step k's.
        late_tick = at_rate and j + 1 < len(update_t) and update_t[j + 1] < t + 2 * dt
        if update_t[j] < t + dt * (1 + LATE) or late_tick:
            if withheld is not None and withheld[j]:
                j = _kept_in_window(update_t, withheld, j, t + dt)
            taus.append(float(update_t[j]))
            picks.append(j)
            gap_reason.append(None)
            last, held = j, 0
            t += dt
            continue
        held += 1
        if held <= cfg.max_gap_steps:
            taus.append(t + dt / 2)
            picks.append(last)
            gap_reason.append("held")
            t += dt
            continue
        # A long gap: the held steps go too; the grid restarts at the next update.
        for _ in range(held - 1):
            taus.pop(), picks.pop(), gap_reason.pop()
        gap_start = t - (held - 1) * dt
        skipped = int((update_t[j] - gap_start) // dt)
        out.dropped[ACTION_GAP] = out.dropped.get(ACTION_GAP, 0) + skipped
        taus.append(np.nan)  # a run break
        picks.append(-1)
        gap_reason.append("break")
        held = 0
        t = _grid_start(update_t[j:], dt, at_rate)
    tau = np.array(taus)  # (K,)
    valid = np.array([r != "break" for r in gap_reason])
    reasons = np.array([""] * len(tau), dtype=object)
    s_idx = _newest_at_or_before(state_t, np.nan_to_num(tau, nan=-np.inf))
    no_state = s_idx < 0
    stale = ~no_state & (tau - state_t[np.maximum(s_idx, 0)] > cfg.max_state_age)
    reasons[valid & no_state] = NO_STATE
    reasons[valid & stale] = STALE_STATE
    f_idx = {}
    for cam, times in frame_t.items():
        idx = _newest_at_or_before(times, np.nan_to_num(tau, nan=-np.inf))
        none = idx < 0
        old = ~none & (tau - times[np.maximum(idx, 0)] > cfg.max_frame_age)
        reasons[valid & (reasons == "") & none] = NO_FRAME
        reasons[valid & (reasons == "") & old] = STALE_FRAME
        f_idx[cam] = idx
    label = np.full(len(tau), "", dtype=object)
    if withheld is not None:
        label[valid] = np.asarray(withheld, dtype=object)[np.array(picks)[valid]]
    ok = valid & (reasons == "") & (label == "")
    for reason in reasons[valid & ~ok & (label == "")]:
        out.dropped[reason] = out.dropped.get(reason, 0) + 1
    for name in label[label != ""]:
        out.withheld[name] = out.withheld.get(name, 0) + 1
    # Runs of valid steps -> episodes.
    k = 0
    while k < len(tau):
        if not ok[k]:
            k += 1
            continue
        end = k
        while end < len(tau) and ok[end]:
            end += 1
        if end - k < cfg.min_steps:
            out.dropped[SHORT_RUN] = out.dropped.get(SHORT_RUN, 0) + end - k
        else:
            sl = slice(k, end)
            out.held += sum(r == "held" for r in gap_reason[k:end])
            out.runs.append({"tau": tau[sl], "state": s_idx[sl],
                             "action": np.array(picks[k:end]),
                             "frames": {cam: idx[sl] for cam, idx in f_idx.items()}})
        k = end
    return out
