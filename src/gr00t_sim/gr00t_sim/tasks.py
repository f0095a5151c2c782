"""The eight tabletop tasks and their success criterion, defined once.

Imports neither MuJoCo nor rclpy: the simulator (SimWorld, the node's /gr00t_sim/state), the
scripted expert, the data recorder and the evaluator all read tasks from here.

- ``touch the {red,green,blue} cube with your {left,right} hand``: success when that palm
  site is within `TOUCH_RADIUS` (0.05 m) of that cube's centre;
- ``raise your {left,right} hand``: success when that palm site is at least `RAISE_HEIGHT`
  (0.20 m) above the same side's shoulder pitch joint (world z);
- ``touch the {red,green,blue} cube`` (no hand named: side `EITHER`): success when either
  palm site is within `TOUCH_RADIUS` of that cube's centre. Not among the eight (the
  committed checkpoint was not trained on them): `either_instructions()`, a task with two
  ways to do it (docs/plans/rtc_two_modes.md).

The criterion is a function of positions only (`judge`); the world supplies them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

CUBE_COLORS: tuple[str, ...] = ("red", "green", "blue")
SIDES: tuple[str, ...] = ("left", "right")
EITHER = "either"  # a touch whose instruction names no hand: either palm counts
TOUCH_RADIUS = 0.05  # m, palm site to cube centre
RAISE_HEIGHT = 0.20  # m, palm site above the shoulder pitch joint
KINDS: tuple[str, ...] = ("touch", "raise")


@dataclass(frozen=True)
class Task:
    """A scripted task: kind 'touch' (with a cube colour) or 'raise'; side 'left', 'right',
    or EITHER (a touch naming no hand)."""

    kind: str
    side: str
    color: str | None = None

    _TOUCH = re.compile(r"^touch the (red|green|blue) cube with your (left|right) hand$")
    _RAISE = re.compile(r"^raise your (left|right) hand$")
    _TOUCH_EITHER = re.compile(r"^touch the (red|green|blue) cube$")

    @classmethod
    def parse(cls, instruction: str) -> "Task":
        """Parse an instruction (case and surrounding space/punctuation ignored)."""
        text = instruction.strip().strip(".!").strip().lower()
        if m := cls._TOUCH.match(text):
            return cls("touch", m.group(2), m.group(1))
        if m := cls._RAISE.match(text):
            return cls("raise", m.group(1))
        if m := cls._TOUCH_EITHER.match(text):
            return cls("touch", EITHER, m.group(1))
        raise ValueError(f"unknown task {instruction!r}; known: "
                         f"{', '.join(all_instructions() + either_instructions())}")

    @property
    def instruction(self) -> str:
        if self.kind == "touch" and self.side == EITHER:
            return f"touch the {self.color} cube"
        if self.kind == "touch":
            return f"touch the {self.color} cube with your {self.side} hand"
        return f"raise your {self.side} hand"

    @property
    def sides(self) -> tuple[str, ...]:
        """The hands whose palm may do the task: both for EITHER, else the named one."""
        return SIDES if self.side == EITHER else (self.side,)

    def with_side(self, side: str) -> "Task":
        """The same task done with hand `side` (how an expert does an EITHER task)."""
        if side not in self.sides:
            raise ValueError(f"side {side!r} cannot do {self.instruction!r}; use one of "
                             f"{list(self.sides)}")
        return Task(self.kind, side, self.color)

    @property
    def threshold(self) -> float:
        """The criterion's threshold in m: TOUCH_RADIUS (touch) or RAISE_HEIGHT (raise)."""
        return TOUCH_RADIUS if self.kind == "touch" else RAISE_HEIGHT


def all_instructions() -> list[str]:
    """The eight task instructions, touch tasks first."""
    touch = [f"touch the {c} cube with your {s} hand" for c in CUBE_COLORS for s in SIDES]
    return touch + [f"raise your {s} hand" for s in SIDES]


def either_instructions() -> list[str]:
    """The three touch instructions that name no hand (either palm counts)."""
    return [f"touch the {c} cube" for c in CUBE_COLORS]


@dataclass(frozen=True)
class Verdict:
    """The criterion at one moment.

    success: it holds; margin: the quantity it compares, in m (touch: palm-to-cube distance,
    success when <= threshold; raise: palm height above the shoulder, success when >=
    threshold); threshold: TOUCH_RADIUS or RAISE_HEIGHT.
    """

    success: bool
    margin: float
    threshold: float


def _xyz(name: str, value: Sequence[float] | np.ndarray) -> np.ndarray:
    v = np.asarray(value, dtype=np.float64)
    if v.shape != (3,):
        raise ValueError(f"{name} has shape {v.shape}; pass one world position with 3 values "
                         f"(x, y, z)")
    return v


def judge(task: Task, palm: Sequence[float] | np.ndarray,
          target: Sequence[float] | np.ndarray) -> Verdict:
    """The success criterion of `task` with the named palm site at `palm` (3,).

    `target` (3,) is the named cube's centre for a touch task and the same side's shoulder
    pitch joint for a raise task (only its z counts), all in world coordinates.
    """
    palm, target = _xyz("palm", palm), _xyz("target", target)
    if task.kind == "touch":
        margin = float(np.linalg.norm(palm - target))
        return Verdict(margin <= TOUCH_RADIUS, margin, TOUCH_RADIUS)
    margin = float(palm[2] - target[2])
    return Verdict(margin >= RAISE_HEIGHT, margin, RAISE_HEIGHT)


def best_margin(kind: str, margins: Sequence[float]) -> float:
    """The best of a task's margins over time: the smallest distance for touch, the largest
    height for raise (the direction the criterion rewards)."""
    if kind not in KINDS:
        raise ValueError(f"task kind {kind!r} is unknown; use one of {list(KINDS)}")
    if len(margins) == 0:
        raise ValueError("margins is empty; pass at least one")
    return float(min(margins) if kind == "touch" else max(margins))
