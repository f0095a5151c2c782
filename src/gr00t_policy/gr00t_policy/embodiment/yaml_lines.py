"""Read an embodiment YAML file with the line of every key path, for error messages.

``read_yaml(path)`` returns the document and ``{key path: 1-based line}``
(``"controllers[1].joints[3]" -> 247``). Problems before the schema can look at the document
(an unreadable file, malformed YAML, an empty file, a key written twice, which YAML would
silently resolve to the last value) raise :class:`EmbodimentConfigError` here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from gr00t_policy.embodiment.errors import ConfigIssue, EmbodimentConfigError, join_path


def _line_map(node: yaml.Node, path: str, out: dict[str, int], dups: list[tuple[str, int]]
              ) -> None:
    """Record the 1-based line of every key path under ``node``; collect duplicate keys."""
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for knode, vnode in node.value:
            key = str(knode.value)
            kpath = join_path(path, key)
            if key in seen:
                dups.append((kpath, knode.start_mark.line + 1))
            seen.add(key)
            out[kpath] = knode.start_mark.line + 1
            _line_map(vnode, kpath, out, dups)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            ipath = join_path(path, i)
            out[ipath] = item.start_mark.line + 1
            _line_map(item, ipath, out, dups)


def _parse(text: str, source: str) -> tuple[yaml.Node | None, Any]:
    """The node tree (for lines) and the document; malformed YAML names line and column."""
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader), yaml.safe_load(text)
    except RecursionError as exc:
        raise EmbodimentConfigError(source, [ConfigIssue(
            "", "the YAML is nested too deeply to read",
            "an embodiment file needs a few levels: check for runaway indentation or brackets")]
        ) from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        col = f" at column {mark.column + 1}" if mark else ""
        what = ", ".join(x for x in (exc.context, exc.problem) if x)
        ctx = exc.context_mark
        if ctx is not None and mark is not None and ctx.line != mark.line:
            what += f" (the construct began at line {ctx.line + 1}, column {ctx.column + 1})"
        raise EmbodimentConfigError(source, [ConfigIssue(
            "", f"malformed YAML{col}: {what}",
            "fix the YAML syntax at that position (indentation, ':' after keys, closing "
            "brackets and quotes)", line)]) from exc
    except yaml.YAMLError as exc:
        raise EmbodimentConfigError(source, [ConfigIssue(
            "", f"malformed YAML: {exc}", "fix the YAML syntax")]) from exc


def read_yaml(path: str | Path) -> tuple[Any, dict[str, int]]:
    """The YAML document at ``path`` and the line of each key path in it.

    Raises EmbodimentConfigError (a ValueError) for an unreadable file, malformed YAML (with
    its line and column), an empty file and duplicate keys (each with its line).
    """
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        data = Path(path).read_bytes()
        line = data[:exc.start].count(b"\n") + 1
        raise EmbodimentConfigError(source, [ConfigIssue(
            "", f"the file is not UTF-8 (byte 0x{data[exc.start]:02x} at line {line}; saved "
            "as Latin-1 or Windows-1252?)",
            "save it as UTF-8 (or remove the non-ASCII character, e.g. a degree sign in a "
            "comment)", line)]) from exc
    except OSError as exc:
        raise EmbodimentConfigError(source, [ConfigIssue(
            "", f"cannot read the file ({exc.strerror or exc})",
            "check the path; `gr00t-bringup check NAME` also accepts a bare embodiment name")]
        ) from exc
    node, data = _parse(text, source)
    if node is None:
        raise EmbodimentConfigError(source, [ConfigIssue(
            "", "the file is empty", "copy config/unitree_g1.yaml and edit it")])
    lines: dict[str, int] = {}
    dups: list[tuple[str, int]] = []
    _line_map(node, "", lines, dups)
    if dups:
        raise EmbodimentConfigError(source, [ConfigIssue(
            kp, "duplicate key (YAML would silently keep only the last one)",
            "remove or rename one of them", ln) for kp, ln in dups])
    return data, lines
