"""Demonstrations from the scripted expert, written as a LeRobot v2 dataset. CLI: ``gr00t-collect``.

One episode, for seed ``s``: ``world.reset(s)`` (cube positions), a task drawn from the eight
instructions with a generator seeded by ``s``, then every ``action_dt`` (0.05 s, 20 fps):

1. render the head camera (224x224 RGB) and read the state: the embodiment's state joints'
   positions, in YAML order;
2. ask the expert for its next joint targets (the embodiment's action joints, YAML order),
   record them, and command them plus a smooth random perturbation on the waist and arm
   joints (DART: Laskey et al. 2017, "Noise injection for robust imitation learning");
3. step the physics for ``action_dt``.

Why the perturbation: the expert follows one path, so clean demonstrations only show states
on it, and a policy that strays a little sees states no demonstration had (the nano policy
trained on clean demonstrations touched 0 of 12 cubes even on training scenes, with small
errors on training frames). With the perturbation the recorded states stray as a policy's
would, and the recorded action at each of them is the expert's unperturbed target: the way
back to its path. The perturbation is an Ornstein-Uhlenbeck process per joint
(``noise_std`` rad, correlation time ``noise_tau_s``), seeded by the scene seed; hand joints
are left alone.

Row ``t`` = (frame and state observed at ``t * action_dt``, targets commanded right after).
The episode ends ``hold_s`` after the task's success condition first holds, or fails after
``max_s``; only episodes whose success condition still holds at their last frame are kept.

Seeds: training demonstrations use seeds in ``[0, EVAL_SEED_START)``; evaluation uses seeds
``>= EVAL_SEED_START`` (100000), so no evaluation scene is ever trained on. Consecutive seeds
``S, S+1, ...`` are tried until ``--episodes`` successful episodes are written; each episode's
seed is stored in meta/episodes.jsonl, with ``goal_position``: where the expert's palm ends
(world frame, m; over the named cube for a touch, above the shoulder for a raise), the target
of gr00t-train's auxiliary goal loss (``--goal-weight``), and ``object_positions``: where each
cube starts ({colour: [x, y, z]}), the target of its scene loss (``--scene-weight``).
"""

from __future__ import annotations

import os

# Offscreen rendering without a display; must be set before mujoco is imported.
os.environ.setdefault("MUJOCO_GL", "egl")

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import multiprocessing  # noqa: E402
import signal  # noqa: E402
import time  # noqa: E402
from dataclasses import asdict, dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Iterator, Sequence  # noqa: E402

import mujoco  # noqa: E402
import numpy as np  # noqa: E402

from gr00t_policy.dataset import LeRobotWriter  # noqa: E402
from gr00t_policy.embodiment import EmbodimentConfig, load_embodiment, parse_embodiment  # noqa: E402
from gr00t_sim.evaluation.schedule import EVAL_SEED_START, task_list  # noqa: E402
from gr00t_sim.expert import ScriptedExpert, expert_config  # noqa: E402
from gr00t_sim.tasks import EITHER, SIDES, Task  # noqa: E402
from gr00t_sim.world import SimWorld, HeadCamera  # noqa: E402

logger = logging.getLogger(__name__)

NUDGE_PHASES = ("descent", "hold")
COLLECT_TASKS = ("all", "either")  # CollectConfig.tasks
NUDGE_DRAWS = 32  # directions and lengths tried for a nudge before it is given up
HOLD_NUDGE_S = (0.2, 1.0)  # a hold nudge comes this long (s) after the first landing
HOLD_RETARGET_S = 1.5  # up, across and down again after a cube is moved from under the palm
# A cube moved from under a resting palm may overlap it this deep (m): a resting contact
# sinks ~2 mm; a cube put into the hanging thumb overlaps by centimetres.
SHOVE_MAX_OVERLAP = 0.005
DEFAULT_EMBODIMENT = "config/unitree_g1.yaml"


