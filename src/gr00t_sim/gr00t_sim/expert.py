"""A scripted expert for the eight tabletop tasks: IK keyframes, minimum-jerk in joint space.

ROS-free. At ``reset`` the expert solves damped-least-squares inverse kinematics, to
convergence and from the rest pose, for a few palm keyframes of the named arm (the robot's
``simulator.expert``: waist joints, then the arm's group; for the G1 the waist's yaw and pitch
plus the arm's 7 joints), on a private MjData: the simulation is never touched. The
IK tracks the palm position and a palm orientation (fingers forward and slightly down, palm
facing the table), with a null-space pull towards the rest pose. Each action step
(``action_dt``, 0.05 s for the G1) it then moves every joint along a minimum-jerk path from
one keyframe to the next. The other arm stays at its rest pose, the hands at theirs. The
geometry defaults below are tuned to the G1's hand; another robot sets its own in
``simulator.expert.params``.

Why joint space: a policy has to learn the map from what it sees (cube position, its own
joints) to these targets. Re-solving a few IK iterations per step along a Cartesian path
swung the wrist and the waist back and forth (the IK's redundancy, and its history), which
the nano policy could not imitate closely enough to touch a cube; keyframes solved from one
fixed start are a smooth function of the cube's position, and so is the path between them.

- touch: lift the palm to `approach_height` above the cube's height, move to that height
  above the cube, then down until the palm site (centre of the palm's face) is
  `touch_height` above the cube's centre, 4.5 mm above its top (3.3 cm from the centre with
  the thumb and wrist offsets below, inside the 5 cm success radius), hold. (It was 1 cm above
  the top, 3.8 cm from the centre: a policy's palm could then miss the spot by 1.9 cm in
  the worst horizontal direction, now by 2.3 cm.) The palm is rolled `palm_roll_deg` about
  the finger axis, thumb side up: the G1's folded thumb hangs ~3 cm below the palm's face at
  any joint angle, and with the palm flat it landed on the cube and slid it 2-3 cm, so the
  palm ended 4.6-5.1 cm from the cube's centre, at the radius; rolled 25 deg the cube moves
  ~1 cm and the palm ends 4.1-4.2 cm away (`bench/expert_hold.py`, docs/BENCHMARKS.md);
- raise: to `raise_offset` from the shoulder (palm up by 0.32 m, above the 0.20 m threshold),
  fingers pointing up, hold.

Targets are absolute joint positions for the embodiment's action joints in their YAML order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import mujoco
import numpy as np

from gr00t_sim.section import settings_from
from gr00t_sim.tasks import EITHER, Task
from gr00t_policy.embodiment.simulator import SimulatorSpec
from gr00t_sim.world import SimWorld


# Retargeting moves the palm across at least this high above its touch pose (m): the G1's
# folded thumb hangs ~3 cm below the palm.
RETARGET_CLEARANCE = 0.05


@dataclass(frozen=True)
class ExpertConfig:
    """Timing (s) and geometry (m) of the scripted motions."""

    reach_time: float = 1.4
    descend_time: float = 0.9
    raise_time: float = 1.8
    approach_height: float = 0.10
    touch_height: float = 0.027  # palm face 4.5 mm above the cube's top
    thumb_clearance: float = 0.012  # cube centre this far off the palm centre, away from the thumb
    wrist_shift: float = 0.015  # ... and this far towards the wrist (the thumb is near the fingers)
    raise_offset: tuple[float, float, float] = (0.12, 0.06, 0.32)  # (x, outward y, z)
    finger_pitch_deg: float = 5.0  # fingers this far below horizontal when touching
    palm_roll_deg: float = 25.0  # touch: palm rolled about the finger axis, lifting the thumb
    keyframes_per_segment: int = 8
    ik_iterations: int = 40  # per keyframe, from the previous keyframe's solution
    ik_damping: float = 0.05
    orientation_weight: float = 0.3
    posture_gain: float = 0.05
    max_joint_step: float = 0.15  # rad per IK iteration
    max_joint_speed: float = 4.0  # rad/s: each action row moves a joint at most this * action_dt
    # How freely the IK moves the waist (yaw, pitch) against the arm: it scales their Jacobian
    # columns (weighted least squares). 1 treats them like arm joints, which swings the torso,
    # and the head camera with it: a waist yaw span of ~1 rad (median) within one motion, the
    # pitch leaning back to its limit (docs/BENCHMARKS.md); below 1 the arm does more of the
    # reach. The committed checkpoint's first-stage data used 1.
    waist_ik_scale: float = 1.0

    def __post_init__(self) -> None:
        for name in ("reach_time", "descend_time", "raise_time", "ik_damping", "max_joint_speed",
                     "waist_ik_scale", "touch_height"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name}={getattr(self, name)} must be > 0")
        for name in ("ik_iterations", "keyframes_per_segment"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)} must be >= 1")


def expert_config(sim: SimulatorSpec, **overrides: Any) -> ExpertConfig:
    """ExpertConfig's defaults, then the robot's ``simulator.expert.params``, then
    ``overrides`` (None values skipped); ValueError naming the key for a bad name or value."""
    return settings_from(ExpertConfig, sim.expert.params, "simulator.expert.params",
                         "an expert setting", **overrides)


def _min_jerk(s: float) -> float:
    s = min(max(s, 0.0), 1.0)
    return s ** 3 * (10 - 15 * s + 6 * s * s)


def _frame(x_axis: np.ndarray, y_hint: np.ndarray) -> np.ndarray:
    """Rotation matrix whose columns are x (= x_axis) and y (y_hint orthogonalised)."""
    x = x_axis / np.linalg.norm(x_axis)
    y = y_hint - x * float(x @ y_hint)
    y /= np.linalg.norm(y)
    return np.column_stack([x, y, np.cross(x, y)])  # (3, 3)


class ScriptedExpert:
    """Produces joint targets for one task at a time; see the module docstring.

    Args:
        world: the simulation (read-only use: model, rest pose, cube and palm positions).
        action_joints: the joint names of one action row, in order (31 for the G1).
        action_dt: seconds between two rows.
    """

    def __init__(self, world: SimWorld, action_joints: Sequence[str], action_dt: float = 0.05,
                 cfg: ExpertConfig | None = None):
        if action_dt <= 0:
            raise ValueError(f"action_dt={action_dt} must be > 0")
        self.world = world
        self.cfg = cfg or expert_config(world.sim)
        self.action_joints = tuple(action_joints)
        self.action_dt = float(action_dt)
        m = world.model
        unknown = [n for n in self.action_joints if n not in world.robot_joints]
        if unknown:
            raise ValueError(f"action_joints {unknown} are not joints of the model")
        self._data = mujoco.MjData(m)  # private copy for IK
        # The IK chain: the waist joints (reach across and forward), then the side's arm.
        emb, spec = world.embodiment, world.sim.expert
        self._waist = tuple(spec.waist_joints)
        self._arm = {s: list(self._waist)
                     + [j.name for j in emb.group(getattr(spec.arm_groups, s)).joints]
                     for s in ("left", "right")}
        self._arm_q = {s: world.qpos_index(self._arm[s]) for s in self._arm}
        self._arm_v = {s: np.array([m.joint(n).dofadr[0] for n in self._arm[s]]) for s in self._arm}
        lo_hi = {s: m.jnt_range[[m.joint(n).id for n in self._arm[s]]] for s in self._arm}
        self._limits = lo_hi  # (chain length, 2) each
        self._rest = world.rest_pose()
        self._index = {n: i for i, n in enumerate(self.action_joints)}
        self.task: Task | None = None
        self._t = 0.0
        self._q: np.ndarray | None = None
        self._plan: list[tuple[float, float, np.ndarray]] = []  # (start, duration, keyframes)
        self.goal: np.ndarray | None = None  # where the task's palm ends, world frame (3,)

    # -- episode -----------------------------------------------------------------------
    def reset(self, task: Task | str) -> None:
        """Plan a task from the world's current state (call after world.reset). A task that
        names no hand (EITHER) is done with the palm nearer the cube; a caller that wants
        the hand drawn gives `task.with_side(...)`."""
        task = Task.parse(task) if isinstance(task, str) else task
        if task.side == EITHER:
            cube = self.world.cube_position(task.color)
            task = task.with_side(min(task.sides, key=lambda s: float(
                np.linalg.norm(self.world.palm_position(s) - cube))))
        self.task = task
        w, side = self.world, self.task.side
        self._data.qpos[:] = w.data.qpos
        mujoco.mj_kinematics(w.model, self._data)
        rest = np.array([self._rest[n] for n in self._arm[side]])
        start = self._data.site_xpos[w.palm_site_id(side)].copy()
        # Each segment's keyframes are IK solutions along its straight Cartesian path, each
        # solved from the one before: the arm stays on one branch of the IK all the way.
        self._plan = []
        q, t0 = rest, 0.0
        n = self.cfg.keyframes_per_segment
        segments = self._segments(start)
        self.goal = np.array(segments[-1][2], dtype=np.float64)  # the last segment's end
        for duration, p0, p1, rot, b0, b1 in segments:
            frames = [q]
            for i in range(1, n + 1):
                s = i / n
                q = self._solve_ik(side, q, p0 + s * (p1 - p0), rot, b0 + s * (b1 - b0))
                frames.append(q)
            self._plan.append((t0, duration, np.stack(frames)))  # (n + 1, chain length)
            t0 += duration
        self._q = rest.copy()
        self._t = 0.0

    def _segments(self, start: np.ndarray) -> list[tuple[float, np.ndarray, np.ndarray, np.ndarray, float, float]]:
        """(duration, palm from, palm to, palm rotation, orientation blend from, to) per segment."""
        cfg, task, w = self.cfg, self.task, self.world
        sign = 1.0 if task.side == "left" else -1.0
        if task.kind == "touch":
            cube = w.cube_position(task.color)
            pitch = np.deg2rad(cfg.finger_pitch_deg)
            fingers = np.array([np.cos(pitch), 0.0, -np.sin(pitch)])
            # Palm normal is -y (left) / +y (right) in the wrist frame: make it face down.
            rot = _frame(fingers, np.array([0.0, 0.0, sign]))
            # The folded thumb sits on the wrist frame's +z side: keep the cube off it.
            over = cube + cfg.thumb_clearance * rot[:, 2] + cfg.wrist_shift * rot[:, 0]
            if cfg.palm_roll_deg:
                roll = np.deg2rad(cfg.palm_roll_deg) * sign
                c, s = np.cos(roll), np.sin(roll)
                rot = rot @ np.array([[1.0, 0.0, 0.0], [0.0, c, s], [0.0, -s, c]])
            above = over + [0.0, 0.0, cfg.approach_height]
            touch = over + [0.0, 0.0, cfg.touch_height]
            # Lift the palm above the table's height first, then move over the cube.
            lift = start + [0.05, 0.0, 0.0]
            lift[2] = max(lift[2], above[2])
            t_lift = cfg.reach_time * 0.4
            return [(t_lift, start, lift, rot, 0.0, 0.5),
                    (cfg.reach_time - t_lift, lift, above, rot, 0.5, 1.0),
                    (cfg.descend_time, above, touch, rot, 1.0, 1.0)]
        shoulder = w.shoulder_position(task.side)
        dx, dy, dz = cfg.raise_offset
        goal = shoulder + [dx, sign * dy, dz]
        # Fingers up, palm facing forward.
        rot = _frame(np.array([0.0, 0.0, 1.0]), np.array([sign, 0.0, 0.0]))
        return [(cfg.raise_time, start, goal, rot, 0.0, 1.0)]

    def retarget(self, duration: float | None = None) -> bool:
        """Touch: re-plan the rest of the motion for where the named cube is now (it was
        moved after `reset` planned it), from the current target: across at the palm's
        height (at least `RETARGET_CLEARANCE` above the touch pose) to over the cube, then
        straight down to the touch pose, at minimum-jerk timing over `duration` (default:
        what is left of the original plan, at least `descend_time`; 40% across, 60% down);
        then hold. A palm lower than that height (on or beside the cube: a hold) first goes
        straight up to it (30% up, 30% across, 40% down). The goal follows. False, and
        nothing changes, for a raise (it does not depend on the cubes). A diagonal path
        instead swept the hanging thumb into the cube.

        What a recording gets from it (gr00t-collect --nudge-prob): frames where the cube is
        somewhere else than the motion so far aimed for, labelled with the way to the cube
        as it is now, so a policy learns to land where it sees the cube rather than where it
        first saw it."""
        if self.task is None or self._q is None:
            raise RuntimeError("call reset(task) before retarget()")
        if self.task.kind != "touch":
            return False
        w, side, cfg = self.world, self.task.side, self.cfg
        d = self._data
        d.qpos[self._arm_q[side]] = self._q
        mujoco.mj_kinematics(w.model, d)
        palm = d.site_xpos[w.palm_site_id(side)].copy()
        *_, (_, _, touch, rot, _, _) = self._segments(palm)
        left = self._plan[-1][0] + self._plan[-1][1] - self._t
        duration = max(left, cfg.descend_time) if duration is None else float(duration)
        if not duration > 0:
            raise ValueError(f"duration={duration} must be > 0")
        over = touch.copy()
        over[2] = max(palm[2], touch[2] + RETARGET_CLEARANCE)
        path = [(0.4, palm, over), (0.6, over, touch)]
        if over[2] - palm[2] > 1e-3:  # from near the table (a hold): straight up first
            up = palm.copy()
            up[2] = over[2]
            path = [(0.3, palm, up), (0.3, up, over), (0.4, over, touch)]
        q, t0, n = self._q.copy(), self._t, cfg.keyframes_per_segment
        self._plan = []
        for share, p0, p1 in path:
            frames = [q]
            for i in range(1, n + 1):
                q = self._solve_ik(side, q, p0 + i / n * (p1 - p0), rot, 1.0)
                frames.append(q)
            self._plan.append((t0, share * duration, np.stack(frames)))
            t0 += share * duration
        self.goal = np.array(touch, dtype=np.float64)
        return True

    def _planned(self, t: float) -> np.ndarray:
        """Joint targets at time t: each segment's keyframes at minimum-jerk timing, then hold."""
        for t0, duration, frames in self._plan:
            if t < t0 + duration:
                x = _min_jerk((t - t0) / duration) * (len(frames) - 1)
                i = min(int(x), len(frames) - 2)
                return frames[i] + (x - i) * (frames[i + 1] - frames[i])
        return self._plan[-1][2][-1]

    def act(self) -> np.ndarray:
        """The next action row: absolute joint targets, (len(action_joints),) float64."""
        if self.task is None or self._q is None:
            raise RuntimeError("call reset(task) before act()")
        self._t += self.action_dt
        q = self._planned(self._t)
        # A guard on demonstration speed: bound each row's change.
        step = self.cfg.max_joint_speed * self.action_dt
        self._q = self._q + np.clip(q - self._q, -step, step)
        targets = dict(self._rest)
        targets.update(zip(self._arm[self.task.side], self._q))
        return np.array([targets[n] for n in self.action_joints])

    def rollout_targets(self, steps: int) -> np.ndarray:
        """(steps, A) the next `steps` action rows (the world is not stepped)."""
        return np.stack([self.act() for _ in range(steps)])

    # -- inverse kinematics ---------------------------------------------------------------
    def _solve_ik(self, side: str, q0: np.ndarray, pos: np.ndarray, rot: np.ndarray,
                  blend: float) -> np.ndarray:
        cfg, m, d = self.cfg, self.world.model, self._data
        site = self.world.palm_site_id(side)
        qadr, vadr, lim = self._arm_q[side], self._arm_v[side], self._limits[side]
        rest = np.array([self._rest[n] for n in self._arm[side]])
        jacp = np.zeros((3, m.nv))
        jacr = np.zeros((3, m.nv))
        q = q0.copy()
        w_rot = cfg.orientation_weight * blend
        # Weighted least squares in scaled coordinates q' = q / scale (waist columns first).
        scale = np.ones(len(q))
        scale[: len(self._waist)] = cfg.waist_ik_scale
        for _ in range(cfg.ik_iterations):
            d.qpos[qadr] = q
            mujoco.mj_kinematics(m, d)
            mujoco.mj_comPos(m, d)
            cur_rot = d.site_xmat[site].reshape(3, 3)
            err_p = pos - d.site_xpos[site]  # (3,)
            # Small-angle rotation error, the sum of axis cross products.
            err_r = 0.5 * sum(np.cross(cur_rot[:, i], rot[:, i]) for i in range(2))  # (3,)
            mujoco.mj_jacSite(m, d, jacp, jacr, site)
            jac = np.vstack([jacp[:, vadr], w_rot * jacr[:, vadr]]) * scale  # (6, chain)
            err = np.concatenate([err_p, w_rot * err_r])  # (6,)
            jjt = jac @ jac.T + cfg.ik_damping ** 2 * np.eye(6)
            dq = jac.T @ np.linalg.solve(jjt, err)
            null = np.eye(len(q)) - jac.T @ np.linalg.solve(jjt, jac)
            dq = scale * (dq + null @ (cfg.posture_gain * (rest - q) / scale))
            dq = np.clip(dq, -cfg.max_joint_step, cfg.max_joint_step)
            q = np.clip(q + dq, lim[:, 0], lim[:, 1])
        return q
