"""Shared helpers for the bench scripts (machine report, statistics, graph runs, recording).

Imported by ``bench/graph_vs_baseline.py``, ``bench/soak.py``, ``bench/baseline_node.py``,
``bench/policy_loop.py``, ``bench/grounding_probe.py`` and ``bench/system1_rate.py`` with
``bench/`` on ``sys.path`` (a script's own directory is). Nothing here runs at import time
except the standard library, numpy and gr00t_common's statistics and stamp conversions (no
rclpy); ROS imports happen inside the functions that need them, after the caller has set
ROS_DOMAIN_ID.
"""

from __future__ import annotations

import json
import math
import os
import platform
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gr00t_common.stamps import stamp_to_seconds
from gr00t_common.stats import summary_ms

REPO = Path(__file__).resolve().parents[1]
DEFAULT_EMBODIMENT = REPO / "config" / "unitree_g1.yaml"
# System 2 starts with no instruction (no tokens, no motion); the benches run the graph on
# this one from the start, the same as the baseline node's default (bench/baseline_node.py).
BENCH_INSTRUCTION = "hold your position"


class MeasurementError(RuntimeError):
    """A figure could not be measured (a node died, a topic stayed silent, ...)."""


# -- the machine ------------------------------------------------------------------------------

def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (else platform.processor())."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _version(module: str) -> str:
    try:
        return str(__import__(module).__version__)
    except Exception:  # noqa: BLE001 - a missing module is reported, not fatal
        return "not installed"


