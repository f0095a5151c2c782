"""Entry points: find an embodiment file, read it, validate it, build the config.

Validation is two passes over the same document, and every problem of both is reported
together: the schema (pydantic, :mod:`.config` and :mod:`.schema`: types, ranges, names,
required and unknown keys) and the relations across entries and sections (:mod:`.validate`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Mapping, Sequence

from pydantic import ValidationError

from gr00t_policy.embodiment.config import EmbodimentConfig
from gr00t_policy.embodiment.decoder_types import known_decoder_types
from gr00t_policy.embodiment.errors import (
    ConfigIssue,
    EmbodimentConfigError,
    did_you_mean,
    line_of,
)
from gr00t_policy.embodiment.schema_errors import schema_issues
from gr00t_policy.embodiment.validate import relation_issues
from gr00t_policy.embodiment.yaml_lines import read_yaml


def parse_embodiment(data: Any, source: str = "<dict>", *,
                     _lines: Mapping[str, int] | None = None) -> EmbodimentConfig:
    """Validate ``data`` (the YAML document as Python objects) and build the config.

    ``source`` names the origin in error messages. Raises EmbodimentConfigError listing every
    problem found.
    """
    # One scan of the decoder plugins for the whole document.
    context = {"decoder_types": known_decoder_types()}
    config: EmbodimentConfig | None = None
    issues: list[ConfigIssue] = []
    try:
        config = EmbodimentConfig.model_validate(data, context=context)
    except ValidationError as exc:
        issues += schema_issues(exc, data, EmbodimentConfig)
    issues += [i for i in relation_issues(data, context) if i not in issues]
    if issues:
        lines = _lines or {}
        located = [dataclasses.replace(i, line=line_of(lines, i.path)) for i in issues]
        # In file order; issues without a line (a missing key) first, as found.
        located.sort(key=lambda i: -1 if i.line is None else i.line)
        raise EmbodimentConfigError(source, located)
    config._source = source
    return config


def load_embodiment(path: str | Path) -> EmbodimentConfig:
    """Read, parse and validate an embodiment YAML file.

    Raises EmbodimentConfigError (a ValueError) naming the file, the key path, the line, the bad
    value and the fix; malformed YAML is reported with its line and column.
    """
    data, lines = read_yaml(path)
    return parse_embodiment(data, str(path), _lines=lines)


def find_embodiment(name_or_path: str | Path, search_dirs: Sequence[str | Path]) -> Path:
    """Resolve an embodiment file: an existing path, or a bare name ``<dir>/<name>.yaml``
    (a bare file name, ``unitree_g1.yaml``, not found here is searched for there too).

    Raises EmbodimentConfigError listing the known names (and the closest one) when nothing
    matches.
    """
    text = str(name_or_path)
    p = Path(text).expanduser()
    has_dir = "/" in text or "\\" in text
    if p.is_file():
        return p
    if p.suffix in (".yaml", ".yml") and not has_dir:
        for d in search_dirs:
            if (Path(d) / text).is_file():
                return Path(d) / text
        text = p.stem  # not found: named like a bare name below, with the closest names
    elif has_dir:
        raise EmbodimentConfigError(text, [ConfigIssue(
            "", "no such embodiment file", "check the path, or pass a bare name such as "
            "`unitree_g1` to search the config directories")])
    known: dict[str, Path] = {}
    for d in search_dirs:
        d = Path(d)
        for ext in (".yaml", ".yml"):
            cand = d / f"{text}{ext}"
            if cand.is_file():
                return cand
        if d.is_dir():
            for f in sorted(d.glob("*.y*ml")):
                known.setdefault(f.stem, f)
    dirs = ", ".join(str(d) for d in search_dirs) or "(no search directories given)"
    names = sorted(known)
    hint = did_you_mean(text, names)
    raise EmbodimentConfigError(text, [ConfigIssue(
        "", f"unknown embodiment {text!r} (searched {dirs})",
        f"{hint}known embodiments: {names or 'none'}; or pass a path to a YAML file")])