@dataclass(frozen=True)
class CollectConfig:
    """Episode timing (seconds).

    Attributes:
        hold_s: keep recording this long after the success condition first holds.
        max_s: an episode that has not succeeded after this long is dropped.
        noise_std: standard deviation (rad) of the perturbation added to the commanded
            waist and arm targets (not to the recorded actions); 0 records clean paths.
        noise_tau_s: its correlation time (s).
        noise_fade_s: after the success condition first holds, the perturbation fades
            linearly to zero over this long, so the hold ends on the expert's own path
            (0, the default: no fade). Kept through a 3 s hold it carries the palm out of
            the 5 cm radius by the last frame in 45% of the seeds tried, and those are
            dropped; faded, few are. But a policy fine-tuned on faded holds held fewer
            touches (25/48 strict against 30/48, docs/BENCHMARKS.md): still holds teach
            nothing about getting back.
        nudge_prob: the fraction of touch episodes in which the named cube is moved once,
            on the table, while the palm comes down to it (between 0.2 s before and 0.3 s
            after the expert starts its descent, drawn with the scene seed); the expert then
            re-plans the rest of its motion for where the cube is (`ScriptedExpert.retarget`).
            A policy lands a little off and shoves the cube; these frames show landing where
            the cube is now. 0 (the default): never. Such an episode's `object_positions`
            and `goal_position` are those after the nudge (most of its frames'), and
            episodes.jsonl keeps the nudge (`nudge`: step, offset).
        nudge_cm: how far (cm): uniform between half of it and all of it, in a direction
            drawn the same way, never closer to another cube than the scene allows.
        nudge_phase: "descent" (above) or "hold": the cube moves 0.2-1.0 s after the palm
            first reaches it, away from the palm (within 60 deg of straight away, never into
            the hand), as a policy's landing shoves it; the expert goes straight up, across
            and down again over `HOLD_RETARGET_S`, and the hold (`hold_s`) counts again from
            the landing. These frames show a palm beside a cube it has pushed, labelled with
            the way back onto it, which no plain recording has. Give `max_s` room for it.
        expert: overrides of the expert's settings, by gr00t_sim.expert.ExpertConfig field
            name (e.g. touch_height, palm_roll_deg, waist_ik_scale); the others are the
            robot's (`simulator.expert.params`, else ExpertConfig's). A bad name or value is
            refused when the recorder builds its expert. The G1's thumb hangs below the palm
            and pushes the cube ~2 cm at the default touch height (bench/expert_hold.py); the
            committed checkpoint's first-stage data was recorded with palm_roll_deg 0.
        tasks: "all" (the eight, by seed: `task_for_seed`) or "either" (the three touches
            naming no hand, `gr00t_sim.tasks.either_instructions`): the expert does each with
            a hand drawn 50/50 with the scene seed, so the same instruction and scenes come
            with both ways of doing it (a task with two modes, docs/plans/rtc_two_modes.md);
            a drawn hand that cannot reach the cube fails and is dropped like any failure.
    """

    hold_s: float = 0.5
    max_s: float = 5.0
    noise_std: float = 0.03
    noise_tau_s: float = 0.3
    noise_fade_s: float = 0.0
    nudge_prob: float = 0.0
    nudge_cm: float = 3.0
    nudge_phase: str = "descent"
    expert: dict[str, Any] = field(default_factory=dict)
    tasks: str = "all"

    def __post_init__(self) -> None:
        if self.tasks not in COLLECT_TASKS:
            raise ValueError(f"CollectConfig: tasks={self.tasks!r}; use one of {COLLECT_TASKS}")
        if self.hold_s < 0 or not self.max_s > 0:
            raise ValueError(f"CollectConfig: need hold_s >= 0 and max_s > 0, got "
                             f"hold_s={self.hold_s}, max_s={self.max_s}")
        if self.noise_std < 0 or not self.noise_tau_s > 0 or self.noise_fade_s < 0:
            raise ValueError(f"CollectConfig: need noise_std >= 0, noise_tau_s > 0 and "
                             f"noise_fade_s >= 0, got noise_std={self.noise_std}, "
                             f"noise_tau_s={self.noise_tau_s}, noise_fade_s={self.noise_fade_s}")
        if not (0.0 <= self.nudge_prob <= 1.0 and 0.0 < self.nudge_cm <= 20.0):
            raise ValueError(f"CollectConfig: need nudge_prob in [0, 1] and nudge_cm in (0, 20], "
                             f"got nudge_prob={self.nudge_prob}, nudge_cm={self.nudge_cm}")
        if self.nudge_phase not in NUDGE_PHASES:
            raise ValueError(f"CollectConfig: nudge_phase={self.nudge_phase!r}; use one of "
                             f"{NUDGE_PHASES}")
        if self.nudge_phase == "hold" and self.nudge_prob > 0 and self.hold_s < HOLD_NUDGE_S[1]:
            raise ValueError(f"CollectConfig: nudges in the hold come up to {HOLD_NUDGE_S[1]} s "
                             f"after the first landing, but hold_s={self.hold_s} ends the "
                             f"episode before; give --hold-s {HOLD_NUDGE_S[1]} or more")