def machine_info() -> dict[str, Any]:
    """CPU, cores, load average now, Python / torch / onnxruntime / rclpy-RMW versions."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "host": platform.node(),
        "cpu": cpu_model(),
        "logical_cores": os.cpu_count(),
        "usable_cores": usable,
        "load_avg": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "torch": _version("torch"),
        "onnxruntime": _version("onnxruntime"),
        "numpy": np.__version__,
        "rmw": os.environ.get("RMW_IMPLEMENTATION", "default"),
    }


def machine_line(info: dict[str, Any]) -> str:
    return (f"machine: {info['host']} | {info['cpu']} | {info['logical_cores']} logical cores, "
            f"{info['usable_cores']} usable | load avg {' '.join(map(str, info['load_avg']))} | "
            f"Python {info['python']}, torch {info['torch']}, onnxruntime "
            f"{info['onnxruntime']}, RMW {info['rmw']}")


# -- statistics -------------------------------------------------------------------------------

def period_stats(times_s: Sequence[float], period_s: float) -> dict[str, Any]:
    """Inter-arrival statistics of event times against a nominal period.

    Returns rate_hz, error (|gap - period| summary in ms), gap (summary in ms), and late_2x
    (gaps longer than two periods: count and share of gaps).
    """
    t = np.sort(np.asarray(times_s, dtype=np.float64))
    if t.size < 3:
        return {"n": int(t.size), "rate_hz": None, "error_ms": summary_ms([]),
                "gap_ms": summary_ms([]), "late_2x": None, "late_2x_share": None}
    gaps = np.diff(t)  # (N-1,)
    late = int((gaps > 2.0 * period_s).sum())
    return {
        "n": int(t.size),
        "rate_hz": round(float((t.size - 1) / (t[-1] - t[0])), 3),
        "error_ms": summary_ms(np.abs(gaps - period_s)),
        "gap_ms": summary_ms(gaps),
        "late_2x": late,
        "late_2x_share": round(late / gaps.size, 6),
    }


def ratio(a: float | None, b: float | None) -> float | None:
    """a / b, None when either is missing or b is 0."""
    if a is None or b is None or b == 0:
        return None
    return a / b


# -- processes, checkpoints, ROS domains --------------------------------------------------------

def fresh_domain_id() -> int:
    """A ROS_DOMAIN_ID (1..100) no other run on this host holds, reserved until this process
    exits (`gr00t_testing.domains`, as the test suite's).

    Set it in os.environ before starting nodes: each graph of a bench run gets its own, so
    participants of a stopped graph never mix with the next one.
    """
    from gr00t_testing.domains import hold_domain

    return hold_domain()


def use_domain(domain: int) -> None:
    """Point this process and the nodes it starts next at `domain`, localhost only."""
    os.environ["ROS_DOMAIN_ID"] = str(domain)
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    os.environ.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")


def ensure_checkpoint(checkpoint: str | None, out_dir: Path, embodiment_yaml: Path
                      ) -> tuple[Path, str]:
    """(checkpoint dir, a line saying which) for --checkpoint, else checkpoints/nano, else a
    random nano checkpoint made once under `out_dir` (kept, so its ONNX export cache hits)."""
    if checkpoint:
        path = Path(checkpoint).expanduser().resolve()
        if not (path / "config.json").is_file():
            raise ValueError(f"--checkpoint {path} has no config.json; pass a gr00t_ros "
                             "checkpoint directory")
        return path, f"checkpoint: {path} (--checkpoint)"
    default = REPO / "checkpoints" / "nano"
    if (default / "config.json").is_file():
        return default, f"checkpoint: {default} (the default trained nano checkpoint)"
    path = out_dir / "random_nano_checkpoint"
    if not (path / "config.json").is_file():
        from gr00t_testing import make_checkpoint_for

        make_checkpoint_for(path, [embodiment_yaml])
    return path, (f"checkpoint: {path} -- a RANDOM (untrained) nano checkpoint, because "
                  f"{default} does not exist; timing is the same as a trained one's")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid` so far (all its threads), from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()  # after "pid (comm)": state is fields[0]
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def rss_kib(pid: int) -> int | None:
    """VmRSS of a process in KiB from /proc/<pid>/status (None when it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def start_graph(graph: Any, work_dir: Path, *, extra_resolve: dict[str, Path] | None = None
                ) -> Any:
    """Start `graph` with gr00t_bringup's GraphRunner; node output goes to work_dir/nodes.log.

    extra_resolve: package name -> executable for nodes that are not installed packages (the
    bench's baseline node). Returns the started runner; call `runner.stop_all()` when done.
    """
    from gr00t_bringup.runner import GraphRunner, TransitionError, find_executable

    work_dir.mkdir(parents=True, exist_ok=True)
    extra = extra_resolve or {}

    def resolve(spec: Any) -> Path:
        if spec.package in extra:
            return extra[spec.package]
        return find_executable(spec.package, spec.executable)

    out = open(work_dir / "nodes.log", "w")
    runner = GraphRunner(graph, work_dir=work_dir, out=out, resolve=resolve)
    try:
        runner.start()  # returns once the lifecycle nodes are active
    except TransitionError as exc:
        runner.stop_all()
        raise MeasurementError(f"the graph did not come up: {exc}") from exc
    return runner


def check_alive(runner: Any) -> None:
    """MeasurementError naming any node of `runner` that has exited, with its last output."""
    for c in runner.children:
        if c.proc.poll() is not None:
            tail = "\n".join(f"    {line}" for line in list(c.tail)[-15:])
            raise MeasurementError(f"node {c.spec.name} exited with code {c.proc.returncode}; "
                                   f"its last output:\n{tail}")


def wait_for(predicate: Callable[[], bool], timeout: float, what: str,
             runner: Any | None = None) -> None:
    """Poll `predicate`; MeasurementError on timeout or when a node of `runner` died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if runner is not None:
            check_alive(runner)
        time.sleep(0.05)
    raise MeasurementError(f"timed out after {timeout:.0f} s waiting for {what}")


def sleep_watching(seconds: float, runner: Any, step: float = 0.5) -> None:
    """Sleep `seconds`, raising MeasurementError as soon as a node of `runner` dies."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        time.sleep(min(step, left))
        check_alive(runner)


# -- recording what reaches the topics ----------------------------------------------------------

class Recorder:
    """Subscribes a RosProbe to the graph's outputs and keeps receive times (time.time()).

    commands: (t, safety label) on one controller topic; chunks: (t, stamp, instruction_id,
    inference_latency) on `chunk_topic`; tokens: (t, stamp, instruction_id,
    inference_latency); diagnostics: (t, status name, {key: value}); joint_states: (t, stamp).
    """

    def __init__(self, probe: Any, command_topic: str, *,
                 chunk_topic: str = "/gr00t/action_chunk", joint_states: bool = True) -> None:
        from diagnostic_msgs.msg import DiagnosticArray
        from gr00t_testing import RECORDING, RELIABLE
        from gr00t_msgs.msg import ActionChunk, EmbeddingTokens
        from rclpy.qos import qos_profile_sensor_data
        from sensor_msgs.msg import JointState
        from std_msgs.msg import Float64MultiArray

        self.lock = threading.Lock()
        self.commands: list[tuple[float, str]] = []
        self.chunks: list[tuple[float, float, int, float]] = []
        self.tokens: list[tuple[float, float, int, float]] = []
        self.diagnostics: list[tuple[float, str, dict[str, str]]] = []
        self.joint_states: list[tuple[float, float]] = []
        node = probe.node
        node.create_subscription(Float64MultiArray, command_topic, self._on_command, RECORDING)
        node.create_subscription(ActionChunk, chunk_topic, self._on_chunk, RELIABLE)
        node.create_subscription(EmbeddingTokens, "/gr00t/embedding_tokens", self._on_tokens,
                                 RELIABLE)
        node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diag, RELIABLE)
        if joint_states:
            node.create_subscription(JointState, "/joint_states", self._on_js,
                                     qos_profile_sensor_data)

    def _on_command(self, msg: Any) -> None:
        t = time.time()
        label = msg.layout.dim[0].label if msg.layout.dim else ""
        with self.lock:
            self.commands.append((t, label))

    def _on_chunk(self, msg: Any) -> None:
        t = time.time()
        with self.lock:
            self.chunks.append((t, stamp_to_seconds(msg.header.stamp), int(msg.instruction_id),
                                float(msg.inference_latency)))

    def _on_tokens(self, msg: Any) -> None:
        t = time.time()
        with self.lock:
            self.tokens.append((t, stamp_to_seconds(msg.header.stamp), int(msg.instruction_id),
                                float(msg.inference_latency)))

    def _on_diag(self, msg: Any) -> None:
        t = time.time()
        with self.lock:
            for s in msg.status:
                self.diagnostics.append((t, s.name, {kv.key: kv.value for kv in s.values}))

    def _on_js(self, msg: Any) -> None:
        t = time.time()
        with self.lock:
            self.joint_states.append((t, stamp_to_seconds(msg.header.stamp)))

    def window(self, t0: float, t1: float) -> dict[str, list]:
        """Copies of every list restricted to receive times in [t0, t1]."""
        with self.lock:
            return {name: [x for x in getattr(self, name) if t0 <= x[0] <= t1]
                    for name in ("commands", "chunks", "tokens", "diagnostics", "joint_states")}

    def diag(self, prefix: str, t0: float, t1: float) -> list[tuple[float, dict[str, str]]]:
        """(t, values) of diagnostics whose status name starts with `prefix`, in [t0, t1]."""
        with self.lock:
            return [(t, v) for t, name, v in self.diagnostics
                    if name.startswith(prefix) and t0 <= t <= t1]


def first_after(times: Sequence[float], t: float) -> float | None:
    """The first value of the sorted `times` that is >= t (None if none)."""
    i = int(np.searchsorted(np.asarray(times), t, side="left"))
    return float(times[i]) if i < len(times) else None


def diag_float(values: dict[str, str], key: str) -> float | None:
    """A diagnostics value as float (None when absent, 'n/a' or 'nan')."""
    try:
        v = float(values[key])
    except (KeyError, ValueError):
        return None
    return v if math.isfinite(v) else None


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=float) + "\n")


