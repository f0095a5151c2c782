"""``gr00t-eval``: closed-loop evaluation of a checkpoint on the MuJoCo G1 through the real graph.

    gr00t-eval --episodes 8 --seed 100000 [--checkpoint DIR] [--embodiment unitree_g1]
               [--episode-s 6] [--tasks all|touch|raise] [--json] [--video out.mp4]

The graph is the one `gr00t-bringup run --sim` starts (`build_graph(sim=True)`, one process per
node, supervised by `runner.GraphRunner`). This process is only a client on the ROS graph:
per episode k it uses seed = --seed + k, picks the task from the seed (`task_for_seed`),
disables System 1 (/gr00t/enable false), sets the simulator's `reset_seed` parameter and calls
/gr00t_sim/reset (new cube positions, arms at the rest pose), waits --settle-s, sends the
instruction through /gr00t/set_instruction, waits until /gr00t/embedding_tokens carries the
instruction's id, enables System 1 and lets the policy act for --episode-s seconds.

Success uses gr00t_sim.world's criterion (`G1World.success`): touch = the named palm within
`TOUCH_RADIUS` of the named cube's centre, raise = the named palm at least `RAISE_HEIGHT` above
that side's shoulder pitch joint. It is evaluated on every /gr00t_sim/state sample of the
episode (25 Hz; the shoulder height comes from /joint_states through the same MuJoCo model), and
an episode counts as a success when the criterion held at ANY sample; the rate at the last
sample is reported too ("at end").

Rates and latencies are measured while System 1 is enabled: System 1 commands (messages on the
first controller topic), replans (/gr00t/action_chunk), System 2 tokens, the inference latencies
both nodes put in their messages, and the token age at planning (the chunk's joint-state stamp
minus the camera stamp of the newest tokens, both in the simulator's time base).

Seeds: training data uses seeds < 100000 (gr00t_sim.collect), so evaluation starts at 100000.
Exit status: 0 when the episodes were measured (whatever the success rate), 1 when the graph
failed (a node died, a service or topic never came), 2 on bad arguments or a missing
checkpoint, 3 when a node's executable is not installed.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import queue
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_GRAPH_FAILED = 1
EXIT_BAD_ARGS = 2
EXIT_MISSING_EXECUTABLE = 3

DEFAULT_SEED = 100_000  # training seeds are < 100000
TASK_SETS = ("all", "touch", "raise")
STATE_SIZE = 17  # /gr00t_sim/state: t, red, green, blue, left palm, right palm xyz, seed
_CUBE_OFFSET = {"red": 1, "green": 4, "blue": 7}
_PALM_OFFSET = {"left": 10, "right": 13}
_SEED_INDEX = 16
SETTLE_TOLERANCE_M = 0.02  # palms at rest after a reset move less than this while settling
SUCCESS_DEFINITION = (
    "gr00t_sim.world criterion (touch: named palm within {touch:.2f} m of the named cube's "
    "centre; raise: named palm >= {raise_:.2f} m above that side's shoulder pitch joint), "
    "checked on every /gr00t_sim/state sample (25 Hz); success = held at ANY sample of the "
    "episode, at_end = held at its last sample")


class GraphFailed(RuntimeError):
    """The graph did not do what an episode needs (a node died, a service or topic timed out)."""


# ---------------------------------------------------------------------------------------------
# Tasks and scoring (ROS-free)
# ---------------------------------------------------------------------------------------------

def task_list(which: str = "all") -> list[str]:
    """The instructions evaluated: all eight, the six touch tasks, or the two raise tasks."""
    from gr00t_sim.world import all_instructions

    if which not in TASK_SETS:
        raise ValueError(f"--tasks {which!r} is unknown; use one of {list(TASK_SETS)}")
    tasks = all_instructions()
    if which == "all":
        return tasks
    return [t for t in tasks if t.startswith(which)]


def task_for_seed(seed: int, tasks: Sequence[str]) -> str:
    """The task of the episode with `seed`: tasks[seed % len(tasks)].

    Consecutive seeds cycle through `tasks`, so len(tasks) consecutive episodes cover each task
    once, and an episode's task depends on its seed alone.
    """
    if not tasks:
        raise ValueError("tasks is empty; pass at least one instruction")
    if seed < 0:
        raise ValueError(f"seed={seed} must be >= 0")
    return tasks[seed % len(tasks)]


def task_margin(task: Any, state: np.ndarray, shoulder_z: np.ndarray) -> float:
    """How far the task is from its threshold at one state sample.

    touch: palm-to-cube distance in m (success when <= TOUCH_RADIUS);
    raise: palm height above the shoulder pitch joint in m (success when >= RAISE_HEIGHT).
    `state` is one /gr00t_sim/state vector (17,), `shoulder_z` the shoulder pitch joints' world
    z (2,) in gr00t_sim.world.SIDES order (left, right).
    """
    from gr00t_sim.world import SIDES

    state = np.asarray(state, dtype=np.float64)
    if state.shape != (STATE_SIZE,):
        raise ValueError(f"state has shape {state.shape}; a /gr00t_sim/state vector has "
                         f"{STATE_SIZE} values")
    p = _PALM_OFFSET[task.side]
    palm = state[p:p + 3]  # (3,)
    if task.kind == "touch":
        c = _CUBE_OFFSET[task.color]
        return float(np.linalg.norm(palm - state[c:c + 3]))
    return float(palm[2] - float(np.asarray(shoulder_z)[SIDES.index(task.side)]))


def success_at(task: Any, state: np.ndarray, shoulder_z: np.ndarray) -> bool:
    """gr00t_sim.world's success criterion (G1World.success) on one state sample."""
    from gr00t_sim.world import RAISE_HEIGHT, TOUCH_RADIUS

    margin = task_margin(task, state, shoulder_z)
    return margin <= TOUCH_RADIUS if task.kind == "touch" else margin >= RAISE_HEIGHT


