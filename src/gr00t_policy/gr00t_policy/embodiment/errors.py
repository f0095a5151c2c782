"""How an embodiment problem is reported: where (key path, YAML line), what, and the fix.

Every check of the package (schema, relations between sections, the checkpoint check, file
reading) produces :class:`ConfigIssue` values; :class:`EmbodimentConfigError` carries all of them
at once, so a user fixes a file in one pass.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from pydantic_core import PydanticCustomError

# The key reference, which fixes point at.
REFERENCE_DOC = "docs/EMBODIMENT.md"
# The error type of checks written as model validators: the translation to ConfigIssue takes
# message and fix from the error's context instead of pydantic's own text.
RULE_ERROR = "embodiment_rule"
# The error type of an unknown value for a key that takes one of a set of names.
CHOICE_ERROR = "embodiment_choice"


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in an embodiment file: where (key path, line), what, and how to fix it."""

    path: str
    message: str
    fix: str
    line: int | None = None

    def format(self) -> str:
        """One line: ``path (line N): message. Fix: fix`` (path and line when known)."""
        where = self.path
        if self.line is not None:
            where = f"{where} (line {self.line})" if where else f"line {self.line}"
        return f"{where + ': ' if where else ''}{self.message}. Fix: {self.fix}"


class EmbodimentConfigError(ValueError):
    """An embodiment file is malformed or inconsistent; ``issues`` lists every problem found."""

    def __init__(self, source: str, issues: Sequence[ConfigIssue]):
        self.source = source
        self.issues = tuple(issues)
        n = len(self.issues)
        head = f"{source}: {n} problem{'s' if n != 1 else ''} in embodiment config"
        super().__init__(head + ":\n" + "\n".join("  " + i.format() for i in self.issues))


def join_path(path: str, key: str | int) -> str:
    """``controllers`` + 1 -> ``controllers[1]``; ``rates`` + ``system1_hz`` ->
    ``rates.system1_hz``."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def key_path(parts: Iterable[str | int]) -> str:
    """The key path of a sequence of mapping keys and list indices."""
    path = ""
    for part in parts:
        path = join_path(path, part)
    return path


def line_of(lines: Mapping[str, int], path: str) -> int | None:
    """The YAML line of ``path``, or of its closest ancestor that has one (a missing key)."""
    p = path
    while p:
        if p in lines:
            return lines[p]
        cut = max(p.rfind("."), p.rfind("["))
        p = p[:cut] if cut > 0 else ""
    return None


def did_you_mean(word: Any, candidates: Iterable[str]) -> str:
    """``"did you mean 'x'? "`` for the closest candidate (difflib), or ``""``."""
    found = difflib.get_close_matches(str(word), list(candidates), n=1, cutoff=0.6)
    return f"did you mean {found[0]!r}? " if found else ""


def typename(value: Any) -> str:
    """The YAML word for a value's type, for messages (``mapping``, ``list``, ``null``, ...)."""
    if value is None:
        return "null"
    return {bool: "bool", int: "int", float: "float", str: "string", list: "list",
            dict: "mapping"}.get(type(value), type(value).__name__)


def rule_error(message: str, fix: str) -> PydanticCustomError:
    """What a model validator raises: reported at the validated key with this message and fix."""
    return PydanticCustomError(RULE_ERROR, "{message}", {"message": message, "fix": fix})


def choice_error(what: str, value: Any, choices: Sequence[str]) -> PydanticCustomError:
    """What a validator raises for a name not in ``choices`` (reported with "did you mean")."""
    return PydanticCustomError(CHOICE_ERROR, "unknown {what} {value}",
                               {"what": what, "value": repr(value), "choices": list(choices)})
