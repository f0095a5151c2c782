"""Instruction files: other phrasings of each task, for training and for evaluation.

A YAML file (JSON when the name ends in .json) mapping tasks, by their canonical instruction
(the text a dataset records), to one phrasing or a list of them::

    touch the red cube with your left hand:
      - tap the red block with your left hand
      - with your left hand, touch the red cube
    raise your left hand: lift your left hand up

``gr00t-train --instructions FILE`` trains on the phrasings beside the recorded instruction
(paraphrase augmentation); ``gr00t-eval --instructions FILE`` sends them to System 2 instead
(`gr00t_sim.evaluation.phrasings`). A key may differ from the task's text in case, spacing and
final punctuation. The canonical instruction itself is a valid phrasing.

Every problem found is reported at once in a `PhrasingFileError` (a ValueError) that names the
file, the key (with its line in a YAML file) and the fix.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import yaml

_EXAMPLE = ("'raise your left hand: [lift your left hand up, put your left hand up]' "
            "(a task's instruction, a colon, its phrasings)")


@dataclass(frozen=True)
class Issue:
    """One problem of an instruction file: where (the key, its line), what, the fix."""

    key: str | None
    message: str
    fix: str
    line: int | None = None

    def format(self) -> str:
        where = repr(self.key) if self.key is not None else ""
        if self.line is not None:
            where = f"{where} (line {self.line})" if where else f"line {self.line}"
        return f"{where + ': ' if where else ''}{self.message}. Fix: {self.fix}"


class PhrasingFileError(ValueError):
    """An instruction file that gr00t-eval cannot use; the message lists every problem."""

    def __init__(self, path: str | Path, issues: Sequence[Issue]) -> None:
        self.path, self.issues = str(path), tuple(issues)
        n = len(self.issues)
        super().__init__(f"--instructions {self.path}: {n} problem{'s' if n != 1 else ''}:\n"
                         + "\n".join("  " + i.format() for i in self.issues))


def _yaml(text: str, path: Path) -> tuple[Any, dict[Any, int], dict[tuple[Any, int], int]]:
    """The document, the line of each top-level key and of each item of a key's list."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = ", ".join(x for x in (exc.context, exc.problem) if x)
        col = f" at column {mark.column + 1}" if mark else ""
        raise PhrasingFileError(path, [Issue(
            None, f"malformed YAML{col}: {what}",
            "fix the YAML syntax there (indentation, ':' after each task, quotes around a "
            "phrasing that holds ': ' or starts with a special character)",
            mark.line + 1 if mark else None)]) from exc
    except yaml.YAMLError as exc:
        raise PhrasingFileError(path, [Issue(None, f"malformed YAML: {exc}",
                                             "fix the YAML syntax")]) from exc
    key_lines: dict[Any, int] = {}
    item_lines: dict[tuple[Any, int], int] = {}
    if not isinstance(node, yaml.MappingNode) or not isinstance(data, dict):
        return data, key_lines, item_lines
    seen: set[str] = set()
    duplicates: list[Issue] = []
    for knode, _ in node.value:
        if str(knode.value) in seen:
            duplicates.append(Issue(str(knode.value), "the task is listed twice (YAML would "
                                    "silently keep only the last list)",
                                    "merge the two lists under one key",
                                    knode.start_mark.line + 1))
        seen.add(str(knode.value))
    if duplicates:
        raise PhrasingFileError(path, duplicates)
    if len(node.value) == len(data):  # no merge keys: the nodes are the keys, in order
        for (knode, vnode), key in zip(node.value, data):
            key_lines[key] = knode.start_mark.line + 1
            if isinstance(vnode, yaml.SequenceNode):
                for i, item in enumerate(vnode.value):
                    item_lines[(key, i)] = item.start_mark.line + 1
    return data, key_lines, item_lines


def _json(text: str, path: Path) -> Any:
    duplicates: list[Issue] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value in items:
            if key in seen:
                duplicates.append(Issue(key, "the task is listed twice (JSON would silently "
                                        "keep only the last list)",
                                        "merge the two lists under one key"))
            seen[key] = value
        return seen

    try:
        data = json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        raise PhrasingFileError(path, [Issue(
            None, f"malformed JSON at column {exc.colno}: {exc.msg}",
            "fix the JSON syntax there (or write YAML in a file not ending in .json)",
            exc.lineno)]) from exc
    if duplicates:
        raise PhrasingFileError(path, duplicates)
    return data