@dataclass(frozen=True)
class EpisodeScore:
    """The score of one episode from its state samples.

    success: the criterion held at any sample; success_at_end: at the last one;
    first_success_s: t_since_reset of the first successful sample (None if none);
    best: the best margin (touch: smallest distance, raise: largest height; None if no
    samples); samples: how many samples were scored.
    """

    success: bool
    success_at_end: bool
    first_success_s: float | None
    best: float | None
    samples: int


def score_episode(instruction: str, states: np.ndarray, shoulder_z: np.ndarray,
                  seed: int | None = None) -> EpisodeScore:
    """Score a recorded /gr00t_sim/state sequence for `instruction`.

    states: (T, 17) samples in arrival order; shoulder_z: (T, 2) shoulder pitch joint heights
    (left, right) at those samples. With `seed`, samples whose seed field differs (sent before
    the episode's reset) are ignored.
    """
    from gr00t_sim.world import Task

    task = Task.parse(instruction)
    states = np.asarray(states, dtype=np.float64).reshape(-1, STATE_SIZE)  # (T, 17)
    shoulder_z = np.asarray(shoulder_z, dtype=np.float64).reshape(-1, 2)  # (T, 2)
    if len(states) != len(shoulder_z):
        raise ValueError(f"states has {len(states)} samples but shoulder_z has "
                         f"{len(shoulder_z)}; pass one shoulder height pair per sample")
    if seed is not None:
        keep = states[:, _SEED_INDEX] == float(seed)
        states, shoulder_z = states[keep], shoulder_z[keep]
    if len(states) == 0:
        return EpisodeScore(False, False, None, None, 0)
    ok = [success_at(task, s, z) for s, z in zip(states, shoulder_z)]
    margins = [task_margin(task, s, z) for s, z in zip(states, shoulder_z)]
    first = next((float(states[i, 0]) for i, v in enumerate(ok) if v), None)
    best = min(margins) if task.kind == "touch" else max(margins)
    return EpisodeScore(any(ok), ok[-1], first, float(best), len(states))


class ShoulderHeights:
    """World z of both shoulder pitch joints for a JointState, through the simulator's model."""

    def __init__(self) -> None:
        import mujoco

        from gr00t_sim.world import SIDES, G1World

        self._mujoco = mujoco
        self.world = G1World()
        self._sides = SIDES
        self._adr: dict[tuple[str, ...], tuple[np.ndarray, np.ndarray]] = {}

    def __call__(self, names: Sequence[str], positions: Sequence[float]) -> np.ndarray:
        """(2,) shoulder z (left, right) with the named robot joints at `positions`."""
        key = tuple(names)
        if key not in self._adr:
            known = set(self.world.robot_joints)
            idx = [i for i, n in enumerate(key) if n in known]
            self._adr[key] = (np.array(idx, dtype=np.int64),
                              self.world.qpos_index([key[i] for i in idx]))
        src, dst = self._adr[key]
        d = self.world.data
        d.qpos[dst] = np.asarray(positions, dtype=np.float64)[src]
        self._mujoco.mj_kinematics(self.world.model, d)
        return np.array([self.world.shoulder_position(s)[2] for s in self._sides])


# ---------------------------------------------------------------------------------------------
# Statistics and the report (ROS-free)
# ---------------------------------------------------------------------------------------------

def percentiles_ms(values_s: Sequence[float]) -> dict[str, float | int | None]:
    """p50/p90/p99/max/mean in ms of values in seconds, and their count n."""
    v = np.asarray([x for x in values_s if math.isfinite(x)], dtype=np.float64) * 1e3
    if v.size == 0:
        return {"p50": None, "p90": None, "p99": None, "max": None, "mean": None, "n": 0}
    p50, p90, p99 = np.percentile(v, [50, 90, 99])
    return {"p50": round(float(p50), 3), "p90": round(float(p90), 3),
            "p99": round(float(p99), 3), "max": round(float(v.max()), 3),
            "mean": round(float(v.mean()), 3), "n": int(v.size)}


@dataclass
class EpisodeResult:
    """One episode as reported."""

    episode: int
    seed: int
    instruction: str
    instruction_id: int
    success: bool
    success_at_end: bool
    first_success_s: float | None
    best: float | None
    best_kind: str  # "min_distance_m" (touch) | "max_height_m" (raise)
    samples: int
    run_s: float  # wall seconds System 1 was enabled
    sim_s: float  # simulated seconds System 1 was enabled
    real_time_factor: float  # sim_s / run_s
    wait_tokens_s: float  # from the instruction request to tokens carrying its id
    settle_drift_m: float  # how far a palm moved between the reset and the instruction


