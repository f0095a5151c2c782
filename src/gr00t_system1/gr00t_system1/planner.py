"""Planning in its own thread: newest state + tokens -> an action chunk (ROS-free).

    mailbox = Mailbox()                      # written by the ROS callbacks
    planner = Planner(runner, normalizer, action_dt=0.05)
    worker = InferenceWorker(planner, mailbox, on_plan=..., is_fresh=...)
    worker.start()

The control loop never waits for inference: the worker plans as often as new joint states
arrive (every control tick when the state rate and the runner keep up), and hands each
`Plan` over by replacing one reference (`worker.latest`), which the control loop reads.
onnxruntime releases the GIL while it runs, so the two threads run concurrently.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from gr00t_system1.chunk import Chunk

logger = logging.getLogger(__name__)


# A planning failure that repeats is logged at most this often (seconds).
FAILURE_LOG_PERIOD_S = 2.0

class NonFiniteActionsError(ValueError):
    """The action head returned NaN/inf actions (bad input, not a bug: logged without a trace)."""


@dataclass(frozen=True)
class StateSample:
    """One accepted joint state.

    Attributes:
        state: np.float64 (S,) positions in the embodiment's state-vector order.
        action_positions: np.float64 (A,) measured positions of the action joints.
        stamp: header stamp in node-clock seconds (the arrival time if the header was 0).
        arrival: time.monotonic() when the message arrived.
        seq: count of accepted states (1 = first).
    """

    state: np.ndarray
    action_positions: np.ndarray
    stamp: float
    arrival: float
    seq: int


@dataclass(frozen=True)
class TokenSample:
    """One accepted EmbeddingTokens message.

    Attributes:
        tokens: np.float32 (L, C); mask: np.bool_ (L,) True = real token.
        stamp: header stamp in node-clock seconds; arrival: time.monotonic() on arrival.
        instruction_id: System 2's instruction id; seq: count of accepted messages.
    """

    tokens: np.ndarray
    mask: np.ndarray
    stamp: float
    arrival: float
    instruction_id: int
    seq: int


@dataclass(frozen=True)
class Plan:
    """A chunk and where it came from.

    Attributes:
        chunk: the unnormalized chunk, anchored at `state.stamp`.
        state: the state it was planned from.
        instruction_id: of the tokens it was conditioned on.
        latency_s: wall time of the runner's `sample` call.
        done: time.monotonic() when planning finished.
    """

    chunk: Chunk
    state: StateSample
    instruction_id: int
    latency_s: float
    done: float

    @property
    def seq(self) -> int:
        return self.chunk.seq


class Mailbox:
    """Newest inputs, each replaced whole by its ROS callback; `wake` tells the worker."""

    def __init__(self) -> None:
        self.state: StateSample | None = None
        self.tokens: TokenSample | None = None
        self.wake = threading.Event()

    def put_state(self, sample: StateSample) -> None:
        self.state = sample
        self.wake.set()

    def put_tokens(self, sample: TokenSample) -> None:
        self.tokens = sample
        self.wake.set()


class Planner:
    """Normalize, pad, sample with fresh noise, slice, unnormalize: state -> chunk rows.

    Args:
        runner: a gr00t_policy ActionHeadRunner (set_conditioning / sample, horizon,
            max_state_dim, max_action_dim).
        normalizer: a gr00t_policy Normalizer for this embodiment (state_dim, action_dim).
        action_dt: seconds between chunk rows.
        seed: noise seed; None draws one from the OS.
        noise_scale: standard deviation of the initial noise the sampler integrates from
            (1 = the training distribution; below 1 draws chunks nearer the most likely one,
            as a lower temperature does).
    """

    def __init__(self, runner: Any, normalizer: Any, *, action_dt: float, seed: int | None = None,
                 noise_scale: float = 1.0) -> None:
        self.runner = runner
        self.normalizer = normalizer
        self.action_dt = float(action_dt)
        self.state_dim = int(normalizer.state_dim)
        self.action_dim = int(normalizer.action_dim)
        if self.state_dim > runner.max_state_dim or self.action_dim > runner.max_action_dim:
            raise ValueError(
                f"embodiment has state {self.state_dim} / action {self.action_dim} dims but the "
                f"checkpoint takes at most {runner.max_state_dim} / {runner.max_action_dim}"
            )
        if not (math.isfinite(noise_scale) and noise_scale >= 0.0):
            raise ValueError(f"noise_scale must be finite and >= 0, got {noise_scale}")
        self.noise_scale = float(noise_scale)
        self._rng = np.random.default_rng(seed)
        self._state = np.zeros(runner.max_state_dim, np.float32)  # (S_max,) padded, reused
        self._seq = 0
        self.tokens_seq = 0  # seq of the TokenSample in force (0 = none yet)
        self.instruction_id = 0

    def set_tokens(self, sample: TokenSample) -> None:
        """Compute the conditioning (K/V) once for this token message."""
        self.runner.set_conditioning(sample.tokens, sample.mask)
        self.tokens_seq = sample.seq
        self.instruction_id = sample.instruction_id

    def plan(self, state: StateSample) -> Plan:
        """One chunk from `state` with the tokens in force."""
        self._state[: self.state_dim] = self.normalizer.normalize_state(state.state)
        noise = self._rng.standard_normal(
            (self.runner.horizon, self.runner.max_action_dim), dtype=np.float32)  # (H, A_max)
        noise *= np.float32(self.noise_scale)  # exact for 1
        t0 = time.monotonic()
        actions = self.runner.sample(self._state, noise)  # (H, A_max) normalized
        latency = time.monotonic() - t0
        rows = self.normalizer.unnormalize_action(
            actions[:, : self.action_dim].astype(np.float64))  # (H, A)
        if not np.isfinite(rows).all():
            # E.g. a finite but absurd joint position (1e308) overflows normalization. A NaN
            # chunk must not be published as a plan: the control loop would hold silently
            # while reporting "running", and /gr00t/action_chunk readers would get NaN.
            raise NonFiniteActionsError(
                f"the action head produced non-finite actions ({int((~np.isfinite(rows)).sum())} "
                f"of {rows.size} values) from a state with max |position| "
                f"{float(np.max(np.abs(state.state))):.3g}; check /joint_states for implausible "
                "positions (the loop holds until a plan is finite again)")
        self._seq += 1
        chunk = Chunk(stamp=state.stamp, action_dt=self.action_dt,
                      start=state.action_positions, rows=rows, seq=self._seq)
        return Plan(chunk, state, self.instruction_id, latency, time.monotonic())


class InferenceWorker:
    """A daemon thread that replans whenever a new state (or new tokens) arrives.

    Args:
        planner: the Planner (used by this thread only).
        mailbox: where the ROS callbacks leave the newest inputs.
        is_fresh: is_fresh(state, tokens) -> bool; stale inputs are not planned on.
        on_plan: called (in this thread) with each new Plan after `latest` is set.
        max_failures: consecutive planning errors after which `healthy` turns False.
        log: where errors go: anything with `.error(str)` (the node passes its logger).
        niceness: added to this thread's nice value (Linux: per thread) so that, on a busy
            CPU, the control loop wins over replanning; 0 leaves it alone. It has no effect
            in a real-time process (SCHED_FIFO, see gr00t_bringup's runner), and this thread
            deliberately stays real-time there: it holds the GIL between its native calls,
            and at normal priority it was preempted while holding it, stalling the timer
            (System 1 period error p99 1.9 ms and 2 late ticks a minute, against 0.3 ms and
            none with every thread at SCHED_FIFO; docs/BENCHMARKS.md).
    """

    def __init__(self, planner: Planner, mailbox: Mailbox, *,
                 is_fresh: Callable[[StateSample, TokenSample], bool],
                 on_plan: Callable[[Plan], None] | None = None,
                 max_failures: int = 3, log: Any = logger, niceness: int = 0) -> None:
        self.planner = planner
        self.mailbox = mailbox
        self.is_fresh = is_fresh
        self.on_plan = on_plan
        self.max_failures = max_failures
        self.log = log
        self.niceness = niceness
        self.latest: Plan | None = None
        self.plans = 0
        self.failures = 0  # total
        self.consecutive_failures = 0
        self._last_failure_log = -float("inf")
        self.last_error = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gr00t_system1_inference", daemon=True)

    @property
    def healthy(self) -> bool:
        return self._thread.is_alive() and self.consecutive_failures < self.max_failures

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self.mailbox.wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _lower_priority(self) -> None:
        if self.niceness <= 0 or not hasattr(os, "setpriority"):
            return
        tid = threading.get_native_id()
        try:
            os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + self.niceness)
        except OSError as exc:
            self.log.error(f"could not lower the inference thread's priority: {exc}")

    def _run(self) -> None:
        self._lower_priority()
        planned_state = planned_tokens = 0
        while not self._stop.is_set():
            self.mailbox.wake.wait(0.1)
            self.mailbox.wake.clear()
            state, tokens = self.mailbox.state, self.mailbox.tokens
            if state is None or tokens is None or self._stop.is_set():
                continue
            if state.seq == planned_state and tokens.seq == planned_tokens:
                continue
            if not self.is_fresh(state, tokens):
                continue
            try:
                if tokens.seq != self.planner.tokens_seq:
                    self.planner.set_tokens(tokens)
                plan = self.planner.plan(state)
            except Exception as exc:  # noqa: BLE001 - reported, counted, and the loop holds
                self.failures += 1
                self.consecutive_failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                # The first failure of a streak is logged (with its traceback unless it is
                # the expected non-finite case), then at most one line per
                # FAILURE_LOG_PERIOD_S: a stuck sensor fails every state, 125 times a second.
                now = time.monotonic()
                if (self.consecutive_failures == 1
                        or now - self._last_failure_log >= FAILURE_LOG_PERIOD_S):
                    self._last_failure_log = now
                    trace = (traceback.format_exc() if self.consecutive_failures == 1
                             and not isinstance(exc, NonFiniteActionsError) else "")
                    self.log.error(f"planning failed ({self.consecutive_failures} in a row): "
                                   f"{self.last_error}\n{trace}".rstrip())
                planned_state, planned_tokens = state.seq, tokens.seq
                continue
            planned_state, planned_tokens = state.seq, tokens.seq
            self.consecutive_failures = 0
            self.plans += 1
            self.latest = plan
            if self.on_plan is not None:
                try:
                    self.on_plan(plan)
                except Exception:  # noqa: BLE001 - a failing observer must not stop planning
                    self.log.error(f"on_plan callback failed:\n{traceback.format_exc()}")
