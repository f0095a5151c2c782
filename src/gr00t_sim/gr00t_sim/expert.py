"""A scripted expert for the eight tabletop tasks: Cartesian waypoints + damped least squares IK.

ROS-free. Each action step (``action_dt``, 0.05 s for the G1) the expert moves a Cartesian
goal for the named palm site along a minimum-jerk path through waypoints, then solves a few
damped-least-squares iterations of inverse kinematics for the 7 joints of that arm, starting
from its previous solution, on a private MjData (the simulation is never touched). The IK
tracks the palm position and a palm orientation (fingers forward and slightly down, palm
facing the table), with a null-space pull towards the rest pose. The other arm stays at its
rest pose, the waist at zero and the hands open (all zeros).

- touch: lift the palm to table height, move to `approach_height` above the cube, then down
  until the palm site (centre of the palm's face) is `touch_height` above the cube's centre,
  1 cm above its top (3.5 cm from the centre, inside the 5 cm success radius), hold;
- raise: to `raise_offset` from the shoulder (palm up by 0.32 m, above the 0.20 m threshold),
  fingers pointing up, hold.

Targets are absolute joint positions for the embodiment's action joints in their YAML order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import mujoco
import numpy as np

from gr00t_sim.world import G1World, Task

WAIST_IK_JOINTS = ("waist_yaw_joint", "waist_pitch_joint")
ARM_JOINTS = ("shoulder_pitch", "shoulder_roll", "shoulder_yaw", "elbow", "wrist_roll",
              "wrist_pitch", "wrist_yaw")


@dataclass(frozen=True)
class ExpertConfig:
    """Timing (s) and geometry (m) of the scripted motions."""

    reach_time: float = 1.4
    descend_time: float = 0.9
    raise_time: float = 1.8
    approach_height: float = 0.10
    touch_height: float = 0.0325  # palm face 1 cm above the cube's top
    thumb_clearance: float = 0.012  # cube centre this far off the palm centre, away from the thumb
    wrist_shift: float = 0.015  # ... and this far towards the wrist (the thumb is near the fingers)
    raise_offset: tuple[float, float, float] = (0.12, 0.06, 0.32)  # (x, outward y, z)
    finger_pitch_deg: float = 5.0  # fingers this far below horizontal when touching
    ik_iterations: int = 8
    ik_damping: float = 0.05
    orientation_weight: float = 0.3
    posture_gain: float = 0.05
    max_joint_step: float = 0.15  # rad per IK iteration
    max_joint_speed: float = 4.0  # rad/s: each action row moves a joint at most this * action_dt
    feedback_gain: float = 0.3  # per step, measured palm error -> goal correction
    max_correction: float = 0.03  # m

    def __post_init__(self) -> None:
        for name in ("reach_time", "descend_time", "raise_time", "ik_damping", "max_joint_speed"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name}={getattr(self, name)} must be > 0")
        if self.ik_iterations < 1:
            raise ValueError(f"ik_iterations={self.ik_iterations} must be >= 1")


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

    def __init__(self, world: G1World, action_joints: Sequence[str], action_dt: float = 0.05,
                 cfg: ExpertConfig | None = None):
        if action_dt <= 0:
            raise ValueError(f"action_dt={action_dt} must be > 0")
        self.world = world
        self.cfg = cfg or ExpertConfig()
        self.action_joints = tuple(action_joints)
        self.action_dt = float(action_dt)
        m = world.model
        unknown = [n for n in self.action_joints if n not in world.robot_joints]
        if unknown:
            raise ValueError(f"action_joints {unknown} are not joints of the model")
        self._data = mujoco.MjData(m)  # private copy for IK
        # The IK chain: waist yaw and pitch (reach across and forward), then the 7 arm joints.
        self._arm = {s: list(WAIST_IK_JOINTS) + [f"{s}_{j}_joint" for j in ARM_JOINTS]
                     for s in ("left", "right")}
        self._arm_q = {s: world.qpos_index(self._arm[s]) for s in self._arm}
        self._arm_v = {s: np.array([m.joint(n).dofadr[0] for n in self._arm[s]]) for s in self._arm}
        lo_hi = {s: m.jnt_range[[m.joint(n).id for n in self._arm[s]]] for s in self._arm}
        self._limits = lo_hi  # (7, 2) each
        self._rest = world.rest_pose()
        self._index = {n: i for i, n in enumerate(self.action_joints)}
        self.task: Task | None = None
        self._t = 0.0
        self._q: np.ndarray | None = None
        self._waypoints: list[tuple[float, np.ndarray]] = []
        self._start_rot: np.ndarray | None = None

    # -- episode -----------------------------------------------------------------------
    def reset(self, task: Task | str) -> None:
        """Start a task from the world's current state (call after world.reset)."""
        self.task = Task.parse(task) if isinstance(task, str) else task
        w, side = self.world, self.task.side
        self._data.qpos[:] = w.data.qpos
        mujoco.mj_kinematics(w.model, self._data)
        self._q = np.array([self._rest[n] for n in self._arm[side]])
        start = self._data.site_xpos[w.palm_site_id(side)].copy()
        # Cube target fixed at the start: following a cube the hand pushes runs after it.
        self._cube = w.cube_position(self.task.color) if self.task.kind == "touch" else None
        self._correction = np.zeros(3)
        self._last_goal: np.ndarray | None = None
        self._start_rot = self._data.site_xmat[w.palm_site_id(side)].reshape(3, 3).copy()
        self._start = start
        self._t = 0.0

    def _goal(self, t: float) -> tuple[np.ndarray, np.ndarray, float]:
        """Palm goal position, rotation and orientation blend (0 = start, 1 = goal) at t."""
        cfg, task, w = self.cfg, self.task, self.world
        sign = 1.0 if task.side == "left" else -1.0
        if task.kind == "touch":
            cube = self._cube
            pitch = np.deg2rad(cfg.finger_pitch_deg)
            fingers = np.array([np.cos(pitch), 0.0, -np.sin(pitch)])
            # Palm normal is -y (left) / +y (right) in the wrist frame: make it face down.
            rot = _frame(fingers, np.array([0.0, 0.0, sign]))
            # The folded thumb sits on the wrist frame's +z side: keep the cube off it.
            over = cube + cfg.thumb_clearance * rot[:, 2] + cfg.wrist_shift * rot[:, 0]
            above = over + [0.0, 0.0, cfg.approach_height]
            touch = over + [0.0, 0.0, cfg.touch_height]
            # Lift the palm above the table's height first, then move over the cube.
            lift = self._start + [0.05, 0.0, 0.0]
            lift[2] = max(lift[2], above[2])
            t_lift = cfg.reach_time * 0.4
            if t < t_lift:
                s = _min_jerk(t / t_lift)
                return self._start + s * (lift - self._start), rot, 0.5 * s
            if t < cfg.reach_time:
                s = _min_jerk((t - t_lift) / (cfg.reach_time - t_lift))
                return lift + s * (above - lift), rot, 0.5 + 0.5 * s
            s = _min_jerk((t - cfg.reach_time) / cfg.descend_time)
            return above + s * (touch - above), rot, 1.0
        shoulder = w.shoulder_position(task.side)
        dx, dy, dz = cfg.raise_offset
        goal = shoulder + [dx, sign * dy, dz]
        # Fingers up, palm facing forward.
        rot = _frame(np.array([0.0, 0.0, 1.0]), np.array([sign, 0.0, 0.0]))
        s = _min_jerk(t / cfg.raise_time)
        return self._start + s * (goal - self._start), rot, s

    def act(self) -> np.ndarray:
        """The next action row: absolute joint targets, (len(action_joints),) float64."""
        if self.task is None or self._q is None:
            raise RuntimeError("call reset(task) before act()")
        if self._last_goal is not None:
            # Closed loop: nudge the IK goal by the measured palm error (gravity sag of the
            # position actuators), bounded so that contact cannot wind it up.
            err = self._last_goal - self.world.palm_position(self.task.side)
            self._correction = np.clip(self._correction + self.cfg.feedback_gain * err,
                                       -self.cfg.max_correction, self.cfg.max_correction)
        self._t += self.action_dt
        pos, rot, blend = self._goal(self._t)
        self._last_goal = pos
        q = self._solve_ik(self.task.side, self._q, pos + self._correction, rot, blend)
        # The IK solution can swing a joint (the wrist roll, as the orientation weight
        # ramps in) faster than a demonstration should; bound each row's change.
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
        for _ in range(cfg.ik_iterations):
            d.qpos[qadr] = q
            mujoco.mj_kinematics(m, d)
            mujoco.mj_comPos(m, d)
            cur_rot = d.site_xmat[site].reshape(3, 3)
            err_p = pos - d.site_xpos[site]  # (3,)
            # Small-angle rotation error, the sum of axis cross products.
            err_r = 0.5 * sum(np.cross(cur_rot[:, i], rot[:, i]) for i in range(2))  # (3,)
            mujoco.mj_jacSite(m, d, jacp, jacr, site)
            jac = np.vstack([jacp[:, vadr], w_rot * jacr[:, vadr]])  # (6, 9)
            err = np.concatenate([err_p, w_rot * err_r])  # (6,)
            jjt = jac @ jac.T + cfg.ik_damping ** 2 * np.eye(6)
            dq = jac.T @ np.linalg.solve(jjt, err)
            null = np.eye(len(q)) - jac.T @ np.linalg.solve(jjt, jac)
            dq += null @ (cfg.posture_gain * (rest - q))
            dq = np.clip(dq, -cfg.max_joint_step, cfg.max_joint_step)
            q = np.clip(q + dq, lim[:, 0], lim[:, 1])
        return q