def per_task(episodes: Sequence[EpisodeResult], tasks: Sequence[str]) -> dict[str, dict]:
    """{instruction: {episodes, successes, success_rate, successes_at_end, success_rate_at_end}}
    for every task in `tasks` (rates are None for a task with no episode)."""
    out = {}
    for t in tasks:
        eps = [e for e in episodes if e.instruction == t]
        n, k, k_end = len(eps), sum(e.success for e in eps), sum(e.success_at_end for e in eps)
        out[t] = {"episodes": n, "successes": k, "success_rate": k / n if n else None,
                  "successes_at_end": k_end, "success_rate_at_end": k_end / n if n else None}
    return out


def format_report(r: dict[str, Any]) -> str:
    """The human-readable tables of a result dict (see `Evaluation.result`)."""
    def pct(x: float | None) -> str:
        return "  n/a" if x is None else f"{100 * x:4.0f}%"

    def num(x: float | None, fmt: str = "{:7.1f}") -> str:
        return "    n/a" if x is None else fmt.format(x)

    lines = [f"gr00t-eval: {r['episodes']} episode(s), seeds {r['seed']}..."
             f"{r['seed'] + r['episodes'] - 1}, {r['episode_s']:g} s each; checkpoint "
             f"{r['checkpoint']}; embodiment {r['embodiment']}; backend {r['backend']}",
             f"success: {r['success_definition']}", "",
             f"{'ep':>3} {'seed':>7}  {'task':<42} {'success':>7} {'at end':>6}  best"]
    for e in r["episodes_detail"]:
        best = ("n/a" if e["best"] is None else
                f"{'min dist' if e['best_kind'] == 'min_distance_m' else 'max height'} "
                f"{e['best']:.3f} m")
        when = f" (at {e['first_success_s']:.1f} s)" if e["first_success_s"] is not None else ""
        lines.append(f"{e['episode']:>3} {e['seed']:>7}  {e['instruction']:<42} "
                     f"{'yes' if e['success'] else 'no':>7} "
                     f"{'yes' if e['success_at_end'] else 'no':>6}  {best}{when}")
    lines += ["", f"{'task':<42} {'episodes':>8} {'success':>9} {'at end':>9}"]
    for t, s in r["per_task"].items():
        lines.append(f"{t:<42} {s['episodes']:>8} {s['successes']:>3} {pct(s['success_rate'])} "
                     f"{s['successes_at_end']:>3} {pct(s['success_rate_at_end'])}")
    o = r["overall"]
    lines.append(f"{'overall':<42} {o['episodes']:>8} {o['successes']:>3} "
                 f"{pct(o['success_rate'])} {o['successes_at_end']:>3} "
                 f"{pct(o['success_rate_at_end'])}")
    rt = r["rates"]
    d1, d2 = rt["diagnostics"]["system1"], rt["diagnostics"]["system2"]
    lines += ["", f"rates while System 1 was enabled ({rt['enabled_s']:.1f} s wall, "
                  f"{rt['enabled_sim_s']:.1f} s simulated: real-time factor "
                  f"{rt['sim_real_time_factor']:.2f}; rates per wall second):",
              f"  System 1 commands  {num(rt['system1_command_hz'])} Hz   on "
              f"{rt['command_topic']} (target {rt['system1_target_hz']:g} Hz; "
              f"{rt['system1_command_hz_sim']:.1f} per simulated second)",
              f"  System 1 replans   {num(rt['system1_replans_hz'])} /s   /gr00t/action_chunk"
              f"  (diagnostics replans_per_s: {d1.get('replans_per_s', 'n/a')})",
              f"  System 2 tokens    {num(rt['system2_hz'])} Hz   /gr00t/embedding_tokens"
              f"  (diagnostics achieved_rate_hz: {d2.get('achieved_rate_hz', 'n/a')})",
              "", f"latency (ms){'':<31} {'p50':>7} {'p90':>7} {'p99':>7} {'max':>7} {'n':>6}"]
    names = {"system2_inference": "System 2 inference (EmbeddingTokens)",
             "system1_inference": "System 1 inference (ActionChunk)",
             "token_age_at_plan": "token age at System 1 planning"}
    for key, label in names.items():
        p = r["latency_ms"][key]
        lines.append(f"  {label:<41} {num(p['p50'])} {num(p['p90'])} {num(p['p99'])} "
                     f"{num(p['max'])} {p['n']:>6}")
    if "state_to_command_p99_ms" in d1:
        lines.append(f"  System 1 state->command (diagnostics): median "
                     f"{d1.get('state_to_command_median_ms')} p99 "
                     f"{d1.get('state_to_command_p99_ms')}")
    lines.append(f"\nwall time {r['wall_s']:.1f} s (graph start-up {r['startup_s']:.1f} s)")
    if r.get("video"):
        lines.append(f"video: {r['video']['path']} ({r['video']['frames']} frames at "
                     f"{r['video']['fps']} fps)")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Video (head camera + instruction overlay)
# ---------------------------------------------------------------------------------------------

