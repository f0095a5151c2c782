"""Scoring (ROS-free): an episode's score from the simulator's verdicts, the per-task and
per-phrasing tables and latency percentiles.

The simulator judges the task on every state it publishes (gr00t_sim.tasks, carried by
/gr00t_sim/state as `Snapshot.success` and `.margin`). Two rates, the strict one first:
"at end" = the criterion held at the episode's last sample (a touch that holds), "any time" =
it held at ANY sample while System 1 acted (`success`, the older figure).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from gr00t_common.stats import summary_ms
from gr00t_sim.snapshot import Snapshot
from gr00t_sim.tasks import RAISE_HEIGHT, TOUCH_RADIUS, Task, best_margin

# Word for word what gr00t-eval has always printed and written into its JSON, so results stay
# comparable across versions ("gr00t_sim.world criterion": SimWorld.verdict applies
# gr00t_sim.tasks.judge, the one definition).
_SUCCESS_DEFINITION = (
    "gr00t_sim.world criterion (touch: named palm within {touch:.2f} m of the named cube's "
    "centre; raise: named palm >= {raise_:.2f} m above that side's shoulder pitch joint), "
    "checked on every /gr00t_sim/state sample (25 Hz); success = held at ANY sample of the "
    "episode, at_end = held at its last sample")


def success_definition() -> str:
    """The sentence the report and the JSON's `success_definition` give."""
    return _SUCCESS_DEFINITION.format(touch=TOUCH_RADIUS, raise_=RAISE_HEIGHT)


@dataclass(frozen=True)
class EpisodeScore:
    """The score of one episode from its state samples.

    success: the criterion held at any sample; success_at_end: at the last one;
    first_success_s: t_since_reset of the first successful sample (None if none);
    best: the best margin (touch: smallest distance, raise: largest height; None if no
    samples); samples: how many samples were scored; final: the margin at the last sample
    (what the strict measure judged; None if no samples); cube_moved: for a touch, how far the
    named cube's centre moved from the first sample to the last, in m (a touch that pushes the
    cube out of reach vs a palm that drifts off a cube standing still; None for a raise or
    where the samples carry no cube position).
    """

    success: bool
    success_at_end: bool
    first_success_s: float | None
    best: float | None
    samples: int
    final: float | None = None
    cube_moved: float | None = None


def score_episode(instruction: str, samples: Sequence[Snapshot], seed: int | None = None,
                  reset_count: int | None = None) -> EpisodeScore:
    """Score the /gr00t_sim/state samples of one episode (arrival order) for `instruction`.

    With `seed` or `reset_count`, samples of another scene (sent before the episode's reset)
    are ignored. A kept sample that judges another task raises ValueError: the simulator was
    reset with a different instruction than the episode's.
    """
    task = Task.parse(instruction)
    kept = [s for s in samples if (seed is None or s.seed == seed)
            and (reset_count is None or s.reset_count == reset_count)]
    if not kept:
        return EpisodeScore(False, False, None, None, 0)
    wrong = [s.instruction for s in kept if s.instruction != task.instruction]
    if wrong:
        raise ValueError(f"{len(wrong)} of {len(kept)} samples judge {wrong[0]!r}, not the "
                         f"episode's {task.instruction!r}; reset the simulator with the "
                         "episode's instruction")
    ok = [bool(s.success) for s in kept]
    first = next((float(s.time_since_reset) for s in kept if s.success), None)
    best = best_margin(task.kind, [float(s.margin) for s in kept])
    return EpisodeScore(any(ok), ok[-1], first, best, len(kept), float(kept[-1].margin),
                        _cube_moved(task, kept))


def _cube_moved(task: Task, kept: Sequence[Snapshot]) -> float | None:
    """How far the touch's cube moved between the first and last of `kept` (m), or None."""
    name = f"{task.color}_cube"
    if task.kind != "touch" or any(name not in s.objects for s in (kept[0], kept[-1])):
        return None
    return float(np.linalg.norm(np.asarray(kept[-1].objects[name])
                                - np.asarray(kept[0].objects[name])))


