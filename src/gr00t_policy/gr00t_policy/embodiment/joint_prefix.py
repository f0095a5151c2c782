"""A robot's joint-name prefix: the YAML's joint names as its ROS graph spells them.

ros2_control description macros take a `prefix` (`tf_prefix`) argument, so a robot's driver
may publish `g1/left_elbow_joint` or `robot1_left_elbow_joint` for the embodiment YAML's
`left_elbow_joint`. The prefix is put on at the ROS boundary only (System 1's joint states
and commands, the controllers' `joints`, a recording's messages); everything inside (limits,
checkpoints, datasets, messages about the YAML) keeps the YAML's names.

    prefixed("g1/", ["left_elbow_joint"])          # ("g1/left_elbow_joint",)
    prefix_fix(needed, names, "", "joint_prefix:={}")  # "... set joint_prefix:=g1/" or None

System 1 (parameter `joint_prefix`), gr00t-record (the same parameter, kept in the bag's
metadata) and `gr00t-dataset from-bag` (`--joint-prefix`) take it, checked with
`prefix_problem`. A teleoperation leader arm recorded beside the robot (its own driver, so
maybe its own prefix, or none) takes `action_joint_prefix` / `--action-joint-prefix` for the
action topic (`ACTION_JOINT_PREFIX_KEY` in the metadata); unset, the robot's.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Sequence

# Letters, digits, "_" and "/": what a ROS name is made of (a namespace-like "g1/", or
# "robot1_"); no whitespace, so a stray space or newline from a launch file is refused.
JOINT_PREFIX_PATTERN = r"[A-Za-z0-9_/]*"
JOINT_PREFIX_FORMS = "letters, digits, _ and / only (e.g. g1/ or robot1_), or empty for none"
# Bag metadata (custom_data) gr00t-record writes when its joint_prefix is set.
JOINT_PREFIX_KEY = "joint_prefix"
# ... and its action_joint_prefix, when set (the action topic's, e.g. a leader arm's).
ACTION_JOINT_PREFIX_KEY = "action_joint_prefix"


def prefix_problem(prefix: str) -> str | None:
    """Why `prefix` cannot be a joint-name prefix, or None."""
    if re.fullmatch(JOINT_PREFIX_PATTERN, prefix):
        return None
    return f"{prefix!r} is not a joint-name prefix: it may hold {JOINT_PREFIX_FORMS}"


def joint_prefix_arg(text: str) -> str:
    """`prefix_problem` as an argparse type (``--joint-prefix``; argparse names the flag)."""
    import argparse

    problem = prefix_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return text


def prefixed(prefix: str, names: Iterable[str]) -> tuple[str, ...]:
    """The YAML's `names` as the robot spells them."""
    return tuple(prefix + n for n in names)


def fitting_prefixes(needed: Sequence[str], present: Iterable[str]) -> list[str]:
    """Every prefix ("" included) under which all `needed` (YAML) names are in `present`,
    sorted."""
    present = set(present)
    if not needed:
        return []
    first = needed[0]
    candidates = {p[:len(p) - len(first)] for p in present if p.endswith(first)}
    return sorted(c for c in candidates if all(c + n in present for n in needed))


def _said(prefix: str) -> str:
    return f"the prefix {prefix!r}" if prefix else "no prefix"


def prefix_fix(needed: Sequence[str], present: Iterable[str], prefix: str,
               setting: str) -> str | None:
    """Where `needed` (YAML names) are not all in `present` under `prefix` but all are under
    another one: that prefix named, and how to set it (`setting`, e.g. "joint_prefix:={}" or
    "--joint-prefix {}", gets the shell-quoted prefix). None when no prefix explains it."""
    fits = [p for p in fitting_prefixes(needed, present) if p != prefix]
    if not fits:
        return None
    # Of several (a message with "g1/a" and "a"), the longest: the robot's own, most likely.
    best = max(fits, key=len)
    example = best + needed[0]
    now = f"the joint prefix is {prefix!r}" if prefix else "no joint prefix is set"
    return (f"{now}, but every joint the embodiment needs is there with {_said(best)} "
            f"(e.g. {example!r}): set {setting.format(shlex.quote(best))}")