class VideoRecorder:
    """Writes overlaid head-camera frames to an mp4 (imageio-ffmpeg) from a thread of its own.

    Frames are placed on a constant `fps` time line by their header stamps (simulated time),
    repeating the previous frame over gaps, so the video plays at the simulator's speed.
    """

    SCALE = 2  # 224 -> 448 so that the text is readable

    def __init__(self, path: Path, fps: int = 30, max_gap_s: float = 1.0) -> None:
        import imageio_ffmpeg

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fps = fps
        self.max_gap = int(max_gap_s * fps)
        self.frames = 0
        self.dropped = 0
        self.error: str | None = None
        self._imageio_ffmpeg = imageio_ffmpeg
        self._queue: queue.Queue = queue.Queue(maxsize=120)
        self._writer = None
        self._t0: float | None = None
        self._thread = threading.Thread(target=self._run, name="gr00t-eval-video", daemon=True)
        self._thread.start()

    def submit(self, rgb: np.ndarray, stamp_s: float, lines: Sequence[tuple[str, tuple]]) -> None:
        """Queue one (H, W, 3) RGB frame with text lines [(text, rgb colour)]; drops when full."""
        try:
            self._queue.put_nowait((rgb, stamp_s, list(lines)))
        except queue.Full:
            self.dropped += 1

    def _overlay(self, rgb: np.ndarray, lines: Sequence[tuple[str, tuple]]) -> np.ndarray:
        import cv2

        img = cv2.resize(rgb, None, fx=self.SCALE, fy=self.SCALE,
                         interpolation=cv2.INTER_LINEAR)  # (2H, 2W, 3)
        band = 22 * len(lines) + 8
        img[:band] = (img[:band].astype(np.float32) * 0.35).astype(np.uint8)
        for i, (text, colour) in enumerate(lines):
            cv2.putText(img, text, (8, 22 + 22 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1,
                        cv2.LINE_AA)
        return img

    def _run(self) -> None:
        try:
            self._write_loop()
        except Exception as exc:  # noqa: BLE001 - reported by close(), the evaluation goes on
            self.error = f"{type(exc).__name__}: {exc}"
            log.error("video %s: writing stopped: %s", self.path, self.error)
            while self._queue.get() is not None:  # drain so that close() returns
                pass

    def _write_loop(self) -> None:
        last: np.ndarray | None = None
        while True:
            item = self._queue.get()
            if item is None:
                break
            rgb, stamp, lines = item
            if self._t0 is None:
                self._t0 = stamp
            target = int(round((stamp - self._t0) * self.fps))  # this frame's slot
            if target < self.frames:
                continue  # its slot is taken: frames came faster than fps
            frame = np.ascontiguousarray(self._overlay(rgb, lines))  # (2H, 2W, 3)
            if self._writer is None:
                h, w = frame.shape[:2]
                self._writer = self._imageio_ffmpeg.write_frames(
                    str(self.path), (w, h), fps=self.fps, macro_block_size=16,
                    ffmpeg_log_level="error", output_params=["-preset", "veryfast"])
                self._writer.send(None)
            gap = target - self.frames
            if gap > self.max_gap:  # a long pause (between episodes): cut it short
                self._t0 += (gap - self.max_gap) / self.fps
                gap = self.max_gap
            for _ in range(gap):  # hold the previous frame over the gap
                self._writer.send(last if last is not None else frame)
            self._writer.send(frame)
            self.frames += gap + 1
            last = frame

    def close(self) -> dict[str, Any]:
        """Flush and close the file; returns {path, frames, fps, dropped_frames, error}."""
        self._queue.put(None)
        self._thread.join(timeout=60.0)
        if self._writer is not None:
            self._writer.close()
        return {"path": str(self.path), "frames": self.frames, "fps": self.fps,
                "dropped_frames": self.dropped, "error": self.error}


# ---------------------------------------------------------------------------------------------
# The evaluation client (ROS)
# ---------------------------------------------------------------------------------------------

@dataclass
class _Window:
    """What the subscriptions record into while an episode runs."""

    episode: int
    seed: int
    instruction: str
    task: Any
    enabled: bool = False
    success: bool = False
    sim_t: float | None = None  # t_since_reset of the newest state sample of this seed
    first_palms: np.ndarray | None = None  # (6,) both palms at the first sample after reset
    last_palms: np.ndarray | None = None  # (6,) both palms at the newest sample
    states: list[np.ndarray] = field(default_factory=list)
    shoulder_z: list[np.ndarray] = field(default_factory=list)


class Evaluation:
    """Drives the episodes through a started graph and measures what the nodes do.

    `graph` is the `Graph` the `runner` (a started `GraphRunner`) runs; `probe` a
    `gr00t_bringup.testing.RosProbe`-style node with its own context and spinning thread.
    """

    def __init__(self, graph: Any, runner: Any, probe: Any, *, tasks: Sequence[str],
                 episode_s: float, settle_s: float, timeout_s: float,
                 video: VideoRecorder | None = None) -> None:
        from diagnostic_msgs.msg import DiagnosticArray
        from rcl_interfaces.srv import SetParameters
        from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import Image, JointState
        from std_msgs.msg import Float64MultiArray
        from std_srvs.srv import SetBool, Trigger

        from gr00t_msgs.msg import ActionChunk, EmbeddingTokens
        from gr00t_msgs.srv import SetInstruction

        self.graph, self.runner, self.probe = graph, runner, probe
        self.tasks = list(tasks)
        self.episode_s, self.settle_s, self.timeout_s = episode_s, settle_s, timeout_s
        self.video = video
        self.shoulders = ShoulderHeights()
        self._lock = threading.Lock()
        self.window: _Window | None = None
        self.phase = "starting"
        # Counters over the enabled windows.
        self.enabled_s = 0.0
        self.enabled_sim_s = 0.0
        self.n_commands = self.n_chunks = self.n_tokens = 0
        self.s1_latency: list[float] = []
        self.s2_latency: list[float] = []
        self.token_age: list[float] = []
        self.tokens_seen = 0
        self.last_tokens: tuple[int, float] | None = None  # (instruction_id, camera stamp s)
        self.joint_state: Any = None
        self.diagnostics: dict[str, dict[str, str]] = {"system1": {}, "system2": {}}

        emb = graph.embodiment
        node = probe.node
        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE,
                              history=HistoryPolicy.KEEP_LAST)
        forward = [c for c in emb.controllers if c.type == "forward_command"]
        if not forward:
            raise ValueError(f"embodiment {emb.name} has no forward_command controller; the "
                             "simulator only serves forward_command controllers")
        self.command_topic = forward[0].topic
        node.create_subscription(Float64MultiArray, self.command_topic, self._on_command,
                                 reliable)
        node.create_subscription(ActionChunk, "/gr00t/action_chunk", self._on_chunk, reliable)
        node.create_subscription(EmbeddingTokens, "/gr00t/embedding_tokens", self._on_tokens,
                                 QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE))
        node.create_subscription(Float64MultiArray, "/gr00t_sim/state", self._on_state, reliable)
        node.create_subscription(JointState, "/joint_states", self._on_joint_state,
                                 QoSProfile(depth=5, reliability=ReliabilityPolicy.BEST_EFFORT))
        node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 10)
        if video is not None:
            node.create_subscription(Image, "/camera/head/image_raw", self._on_image,
                                     QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE))
        sim = next(n for n in graph.nodes if n.package == "gr00t_sim")
        self.sim_params_service = f"{sim.namespace}/{sim.name}/set_parameters"
        self.clients = {
            "reset": node.create_client(Trigger, "/gr00t_sim/reset"),
            "params": node.create_client(SetParameters, self.sim_params_service),
            "enable": node.create_client(SetBool, "/gr00t/enable"),
            "instruction": node.create_client(SetInstruction, "/gr00t/set_instruction"),
        }
        self._types = {"Trigger": Trigger, "SetBool": SetBool, "SetParameters": SetParameters,
                       "SetInstruction": SetInstruction}

    # -- subscriptions (probe thread) --------------------------------------------------------
    def _on_command(self, msg: Any) -> None:
        with self._lock:
            if self.window is not None and self.window.enabled:
                self.n_commands += 1

    def _on_chunk(self, msg: Any) -> None:
        with self._lock:
            if self.window is None or not self.window.enabled:
                return
            self.n_chunks += 1
            self.s1_latency.append(float(msg.inference_latency))
            if self.last_tokens is not None:
                age = _stamp_s(msg.header.stamp) - self.last_tokens[1]
                if -1.0 < age < 5.0:  # both stamps in the simulator's time base
                    self.token_age.append(age)

    def _on_tokens(self, msg: Any) -> None:
        with self._lock:
            self.tokens_seen += 1
            self.last_tokens = (int(msg.instruction_id), _stamp_s(msg.header.stamp))
            if self.window is not None and self.window.enabled:
                self.n_tokens += 1
                self.s2_latency.append(float(msg.inference_latency))

    def _on_joint_state(self, msg: Any) -> None:
        self.joint_state = msg

    def _on_state(self, msg: Any) -> None:
        state = np.asarray(msg.data, dtype=np.float64)
        js = self.joint_state
        with self._lock:
            w = self.window
            if (w is None or state.shape != (STATE_SIZE,)
                    or int(state[_SEED_INDEX]) != w.seed or js is None):
                return
        z = self.shoulders(js.name, js.position)  # (2,)
        with self._lock:
            if self.window is w:
                w.sim_t = float(state[0])
                w.last_palms = state[10:16].copy()  # (6,) left, right palm xyz
                if w.first_palms is None:
                    w.first_palms = w.last_palms
            if self.window is w and w.enabled:
                w.states.append(state)
                w.shoulder_z.append(z)
                w.success = w.success or success_at(w.task, state, z)

    def _on_diagnostics(self, msg: Any) -> None:
        for status in msg.status:
            key = ("system1" if status.name.startswith("gr00t_system1") else
                   "system2" if status.name.startswith("gr00t_system2") else None)
            if key is None:
                continue
            with self._lock:
                if self.window is not None and self.window.enabled:
                    self.diagnostics[key] = {kv.key: kv.value for kv in status.values}

    def _on_image(self, msg: Any) -> None:
        rgb = np.frombuffer(msg.data, np.uint8).reshape(msg.height, msg.width, 3)  # (H, W, 3)
        with self._lock:
            w, phase = self.window, self.phase
        if w is None:
            return
        status = {"reset": ((255, 255, 0), "resetting / settling"),
                  "instruct": ((255, 255, 0), "waiting for System 2 tokens"),
                  "running": ((255, 255, 255), "System 1 enabled")}.get(phase)
        if status is None:
            return
        colour, text = status
        lines = [(w.instruction, (255, 255, 255)),
                 (f"episode {w.episode}  seed {w.seed}  {text}", colour)]
        if w.success:
            lines.append(("SUCCESS", (0, 255, 0)))
        self.video.submit(rgb, _stamp_s(msg.header.stamp), lines)

    # -- waiting with the graph's health in view ---------------------------------------------
    def check_graph(self) -> None:
        """Raise GraphFailed naming a node that exited, with its last output lines."""
        for c in self.runner.children:
            if c.proc.poll() is not None:
                tail = "\n".join(f"    {line}" for line in list(c.tail)[-15:]) or "    (none)"
                raise GraphFailed(f"node {c.spec.name!r} exited with code "
                                  f"{c.proc.returncode}; its last output:\n{tail}")

    def wait(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            self.check_graph()
            if time.monotonic() > deadline:
                raise GraphFailed(f"timed out after {timeout:g} s waiting for {what}")
            time.sleep(0.02)

    def call(self, name: str, request: Any, what: str) -> Any:
        client = self.clients[name]
        self.wait(client.service_is_ready, self.timeout_s, f"service {client.srv_name}")
        future = client.call_async(request)
        self.wait(future.done, self.timeout_s, f"a reply from {client.srv_name} ({what})")
        return future.result()

    # -- the run -------------------------------------------------------------------------------
    def wait_ready(self, startup_timeout: float) -> None:
        """Every service up and System 2 publishing tokens."""
        for client in self.clients.values():
            self.wait(client.service_is_ready, startup_timeout, f"service {client.srv_name}")
        self.wait(lambda: self.tokens_seen > 0, startup_timeout,
                  "the first /gr00t/embedding_tokens (System 2 needs the head camera)")

    def set_enabled(self, enabled: bool) -> None:
        reply = self.call("enable", self._types["SetBool"].Request(data=enabled),
                          f"enable {enabled}")
        if not reply.success:
            raise GraphFailed(f"/gr00t/enable {enabled} was refused: {reply.message}")

    def reset_sim(self, seed: int) -> str:
        from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue

        req = self._types["SetParameters"].Request(parameters=[Parameter(
            name="reset_seed", value=ParameterValue(type=ParameterType.PARAMETER_INTEGER,
                                                    integer_value=int(seed)))])
        reply = self.call("params", req, f"reset_seed {seed}")
        if not reply.results or not reply.results[0].successful:
            reason = reply.results[0].reason if reply.results else "no result"
            raise GraphFailed(f"{self.sim_params_service} refused reset_seed={seed}: {reason}")
        reply = self.call("reset", self._types["Trigger"].Request(), f"seed {seed}")
        if not reply.success or not reply.message.startswith(f"seed {seed};"):
            raise GraphFailed(f"/gr00t_sim/reset did not reset with seed {seed}: "
                              f"{reply.message!r}")
        return reply.message

    def run_episode(self, episode: int, seed: int) -> EpisodeResult:
        from gr00t_sim.world import Task

        instruction = task_for_seed(seed, self.tasks)
        task = Task.parse(instruction)
        window = _Window(episode, seed, instruction, task)
        self.set_enabled(False)
        time.sleep(0.2)  # commands already in flight land before the reset
        with self._lock:
            self.window, self.phase = window, "reset"
        reply = self.reset_sim(seed)
        log.info("episode %d: reset: %s", episode, reply)
        time.sleep(self.settle_s)  # the reset puts the arms at rest; let the cubes settle
        self.wait(lambda: window.sim_t is not None, self.timeout_s,
                  f"a /gr00t_sim/state sample with seed {seed}")
        with self._lock:
            self.phase = "instruct"
            drift = float(np.abs(window.last_palms - window.first_palms).max())
        if drift > SETTLE_TOLERANCE_M:
            log.warning("episode %d: the palms moved %.3f m while settling after the reset "
                        "(rest pose expected)", episode, drift)
        t0 = time.monotonic()
        answer = self.call("instruction",
                           self._types["SetInstruction"].Request(instruction=instruction),
                           instruction)
        if not answer.accepted:
            raise GraphFailed(f"System 2 refused {instruction!r}: {answer.message}")
        iid = int(answer.instruction_id)
        self.wait(lambda: self.last_tokens is not None and self.last_tokens[0] == iid,
                  self.timeout_s, f"tokens with instruction_id {iid}")
        wait_tokens = time.monotonic() - t0
        self.set_enabled(True)
        start = time.monotonic()
        with self._lock:
            window.enabled, self.phase = True, "running"
            sim_start = window.sim_t
        # The episode lasts episode_s of simulated time (the simulator may run slower than
        # the wall clock on a loaded machine).
        self.wait(lambda: window.sim_t - sim_start >= self.episode_s,
                  self.episode_s * 4 + self.timeout_s, f"{self.episode_s:g} s of simulated time")
        with self._lock:
            window.enabled = False
            self.phase = "done"
            run_s = time.monotonic() - start
            sim_s = window.sim_t - sim_start
            self.enabled_s += run_s
            self.enabled_sim_s += sim_s
        self.set_enabled(False)
        score = score_episode(instruction, np.array(window.states).reshape(-1, STATE_SIZE),
                              np.array(window.shoulder_z).reshape(-1, 2), seed)
        if score.samples == 0:
            raise GraphFailed(f"episode {episode}: no /gr00t_sim/state sample with seed {seed} "
                              f"arrived in {run_s:.1f} s")
        return EpisodeResult(
            episode=episode, seed=seed, instruction=instruction, instruction_id=iid,
            success=score.success, success_at_end=score.success_at_end,
            first_success_s=score.first_success_s, best=score.best,
            best_kind="min_distance_m" if task.kind == "touch" else "max_height_m",
            samples=score.samples, run_s=round(run_s, 3), sim_s=round(sim_s, 3),
            real_time_factor=round(sim_s / max(run_s, 1e-9), 3),
            wait_tokens_s=round(wait_tokens, 3), settle_drift_m=round(drift, 4))

    def measurements(self) -> dict[str, Any]:
        """Rates and latency percentiles over the enabled windows so far."""
        with self._lock:
            t = max(self.enabled_s, 1e-9)
            emb = self.graph.embodiment
            return {
                "rates": {
                    "enabled_s": round(self.enabled_s, 3),
                    "enabled_sim_s": round(self.enabled_sim_s, 3),
                    "sim_real_time_factor": round(self.enabled_sim_s / t, 3),
                    "command_topic": self.command_topic,
                    "system1_target_hz": float(emb.rates.system1_hz),
                    "system1_command_hz": round(self.n_commands / t, 2),
                    # Commands per simulated second (the world's pace when physics lags):
                    "system1_command_hz_sim": round(self.n_commands
                                                    / max(self.enabled_sim_s, 1e-9), 2),
                    "system1_replans_hz": round(self.n_chunks / t, 2),
                    "system2_hz": round(self.n_tokens / t, 2),
                    "system2_target_hz": float(emb.rates.system2_hz),
                    "counts": {"commands": self.n_commands, "action_chunks": self.n_chunks,
                               "embedding_tokens": self.n_tokens},
                    "diagnostics": {k: dict(v) for k, v in self.diagnostics.items()},
                },
                "latency_ms": {
                    "system2_inference": percentiles_ms(self.s2_latency),
                    "system1_inference": percentiles_ms(self.s1_latency),
                    "token_age_at_plan": percentiles_ms(self.token_age),
                },
            }


def _stamp_s(stamp: Any) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------

def _parser() -> argparse.ArgumentParser:
    from gr00t_bringup.graph import BACKENDS, DEFAULT_BACKEND, DEFAULT_EMBODIMENT

    p = argparse.ArgumentParser(prog="gr00t-eval", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--episodes", type=int, default=8, help="number of episodes (default 8)")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED,
                   help=f"seed of episode 0; episode k uses seed + k (default {DEFAULT_SEED}; "
                        "training uses seeds < 100000)")
    p.add_argument("--checkpoint", default=None,
                   help="gr00t_ros checkpoint directory (default: checkpoints/nano)")
    p.add_argument("--embodiment", default=DEFAULT_EMBODIMENT,
                   help=f"embodiment name or YAML path (default {DEFAULT_EMBODIMENT})")
    p.add_argument("--backend", default=DEFAULT_BACKEND, choices=BACKENDS,
                   help=f"System 1 backend (default {DEFAULT_BACKEND})")
    p.add_argument("--episode-s", type=float, default=6.0,
                   help="seconds System 1 acts per episode (default 6)")
    p.add_argument("--settle-s", type=float, default=0.5,
                   help="seconds between the reset and the instruction (default 0.5)")
    p.add_argument("--tasks", default="all", choices=TASK_SETS,
                   help="which tasks to cycle through (default all eight)")
    p.add_argument("--use-sim-time", action=argparse.BooleanOptionalAction, default=False,
                   help="System 1 and 2 run on the simulator's /clock (default off: the "
                        "simulator stamps with the wall clock like a robot; episodes are "
                        "timed in simulated seconds either way)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    p.add_argument("--json-out", type=Path, default=None, metavar="PATH",
                   help="also write the JSON object to PATH")
    p.add_argument("--video", type=Path, default=None, metavar="PATH",
                   help="save the head camera with the instruction overlaid as an mp4")
    p.add_argument("--log-dir", type=Path, default=None,
                   help="keep the nodes' output and parameter files in DIR (default: a "
                        "temporary directory, removed afterwards)")
    p.add_argument("--startup-timeout", type=float, default=240.0,
                   help="seconds to wait for the nodes to come up (default 240)")
    p.add_argument("--timeout", type=float, default=60.0,
                   help="seconds to wait for a service reply or the episode's tokens "
                        "(default 60)")
    return p


def _check_args(args: argparse.Namespace) -> None:
    if args.episodes < 1:
        raise ValueError(f"--episodes {args.episodes}: run at least 1 episode")
    if args.seed < 0:
        raise ValueError(f"--seed {args.seed} must be >= 0 (evaluation uses >= 100000)")
    for name in ("episode_s", "startup_timeout", "timeout"):
        value = getattr(args, name)
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"--{name.replace('_', '-')} {value} must be a number > 0")
    if not (math.isfinite(args.settle_s) and args.settle_s >= 0):
        raise ValueError(f"--settle-s {args.settle_s} must be >= 0")
    if args.video is not None and args.video.suffix.lower() != ".mp4":
        raise ValueError(f"--video {args.video}: the file name must end in .mp4")


