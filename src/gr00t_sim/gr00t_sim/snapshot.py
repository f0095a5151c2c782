"""What the simulator reports at one moment, and its wire format gr00t_msgs/SimState.

`Snapshot` is the plain (ROS-free, MuJoCo-free) content of one /gr00t_sim/state message:
the scene (seed, reset count, cube and palm positions) and the verdict of the task set at
the last reset, as `gr00t_sim.tasks` defines it. The node takes one from its world
(`Snapshot.of_world`, under its lock) and publishes it (`to_msg`); the evaluator reads it
back (`from_msg`). This module is the only one that knows the message's fields.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from gr00t_sim.tasks import CUBE_COLORS, SIDES, Task

if TYPE_CHECKING:
    from gr00t_sim.world import SimWorld

FRAME_ID = "world"
OBJECT_NAMES: tuple[str, ...] = tuple(f"{c}_cube" for c in CUBE_COLORS)  # body names
PALM_NAMES: tuple[str, ...] = tuple(f"{s}_palm" for s in SIDES)  # site names


@dataclass(frozen=True)
class Snapshot:
    """The simulator's scene and task verdict at one moment (see gr00t_msgs/msg/SimState).

    objects / palms: name -> (3,) world position in m, in OBJECT_NAMES / PALM_NAMES order.
    instruction, task_kind: the task set at the last reset ("" when none); success, margin,
    threshold: its criterion now (false, NaN, NaN when none).
    """

    seed: int
    reset_count: int
    time_since_reset: float
    objects: dict[str, np.ndarray] = field(default_factory=dict)
    palms: dict[str, np.ndarray] = field(default_factory=dict)
    instruction: str = ""
    task_kind: str = ""
    success: bool = False
    margin: float = math.nan
    threshold: float = math.nan

    @classmethod
    def of_world(cls, world: SimWorld, task: Task | None, reset_count: int) -> Snapshot:
        """Read `world` now (the caller holds whatever lock guards it) and judge `task`."""
        objects = {name: world.cube_position(c) for name, c in zip(OBJECT_NAMES, CUBE_COLORS)}
        palms = {name: world.palm_position(s) for name, s in zip(PALM_NAMES, SIDES)}
        common = dict(seed=int(world.seed),
                      reset_count=int(reset_count), time_since_reset=world.time,
                      objects=objects, palms=palms)
        if task is None:
            return cls(**common)
        verdict = world.verdict(task)
        return cls(**common, instruction=task.instruction, task_kind=task.kind,
                   success=verdict.success, margin=verdict.margin,
                   threshold=verdict.threshold)

    def palm_vector(self) -> np.ndarray:
        """(3 * palms,) both palm positions concatenated (left xyz, right xyz)."""
        return np.concatenate([self.palms[n] for n in PALM_NAMES])


def to_msg(snap: Snapshot, stamp: Any) -> Any:
    """A gr00t_msgs/SimState carrying `snap`, stamped `stamp` (builtin_interfaces/Time)."""
    from geometry_msgs.msg import Point

    from gr00t_msgs.msg import SimState

    msg = SimState()
    msg.header.stamp = stamp
    msg.header.frame_id = FRAME_ID
    msg.seed = snap.seed
    msg.reset_count = snap.reset_count
    msg.time_since_reset = float(snap.time_since_reset)
    msg.object_names = list(snap.objects)
    msg.object_positions = [Point(x=float(p[0]), y=float(p[1]), z=float(p[2]))
                            for p in snap.objects.values()]
    msg.palm_names = list(snap.palms)
    msg.palm_positions = [Point(x=float(p[0]), y=float(p[1]), z=float(p[2]))
                          for p in snap.palms.values()]
    msg.instruction = snap.instruction
    msg.task_kind = snap.task_kind
    msg.success = bool(snap.success)
    msg.margin = float(snap.margin)
    msg.threshold = float(snap.threshold)
    return msg


def from_msg(msg: Any) -> Snapshot:
    """The Snapshot a gr00t_msgs/SimState carries (the header is not part of it)."""
    def positions(names: Any, points: Any, what: str) -> dict[str, np.ndarray]:
        if len(names) != len(points):
            raise ValueError(f"SimState has {len(names)} {what}_names but {len(points)} "
                             f"{what}_positions; the simulator sends one position per name")
        return {n: np.array([p.x, p.y, p.z]) for n, p in zip(names, points)}

    return Snapshot(
        seed=int(msg.seed), reset_count=int(msg.reset_count),
        time_since_reset=float(msg.time_since_reset),
        objects=positions(msg.object_names, msg.object_positions, "object"),
        palms=positions(msg.palm_names, msg.palm_positions, "palm"),
        instruction=msg.instruction, task_kind=msg.task_kind, success=bool(msg.success),
        margin=float(msg.margin), threshold=float(msg.threshold))