@dataclass
class Demo:
    """One recorded episode.

    Attributes:
        seed: the scene seed.
        task: the instruction.
        success: whether the success condition held at the last frame.
        states: np.float32 (T, S); actions: np.float32 (T, A); frames: np.uint8 (T, H, W, 3).
    """

    seed: int
    task: str
    success: bool
    states: np.ndarray
    actions: np.ndarray
    frames: np.ndarray
    info: dict = field(default_factory=dict)


def task_for_seed(seed: int, which: str = "all") -> str:
    """The instruction of the episode with scene seed ``seed``: uniform over the eight, or
    over the three that name no hand (``which`` "either")."""
    tasks = task_list(which)
    return tasks[int(np.random.default_rng([seed, 0x7A5C]).integers(len(tasks)))]


def side_for_seed(seed: int, task: Task) -> Task:
    """``task`` with a hand: the named one, or for EITHER one drawn 50/50 with the seed."""
    if task.side != EITHER:
        return task
    return task.with_side(SIDES[int(np.random.default_rng([seed, 0x51DE]).integers(2))])


class DemoRecorder:
    """World + head camera + expert for one embodiment; :meth:`record` runs one episode."""

    def __init__(self, emb: EmbodimentConfig, cfg: CollectConfig | None = None,
                 world: SimWorld | None = None) -> None:
        cams = [c.name for c in emb.cameras]
        if len(cams) != 1:
            raise ValueError(f"the recorder renders one camera; embodiment {emb.name!r} "
                             f"asks for {cams}")
        self.emb = emb
        self.cfg = cfg or CollectConfig()
        self.world = world or SimWorld(emb)
        self.camera_name = cams[0]
        self.camera = HeadCamera(self.world, self.camera_name)
        c = self.cfg
        self.expert = ScriptedExpert(
            self.world, emb.action_joints, emb.action_dt,
            expert_config(self.world.sim, **c.expert))
        index = {n: i for i, n in enumerate(self.world.robot_joints)}
        missing = [n for n in emb.state_joints if n not in index]
        if missing:
            raise ValueError(f"embodiment {emb.name!r} state joints {missing} are not in the model")
        self._state_idx = np.array([index[n] for n in emb.state_joints])
        noisy = {j.name for g in self.world.sim.expert.noise_groups for j in emb.group(g).joints}
        self._noisy = np.array([n in noisy for n in emb.action_joints])
        substeps = emb.action_dt / self.world.model.opt.timestep
        if abs(substeps - round(substeps)) > 1e-6:
            raise ValueError(f"action_dt {emb.action_dt} is not a multiple of the physics "
                             f"timestep {self.world.model.opt.timestep}")
        self.substeps = int(round(substeps))

    @property
    def image_size(self) -> int:
        return self.camera.size

    def record(self, seed: int, task: str | None = None) -> Demo:
        """Run the expert on scene ``seed`` for ``task`` (default: :func:`task_for_seed`)."""
        task = task or task_for_seed(seed, self.cfg.tasks)
        said = Task.parse(task)  # the instruction recorded
        parsed = side_for_seed(seed, said)  # what the expert does: with one hand
        w, dt = self.world, self.emb.action_dt
        w.reset(seed)
        objects = {name: [float(x) for x in pos] for name, pos in w.cube_positions().items()}
        self.expert.reset(parsed)
        states, actions, frames = [], [], []
        max_steps = int(round(self.cfg.max_s / dt))
        hold_steps = int(round(self.cfg.hold_s / dt))
        first_success = None
        rng = np.random.default_rng([seed, 0xDA27])
        keep = float(np.exp(-dt / self.cfg.noise_tau_s))
        noise = np.zeros(len(self.emb.action_joints))
        nudge_rng = np.random.default_rng([seed, 0x4E0D])
        nudge_step, nudge = self._nudge_plan(nudge_rng, parsed)
        hold_nudge_step = None  # drawn when the palm first lands
        for step in range(max_steps):
            if step == hold_nudge_step:
                hold_nudge_step = None
                shove = self._shove_offset(nudge_rng, parsed)
                if shove is not None:  # else no free spot away from the palm: not nudged
                    nudge_step, nudge = step, shove
                    self._nudge(parsed.color, nudge, HOLD_RETARGET_S)
                    first_success = None  # the hold counts from the new landing
                    objects[parsed.color] = [float(x) for x in w.cube_position(parsed.color)]
            elif step == nudge_step:
                self._nudge(parsed.color, nudge)
                # Most of the episode's frames show the cube here (the scene loss's target).
                objects[parsed.color] = [float(x) for x in w.cube_position(parsed.color)]
            frames.append(self.camera.render(w.data))
            states.append(w.joint_positions()[self._state_idx])
            target = self.expert.act()
            actions.append(target)
            if self.cfg.noise_std > 0:
                fresh = rng.standard_normal(len(noise)) * self.cfg.noise_std
                noise = keep * noise + np.sqrt(1.0 - keep * keep) * fresh * self._noisy
            w.set_targets(dict(zip(self.emb.action_joints, target + noise * self._noise_scale(
                step, first_success))))
            w.step(self.substeps)
            mujoco.mj_forward(w.model, w.data)  # current kinematics for success / rendering
            if first_success is None and w.success(parsed):
                first_success = step
                if nudge_step is None and self._hold_nudged(nudge_rng, parsed):
                    hold_nudge_step = step + int(round(nudge_rng.uniform(*HOLD_NUDGE_S) / dt))
            if first_success is not None and step - first_success >= hold_steps:
                break
        success = first_success is not None and w.success(parsed)
        return Demo(
            seed=int(seed), task=said.instruction, success=bool(success),
            states=np.asarray(states, dtype=np.float32),
            actions=np.asarray(actions, dtype=np.float32),
            frames=np.stack(frames),
            info={"first_success_step": first_success,
                  "goal_position": [float(x) for x in self.expert.goal],
                  "object_positions": objects,
                  **({"nudge": {"step": nudge_step, "offset": [float(x) for x in nudge]}}
                     if nudge_step is not None else {})},
        )

    def _hold_nudged(self, rng: np.random.Generator, task: Task) -> bool:
        """At the first landing: whether this episode's cube is moved during the hold."""
        c = self.cfg
        return (c.nudge_phase == "hold" and task.kind == "touch" and c.nudge_prob > 0
                and rng.random() < c.nudge_prob)

    def _shove_offset(self, rng: np.random.Generator, task: Task) -> np.ndarray | None:
        """A horizontal offset (3,) m moving the named cube away from the palm, to a spot the
        scene allows and without overlapping the hand; None if `NUDGE_DRAWS` find none. The cube
        is back where it was when this returns."""
        w = self.world
        cube = w.cube_position(task.color)
        away = (cube - w.palm_position(task.side))[:2]
        heading = float(np.arctan2(away[1], away[0]))
        for offset in self._allowed_offsets(rng, task.color, heading, (-np.pi / 3, np.pi / 3)):
            w.place_cube(task.color, cube + offset)
            clear = w.cube_overlap(task.color) < SHOVE_MAX_OVERLAP
            w.place_cube(task.color, cube)
            if clear:
                return offset
        return None

    def _nudge_plan(self, rng: np.random.Generator, task: Task) -> tuple[int | None, np.ndarray]:
        """(step, horizontal offset (3,) m) of this episode's descent nudge, or (None, zeros)."""
        c = self.cfg
        if task.kind != "touch" or c.nudge_prob <= 0 or c.nudge_phase != "descent":
            return None, np.zeros(3)
        if rng.random() >= c.nudge_prob:
            return None, np.zeros(3)
        at = self.expert.cfg.reach_time + rng.uniform(-0.2, 0.3)
        for offset in self._allowed_offsets(rng, task.color, 0.0, (0.0, 2.0 * np.pi)):
            return int(round(at / self.emb.action_dt)), offset
        return None, np.zeros(3)

    def _allowed_offsets(self, rng: np.random.Generator, color: str, heading: float,
                         spread: tuple[float, float]) -> Iterator[np.ndarray]:
        """Of `NUDGE_DRAWS` horizontal offsets (3,) m for the cube `color` (direction `heading`
        + U(spread) rad, length U(1/2, 1) * nudge_cm), those to spots the scene allows
        (`SimWorld.cube_spot_allowed`), lazily: a caller that stops early draws no more."""
        w = self.world
        cube = w.cube_position(color)
        others = [p for name, p in w.cube_positions().items() if name != color]
        for _ in range(NUDGE_DRAWS):
            angle = heading + rng.uniform(*spread)
            dist = rng.uniform(0.5, 1.0) * self.cfg.nudge_cm / 100.0
            offset = dist * np.array([np.cos(angle), np.sin(angle), 0.0])
            if w.cube_spot_allowed(cube + offset, others):
                yield offset

    def _nudge(self, color: str, offset: np.ndarray, duration: float | None = None) -> None:
        """Move the cube by `offset`, at rest, and let the expert re-plan for it (over
        `duration` s; default: `ScriptedExpert.retarget`'s)."""
        adr = self.world.cube_qvel_index(color)
        self.world.data.qvel[adr:adr + 6] = 0.0
        self.world.place_cube(color, self.world.cube_position(color) + offset)
        self.expert.retarget(duration)

    def _noise_scale(self, step: int, first_success: int | None) -> float:
        """1 until the first success, then down to 0 over ``noise_fade_s``."""
        if first_success is None or self.cfg.noise_fade_s <= 0:
            return 1.0
        elapsed = (step - first_success) * self.emb.action_dt
        return max(0.0, 1.0 - elapsed / self.cfg.noise_fade_s)

    def close(self) -> None:
        self.camera.close()


