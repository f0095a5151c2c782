"""Planning in its own thread: the control loop never waits for inference (ROS-free).

    mailbox = Mailbox()                      # written by the ROS callbacks
    worker = InferenceWorker(planner, mailbox, on_plan=..., is_fresh=...)
    worker.start()

The worker plans as often as new joint states arrive (every control tick when the state
rate and the runner keep up), and hands each `Plan` over by replacing one reference
(`worker.latest`), which the control loop reads. onnxruntime releases the GIL while it
runs, so the two threads run concurrently.

It measures how long a plan takes from its state's arrival to the hand-over
(`LatencyEstimate`) and tells the planner before each plan (real-time chunking freezes the
rows that will lie in the past). `delay_s` holds every plan back that long after sampling,
before the hand-over, so that a small action head behaves like a slow one (a GR00T N1-size
head on an embedded GPU): its plans start executing from a state that much older.
`min_period_s` spaces plans at least that far apart (measured from one plan's start to the
next): fewer plans a second, each as fresh as without it (to save a shared accelerator, or to
tell apart what a slow head costs by its age and by its rate).
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import math
import os
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from gr00t_policy.runtime.planner import NonFiniteActionsError, Plan, Planner, StateSample, TokenSample

logger = logging.getLogger(__name__)

# A planning failure that repeats is logged at most this often (seconds).
FAILURE_LOG_PERIOD_S = 2.0


class LatencyEstimate:
    """How long plans take from their state's arrival to the hand-over: the largest of the
    last `window` (a plan later than estimated has rows in the past that were not frozen,
    one earlier only freezes a row more). Starts at `initial` seconds."""

    def __init__(self, window: int = 32, initial: float = 0.0) -> None:
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        if not (math.isfinite(initial) and initial >= 0.0):
            raise ValueError(f"initial must be finite and >= 0, got {initial}")
        self._recent: collections.deque[float] = collections.deque(maxlen=window)
        self._initial = float(initial)

    def add(self, seconds: float) -> None:
        if math.isfinite(seconds) and seconds >= 0.0:
            self._recent.append(float(seconds))

    @property
    def value(self) -> float:
        return max(self._recent) if self._recent else self._initial


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

    def withdraw_tokens(self, instruction_id: int) -> bool:
        """Tokens for another instruction than the held ones were refused: the instruction
        they carry has been replaced, so the held tokens stop counting (stale from now on:
        nothing is planned on them and System 1 holds) instead of driving the replaced
        instruction until they age out. Returns whether it withdrew any."""
        held = self.tokens
        if held is None or held.instruction_id == instruction_id or held.arrival == -math.inf:
            return False
        self.tokens = dataclasses.replace(held, arrival=-math.inf)
        return True


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
            (late ticks with it at normal priority, none with every thread at SCHED_FIFO;
            docs/BENCHMARKS.md, "Results: graph vs baseline").
        delay_s: seconds each plan is held back after sampling, before the hand-over (the
            inference delay of a slower action head; 0: none).
        min_period_s: a plan starts at least this long after the previous one started
            (0: as soon as a new state arrives).
    """

    def __init__(self, planner: Planner, mailbox: Mailbox, *,
                 is_fresh: Callable[[StateSample, TokenSample], bool],
                 on_plan: Callable[[Plan], None] | None = None,
                 max_failures: int = 3, log: Any = logger, niceness: int = 0,
                 delay_s: float = 0.0, min_period_s: float = 0.0) -> None:
        if not (math.isfinite(delay_s) and delay_s >= 0.0):
            raise ValueError(f"delay_s must be finite and >= 0, got {delay_s}")
        if not (math.isfinite(min_period_s) and min_period_s >= 0.0):
            raise ValueError(f"min_period_s must be finite and >= 0, got {min_period_s}")
        self.planner = planner
        self.mailbox = mailbox
        self.is_fresh = is_fresh
        self.on_plan = on_plan
        self.max_failures = max_failures
        self.log = log
        self.niceness = niceness
        self.delay_s = float(delay_s)
        self.min_period_s = float(min_period_s)
        self.latency = LatencyEstimate(initial=self.delay_s)
        self.latest: Plan | None = None
        self.plans = 0
        self.failures = 0  # total
        self.consecutive_failures = 0
        self._last_failure_log = -float("inf")
        self.last_error = ""
        # time.monotonic() when the plan in progress started (through its hand-over, any
        # delay_s included); None while none is.
        self._planning_since: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gr00t_system1_inference", daemon=True)

    @property
    def healthy(self) -> bool:
        return self._thread.is_alive() and self.consecutive_failures < self.max_failures

    @property
    def problem(self) -> str:
        """Why the worker is not healthy, in words ("" when it is)."""
        if not self._thread.is_alive():
            return "inference thread stopped"
        if self.consecutive_failures >= self.max_failures:
            return (f"planning failed {self.consecutive_failures} times in a row: "
                    f"{self.last_error}")
        return ""

    def in_progress_s(self, mono: float) -> float | None:
        """Seconds the plan in progress has taken so far at time.monotonic() `mono` (None:
        none is in progress). One that never returns (a hung runner or driver) keeps the
        thread alive and failing nothing: this is how long it has hung."""
        since = self._planning_since
        return None if since is None else max(0.0, mono - since)

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
        started = -math.inf  # monotonic time the latest plan started
        while not self._stop.is_set():
            wait = started + self.min_period_s - time.monotonic()
            if wait > 0.0 and self._stop.wait(wait):
                break
            self.mailbox.wake.wait(0.1)
            self.mailbox.wake.clear()
            state, tokens = self.mailbox.state, self.mailbox.tokens
            if state is None or tokens is None or self._stop.is_set():
                continue
            if state.seq == planned_state and tokens.seq == planned_tokens:
                continue
            if not self.is_fresh(state, tokens):
                continue
            started = time.monotonic()
            self._planning_since = started
            try:
                if tokens.seq != self.planner.tokens_seq:
                    self.planner.set_tokens(tokens)
                plan = self.planner.plan(state, latency_s=self.latency.value)
            except Exception as exc:  # noqa: BLE001 - reported, counted, and the loop holds
                self._planning_since = None
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
            if self.delay_s > 0.0:
                if self._stop.wait(self.delay_s):
                    break  # stopping: this plan is never handed over
                plan = dataclasses.replace(plan, latency_s=plan.latency_s + self.delay_s,
                                           done=time.monotonic())
            self._planning_since = None
            self.latency.add(plan.done - state.arrival)
            self.consecutive_failures = 0
            self.plans += 1
            self.latest = plan
            if self.on_plan is not None:
                try:
                    self.on_plan(plan)
                except Exception:  # noqa: BLE001 - a failing observer must not stop planning
                    self.log.error(f"on_plan callback failed:\n{traceback.format_exc()}")