def percentiles_ms(values_s: Sequence[float]) -> dict[str, float | int | None]:
    """p50/p90/p99/max/mean in ms of values in seconds, and their count n."""
    return summary_ms(values_s, mean=True)


@dataclass
class EpisodeResult:
    """One episode as reported."""

    episode: int
    seed: int
    instruction: str
    instruction_id: int
    success_at_end: bool  # strict: held at the episode's last sample
    success: bool  # held at any sample
    first_success_s: float | None
    best: float | None
    best_kind: str  # "min_distance_m" (touch) | "max_height_m" (raise)
    samples: int
    run_s: float  # wall seconds System 1 was enabled
    sim_s: float  # simulated seconds System 1 was enabled
    real_time_factor: float  # sim_s / run_s
    wait_tokens_s: float  # from the instruction request to tokens carrying its id
    settle_drift_m: float  # how far a palm moved between the reset and the instruction
    # What System 2 read (gr00t-eval --instructions); the task's instruction when not given.
    phrasing: str = ""
    final: float | None = None  # the margin (distance or height) at the last sample
    cube_moved: float | None = None  # touch: the named cube's displacement over the episode, m
    # The faults System 1 latched while it acted (its /diagnostics `fault`, 1 Hz): the episode
    # scores as the simulator judged it, but its miss was a safety stop, not the policy's.
    system1_faults: list[str] = field(default_factory=list)
    # Seconds System 1 held in each hold state while it acted (/gr00t/safety_state; a stale
    # input, no plan in time, a fault): the arm stood still whatever the policy planned.
    system1_held_s: dict[str, float] = field(default_factory=dict)
    # gr00t-eval --record: the episode's bag and what the recorder said of it at the stop
    # (messages per topic, losses); None without --record.
    bag: str | None = None
    recording: str | None = None

    def __post_init__(self) -> None:
        if not self.phrasing:
            self.phrasing = self.instruction


def best_kind(task: Task) -> str:
    """What EpisodeResult.best measures for `task`."""
    return "min_distance_m" if task.kind == "touch" else "max_height_m"


def rates(episodes: Sequence[EpisodeResult]) -> dict[str, int | float | None]:
    """{episodes, successes_at_end, success_rate_at_end (strict, first), successes_any_time,
    success_rate_any_time, successes, success_rate, system1_fault_episodes,
    system1_hold_episodes} (successes and success_rate: the any-time figures under the names
    results before the strict one used; the last two: how many episodes System 1 latched a
    fault in, and held in); rates are None without an episode."""
    n = len(episodes)
    k, k_end = sum(e.success for e in episodes), sum(e.success_at_end for e in episodes)
    return {"episodes": n,
            "successes_at_end": k_end, "success_rate_at_end": k_end / n if n else None,
            "successes_any_time": k, "success_rate_any_time": k / n if n else None,
            "successes": k, "success_rate": k / n if n else None,
            "system1_fault_episodes": sum(bool(e.system1_faults) for e in episodes),
            "system1_hold_episodes": sum(bool(e.system1_held_s) for e in episodes)}


def per_task(episodes: Sequence[EpisodeResult], tasks: Sequence[str]) -> dict[str, dict]:
    """{instruction: `rates` of its episodes} for every task in `tasks`."""
    return {t: rates([e for e in episodes if e.instruction == t]) for t in tasks}


def per_phrasing(episodes: Sequence[EpisodeResult], phrasings: Mapping[str, Sequence[str]]
                 ) -> dict[str, dict[str, dict]]:
    """{task: {phrasing: `rates` of the task's episodes System 2 read it in}} for every task
    and phrasing in `phrasings` (a phrasing no episode got has episodes 0)."""
    return {t: {p: rates([e for e in episodes if e.instruction == t and e.phrasing == p])
                for p in said}
            for t, said in phrasings.items()}