def collect(
    out: str | Path,
    episodes: int,
    seed: int,
    emb: EmbodimentConfig,
    *,
    cfg: CollectConfig | None = None,
    codec: str = "h264-lossless",
    max_attempts: int | None = None,
    overwrite: bool = False,
    progress: bool = True,
    workers: int = 1,
) -> dict:
    """Write ``episodes`` successful demonstrations from seeds ``seed, seed+1, ...``.

    Returns a summary {"episodes" (written), "interrupted", "attempts", "failed_seeds",
    "frames", "seconds", "first_seed", "codec", "config"}, also written to
    meta/collect.json. Raises ValueError if the seeds would reach the evaluation range,
    RuntimeError if fewer than ``episodes`` succeed within ``max_attempts`` (default
    2 * episodes + 10) seeds. A KeyboardInterrupt (Ctrl-C) after the first episode finishes
    the dataset with the episodes written (``interrupted`` True) unless ``overwrite`` (then
    the old dataset stays, as after any failure); the caller decides how to exit.

    ``workers`` > 1 records episodes in that many processes (each its own simulator and
    renderer) while this process encodes and writes them, in seed order: the dataset is the
    same as with one worker.
    """
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    max_attempts = max_attempts or 2 * episodes + 10
    if seed < 0 or seed + max_attempts > EVAL_SEED_START:
        raise ValueError(
            f"training seeds must lie in [0, {EVAL_SEED_START}) (evaluation uses seeds >= "
            f"{EVAL_SEED_START}); seed {seed} + up to {max_attempts} attempts crosses it"
        )
    recorder = DemoRecorder(emb, cfg)
    size, camera = recorder.image_size, recorder.camera_name
    expert_settings = asdict(recorder.expert.cfg)
    pool = None
    if workers > 1:
        recorder.close()  # the workers render; no GL context is needed here
        pool = multiprocessing.get_context("spawn").Pool(
            workers, initializer=_worker_init, initargs=(emb.to_dict(), emb.name, cfg or CollectConfig()))
        demos = pool.imap(_worker_record, range(seed, seed + max_attempts))
    else:
        demos = (recorder.record(s) for s in range(seed, seed + max_attempts))
    state_keys = [(k.key, list(k.joints)) for k in emb.state_keys]
    action_keys = [(k.key, list(k.joints)) for k in emb.action_keys]
    failed: list[int] = []
    frames = 0
    interrupted = False
    previous_sigint = None  # the SIGINT handler while an interrupted collection finishes
    start = time.perf_counter()
    try:
        with LeRobotWriter(out, fps=1.0 / emb.action_dt, state_keys=state_keys,
                           action_keys=action_keys, cameras=[c.name for c in emb.cameras],
                           image_shape=(size, size), robot_type=emb.name, codec=codec,
                           overwrite=overwrite,
                           progress_total=episodes if progress else None) as writer:
            s = seed
            try:
                while writer.num_episodes < episodes:
                    if s - seed >= max_attempts:
                        raise RuntimeError(
                            f"only {writer.num_episodes} of {episodes} episodes succeeded in "
                            f"{max_attempts} seeds (failed: {failed[:20]}...); check the expert"
                        )
                    demo = next(demos)
                    if demo.success:
                        writer.add_episode(
                            demo.states, demo.actions, {camera: demo.frames}, demo.task,
                            extra={"seed": demo.seed, "goal_position": demo.info["goal_position"],
                                   "object_positions": demo.info["object_positions"],
                                   **({"nudge": demo.info["nudge"]} if "nudge" in demo.info
                                      else {})})
                        frames += len(demo.states)
                    else:
                        failed.append(s)
                        logger.info("seed %d (%s) failed; skipped", s, demo.task)
                    s += 1
            except KeyboardInterrupt:
                # Ctrl-C keeps the episodes written (hours of rendering, on a big collection)
                # as a complete dataset of fewer episodes; an overwrite keeps the old one,
                # as it would after any failure before the new one was complete.
                if overwrite or not writer.num_episodes:
                    raise
                interrupted = True
                # A second Ctrl-C while the dataset is finished would discard it all.
                previous_sigint = signal.signal(signal.SIGINT, signal.SIG_IGN)
                logger.warning("interrupted: keeping the %d of %d episodes written (seeds %d "
                               "to %d)", writer.num_episodes, episodes, seed, s - 1)
    finally:
        if previous_sigint is not None:
            signal.signal(signal.SIGINT, previous_sigint)
        if pool is not None:
            pool.terminate()
            pool.join()
        else:
            recorder.close()
    summary = {"episodes": writer.num_episodes, "interrupted": interrupted,
               "attempts": s - seed, "failed_seeds": failed,
               "frames": frames, "seconds": time.perf_counter() - start,
               "first_seed": seed, "codec": codec, "config": asdict(cfg or CollectConfig()),
               "embodiment": emb.name, "expert": expert_settings}
    (Path(out) / "meta" / "collect.json").write_text(json.dumps(summary, indent=2))
    return summary