# -- the policy in one process ------------------------------------------------------------------

def add_policy_args(ap: Any, *, count: str = "--episodes", default_count: int = 8) -> None:
    """The arguments every in-process diagnostic takes: --checkpoint, --embodiment, a count of
    episodes or scenes (`count`) and --seed, the first scene seed (held-out: >= 100000)."""
    ap.add_argument("--checkpoint", default=str(REPO / "checkpoints" / "nano"))
    ap.add_argument("--embodiment", default=str(REPO / "config" / "unitree_g1.yaml"))
    ap.add_argument(count, type=int, default=default_count)
    ap.add_argument("--seed", type=int, default=100000,
                    help="first scene seed (training uses < 100000)")


class InProcessPolicy:
    """System 2's encoder and System 1's Planner in this process, without ROS or timing.

    The deployed code path (``BackboneRunner.encode``, then ``Planner``: normalize, pad,
    sample on the ``backend`` runner, unnormalize) that the in-process diagnostics run.
    Attributes: ``emb`` (the EmbodimentConfig), ``horizon``, ``name`` (the runner's).
    """

    def __init__(self, checkpoint: Path, embodiment_yaml: Path, *, backend: str = "onnxruntime",
                 seed: int | None = None, noise_scale: float = 1.0, prefix: bool = False) -> None:
        from gr00t_policy.embodiment import load_embodiment
        from gr00t_policy.runtime.bundle import PolicyBundle

        self.emb = load_embodiment(embodiment_yaml)
        bundle = PolicyBundle.open(checkpoint, self.emb)
        self.encoder = bundle.backbone_runner()
        runner = bundle.action_runner(backend, prefix=prefix)
        self.planner = bundle.planner(runner, seed=seed, noise_scale=noise_scale)
        self.horizon, self.name = runner.horizon, runner.name
        self._seq = 0

    def observe(self, image: np.ndarray, instruction: str, stamp: float) -> np.ndarray:
        """Encode one camera image with the instruction; later plans use these tokens.

        Returns the tokens (L, C)."""
        from gr00t_policy.runtime.planner import TokenSample

        tokens, mask = self.encoder.encode([image], instruction)  # (L, C), (L,)
        self._seq += 1
        self.planner.set_tokens(TokenSample(tokens=tokens, mask=mask, stamp=stamp,
                                            arrival=time.monotonic(), instruction_id=0,
                                            seq=self._seq))
        return tokens

    def plan(self, state: np.ndarray, action_positions: np.ndarray, stamp: float) -> np.ndarray:
        """Absolute joint targets (H, A) from the state, with fresh noise."""
        from gr00t_policy.runtime.planner import StateSample

        sample = StateSample(state=state, action_positions=action_positions, stamp=stamp,
                             arrival=time.monotonic(), seq=self._seq)
        return self.planner.plan(sample).chunk.rows

    def plan_given(self, state: np.ndarray, action_positions: np.ndarray, stamp: float,
                   given: np.ndarray) -> np.ndarray:
        """`plan` with the chunk's first len(given) rows given (absolute targets (D, A)), as
        rtc_method prefix gives the rows that execute during a delay. Needs prefix=True."""
        previous = self.planner.sampling
        self.planner.sampling = _GivenRows(self.planner.processor, given)
        try:
            return self.plan(state, action_positions, stamp)
        finally:
            self.planner.sampling = previous


class _GivenRows:
    """A Planner sampling that gives the head fixed leading rows (`InProcessPolicy.plan_given`)."""

    def __init__(self, processor: Any, given: np.ndarray) -> None:
        self.processor, self.given = processor, np.asarray(given, np.float64)

    def sample(self, runner: Any, state: np.ndarray, noise: np.ndarray, **_: Any) -> np.ndarray:
        rows = len(self.given)
        prefix = np.zeros((runner.horizon, runner.max_action_dim), np.float32)  # (H, A_max)
        prefix[:rows] = self.processor.actions(self.given)
        return runner.sample_prefix(state, noise, prefix, rows)

    def finish(self, chunk: Any) -> tuple[Any, None]:
        return chunk, None
