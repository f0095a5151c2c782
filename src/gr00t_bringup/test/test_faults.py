"""Faults on the real graph: System 2 and System 1 as OS processes, a probe playing the robot.

The probe publishes /joint_states (every joint System 1 needs, 100 Hz, pausable) and the
head camera's images (15 Hz), records every command on every controller topic and every
token message, each with its receive time on the monotonic clock. forward_command messages
carry System 1's safety state in `layout.dim[0].label`.

- System 2 is killed (SIGKILL) mid-run: System 1 holds (`hold_stale_tokens`) within one
  control period (+ MARGIN_S) of its token staleness limit after the last token, and runs
  again, with moving commands, once System 2 is restarted. "Within one period" is checked
  twice: by the tokens' age System 1 logs when it holds (its own clocks, exact), and end to
  end by the probe's receive times, which also carry the probe's own scheduling: where the
  probe's spin thread stalled between the last token and the hold (a gap in its receipts
  of the 120 Hz commands), that stall is allowed on top. (CI once measured the pause's hold
  2.15 s after the probe's last token, with neither figure to tell whose stall it was.)
- System 2 is paused (SIGSTOP for 3 s, then SIGCONT): the same hold, and System 1 resumes only
  once a token computed after the pause has arrived (tokens from the old frames are stale by
  their stamps).
- Every command of that run is finite, inside the limits and within the velocity and
  acceleration limits of the ones before it.
- The joint-state source stops: `hold_stale_state` within one period (+ MARGIN_S) of the
  state staleness limit after the last joint state; it resumes when the source restarts.
- System 1 is restarted: it comes back enabled or disabled as `start_enabled` says, and its
  first command is within one velocity-limit step of the measured position (which the
  probe moves while System 1 is down, as a robot sagging under gravity would).

Staleness limits are set explicitly (state 0.3 s, tokens 1.0 s), looser than the
unitree_g1 YAML's 0.1 / 0.5 s: this machine's two cores are shared with a training job, and
the limits under test only need to be known, not tight.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from gr00t_testing import (AUTOSTART, RELIABLE, CommandRecorder, NodeProcess, RosProbe,
                           assert_commands_safe, make_checkpoint_for, static_robot_yaml,
                           wait_until)
from gr00t_common.stamps import stamp_to_seconds
from gr00t_policy.embodiment import EmbodimentConfig, load_embodiment

REPO = Path(__file__).resolve().parents[3]
G1_YAML = REPO / "config" / "unitree_g1.yaml"
START_TIMEOUT = 150.0
STATE_STALE_S = 0.3
TOKEN_STALE_S = 1.0
# Scheduling + DDS delivery of the command to the probe on a loaded, shared 2-core machine.
MARGIN_S = 0.05
# A hold brakes to rest within the acceleration limits first (G1: 6 rad/s at 60 rad/s^2).
HOLD_SETTLE_S = 0.2
CHILD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

pytestmark = [pytest.mark.slow]


@pytest.fixture(scope="module")
def emb() -> EmbodimentConfig:
    return load_embodiment(G1_YAML)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_checkpoint_for(tmp_path_factory.mktemp("ckpt") / "nano", [G1_YAML])


def start_system1(checkpoint: Path, log: Path, start_enabled: bool) -> NodeProcess:
    static = static_robot_yaml(G1_YAML, log.parent)  # these joint states do not follow
    return NodeProcess.python_module("gr00t_system1.node", [
        "--ros-args", "-p", AUTOSTART,
        "-p", f"checkpoint:={checkpoint}", "-p", f"embodiment:={static}",
        "-p", f"start_enabled:={str(start_enabled).lower()}",
        "-p", f"state_staleness_s:={STATE_STALE_S}", "-p", f"token_staleness_s:={TOKEN_STALE_S}",
    ], log, env=CHILD_ENV)


def start_system2(checkpoint: Path, emb: EmbodimentConfig, log: Path) -> NodeProcess:
    return NodeProcess.python_module("gr00t_system2.node", [
        "--ros-args", "-p", AUTOSTART, "-p", f"checkpoint:={checkpoint}",
        "-p", f"camera_topics:=[{emb.cameras[0].topic}]", "-p", "rate_hz:=10.0",
        "-p", "stale_image_s:=1.0", "-p", "torch_threads:=1",
        "-p", "default_instruction:=wave"], log, env=CHILD_ENV)


def positions_inside_limits(emb: EmbodimentConfig, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    out = {}
    for name in emb.monitored_joints:
        lo, hi = emb.limits_of(name)
        out[name] = float(lo + (hi - lo) * rng.uniform(0.2, 0.8))
    return out


class Robot:
    """The probe as the robot: joint states (pausable) and camera images, plus recorders."""

    def __init__(self, probe: RosProbe, emb: EmbodimentConfig) -> None:
        from gr00t_msgs.msg import EmbeddingTokens
        from sensor_msgs.msg import Image, JointState
        self.probe, self.emb = probe, emb
        self.lock = threading.Lock()
        self.measured = positions_inside_limits(emb, seed=3)
        self.recorder = CommandRecorder(probe, [c.topic for c in emb.controllers])
        self.tokens: list[tuple[float, float]] = []  # (receive monotonic, stamp age at receipt)
        probe.node.create_subscription(EmbeddingTokens, "/gr00t/embedding_tokens",
                                       self._tokens, RELIABLE)
        self.js_pub = probe.publisher(JointState, "/joint_states")
        self.img_pub = probe.publisher(Image, emb.cameras[0].topic)
        pixels = np.random.default_rng(1).integers(0, 256, (48, 64, 3), dtype=np.uint8)
        self.image = Image(height=48, width=64, encoding="rgb8", step=64 * 3,
                           data=pixels.tobytes())
        self._JointState = JointState
        self.send_states = threading.Event()
        self.send_states.set()
        self.last_state = 0.0  # monotonic time of the last joint-state publish
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _now_s(self) -> float:
        return self.probe.node.get_clock().now().nanoseconds * 1e-9

    def _tokens(self, msg) -> None:
        age = self._now_s() - stamp_to_seconds(msg.header.stamp)
        with self.lock:
            self.tokens.append((time.monotonic(), age))

    def _run(self) -> None:
        clock = self.probe.node.get_clock()
        i = 0
        while not self._stop.wait(0.01):
            stamp = clock.now().to_msg()
            if self.send_states.is_set():
                with self.lock:
                    names, pos = list(self.measured), list(self.measured.values())
                msg = self._JointState(name=names, position=pos)
                msg.header.stamp = stamp
                self.js_pub.publish(msg)
                self.last_state = time.monotonic()
            if i % 7 == 0:
                self.image.header.stamp = stamp
                self.img_pub.publish(self.image)
            i += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5.0)

    # -- queries -------------------------------------------------------------------------
    def topic_commands(self, topic: str, after: float = 0.0) -> list:
        return [(t, m) for t, m in self.recorder.snapshot(topic) if t > after]

    def first_labelled(self, label: str, after: float):
        """(receive time, msg) of the first command labelled `label` after `after`."""
        topic = self.emb.controllers[0].topic
        for t, m in self.topic_commands(topic, after):
            if m.layout.dim[0].label == label:
                return t, m
        return None

    def probe_stall(self, start: float, end: float) -> float:
        """Seconds the probe received no command in (start, end], beyond one period: System 1
        publishes every period, so a longer gap in the receive times is the probe's (or the
        machine's) stall, not System 1's (System 1's own log is checked for that)."""
        times = [start] + [t for t, _ in self.topic_commands(self.emb.controllers[0].topic, start)
                           if t <= end] + [end]
        return max(0.0, max(np.diff(times)) - 1.0 / self.emb.rates.system1_hz)

    def last_token(self) -> tuple[float, float]:
        with self.lock:
            return self.tokens[-1]

    def first_fresh_token(self, after: float, limit: float) -> float | None:
        """Receive time of the first token after `after` whose stamp was less than `limit`
        old when it arrived (computed from a frame taken after `after`, give or take)."""
        with self.lock:
            return next((t for t, age in self.tokens if t > after and age < limit), None)


def wait_running(robot: Robot, after: float, nodes, timeout: float, what: str) -> float:
    def ok() -> bool:
        for n in nodes:
            if not n.alive():
                raise AssertionError(f"{n.argv[2]} exited:\n{n.output()[-3000:]}")
        return robot.first_labelled("running", after) is not None

    wait_until(ok, timeout, what)
    return robot.first_labelled("running", after)[0]


def assert_moving(robot: Robot, after: float, seconds: float = 1.0) -> None:
    """Commands after `after` are all 'running' for `seconds` and not constant."""
    time.sleep(seconds)
    topic = robot.emb.controllers[1].topic
    got = robot.topic_commands(topic, after)
    assert len(got) > 0.3 * seconds * robot.emb.rates.system1_hz, len(got)
    labels = {m.layout.dim[0].label for _, m in got}
    assert labels == {"running"}, labels
    values = np.array([m.data for _, m in got])  # (N, n)
    assert np.ptp(values, axis=0).max() > 1e-6, "commands do not move after resuming"


# System 1's log of a hold on stale inputs from running, with the inputs' age then (a hold
# can also follow another hold, e.g. when the probe itself stalls during one).
HOLD_LOG = {"hold_stale_tokens":
            re.compile(r"running -> hold_stale_tokens: tokens ([0-9.]+) s old"),
            "hold_stale_state":
            re.compile(r"running -> hold_stale_state: joint state ([0-9.]+) s old")}


def system1_hold_age(system1: NodeProcess, hold: str, nth: int) -> float:
    """The inputs' age System 1 logged at its `nth` (1-based) transition from running into
    `hold`."""
    pattern = HOLD_LOG[hold]
    wait_until(lambda: len(pattern.findall(system1.output())) >= nth, 5,
               f"System 1's log of {hold} number {nth}")
    return float(pattern.findall(system1.output())[nth - 1])


def assert_hold_on_time(robot: Robot, system1: NodeProcess, nth: int, after: float,
                        what: str) -> None:
    """System 1 held on stale tokens within one period (+ MARGIN_S) of the limit, by its own
    log and end to end (the probe's stall allowed, see the module docstring), not early."""
    period = 1.0 / robot.emb.rates.system1_hz
    t_tok, age = robot.last_token()  # read late: one may still have been in flight
    t_hold = robot.first_labelled("hold_stale_tokens", after)[0]
    delay, stall = t_hold - t_tok, robot.probe_stall(t_tok, t_hold)
    s1_age = system1_hold_age(system1, "hold_stale_tokens", nth)
    # System 1 ages tokens by arrival and by header stamp (the camera frame's), so it holds
    # at (stamp + limit): `age` (stamp age at arrival) earlier than arrival + limit.
    print(f"System 2 {what}: hold {1e3 * delay:.1f} ms after the last token at the probe "
          f"(probe stall {1e3 * stall:.1f} ms), tokens {1e3 * s1_age:.0f} ms old by System 1's "
          f"log (limit {1e3 * TOKEN_STALE_S:.0f} ms, token stamp age at arrival "
          f"{1e3 * age:.1f} ms, period {1e3 * period:.2f} ms)")
    # The log rounds to the millisecond.
    assert TOKEN_STALE_S - 1e-3 <= s1_age <= TOKEN_STALE_S + period + MARGIN_S, s1_age
    assert delay <= TOKEN_STALE_S + period + MARGIN_S + stall, (delay, stall)
    assert delay >= TOKEN_STALE_S - age - MARGIN_S, (delay, age)


def stop_clean(node: NodeProcess) -> None:
    rc = node.stop(signal.SIGTERM)
    out = node.log_path.read_text(errors="replace")
    assert rc == 0, f"{node.argv[2]} exited with {rc}:\n{out[-3000:]}"


def test_kill_system2_and_stop_joint_states_hold_then_resume(ros_domain_id, checkpoint, emb,
                                                              tmp_path) -> None:
    period = 1.0 / emb.rates.system1_hz
    system2 = start_system2(checkpoint, emb, tmp_path / "system2.log")
    system1 = start_system1(checkpoint, tmp_path / "system1.log", start_enabled=True)
    restarted = None
    try:
        with RosProbe(domain_id=ros_domain_id) as probe:
            robot = Robot(probe, emb)
            try:
                wait_running(robot, 0.0, (system1, system2), START_TIMEOUT, "running commands")
                time.sleep(1.0)

                # 1. SIGKILL System 2: tokens stop; System 1 holds on stale tokens.
                system2.stop(signal.SIGKILL)
                t_kill = time.monotonic()
                wait_until(lambda: robot.first_labelled("hold_stale_tokens", t_kill), 10,
                           "hold_stale_tokens after killing System 2")
                assert_hold_on_time(robot, system1, 1, t_kill, "killed")
                t_hold = robot.first_labelled("hold_stale_tokens", t_kill)[0]
                time.sleep(0.4)
                held = [m for t, m in robot.topic_commands(emb.controllers[1].topic, t_hold)]
                assert {m.layout.dim[0].label for m in held} == {"hold_stale_tokens"}
                # The hold brakes within the acceleration limits (at most 6 rad/s at
                # 60 rad/s^2 on the G1: 0.1 s), then does not move.
                settled = [m for t, m in robot.topic_commands(emb.controllers[1].topic,
                                                              t_hold + HOLD_SETTLE_S)]
                assert len({tuple(m.data) for m in settled}) == 1, "a hold must settle"

                # 2. Restart System 2: System 1 resumes with moving commands.
                restarted = start_system2(checkpoint, emb, tmp_path / "system2b.log")
                t_restart = time.monotonic()
                t_run = wait_running(robot, t_restart, (system1, restarted), START_TIMEOUT,
                                     "running again after System 2 restarted")
                assert_moving(robot, t_run + 0.1)

                # 3. Pause System 2 (SIGSTOP 3 s, then SIGCONT), as an overloaded or
                # debugged process would be: System 1 holds within one period of the token
                # limit, and after SIGCONT resumes only on tokens computed from frames taken
                # after the pause, never on the 3-s-old ones System 2 may still send.
                time.sleep(1.0)
                os.kill(restarted.proc.pid, signal.SIGSTOP)
                t_stop = time.monotonic()
                try:
                    wait_until(lambda: robot.first_labelled("hold_stale_tokens", t_stop), 10,
                               "hold_stale_tokens while System 2 is paused")
                    assert_hold_on_time(robot, system1, 2, t_stop, "paused")
                    time.sleep(max(0.0, 3.0 - (time.monotonic() - t_stop)))
                finally:
                    os.kill(restarted.proc.pid, signal.SIGCONT)
                t_cont = time.monotonic()
                t_run = wait_running(robot, t_cont, (system1, restarted), 30,
                                     "running again after SIGCONT")
                fresh = robot.first_fresh_token(t_cont, TOKEN_STALE_S)
                assert fresh is not None and fresh <= t_run, (
                    "System 1 resumed before a token from after the pause arrived", fresh, t_run)
                assert_moving(robot, t_run + 0.1)

                # 4. Stop the joint-state source: hold on stale state; restart it: resume.
                robot.send_states.clear()
                time.sleep(0.05)
                t_state = robot.last_state
                wait_until(lambda: robot.first_labelled("hold_stale_state", t_state), 10,
                           "hold_stale_state")
                t_hold = robot.first_labelled("hold_stale_state", t_state)[0]
                delay, stall = t_hold - t_state, robot.probe_stall(t_state, t_hold)
                s1_age = system1_hold_age(system1, "hold_stale_state", 1)
                print(f"joint states stopped: hold {1e3 * delay:.1f} ms after the last one "
                      f"(probe stall {1e3 * stall:.1f} ms), {1e3 * s1_age:.0f} ms old by "
                      f"System 1's log (limit {1e3 * STATE_STALE_S:.0f} ms)")
                assert STATE_STALE_S - 1e-3 <= s1_age <= STATE_STALE_S + period + MARGIN_S, s1_age
                assert STATE_STALE_S - 0.01 <= delay, delay
                assert delay <= STATE_STALE_S + period + MARGIN_S + stall, (delay, stall)
                robot.send_states.set()
                t_back = time.monotonic()
                t_run = wait_running(robot, t_back, (system1, restarted), 10,
                                     "running again after joint states resumed")
                assert_moving(robot, t_run + 0.1)
            finally:
                robot.stop()
            # Every command of the whole run: finite, in limits, velocity- and
            # acceleration-limited (the holds, the pause and both resumes included).
            checked = assert_commands_safe(
                emb, {c.topic: robot.topic_commands(c.topic) for c in emb.controllers}, period)
            assert checked > 1000, checked
        out = system1.output()
        assert "running -> hold_stale_tokens" in out and "running -> hold_stale_state" in out
    finally:
        for n in (system1, restarted):
            if n is not None:
                stop_clean(n)
        system2.stop()


def test_restarted_system1_obeys_start_enabled_and_never_jumps(ros_domain_id, checkpoint, emb,
                                                               tmp_path) -> None:
    from gr00t_msgs.msg import ActionChunk
    from std_srvs.srv import SetBool

    period = 1.0 / emb.rates.system1_hz
    system2 = start_system2(checkpoint, emb, tmp_path / "system2.log")
    system1 = start_system1(checkpoint, tmp_path / "system1a.log", start_enabled=True)
    try:
        with RosProbe(domain_id=ros_domain_id) as probe:
            robot = Robot(probe, emb)
            chunks = probe.collect(ActionChunk, "/gr00t/action_chunk")

            def assert_first_commands_at_measured(after: float) -> None:
                with robot.lock:
                    measured = dict(robot.measured)
                wait_until(lambda: all(robot.topic_commands(c.topic, after)
                                       for c in emb.controllers), 5, "a command on every topic")
                for c in emb.controllers:
                    first = np.array(robot.topic_commands(c.topic, after)[0][1].data)
                    want = np.array([measured[j] for j in c.joints])
                    step = np.array([emb.joint(j).velocity_limit for j in c.joints]) * period
                    assert (np.abs(first - want) <= step + 1e-9).all(), (c.name, first, want)

            try:
                wait_running(robot, 0.0, (system1, system2), START_TIMEOUT,
                                  "running commands")
                assert_first_commands_at_measured(0.0)
                time.sleep(1.5)  # the random policy moves the commands away from the start
                for start_enabled, seed in ((True, 11), (False, 12)):
                    stop_clean(system1)
                    # While System 1 is down the robot settles somewhere else.
                    with robot.lock:
                        robot.measured = positions_inside_limits(emb, seed=seed)
                    t_restart = time.monotonic()
                    n_chunks = len(chunks)
                    system1 = start_system1(checkpoint, tmp_path / f"system1_{seed}.log",
                                            start_enabled=start_enabled)
                    if start_enabled:
                        wait_running(robot, t_restart, (system1, system2), START_TIMEOUT,
                                     "running after the restart (start_enabled true)")
                        assert_first_commands_at_measured(t_restart)
                        continue
                    # start_enabled false: it plans (chunks) but publishes no command ...
                    wait_until(lambda: len(chunks) >= n_chunks + 20 or not system1.alive(),
                               START_TIMEOUT, "action chunks from the restarted System 1")
                    time.sleep(1.0)
                    assert not robot.topic_commands(emb.controllers[0].topic, t_restart), \
                        "a System 1 started with start_enabled false published commands"
                    # ... until enabled, and then starts from the measured position.
                    t_enable = time.monotonic()
                    reply = probe.call(SetBool, "/gr00t/enable", SetBool.Request(data=True))
                    assert reply.success, reply.message
                    wait_running(robot, t_enable, (system1, system2), 10, "running after enable")
                    assert_first_commands_at_measured(t_enable)
            finally:
                robot.stop()
        assert f"on_stale {emb.on_stale}, disabled" in system1.output()
    finally:
        stop_clean(system1)
        stop_clean(system2)
