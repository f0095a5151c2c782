"""The evaluation client: drives the episodes through a started graph over ROS and measures
what the nodes do.

Per episode k it uses seed = --seed + k and the task `schedule.task_for_seed` picks, disables
System 1 (/gr00t/enable false), resets the simulator with that seed and task
(/gr00t_sim/reset, gr00t_msgs/ResetSim: new cube positions, arms at the rest pose), waits
--settle-s, sends the instruction through /gr00t/set_instruction (with an instruction file,
the phrasing `schedule.phrasing_for_seed` picks; the simulator still judges the task), waits
until /gr00t/embedding_tokens carries the instruction's id, enables System 1 and lets the
policy act for --episode-s simulated seconds.

The simulator judges the task on every /gr00t_sim/state sample (gr00t_msgs/SimState, 25 Hz);
the samples of this episode's reset taken while System 1 was enabled are scored
(`scoring.score_episode`). A fault System 1 latches meanwhile (its /diagnostics `fault`) is
recorded with the episode: the disable before the next episode clears it, so without the
record a safety stop would read as a policy miss. Diagnostics come once a second; a fault
latched in an episode's last second is named by the reply of the disable that ends it.

Rates and latencies are measured while System 1 is enabled: System 1 commands (messages on the
first controller topic), replans (/gr00t/action_chunk), System 2 tokens, the inference latencies
both nodes put in their messages, and the token age at planning (the chunk's joint-state stamp
minus the camera stamp of the newest tokens, both in the simulator's time base).

It also records every arm command (the forward_command controllers whose name has "arm" in
it) and when each chunk arrived, for the smoothness figures (`smoothness.summarize`).

Where the graph has the recorder (gr00t-eval --record DIR: build_graph's record_dir), each
episode is also kept as a rosbag2 MCAP bag: /gr00t_record/start (with what System 2 reads)
right before System 1 is enabled, /gr00t_record/stop right after the disable that ends the
episode; the result names the bag and the recorder's account of it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import Float64MultiArray
from std_srvs.srv import SetBool, Trigger

from gr00t_bringup.graph import RECORDER
from gr00t_common.enable_reply import cleared_faults
from gr00t_common.probe import RECORDING
from gr00t_common.safety_topic import SAFETY_STATE_READER_QOS, SAFETY_STATE_TOPIC
from gr00t_common.service_call import call_resending
from gr00t_common.stamps import stamp_to_seconds
from gr00t_msgs.msg import ActionChunk, EmbeddingTokens, SafetyState, SimState
from gr00t_msgs.srv import ResetSim, SetInstruction
from gr00t_record.node import EPISODE_DIR, START_SERVICE, STOP_SERVICE
from gr00t_sim.evaluation.holds import held_seconds
from gr00t_sim.evaluation.schedule import phrasing_for_seed, task_for_seed
from gr00t_sim.evaluation.scoring import (EpisodeResult, best_kind, percentiles_ms,
                                          score_episode)
from gr00t_sim.evaluation.smoothness import summarize
from gr00t_sim.evaluation.video import VideoRecorder
from gr00t_sim.snapshot import Snapshot, from_msg
from gr00t_sim.tasks import Task

# gr00t-eval's clients live for the whole run: a reply is asked again only after this long.
RESEND_LATE_S = 10.0

log = logging.getLogger(__name__)

QUIET_S = 0.2  # no command for this long after disabling: System 1 is quiet
SETTLE_TOLERANCE_M = 0.02  # palms at rest after a reset move less than this while settling


def system1_rate_hz(graph: Any) -> float:
    """The control rate System 1 runs at in `graph`: its control_rate_hz parameter (what
    --system1-param control_rate_hz:= sets; build_graph gives it the embodiment's
    rates.system1_hz otherwise). The smoothness figures difference its commands over its
    period."""
    default = float(graph.embodiment.rates.system1_hz)
    return float(graph.node("gr00t_system1").parameters.get("control_rate_hz", default))


class GraphFailed(RuntimeError):
    """The graph did not do what an episode needs (a node died, a service or topic timed out)."""


@dataclass
class _Window:
    """What the subscriptions record into while an episode runs."""

    episode: int
    seed: int
    instruction: str  # the task's, which the simulator judges
    phrasing: str  # what System 2 reads
    task: Task
    reset_count: int | None = None  # the simulator's, from the reset reply
    enabled: bool = False
    success: bool = False
    sim_t: float | None = None  # t_since_reset of the newest state sample of this reset
    first_palms: np.ndarray | None = None  # (6,) both palms at the first sample after reset
    last_palms: np.ndarray | None = None  # (6,) both palms at the newest sample
    samples: list[Snapshot] = field(default_factory=list)
    system1_faults: list[str] = field(default_factory=list)  # distinct, first seen first
    # System 1's safety states while enabled: [(monotonic receipt, header stamp s, state
    # entered)], the first the state in force at the enable, no stamp (`holds.held_seconds`)
    system1_states: list[tuple[float, float | None, str]] = field(default_factory=list)


class Evaluation:
    """Drives the episodes through a started graph and measures what the nodes do.

    `graph` is the `Graph` the `runner` (a started `GraphRunner`) runs; `probe` a
    `gr00t_common.probe.RosProbe`-style node with its own context and spinning thread.
    `phrasings` ({task: what System 2 may read for it}, `phrasings.load_phrasings`) defaults
    to each task's own instruction.
    """

    def __init__(self, graph: Any, runner: Any, probe: Any, *, tasks: Sequence[str],
                 episode_s: float, settle_s: float, timeout_s: float,
                 video: VideoRecorder | None = None,
                 phrasings: Mapping[str, Sequence[str]] | None = None) -> None:
        self.graph, self.runner, self.probe = graph, runner, probe
        self.tasks = list(tasks)
        self.phrasings = {t: list(phrasings.get(t, ())) if phrasings is not None else [t]
                          for t in self.tasks}
        self.episode_s, self.settle_s, self.timeout_s = episode_s, settle_s, timeout_s
        self.startup_timeout_s = timeout_s  # `wait_ready` sets the start-up one
        self.video = video
        self._lock = threading.Lock()
        self.window: _Window | None = None
        self.phase = "starting"
        # Counters over the enabled windows.
        self.enabled_s = 0.0
        self.enabled_sim_s = 0.0
        self.n_commands = self.n_chunks = self.n_tokens = 0
        self.last_command_at = float("-inf")  # monotonic receipt of the newest command
        self.s1_latency: list[float] = []
        self.s2_latency: list[float] = []
        self.token_age: list[float] = []
        self.tokens_seen = 0
        self.last_tokens: tuple[int, float] | None = None  # (instruction_id, camera stamp s)
        self.diagnostics: dict[str, dict[str, str]] = {"system1": {}, "system2": {}}
        self.system1_state = ""  # the newest /gr00t/safety_state

        emb = graph.embodiment
        node = probe.node
        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE,
                              history=HistoryPolicy.KEEP_LAST)
        forward = [c for c in emb.controllers if c.type == "forward_command"]
        if not forward:
            raise ValueError(f"embodiment {emb.name} has no forward_command controller; the "
                             "simulator only serves forward_command controllers")
        self.command_topic = forward[0].topic
        # Commands with a deep history: a stalled probe thread must not drop any, or the
        # counts and the smoothness figures (successive commands compared) go wrong.
        node.create_subscription(Float64MultiArray, self.command_topic, self._on_command,
                                 RECORDING)
        # Every arm controller's commands, for the smoothness figures: (joints, [(t, data)]).
        arms = [c for c in forward if "arm" in c.name] or forward
        self.arm_commands: dict[str, tuple[list[str], list[tuple[float, list[float]]]]] = {
            c.topic: (list(c.joints), []) for c in arms}
        self.chunk_times: list[float] = []  # monotonic arrival of each chunk while enabled
        for topic in self.arm_commands:
            node.create_subscription(Float64MultiArray, topic,
                                     lambda msg, topic=topic: self._on_arm_command(topic, msg),
                                     RECORDING)
        node.create_subscription(ActionChunk, "/gr00t/action_chunk", self._on_chunk, reliable)
        node.create_subscription(EmbeddingTokens, "/gr00t/embedding_tokens", self._on_tokens,
                                 QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE))
        node.create_subscription(SimState, "/gr00t_sim/state", self._on_state, reliable)
        node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 10)
        node.create_subscription(SafetyState, SAFETY_STATE_TOPIC, self._on_safety_state,
                                 SAFETY_STATE_READER_QOS)
        if video is not None:
            node.create_subscription(Image, "/camera/head/image_raw", self._on_image,
                                     QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE))
        self.clients = {
            "reset": node.create_client(ResetSim, "/gr00t_sim/reset"),
            "enable": node.create_client(SetBool, "/gr00t/enable"),
            "instruction": node.create_client(SetInstruction, "/gr00t/set_instruction"),
        }
        # The recorder, where the graph has one: its bags' directory.
        recorders = [n for n in graph.nodes if n.package == RECORDER[0]]
        self.record_dir = recorders[0].parameters["output_dir"] if recorders else None
        if recorders:
            self.clients["record_start"] = node.create_client(SetInstruction, START_SERVICE)
            self.clients["record_stop"] = node.create_client(Trigger, STOP_SERVICE)

    # -- subscriptions (probe thread) --------------------------------------------------------
    def _on_command(self, msg: Any) -> None:
        with self._lock:
            self.last_command_at = time.monotonic()
            if self.window is not None and self.window.enabled:
                self.n_commands += 1

    def _on_arm_command(self, topic: str, msg: Any) -> None:
        now = time.monotonic()
        with self._lock:
            if self.window is not None and self.window.enabled:
                self.arm_commands[topic][1].append((now, list(msg.data)))

    def _on_chunk(self, msg: Any) -> None:
        now = time.monotonic()
        with self._lock:
            if self.window is None or not self.window.enabled:
                return
            self.chunk_times.append(now)
            self.n_chunks += 1
            self.s1_latency.append(float(msg.inference_latency))
            if self.last_tokens is not None:
                age = stamp_to_seconds(msg.header.stamp) - self.last_tokens[1]
                if -1.0 < age < 5.0:  # both stamps in the simulator's time base
                    self.token_age.append(age)

    def _on_tokens(self, msg: Any) -> None:
        with self._lock:
            self.tokens_seen += 1
            self.last_tokens = (int(msg.instruction_id), stamp_to_seconds(msg.header.stamp))
            if self.window is not None and self.window.enabled:
                self.n_tokens += 1
                self.s2_latency.append(float(msg.inference_latency))

    def _on_state(self, msg: Any) -> None:
        snap = from_msg(msg)
        with self._lock:
            w = self.window
            # Only the scene of this episode's reset counts (known once the reset replied).
            if w is None or w.reset_count is None or snap.reset_count != w.reset_count:
                return
            w.sim_t = snap.time_since_reset
            w.last_palms = snap.palm_vector()  # (6,) left, right palm xyz
            if w.first_palms is None:
                w.first_palms = w.last_palms
            if w.enabled:
                w.samples.append(snap)
                w.success = w.success or snap.success

    def _on_diagnostics(self, msg: Any) -> None:
        for status in msg.status:
            key = ("system1" if status.name.startswith("gr00t_system1") else
                   "system2" if status.name.startswith("gr00t_system2") else None)
            if key is None:
                continue
            values = {kv.key: kv.value for kv in status.values}
            with self._lock:
                w = self.window
                if w is not None and w.enabled:
                    self.diagnostics[key] = values
                    fault = values.get("fault", "") if key == "system1" else ""
                    if fault and fault not in w.system1_faults:
                        w.system1_faults.append(fault)

    def _on_safety_state(self, msg: Any) -> None:
        now = time.monotonic()
        with self._lock:
            self.system1_state = msg.state
            w = self.window
            if w is not None and w.enabled:
                stamp = stamp_to_seconds(msg.header.stamp)
                w.system1_states.append((now, stamp or None, msg.state))

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
        lines = [(w.phrasing, (255, 255, 255))]
        if w.phrasing != w.instruction:
            lines.append((f"(task: {w.instruction})", (180, 180, 180)))
        lines.append((f"episode {w.episode}  seed {w.seed}  {text}", colour))
        if w.success:
            lines.append(("SUCCESS", (0, 255, 0)))
        self.video.submit(rgb, stamp_to_seconds(msg.header.stamp), lines)

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
        def pump(seconds: float) -> None:
            self.check_graph()
            time.sleep(seconds)

        # reset (seeded), enable and instruction may act twice, so a lost reply is asked
        # again; late (RESEND_LATE_S), as a reset that is only slow must not run twice
        # mid-episode.
        reply = call_resending(client, request, self.timeout_s, pump,
                               resend_after=min(RESEND_LATE_S, self.timeout_s))
        if reply is None:
            raise GraphFailed(f"timed out after {self.timeout_s:g} s waiting for a reply from "
                              f"{client.srv_name} ({what})")
        return reply

    # -- the run -------------------------------------------------------------------------------
    def wait_ready(self, startup_timeout: float) -> None:
        """Every service up. (System 2 publishes no tokens before the first episode's
        instruction: it starts with none.)"""
        for client in self.clients.values():
            self.wait(client.service_is_ready, startup_timeout, f"service {client.srv_name}")
        self.startup_timeout_s = startup_timeout  # also for the first tokens (run_episode)

    def set_enabled(self, enabled: bool) -> list[str]:
        """Set System 1's switch; returns the latched faults the call cleared."""
        reply = self.call("enable", SetBool.Request(data=enabled), f"enable {enabled}")
        if not reply.success:
            raise GraphFailed(f"/gr00t/enable {enabled} was refused: {reply.message}")
        return cleared_faults(reply.message)

    def reset_sim(self, seed: int, instruction: str) -> Any:
        """Reset the scene with `seed` and have the simulator judge `instruction`; returns
        the ResetSim reply (its state is the scene after the reset)."""
        reply = self.call("reset", ResetSim.Request(seed=seed, instruction=instruction),
                          f"seed {seed}")
        if (not reply.success or reply.state.seed != seed
                or reply.state.instruction != instruction):
            raise GraphFailed(f"/gr00t_sim/reset did not reset with seed {seed} and task "
                              f"{instruction!r}: {reply.message!r} (scene seed "
                              f"{reply.state.seed}, task {reply.state.instruction!r})")
        return reply

    def run_episode(self, episode: int, seed: int) -> EpisodeResult:
        instruction = task_for_seed(seed, self.tasks)
        said = phrasing_for_seed(seed, self.tasks, self.phrasings)
        task = Task.parse(instruction)
        window = _Window(episode, seed, instruction, said, task)
        self.set_enabled(False)
        # Disabled, System 1 first brakes a moving arm to rest (at most ~0.12 s on our
        # robots), then goes quiet: reset only once no command came for QUIET_S, so neither
        # braking commands nor ones in flight land on the new scene.
        self.wait(lambda: time.monotonic() - self.last_command_at >= QUIET_S, self.timeout_s,
                  "System 1 to stop commanding after /gr00t/enable false")
        with self._lock:
            self.window, self.phase = window, "reset"
        reply = self.reset_sim(seed, instruction)
        with self._lock:
            window.reset_count = int(reply.state.reset_count)
        log.info("episode %d: reset: %s", episode, reply.message)
        time.sleep(self.settle_s)  # the reset puts the arms at rest; let the cubes settle
        self.wait(lambda: window.sim_t is not None, self.timeout_s,
                  f"a /gr00t_sim/state sample of the reset to seed {seed}")
        with self._lock:
            self.phase = "instruct"
            drift = float(np.abs(window.last_palms - window.first_palms).max())
        if drift > SETTLE_TOLERANCE_M:
            log.warning("episode %d: the palms moved %.3f m while settling after the reset "
                        "(rest pose expected)", episode, drift)
        t0 = time.monotonic()
        answer = self.call("instruction", SetInstruction.Request(instruction=said), said)
        if not answer.accepted:
            raise GraphFailed(f"System 2 refused {said!r}: {answer.message}")
        iid = int(answer.instruction_id)
        first = not self.tokens_seen  # System 2's first tokens may take its start-up time
        self.wait(lambda: self.last_tokens is not None and self.last_tokens[0] == iid,
                  self.startup_timeout_s if first else self.timeout_s,
                  f"tokens with instruction_id {iid}"
                  + (" (the first tokens: System 2 needs the head camera)" if first else ""))
        wait_tokens = time.monotonic() - t0
        bag = self._start_recording(said) if self.record_dir is not None else None
        self.set_enabled(True)
        start = time.monotonic()
        with self._lock:
            window.enabled, self.phase = True, "running"
            sim_start = window.sim_t
            window.system1_states.append((start, None, self.system1_state))
        # The episode lasts episode_s of simulated time (the simulator may run slower than
        # the wall clock on a loaded machine).
        self.wait(lambda: window.sim_t - sim_start >= self.episode_s,
                  self.episode_s * 4 + self.timeout_s, f"{self.episode_s:g} s of simulated time")
        with self._lock:
            window.enabled = False
            self.phase = "done"
            end = time.monotonic()
            run_s = end - start
            held = held_seconds(window.system1_states, end)
            sim_s = window.sim_t - sim_start
            self.enabled_s += run_s
            self.enabled_sim_s += sim_s
        for fault in self.set_enabled(False):  # latched since the last diagnostics, too
            if fault not in window.system1_faults:
                window.system1_faults.append(fault)
        recording = self._stop_recording() if bag is not None else None
        try:
            score = score_episode(instruction, window.samples, seed, window.reset_count)
        except ValueError as exc:
            raise GraphFailed(f"episode {episode}: {exc}") from exc
        if score.samples == 0:
            raise GraphFailed(f"episode {episode}: no /gr00t_sim/state sample with seed {seed} "
                              f"arrived in {run_s:.1f} s")
        return EpisodeResult(
            episode=episode, seed=seed, instruction=instruction, instruction_id=iid,
            success=score.success, success_at_end=score.success_at_end,
            first_success_s=score.first_success_s, best=score.best,
            best_kind=best_kind(task),
            samples=score.samples, final=score.final, cube_moved=score.cube_moved,
            run_s=round(run_s, 3), sim_s=round(sim_s, 3),
            real_time_factor=round(sim_s / max(run_s, 1e-9), 3),
            wait_tokens_s=round(wait_tokens, 3), settle_drift_m=round(drift, 4),
            phrasing=said, system1_faults=list(window.system1_faults), system1_held_s=held,
            bag=bag, recording=recording)

    def _start_recording(self, said: str) -> str:
        """Open the episode's bag; returns its path."""
        reply = self.call("record_start", SetInstruction.Request(instruction=said),
                          "start recording")
        if not reply.accepted:
            raise GraphFailed(f"{START_SERVICE} refused: {reply.message}")
        return str(Path(self.record_dir) / EPISODE_DIR.format(int(reply.instruction_id)))

    def _stop_recording(self) -> str:
        """Close the episode's bag; returns the recorder's account of it."""
        reply = self.call("record_stop", Trigger.Request(), "stop recording")
        if not reply.success:
            raise GraphFailed(f"{STOP_SERVICE} failed: {reply.message}")
        return reply.message

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
                    "system1_target_hz": system1_rate_hz(self.graph),
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
                "smoothness": self.smoothness(),
            }

    def smoothness(self) -> dict[str, Any]:
        """Smoothness figures of the arm commands so far (call with the lock held)."""
        emb = self.graph.embodiment
        period = 1.0 / system1_rate_hz(self.graph)
        streams = [(names, [t for t, _ in got], np.array([d for _, d in got]))
                   for names, got in self.arm_commands.values()]
        return summarize(streams, self.chunk_times, period=period,
                         switch_window_s=float(emb.action_dt) + 2.0 * period)


