"""Node parameters given on a command line as NAME:=VALUE, typed as a ROS parameter file
types them (true/false, integers, decimals, a [list], a quoted string, else a string).
A value that would read as a number or true/false stays a string in YAML quotes, as in
`ros2 run`'s `-p`: `--system1-param joint_prefix:="'007'"`.

`gr00t-bringup run|graph` and `gr00t-eval` take them one per ``--system1-param`` /
``--system2-param``; the launch file takes a whitespace-separated list in its
``system1_params`` / ``system2_params`` arguments. `build_graph` then checks each name
against the node's parameters.
"""

from __future__ import annotations

import argparse
import shlex
from typing import Any

import yaml


class OverrideError(ValueError):
    """Not NAME:=VALUE; the message shows the form."""


def parse_override(text: str) -> tuple[str, Any]:
    """"chunk_mode:=rtc" -> ("chunk_mode", "rtc"); "ensemble_decay_per_s:=6.0" -> (..., 6.0)."""
    name, sep, value = text.partition(":=")
    if not sep or not name.strip():
        raise OverrideError(f"{text!r}: write NAME:=VALUE, e.g. ensemble_decay_per_s:=13.0")
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        try:  # YAML's quotes, escapes included (the node's error names them for a string)
            quoted = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            raise OverrideError(f"{text!r}: the quoted value does not parse ({exc})") from None
        return name.strip(), str(quoted)
    if value.lower() in ("true", "false"):
        return name.strip(), value.lower() == "true"
    if value.startswith("["):
        try:
            items = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            raise OverrideError(f"{text!r}: the list does not parse ({exc})") from None
        return name.strip(), items
    for kind in (int, float):
        try:
            return name.strip(), kind(value)
        except ValueError:
            pass
    return name.strip(), value


def parse_overrides(text: str) -> dict[str, Any]:
    """NAME:=VALUE items separated by spaces, shell-quoted where a value has spaces
    ("default_instruction:='wave hello' seed:=3"; "" -> {})."""
    try:
        items = shlex.split(text)
    except ValueError as exc:
        raise OverrideError(f"{text!r}: {exc} (quote a value that has spaces)") from None
    return dict(parse_override(item) for item in items)


def override_arg(text: str) -> tuple[str, Any]:
    """`parse_override` as an argparse type (its message reaches the user)."""
    try:
        return parse_override(text)
    except OverrideError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_override_options(parser: argparse.ArgumentParser, system1_example: str,
                         system2_example: str) -> None:
    """``--system1-param`` and ``--system2-param`` (repeatable NAME:=VALUE, into
    ``args.system1_param`` / ``args.system2_param`` as (name, value) pairs)."""
    for node, example in (("1", system1_example), ("2", system2_example)):
        parser.add_argument(
            f"--system{node}-param", action="append", type=override_arg, default=[],
            metavar="NAME:=VALUE",
            help=f"a System {node} parameter (docs/PARAMETERS.md), e.g. {example} (quote "
                 "a string that reads as a number: NAME:=\"'007'\"); repeatable")
