"""Which task each evaluation episode gets: the task sets and the seed -> task rule.

Seeds: training data uses seeds < 100000 (gr00t_sim.collect), so evaluation starts at 100000.
"""

from __future__ import annotations

from collections.abc import Sequence

from gr00t_sim.tasks import all_instructions

DEFAULT_SEED = 100_000  # training seeds are < 100000
TASK_SETS = ("all", "touch", "raise")


def task_list(which: str = "all") -> list[str]:
    """The instructions evaluated: all eight, the six touch tasks, or the two raise tasks."""
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