def _kind(value: Any) -> str:
    """What a value that should be text is, in words."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"true/false ({value})"
    if isinstance(value, (int, float)):
        return f"a number ({value!r})"
    return {dict: "a mapping", list: "a list", str: "text"}.get(type(value),
                                                             f"a {type(value).__name__}")


def _norm(text: str) -> str:
    """For comparing phrasings: case and runs of whitespace do not count."""
    return " ".join(text.split()).casefold()


def task_key(text: str) -> str:
    """A task's text as keys are matched: case, spacing and final . or ! do not count."""
    return " ".join(text.strip().strip(".!").split()).casefold()


def read_phrasings(path: str | Path, tasks: Sequence[str],
                   parse: Callable[[str], str] | None = None) -> dict[str, tuple[str, ...]]:
    """{task: its phrasings (stripped, file order)} for the tasks in the file.

    ``tasks`` are the canonical instructions a key may name; ``parse`` maps a key to one of
    them or raises ValueError (default: `task_key` equality).

    Raises PhrasingFileError listing every problem: an unreadable or malformed file, a
    document that is not a mapping, a key that is no task (the message lists the tasks), a
    task twice, a task without phrasings, a phrasing that is not text or is empty, a phrasing
    twice, or one phrasing under two tasks (System 2 could not tell them apart).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PhrasingFileError(path, [Issue(
            None, f"cannot read the file ({getattr(exc, 'strerror', None) or exc})",
            "check the path, e.g. config/instructions/training_phrasings.yaml")]) from exc
    if path.suffix.lower() == ".json":
        data, key_lines, item_lines = _json(text, path), {}, {}
    else:
        data, key_lines, item_lines = _yaml(text, path)
    if not isinstance(data, dict) or not data:
        got = "nothing" if data is None or data == {} else _kind(data)
        raise PhrasingFileError(path, [Issue(
            None, f"the file holds {got}, not a mapping from tasks to phrasings",
            f"write one line per task, e.g. {_EXAMPLE}")])

    known = list(tasks)
    if parse is None:
        by_key = {task_key(t): t for t in known}

        def parse(key: str) -> str:
            if task_key(key) not in by_key:
                raise ValueError(key)
            return by_key[task_key(key)]
    issues: list[Issue] = []
    result: dict[str, tuple[str, ...]] = {}
    owner: dict[str, str] = {}  # normalized phrasing -> its task
    own = {task_key(t): t for t in known}  # each task's own instruction -> the task
    for key, value in data.items():
        line = key_lines.get(key)
        if not isinstance(key, str):
            issues.append(Issue(str(key), f"a key must be a task's instruction, not "
                                f"{_kind(key)}", f"use one of: {', '.join(known)}", line))
            continue
        try:
            task = parse(key)
        except ValueError:
            close = difflib.get_close_matches(key.strip().lower(), known, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}? " if close else ""
            issues.append(Issue(key, "is not one of the tasks",
                                f"{hint}use the task's canonical instruction as the key; the "
                                f"tasks: {', '.join(known)}", line))
            continue
        if task in result:
            issues.append(Issue(key, f"names the same task as another key ({task!r})",
                                "merge the two lists under one key", line))
            continue
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list):
            issues.append(Issue(key, f"has {_kind(items)}; it needs one or more phrasings",
                                f"give a phrasing or a list of them, e.g. {_EXAMPLE}; or "
                                "remove the key", line))
            continue
        if not items:
            issues.append(Issue(key, "has an empty list of phrasings",
                                "list one or more phrasings, or remove the key", line))
            continue
        phrasings: list[str] = []
        for i, item in enumerate(items):
            at = item_lines.get((key, i), line)
            if not isinstance(item, str):
                issues.append(Issue(key, f"phrasing {i} is {_kind(item)}, not text",
                                    "write each phrasing as text (quote it if YAML reads it "
                                    "as something else)", at))
                continue
            said = item.strip()
            if not said:
                issues.append(Issue(key, f"phrasing {i} is empty",
                                    "write some words or remove the item", at))
                continue
            named = own.get(task_key(said))
            if named is not None and named != task:
                issues.append(Issue(key, f"phrasing {i} {said!r} is the instruction of task "
                                    f"{named!r}; the two tasks could not be told apart",
                                    "remove it or move it under that task", at))
                continue
            other = owner.get(_norm(said))
            if other == task:
                issues.append(Issue(key, f"phrasing {i} {said!r} is listed twice (it would "
                                    "get twice the episodes)", "remove one of them", at))
                continue
            if other is not None:
                issues.append(Issue(key, f"phrasing {i} {said!r} is also a phrasing of "
                                    f"{other!r}; System 2 could not tell the two tasks apart",
                                    "keep it under one task only", at))
                continue
            owner[_norm(said)] = task
            phrasings.append(said)
        result[task] = tuple(phrasings)
    if issues:
        raise PhrasingFileError(path, issues)
    return result
