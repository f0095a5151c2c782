"""The instruction file of ``gr00t-eval --instructions FILE``: what System 2 reads for each task.

The file format and its checks are the core's (`gr00t_policy.phrasings`): a mapping from each
task's canonical instruction (`gr00t_sim.tasks.all_instructions`) to one phrasing or a list.
Success is always judged on the canonical task (the simulator is reset with it); a phrasing is
only the text System 2 reads. Which phrasing an episode gets is `schedule.phrasing_for_seed`.
A key may differ from the canonical text in case and final punctuation (`Task.parse`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from gr00t_policy import phrasings as _core
from gr00t_policy.phrasings import Issue, PhrasingFileError

from gr00t_sim.tasks import Task, all_instructions

__all__ = ["Issue", "PhrasingFileError", "load_phrasings", "read_phrasings"]


def read_phrasings(path: str | Path) -> dict[str, tuple[str, ...]]:
    """{canonical instruction: its phrasings} for the simulator's tasks in the file
    (`gr00t_policy.phrasings.read_phrasings` with the tasks of `gr00t_sim.tasks`)."""
    return _core.read_phrasings(path, all_instructions(), lambda key: Task.parse(key).instruction)


def load_phrasings(path: str | Path, tasks: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """{task: its phrasings} for every evaluated task in `tasks` (canonical instructions), in
    that order; the file may list more tasks than are evaluated.

    Raises PhrasingFileError for a problem of the file (`read_phrasings`) and for an evaluated
    task the file does not list: gr00t-eval never falls back to the canonical instruction
    unasked.
    """
    found = read_phrasings(path)
    canonical = [Task.parse(t).instruction for t in tasks]
    missing = [t for t in canonical if t not in found]
    if missing:
        raise PhrasingFileError(path, [Issue(
            t, "is evaluated but the file has no phrasing for it",
            f"add it with one or more phrasings (e.g. '{t}: [{t}]' keeps its own words), or "
            "evaluate fewer tasks with --tasks touch|raise") for t in missing])
    return {t: found[t] for t in canonical}
