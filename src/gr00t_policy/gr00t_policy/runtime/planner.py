"""Planning one chunk, ROS-free: newest state + tokens -> an unnormalized action chunk.

    planner = bundle.planner(runner)          # or Planner(runner, processor, action_dt=0.05)
    planner.set_tokens(token_sample)          # once per System 2 message (keys/values)
    plan = planner.plan(state_sample)         # normalize, pad, sample, unpad, unnormalize

How a chunk is sampled is the planner's `sampling` strategy: `FreshSampling` (default) draws
every chunk from fresh noise alone; `gr00t_policy.runtime.rtc.RtcSampling` guides it towards
what the control loop will command (real-time chunking) and says from when the loop may
follow it (`Plan.frozen_until`).

The samples (`StateSample`, `TokenSample`) and the result (`Plan`) are what the threads of a
runtime hand each other; `gr00t_policy.runtime.worker` runs the planner in its own thread.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gr00t_policy.processor import Processor
from gr00t_policy.runtime.chunk import Chunk


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
        held_positions: np.float64 (H,) measured positions of the held joints System 1
            commands to their held positions (empty when it commands none).
    """

    state: np.ndarray
    action_positions: np.ndarray
    stamp: float
    arrival: float
    seq: int
    held_positions: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def age(self, now: float, mono: float) -> float:
        """Seconds since the state was measured: the larger of its age by arrival
        (monotonic clock) and by header stamp (node clock), so a state stamped long ago is
        stale however recently it arrived."""
        return max(mono - self.arrival, now - self.stamp)

    @property
    def command_positions(self) -> np.ndarray:
        """np.float64 (A + H,): measured positions of everything System 1 commands."""
        return np.concatenate([self.action_positions, self.held_positions])


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

    def age(self, now: float, mono: float) -> float:
        """The larger of the age by arrival (monotonic) and by header stamp (node clock)."""
        return max(mono - self.arrival, now - self.stamp)


@dataclass(frozen=True)
class Plan:
    """A chunk and where it came from.

    Attributes:
        chunk: the unnormalized chunk, anchored at `state.stamp`.
        state: the state it was planned from.
        instruction_id: of the tokens it was conditioned on.
        latency_s: wall time of the runner's `sample` call (plus any delay the worker adds,
            `InferenceWorker(delay_s=...)`).
        done: time.monotonic() when planning finished (when the worker handed it over).
        frozen_until: with `RtcSampling`, the end of the chunk's frozen rows: before it the
            loop keeps commanding what it did (chunk_mode rtc); else None.
    """

    chunk: Chunk
    state: StateSample
    instruction_id: int
    latency_s: float
    done: float
    frozen_until: float | None = None

    @property
    def seq(self) -> int:
        return self.chunk.seq


class FreshSampling:
    """Every chunk from fresh noise alone, independent of the chunks before it."""

    name = "fresh"

    def sample(self, runner: Any, state: np.ndarray, noise: np.ndarray, *, stamp: float,
               action_dt: float, latency_s: float, instruction_id: int = 0) -> np.ndarray:
        """Normalized padded rows (H, A_max)."""
        return runner.sample(state, noise)

    def finish(self, chunk: Chunk) -> tuple[Chunk, float | None]:
        """The chunk as published, and no frozen rows."""
        return chunk, None


