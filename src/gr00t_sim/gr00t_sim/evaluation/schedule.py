"""Which task each evaluation episode gets, and which phrasing of it System 2 reads: the task
sets and the seed -> (task, phrasing) rule.

Seeds: training data uses seeds < 100000 (gr00t_sim.collect), so evaluation starts at 100000.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from gr00t_sim.tasks import all_instructions, either_instructions

# Training demonstrations use scene seeds below it (gr00t-collect refuses others), evaluation
# seeds from it on: no evaluated scene is trained on.
EVAL_SEED_START = 100_000
DEFAULT_SEED = EVAL_SEED_START
TASK_SETS = ("all", "touch", "raise", "either")


def task_list(which: str = "all") -> list[str]:
    """The instructions evaluated: all eight, the six touch tasks, the two raise tasks, or
    the three touches that name no hand (either palm counts; not among the eight)."""
    if which not in TASK_SETS:
        raise ValueError(f"--tasks {which!r} is unknown; use one of {list(TASK_SETS)}")
    if which == "either":
        return either_instructions()
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


def phrasing_for_seed(seed: int, tasks: Sequence[str],
                      phrasings: Mapping[str, Sequence[str]]) -> str:
    """What System 2 reads in the episode with `seed`: phrasings[task][(seed // n) % k], where
    task = tasks[seed % n] (`task_for_seed`), n = len(tasks) and k = that task's number of
    phrasings.

    It depends on the seed alone, and every `coverage_period` consecutive seeds give each
    phrasing of a task the same number of episodes (dividing by n first keeps the phrasing
    independent of which task the seed picked).
    """
    task = task_for_seed(seed, tasks)
    said = phrasings.get(task)
    if not said:
        raise ValueError(f"no phrasing for task {task!r}; list one or more in the instruction "
                         "file (its canonical instruction is allowed)")
    return said[(seed // len(tasks)) % len(said)]


def coverage_period(tasks: Sequence[str], phrasings: Mapping[str, Sequence[str]]) -> int:
    """How many consecutive episodes (from any seed) give every phrasing of every task the same
    number of episodes: len(tasks) * the least common multiple of the tasks' phrasing counts."""
    if not tasks:
        raise ValueError("tasks is empty; pass at least one instruction")
    return len(tasks) * math.lcm(*(len(phrasings.get(t) or (t,)) for t in tasks))