def build_eval_graph(args: argparse.Namespace) -> Any:
    """build_graph(sim=True) for the arguments; GraphError says how to get a checkpoint."""
    from gr00t_bringup.graph import GraphError, build_graph

    try:
        return build_graph(embodiment=args.embodiment, checkpoint=args.checkpoint,
                           backend=args.backend, sim=True, use_sim_time=args.use_sim_time)
    except GraphError as exc:
        if args.checkpoint is None:
            raise GraphError(
                f"{exc}. No trained checkpoint has been committed at checkpoints/nano yet; "
                "until then pass --checkpoint DIR (./scripts/demo.sh makes an UNTRAINED random "
                "one under artifacts/)") from exc
        raise


def evaluate(args: argparse.Namespace, graph: Any, work_dir: Path, out: TextIO) -> dict:
    """Start the graph, run the episodes, stop the graph; returns the result dict.

    Raises GraphFailed (the graph failed) or runner.ExecutableNotFound.
    """
    from gr00t_bringup.runner import GraphRunner
    from gr00t_bringup.testing import RosProbe
    from gr00t_sim.world import RAISE_HEIGHT, TOUCH_RADIUS

    t_start = time.monotonic()
    runner = GraphRunner(graph, work_dir=work_dir, log_dir=args.log_dir, out=out)
    probe = video = None
    try:
        runner.start()
        probe = RosProbe(name="gr00t_eval")
        if args.video is not None:
            video = VideoRecorder(args.video)
        ev = Evaluation(graph, runner, probe, tasks=task_list(args.tasks),
                        episode_s=args.episode_s, settle_s=args.settle_s,
                        timeout_s=args.timeout, video=video)
        ev.wait_ready(args.startup_timeout)
        startup_s = time.monotonic() - t_start
        log.info("graph ready after %.1f s", startup_s)
        episodes = []
        for k in range(args.episodes):
            result = ev.run_episode(k, args.seed + k)
            log.info("episode %d (seed %d) %r: %s", k, result.seed, result.instruction,
                     "success" if result.success else "no success")
            episodes.append(result)
        measured = ev.measurements()
    finally:
        video_info = video.close() if video is not None else None
        if probe is not None:
            probe.close()
        runner.stop_all()
    n = len(episodes)
    k, k_end = sum(e.success for e in episodes), sum(e.success_at_end for e in episodes)
    return {
        "checkpoint": graph.checkpoint,
        "embodiment": graph.embodiment.name,
        "backend": args.backend,
        "episodes": n,
        "seed": args.seed,
        "episode_s": args.episode_s,
        "tasks": ev.tasks,
        "success_definition": SUCCESS_DEFINITION.format(touch=TOUCH_RADIUS, raise_=RAISE_HEIGHT),
        "success_rate": k / n,
        "success_rate_at_end": k_end / n,
        "overall": {"episodes": n, "successes": k, "success_rate": k / n,
                    "successes_at_end": k_end, "success_rate_at_end": k_end / n},
        "per_task": per_task(episodes, ev.tasks),
        "episodes_detail": [asdict(e) for e in episodes],
        **measured,
        "startup_s": round(startup_s, 2),
        "wall_s": round(time.monotonic() - t_start, 2),
        "video": video_info,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `gr00t-eval`; returns the exit status (see the module docstring)."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="[gr00t-eval] %(levelname)s %(message)s")
    from gr00t_bringup.runner import ExecutableNotFound

    try:
        _check_args(args)
        graph = build_eval_graph(args)
    except ValueError as exc:  # GraphError, EmbodimentConfigError, bad arguments
        print(f"gr00t-eval: {exc}", file=sys.stderr)
        return EXIT_BAD_ARGS
    with tempfile.TemporaryDirectory(prefix="gr00t-eval-") as tmp:
        work_dir = args.log_dir or Path(tmp)
        work_dir.mkdir(parents=True, exist_ok=True)
        node_log = work_dir / "nodes.log"
        with open(node_log, "w") as out:
            try:
                result = evaluate(args, graph, work_dir, out)
            except ExecutableNotFound as exc:
                print(f"gr00t-eval: {exc}", file=sys.stderr)
                return EXIT_MISSING_EXECUTABLE
            except GraphFailed as exc:
                out.flush()
                print(f"gr00t-eval: the graph failed: {exc}\n(the nodes' output: "
                      f"{node_log if args.log_dir else 'pass --log-dir DIR to keep it'})",
                      file=sys.stderr)
                return EXIT_GRAPH_FAILED
            except KeyboardInterrupt:
                print("gr00t-eval: interrupted; the nodes were stopped", file=sys.stderr)
                return 130
    text = json.dumps(result, indent=2)
    if args.json_out is not None:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(text + "\n")
    print(text if args.json else format_report(result))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