class Planner:
    """Normalize, pad, sample with fresh noise, unpad, unnormalize: state -> chunk rows.

    Args:
        runner: a gr00t_policy ActionHeadRunner (set_conditioning / sample, horizon,
            max_state_dim, max_action_dim).
        processor: the embodiment's `gr00t_policy.processor.Processor`, whose padded widths
            must be the runner's.
        action_dt: seconds between chunk rows.
        seed: noise seed; None draws one from the OS.
        noise_scale: standard deviation of the initial noise the sampler integrates from
            (1 = the training distribution; below 1 draws chunks nearer the most likely one,
            as a lower temperature does).
        sampling: how each chunk is sampled (`FreshSampling` by default, or
            `gr00t_policy.runtime.rtc.RtcSampling`).
    """

    def __init__(self, runner: Any, processor: Processor, *, action_dt: float,
                 seed: int | None = None, noise_scale: float = 1.0,
                 sampling: Any = None) -> None:
        self.runner = runner
        self.processor = processor
        self.action_dt = float(action_dt)
        self.state_dim = processor.state_dim
        self.action_dim = processor.action_dim
        widths = (processor.max_state_dim, processor.max_action_dim)
        if widths != (runner.max_state_dim, runner.max_action_dim):
            raise ValueError(
                f"the processor pads to state {widths[0]} / action {widths[1]} but the runner "
                f"takes {runner.max_state_dim} / {runner.max_action_dim}: build both from the "
                "same checkpoint")
        if not (math.isfinite(noise_scale) and noise_scale >= 0.0):
            raise ValueError(f"noise_scale must be finite and >= 0, got {noise_scale}")
        self.noise_scale = float(noise_scale)
        self.sampling = FreshSampling() if sampling is None else sampling
        self._rng = np.random.default_rng(seed)
        self._state = np.zeros(runner.max_state_dim, np.float32)  # (S_max,) padded, reused
        self._seq = 0
        self.tokens_seq = 0  # seq of the TokenSample in force (0 = none yet)
        self.instruction_id = 0

    def warm_up(self) -> float:
        """Run the runner once on zero tokens and a zero state, before going live: the first
        call pays for lazy initialisation (allocations, kernel selection, a CUDA context).
        Returns the seconds it took. The conditioning it leaves is marked as none, so the
        next `set_tokens` sets it again."""
        runner = self.runner
        tokens = np.zeros((runner.num_tokens, runner.token_dim), np.float32)  # (L, C)
        mask = np.ones(runner.num_tokens, np.bool_)  # (L,)
        state = np.zeros(runner.max_state_dim, np.float32)  # (S_max,)
        noise = np.zeros((runner.horizon, runner.max_action_dim), np.float32)  # (H, A_max)
        t0 = time.monotonic()
        runner.set_conditioning(tokens, mask)
        runner.sample(state, noise)
        self.tokens_seq = 0
        return time.monotonic() - t0

    def set_tokens(self, sample: TokenSample) -> None:
        """Compute the conditioning (K/V) once for this token message."""
        self.runner.set_conditioning(sample.tokens, sample.mask)
        self.tokens_seq = sample.seq
        self.instruction_id = sample.instruction_id

    def plan(self, state: StateSample, latency_s: float = 0.0) -> Plan:
        """One chunk from `state` with the tokens in force. `latency_s`: how long after
        `state.stamp` the plan is expected to reach the control loop (what the worker
        measured; real-time chunking freezes the rows before then)."""
        self.processor.state(state.state, out=self._state)  # (S_max,)
        noise = self._rng.standard_normal(
            (self.runner.horizon, self.runner.max_action_dim), dtype=np.float32)  # (H, A_max)
        noise *= np.float32(self.noise_scale)  # exact for 1
        t0 = time.monotonic()
        actions = self.sampling.sample(self.runner, self._state, noise, stamp=state.stamp,
                                       action_dt=self.action_dt, latency_s=latency_s,
                                       instruction_id=self.instruction_id)  # (H, A_max)
        latency = time.monotonic() - t0
        rows = self.processor.unpad_actions(actions)  # (H, A)
        if not np.isfinite(rows).all():
            # E.g. a finite but absurd joint position (1e308) overflows normalization, or a
            # damaged checkpoint's head overflows on a plausible state. A NaN chunk must not
            # be published as a plan: the control loop would hold silently while reporting
            # "running", and /gr00t/action_chunk readers would get NaN. The message names
            # which: System 1 refuses implausible joint states before planning, so pointing
            # at /joint_states sent an operator with a broken checkpoint to the encoders.
            if np.isfinite(self._state).all():
                cause = ("the state normalizes to finite values, so the action head itself "
                         "overflows: a damaged checkpoint (NaN/inf or huge weights) or "
                         "normalization statistics that do not fit it; check the checkpoint "
                         "against the embodiment YAML")
            else:
                cause = ("the state overflows normalization; check /joint_states for "
                         "implausible positions")
            raise NonFiniteActionsError(
                f"the action head produced non-finite actions ({int((~np.isfinite(rows)).sum())} "
                f"of {rows.size} values) from a state with max |position| "
                f"{float(np.max(np.abs(state.state))):.3g}: {cause} (the loop holds until a "
                "plan is finite again)")
        self._seq += 1
        chunk = Chunk(stamp=state.stamp, action_dt=self.action_dt,
                      start=state.action_positions, rows=rows, seq=self._seq)
        chunk, frozen_until = self.sampling.finish(chunk)
        return Plan(chunk, state, self.instruction_id, latency, time.monotonic(), frozen_until)