_WORKER_RECORDER: DemoRecorder | None = None


def _worker_init(emb: dict, source: str, cfg: CollectConfig) -> None:
    global _WORKER_RECORDER
    _WORKER_RECORDER = DemoRecorder(parse_embodiment(emb, source), cfg)


def _worker_record(seed: int) -> Demo:
    if _WORKER_RECORDER is None:
        raise RuntimeError("_worker_record runs only in collect()'s worker pool, after "
                           "_worker_init built the process's DemoRecorder")
    return _WORKER_RECORDER.record(seed)


def _default_embodiment() -> Path:
    here = Path(DEFAULT_EMBODIMENT)
    if here.is_file():
        return here
    repo = Path(__file__).resolve().parents[3] / DEFAULT_EMBODIMENT
    return repo if repo.is_file() else here


def _expert_flags(args: argparse.Namespace) -> dict[str, float]:
    """The expert settings given on the command line (the flags left unset are the robot's)."""
    given = {"touch_height": args.touch_height, "palm_roll_deg": args.palm_roll_deg,
             "waist_ik_scale": args.waist_ik_scale}
    return {k: v for k, v in given.items() if v is not None}


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="gr00t-collect",
        description="Record successful scripted-expert demonstrations in the MuJoCo tabletop "
        "as a LeRobot v2 dataset (GR00T modality.json + stats.json).",
    )
    p.add_argument("--episodes", type=int, required=True, help="successful episodes to write")
    p.add_argument("--seed", type=int, default=0,
                   help=f"first scene seed; training seeds must stay below {EVAL_SEED_START}")
    p.add_argument("--out", required=True, help="dataset directory to create")
    p.add_argument("--embodiment", default=None,
                   help=f"embodiment YAML (default: {DEFAULT_EMBODIMENT})")
    p.add_argument("--codec", default="h264-lossless", choices=["h264-lossless", "h264"],
                   help="video codec: bit-exact (default) or smaller yuv420p")
    p.add_argument("--hold-s", type=float, default=CollectConfig.hold_s,
                   help="seconds recorded after the first success")
    p.add_argument("--max-s", type=float, default=CollectConfig.max_s,
                   help="seconds before an episode counts as failed")
    p.add_argument("--noise-std", type=float, default=CollectConfig.noise_std,
                   help="rad; perturbation of the commanded waist and arm targets (0: none)")
    p.add_argument("--noise-fade-s", type=float, default=CollectConfig.noise_fade_s,
                   help="s; the perturbation fades to zero this long after the first success "
                   "(0: no fade)")
    p.add_argument("--nudge-prob", type=float, default=CollectConfig.nudge_prob,
                   help="fraction of touches whose cube is moved while the palm comes down, the "
                   "expert re-planning for it (0: none)")
    p.add_argument("--nudge-cm", type=float, default=CollectConfig.nudge_cm,
                   help="cm; how far such a cube moves (between half of it and all of it)")
    p.add_argument("--nudge-phase", default=CollectConfig.nudge_phase, choices=NUDGE_PHASES,
                   help="when the cube moves: while the palm comes down (default), or during the "
                   "hold, away from the palm, the expert landing again (give --max-s room)")
    robots = "default: the robot's (simulator.expert.params, else the expert's own)"
    p.add_argument("--touch-height", type=float, default=None,
                   help=f"m; the expert's palm target above the touched cube's centre ({robots})")
    p.add_argument("--palm-roll-deg", type=float, default=None,
                   help=f"deg; the expert's palm roll for touches, thumb side up, 0 flat ({robots})")
    p.add_argument("--waist-ik-scale", type=float, default=None,
                   help=f"how freely the expert's IK moves the waist, 1 like an arm joint ({robots})")
    p.add_argument("--tasks", default="all", choices=COLLECT_TASKS,
                   help="the eight tasks (default), or the three touches naming no hand "
                   "('touch the red cube'), each done with a hand drawn with the seed")
    p.add_argument("--max-attempts", type=int, default=None,
                   help="seeds to try before giving up (default: 2 * episodes + 10)")
    p.add_argument("--workers", type=int, default=1,
                   help="processes recording episodes (the dataset is the same for any number)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing dataset at --out, once the new one is complete")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    emb_path = Path(args.embodiment) if args.embodiment else _default_embodiment()
    if not emb_path.is_file():
        raise SystemExit(f"embodiment YAML {emb_path} not found; pass --embodiment PATH")
    summary = collect(
        args.out, args.episodes, args.seed, load_embodiment(emb_path),
        cfg=CollectConfig(hold_s=args.hold_s, max_s=args.max_s, noise_std=args.noise_std,
                          noise_fade_s=args.noise_fade_s, nudge_prob=args.nudge_prob,
                          nudge_cm=args.nudge_cm, nudge_phase=args.nudge_phase,
                          expert=_expert_flags(args), tasks=args.tasks),
        codec=args.codec, max_attempts=args.max_attempts,
        overwrite=args.overwrite, progress=not args.no_progress, workers=args.workers,
    )
    print(f"wrote {summary['episodes']} episodes ({summary['frames']} frames) to {args.out} "
          f"from {summary['attempts']} seeds ({len(summary['failed_seeds'])} failed) in "
          f"{summary['seconds']:.0f} s")
    if summary["interrupted"]:
        print(f"interrupted before {args.episodes}: the dataset holds the episodes above; "
              f"collect more into another --out (from --seed {args.seed + summary['attempts']})"
              " and train on both with a mixture file")
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
