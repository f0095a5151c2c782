"""Embodiments as data: the per-robot YAML schema, its parser and its validation.

One YAML file (``config/<name>.yaml``) describes one robot for the runtime: which joints the
policy observes and drives (joint groups with position and velocity limits), how the state and
action vectors are laid out (state/action keys, each a joint group with a normalization mode),
the cameras in checkpoint order, ``action_dt``, the controllers that receive the commands
(decoder plugin ``type``, ``topic``, joints in the controller's order), the node rates, the
staleness limits and what to do when inputs go stale. The shipped files document every key in
their comment header.

``load_embodiment(path)`` parses and validates a file and returns a frozen
:class:`EmbodimentConfig`; any problem raises :class:`EmbodimentConfigError`, whose message names
the file, the key path (``controllers[1].joints[3]``), the line, the bad value and the fix. All
problems found are reported together.

This module is ROS-free (yaml, numpy, dataclasses only): decoder plugin names registered by other
packages are read from the ``gr00t_system1.decoders`` entry-point group without importing them.
"""

from __future__ import annotations

import difflib
import json
import importlib.metadata
import math
import re
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, NamedTuple, Sequence

import numpy as np
import yaml

__all__ = [
    "ACTION_REPRESENTATIONS",
    "BUILTIN_DECODER_TYPES",
    "DECODER_ENTRY_POINT_GROUP",
    "MAX_EMBODIMENT_SLOTS",
    "NORMALIZATION_MODES",
    "ON_STALE_BEHAVIOURS",
    "Camera",
    "ConfigIssue",
    "ControllerSpec",
    "EmbodimentConfig",
    "EmbodimentConfigError",
    "HeldJoint",
    "Joint",
    "JointGroup",
    "KeySpec",
    "ModalityKey",
    "Rates",
    "Staleness",
    "check_against_checkpoint",
    "find_embodiment",
    "known_decoder_types",
    "load_embodiment",
    "parse_embodiment",
]

NORMALIZATION_MODES = ("min_max", "q99", "mean_std", "binary")
ACTION_REPRESENTATIONS = ("absolute",)
ON_STALE_BEHAVIOURS = ("hold_last_command", "hold_measured")
BUILTIN_DECODER_TYPES = ("forward_command", "joint_trajectory", "joint_state")
DECODER_ENTRY_POINT_GROUP = "gr00t_system1.decoders"
# GR00T N1's action head keeps per-embodiment weights for up to 32 embodiments.
MAX_EMBODIMENT_SLOTS = 32
DEFAULT_SYSTEM1_HZ = 120.0
DEFAULT_SYSTEM2_HZ = 10.0

_NAME_RE = re.compile(r"^[A-Za-z0-9_\-]+$")
# A ROS topic name: optional leading '/', tokens of [A-Za-z0-9_] that do not start with a digit,
# separated by single '/'; '~' and substitutions are not allowed in embodiment files.
_TOPIC_RE = re.compile(r"^/?[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)*$")
_RULES = {
    _NAME_RE.pattern: "only letters, digits, '_' and '-'",
    _TOPIC_RE.pattern: "'/'-separated tokens of letters, digits and '_' that do not start with "
                       "a digit, e.g. /camera/head/image_raw",
}


# ----------------------------------------------------------------------------- errors


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


# ----------------------------------------------------------------------------- schema


@dataclass(frozen=True)
class Joint:
    """A driven or observed joint: position limits [min, max] (rad or m), velocity limit (>0)."""

    name: str
    position_limits: tuple[float, float]
    velocity_limit: float


@dataclass(frozen=True)
class JointGroup:
    """A named, ordered group of joints; state and action keys each name one group."""

    name: str
    joints: tuple[Joint, ...]

    @property
    def joint_names(self) -> tuple[str, ...]:
        return tuple(j.name for j in self.joints)


@dataclass(frozen=True)
class HeldJoint:
    """A joint the policy does not drive (e.g. the G1 legs) and the position to hold it at."""

    name: str
    position: float


@dataclass(frozen=True)
class KeySpec:
    """A state or action key as written in the YAML: key name, joint group, normalization mode."""

    key: str
    group: str
    normalization: str


class ModalityKey(NamedTuple):
    """A state or action key resolved to its joints: unpacks as ``key, joints, mode``."""

    key: str
    joints: tuple[str, ...]
    mode: str


@dataclass(frozen=True)
class Camera:
    """A camera: a name (the checkpoint's video key, e.g. ``ego_view``) and its image topic."""

    name: str
    topic: str


@dataclass(frozen=True)
class ControllerSpec:
    """A controller fed by a System 1 decoder plugin.

    ``type`` picks the decoder (``forward_command``, ``joint_trajectory``, ``joint_state`` or an
    entry point in ``gr00t_system1.decoders``); ``joints`` is the controller's own joint order;
    ``params`` are decoder-specific options passed through untouched.
    """

    name: str
    type: str
    topic: str
    joints: tuple[str, ...]
    params: Mapping[str, Any] = field(default_factory=lambda: types.MappingProxyType({}),
                                      hash=False)


@dataclass(frozen=True)
class Rates:
    """Node rates in Hz: System 1 (action head) and System 2 (VLM)."""

    system1_hz: float = DEFAULT_SYSTEM1_HZ
    system2_hz: float = DEFAULT_SYSTEM2_HZ


@dataclass(frozen=True)
class Staleness:
    """Maximum input ages in seconds before System 1 treats joint states / tokens as stale."""

    state_s: float
    tokens_s: float


@dataclass(frozen=True)
class EmbodimentConfig:
    """A validated embodiment. Build it with :func:`load_embodiment` or :func:`parse_embodiment`.

    The state vector is the state keys' joints concatenated in YAML order; so is the action
    vector. ``position_limits`` and ``velocity_limits`` are given for the action joints.
    """

    name: str
    tag: str
    slot: int
    action_dt: float
    action_representation: str
    joint_groups: tuple[JointGroup, ...]
    held_joints: tuple[HeldJoint, ...]
    state_specs: tuple[KeySpec, ...]
    action_specs: tuple[KeySpec, ...]
    cameras: tuple[Camera, ...]
    controllers: tuple[ControllerSpec, ...]
    rates: Rates
    staleness: Staleness
    on_stale: str
    start_enabled: bool
    source: str = field(default="<dict>", compare=False)

    # -- lookups ------------------------------------------------------------------------

    def group(self, name: str) -> JointGroup:
        """The joint group called ``name``; KeyError names the known groups."""
        for g in self.joint_groups:
            if g.name == name:
                return g
        raise KeyError(f"no joint group {name!r} in embodiment {self.name!r}; "
                       f"known: {[g.name for g in self.joint_groups]}")

    def joint(self, name: str) -> Joint:
        """The joint called ``name`` (from any group); KeyError if it is in no group."""
        for g in self.joint_groups:
            for j in g.joints:
                if j.name == name:
                    return j
        raise KeyError(f"joint {name!r} is in no joint group of embodiment {self.name!r}")

    def _resolve(self, specs: tuple[KeySpec, ...]) -> list[ModalityKey]:
        return [ModalityKey(s.key, self.group(s.group).joint_names, s.normalization)
                for s in specs]

    # -- what the nodes use --------------------------------------------------------------

    @property
    def state_keys(self) -> list[ModalityKey]:
        """``[(key, [joints], mode)]`` in state-vector order."""
        return self._resolve(self.state_specs)

    @property
    def action_keys(self) -> list[ModalityKey]:
        """``[(key, [joints], mode)]`` in action-vector order."""
        return self._resolve(self.action_specs)

    @property
    def state_joints(self) -> tuple[str, ...]:
        """Joint names of the state vector, in order."""
        return tuple(j for k in self.state_keys for j in k.joints)

    @property
    def action_joints(self) -> tuple[str, ...]:
        """Joint names of the action vector (the driven joints), in order."""
        return tuple(j for k in self.action_keys for j in k.joints)

    @property
    def state_dim(self) -> int:
        return len(self.state_joints)

    @property
    def action_dim(self) -> int:
        return len(self.action_joints)

    @property
    def position_limits(self) -> np.ndarray:
        """np.float64 (A, 2): [min, max] per action joint, read-only."""
        out = np.array([self.joint(n).position_limits for n in self.action_joints],
                       dtype=np.float64).reshape(-1, 2)  # (A, 2)
        out.setflags(write=False)
        return out

    @property
    def velocity_limits(self) -> np.ndarray:
        """np.float64 (A,): velocity limit per action joint, read-only."""
        out = np.array([self.joint(n).velocity_limit for n in self.action_joints],
                       dtype=np.float64)  # (A,)
        out.setflags(write=False)
        return out

    def action_indices(self, joints: Iterable[str]) -> np.ndarray:
        """np.int64 (n,): positions of ``joints`` in the action vector (for decoders)."""
        index = {n: i for i, n in enumerate(self.action_joints)}
        missing = [n for n in joints if n not in index]
        if missing:
            raise KeyError(f"joints {missing} are not action joints of {self.name!r}")
        return np.array([index[n] for n in joints], dtype=np.int64)

    def state_indices(self, joints: Iterable[str]) -> np.ndarray:
        """np.int64 (n,): positions of ``joints`` in the state vector."""
        index = {n: i for i, n in enumerate(self.state_joints)}
        missing = [n for n in joints if n not in index]
        if missing:
            raise KeyError(f"joints {missing} are not state joints of {self.name!r}")
        return np.array([index[n] for n in joints], dtype=np.int64)

    def checkpoint_entry(self) -> dict[str, Any]:
        """The checkpoint ``config.json["embodiments"][tag]`` entry a policy trained on this
        embodiment records: slot, action_dt, sizes, and the vector layout (keys with their
        normalization modes and widths, joint order), so that a later YAML edit that
        reorders or renormalizes the vectors is caught at start-up, not fed to the model."""
        return {
            "slot": self.slot,
            "action_dt": self.action_dt,
            "state_dim": self.state_dim,
            "action_dim": self.action_dim,
            "state_keys": [[k.key, k.mode] for k in self.state_keys],
            "action_keys": [[k.key, k.mode] for k in self.action_keys],
            "state_key_dims": {k.key: len(k.joints) for k in self.state_keys},
            "action_key_dims": {k.key: len(k.joints) for k in self.action_keys},
            "state_joints": list(self.state_joints),
            "action_joints": list(self.action_joints),
        }

    def to_dict(self) -> dict[str, Any]:
        """The YAML-shaped dict; ``parse_embodiment(cfg.to_dict())`` gives back an equal config."""

        def key_dict(s: KeySpec) -> dict[str, Any]:
            return {"key": s.key, "group": s.group, "normalization": s.normalization}

        return {
            "name": self.name,
            "tag": self.tag,
            "slot": self.slot,
            "action_representation": self.action_representation,
            "action_dt": self.action_dt,
            "joint_groups": {
                g.name: {"joints": [{"name": j.name, "position": list(j.position_limits),
                                     "velocity": j.velocity_limit} for j in g.joints]}
                for g in self.joint_groups
            },
            "held_joints": [{"name": h.name, "position": h.position} for h in self.held_joints],
            "state_keys": [key_dict(s) for s in self.state_specs],
            "action_keys": [key_dict(s) for s in self.action_specs],
            "cameras": [{"name": c.name, "topic": c.topic} for c in self.cameras],
            "controllers": [{"name": c.name, "type": c.type, "topic": c.topic,
                             "joints": list(c.joints), "params": dict(c.params)}
                            for c in self.controllers],
            "rates": {"system1_hz": self.rates.system1_hz, "system2_hz": self.rates.system2_hz},
            "staleness": {"state_s": self.staleness.state_s,
                          "tokens_s": self.staleness.tokens_s},
            "on_stale": self.on_stale,
            "start_enabled": self.start_enabled,
        }


# ----------------------------------------------------------------------------- decoder types


def known_decoder_types() -> tuple[str, ...]:
    """Built-in decoder types plus the names registered under ``gr00t_system1.decoders``.

    Only entry-point names are read; nothing is imported (so no rclpy here).
    """
    names = list(BUILTIN_DECODER_TYPES)
    for ep in importlib.metadata.entry_points(group=DECODER_ENTRY_POINT_GROUP):
        if ep.name not in names:
            names.append(ep.name)
    return tuple(names)


# ----------------------------------------------------------------------------- parsing helpers

def _did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """``"did you mean 'x'? "`` for the closest candidate (difflib), or ``""``."""
    found = difflib.get_close_matches(str(word), list(candidates), n=1, cutoff=0.6)
    return f"did you mean {found[0]!r}? " if found else ""


def _typename(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "bool", int: "int", float: "float", str: "string", list: "list",
            dict: "mapping"}.get(type(value), type(value).__name__)


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


class _Collector:
    """Accumulates issues; knows the YAML line of each key path when parsing a file."""

    def __init__(self, source: str, lines: Mapping[str, int] | None):
        self.source = source
        self.lines = lines or {}
        self.issues: list[ConfigIssue] = []
        # Sections with an entry dropped for errors, and joints whose definition had errors:
        # cross-checks skip what they cannot judge, so one mistake is reported once.
        self.incomplete: set[str] = set()
        self.tainted_joints: set[str] = set()

    def add(self, path: str, message: str, fix: str) -> None:
        self.issues.append(ConfigIssue(path, message, fix, self._line(path)))

    def _line(self, path: str) -> int | None:
        p = path
        while p:
            if p in self.lines:
                return self.lines[p]
            cut = max(p.rfind("."), p.rfind("["))
            p = p[:cut] if cut > 0 else ""
        return None

    # -- typed getters: return None (and record an issue) when the value is unusable --------

    def mapping(self, value: Any, path: str, required: Sequence[str] | None,
                optional: Sequence[str] | None, example: str) -> dict | None:
        """Check a mapping; ``required = optional = None`` accepts any (string) keys."""
        if not isinstance(value, dict):
            self.add(path, f"expected a mapping, got {_typename(value)} {value!r}",
                     f"write it as a mapping, e.g. {example}")
            return None
        if required is None and optional is None:
            return value
        required = list(required or ())
        known = required + list(optional or ())
        for k in value:
            if not isinstance(k, str):
                self.add(_join(path, str(k)), f"key {k!r} is a {_typename(k)}, not a string",
                         f"use one of the known keys {known}")
            elif k not in known:
                self.add(_join(path, k), f"unknown key {k!r}",
                         f"{_did_you_mean(k, known)}known keys here: {known}")
        for k in required:
            if k not in value:
                where = f"under {path!r}" if path else "at the top level"
                self.add(_join(path, k), f"missing required key {k!r}",
                         f"add `{k}: ...` {where} (see the comment header of the shipped "
                         "config/unitree_g1.yaml)")
        return value

    def list(self, value: Any, path: str, example: str, nonempty: bool = True) -> list | None:
        if not isinstance(value, list):
            self.add(path, f"expected a list, got {_typename(value)} {value!r}",
                     f"write it as a YAML list, e.g. {example}")
            return None
        if nonempty and not value:
            self.add(path, "the list is empty", f"give at least one entry, e.g. {example}")
            return None
        return value

    def string(self, value: Any, path: str, pattern: re.Pattern | None = None,
               what: str = "a name") -> str | None:
        if not isinstance(value, str) or not value:
            self.add(path, f"expected a non-empty string ({what}), got {_typename(value)} "
                     f"{value!r}", f"write {what} as a plain string")
            return None
        if pattern is not None and not pattern.match(value):
            rule = _RULES.get(pattern.pattern, pattern.pattern)
            self.add(path, f"{value!r} is not valid as {what}", f"use {rule}")
            return None
        return value

    def choice(self, value: Any, path: str, choices: Sequence[str], what: str) -> str | None:
        if not isinstance(value, str) or value not in choices:
            self.add(path, f"unknown {what} {value!r}",
                     f"{_did_you_mean(str(value), choices)}use one of {list(choices)}")
            return None
        return value

    def number(self, value: Any, path: str, what: str, positive: bool = False) -> float | None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.add(path, f"expected a number ({what}), got {_typename(value)} {value!r}",
                     f"write {what} as a number, e.g. 0.5")
            return None
        if not math.isfinite(value):
            self.add(path, f"{what} must be finite, got {value!r}",
                     f"write a finite number for {what}")
            return None
        if positive and value <= 0:
            self.add(path, f"{what} must be > 0, got {value!r}",
                     f"write a positive number for {what}")
            return None
        return float(value)

    def integer(self, value: Any, path: str, what: str, lo: int, hi: int) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(path, f"expected an integer ({what}), got {_typename(value)} {value!r}",
                     f"write {what} as an integer in {lo}..{hi}")
            return None
        if not lo <= value <= hi:
            self.add(path, f"{what} {value} is out of range {lo}..{hi}",
                     f"use an integer in {lo}..{hi}")
            return None
        return value

    def boolean(self, value: Any, path: str, what: str) -> bool | None:
        if not isinstance(value, bool):
            self.add(path, f"expected true or false ({what}), got {_typename(value)} {value!r}",
                     "write true or false (unquoted)")
            return None
        return value


# ----------------------------------------------------------------------------- sections

_TOP_REQUIRED = ("name", "tag", "slot", "action_dt", "joint_groups", "state_keys",
                 "action_keys", "cameras", "controllers", "staleness", "on_stale")
_TOP_OPTIONAL = ("action_representation", "held_joints", "rates", "start_enabled")


def _parse_joint_groups(c: _Collector, value: Any) -> list[JointGroup]:
    groups: list[JointGroup] = []
    owner: dict[str, str] = {}
    m = c.mapping(value, "joint_groups", None, None,
                  "`joint_groups: {left_arm: {joints: [...]}}`")
    if m is None:
        return groups
    if not m:
        c.add("joint_groups", "no joint groups", "define at least one group under joint_groups")
        return groups
    for gname, gvalue in m.items():
        gpath = _join("joint_groups", str(gname))
        if not isinstance(gname, str) or not _NAME_RE.match(gname):
            c.add(gpath, f"group name {gname!r} is not a valid name",
                  "use only letters, digits, '_' and '-'")
            c.incomplete.add("joint_groups")
            continue
        gm = c.mapping(gvalue, gpath, ["joints"], [], "`{joints: [...]}`")
        jpath = _join(gpath, "joints")
        jlist = None
        if gm is not None and "joints" in gm:
            jlist = c.list(gm["joints"], jpath,
                           "`- {name: waist_yaw_joint, position: [-2.6, 2.6], velocity: 30.0}`")
        if jlist is None:
            c.incomplete.add("joint_groups")
            continue
        joints: list[Joint] = []
        for i, jv in enumerate(jlist):
            joint = _parse_joint(c, jv, _join(jpath, i))
            if joint is None:
                if isinstance(jv, dict) and isinstance(jv.get("name"), str):
                    c.tainted_joints.add(jv["name"])
                else:
                    c.incomplete.add("joint_groups")
                continue
            if joint.name in owner:
                other = owner[joint.name]
                c.add(_join(_join(jpath, i), "name"),
                      f"joint {joint.name!r} is already listed in group {other!r}"
                      if other != gname else f"joint {joint.name!r} is listed twice in this group",
                      "list each joint in exactly one group; remove the duplicate")
                continue
            owner[joint.name] = gname
            joints.append(joint)
        groups.append(JointGroup(gname, tuple(joints)))
    return groups


def _parse_joint(c: _Collector, value: Any, path: str) -> Joint | None:
    m = c.mapping(value, path, ["name", "position", "velocity"], [],
                  "`{name: j1, position: [-1.0, 1.0], velocity: 3.0}`")
    if m is None or any(k not in m for k in ("name", "position", "velocity")):
        return None
    name = c.string(m["name"], _join(path, "name"), what="a joint name")
    ppath = _join(path, "position")
    limits: tuple[float, float] | None = None
    pos = m["position"]
    if not isinstance(pos, list) or len(pos) != 2:
        c.add(ppath, f"expected [min, max] (two numbers, rad or m), got {pos!r}",
              "write the position limits as `position: [min, max]`")
    else:
        lo = c.number(pos[0], _join(ppath, 0), "the lower position limit")
        hi = c.number(pos[1], _join(ppath, 1), "the upper position limit")
        if lo is not None and hi is not None:
            if lo >= hi:
                c.add(ppath, f"position limits [{lo}, {hi}] have min >= max",
                      "write them as [min, max] with min < max (swap them if reversed)")
            else:
                limits = (lo, hi)
    vel = c.number(m["velocity"], _join(path, "velocity"), "the velocity limit (rad/s or m/s)",
                   positive=True)
    if name is None or limits is None or vel is None:
        return None
    return Joint(name, limits, vel)


def _parse_keys(c: _Collector, value: Any, section: str, groups: Mapping[str, JointGroup]
                ) -> list[KeySpec]:
    specs: list[KeySpec] = []
    lst = c.list(value, section, "`- {key: left_arm, group: left_arm, normalization: min_max}`")
    if lst is None:
        return specs
    seen_keys: dict[str, int] = {}
    seen_groups: dict[str, int] = {}
    for i, kv in enumerate(lst):
        path = _join(section, i)
        m = c.mapping(kv, path, ["key", "normalization"], ["group"],
                      "`{key: left_arm, group: left_arm, normalization: min_max}`")
        if m is None or "key" not in m or "normalization" not in m:
            c.incomplete.add(section)
            continue
        key = c.string(m["key"], _join(path, "key"), _NAME_RE, "a key name")
        group = c.string(m.get("group", m["key"]), _join(path, "group"), _NAME_RE,
                         "a joint group name")
        mode = c.choice(m["normalization"], _join(path, "normalization"), NORMALIZATION_MODES,
                        "normalization mode")
        if key is not None and key in seen_keys:
            c.add(_join(path, "key"), f"key {key!r} is already used by {section}[{seen_keys[key]}]",
                  f"give each entry of {section} a distinct key")
            key = None
        if group is not None and group not in groups:
            c.add(_join(path, "group"), f"joint group {group!r} is not defined",
                  f"{_did_you_mean(group, groups)}define it under joint_groups or use one of "
                  f"{list(groups)}")
            group = None
        elif group is not None and group in seen_groups:
            c.add(_join(path, "group"),
                  f"joint group {group!r} is already used by {section}[{seen_groups[group]}]",
                  f"each group may appear once in {section}, or its joints would repeat")
            group = None
        if key is None or group is None or mode is None:
            c.incomplete.add(section)
            continue
        seen_keys[key] = i
        seen_groups[group] = i
        specs.append(KeySpec(key, group, mode))
    return specs


def _parse_held(c: _Collector, value: Any) -> list[HeldJoint]:
    held: list[HeldJoint] = []
    if value is None:
        return held
    lst = c.list(value, "held_joints", "`- {name: left_knee_joint, position: 0.0}`",
                 nonempty=False)
    if lst is None:
        return held
    seen: set[str] = set()
    for i, hv in enumerate(lst):
        path = _join("held_joints", i)
        m = c.mapping(hv, path, ["name", "position"], [],
                      "`{name: left_knee_joint, position: 0.0}`")
        if m is None or "name" not in m or "position" not in m:
            continue
        name = c.string(m["name"], _join(path, "name"), what="a joint name")
        pos = c.number(m["position"], _join(path, "position"), "the held position")
        if name is not None and name in seen:
            c.add(_join(path, "name"), f"held joint {name!r} is listed twice",
                  "list each held joint once")
            continue
        if name is None or pos is None:
            continue
        seen.add(name)
        held.append(HeldJoint(name, pos))
    return held


def _parse_cameras(c: _Collector, value: Any) -> list[Camera]:
    cams: list[Camera] = []
    lst = c.list(value, "cameras", "`- {name: ego_view, topic: /camera/ego_view/image_raw}`")
    if lst is None:
        return cams
    names: set[str] = set()
    topics: set[str] = set()
    for i, cv in enumerate(lst):
        path = _join("cameras", i)
        m = c.mapping(cv, path, ["name", "topic"], [],
                      "`{name: ego_view, topic: /camera/ego_view/image_raw}`")
        if m is None or "name" not in m or "topic" not in m:
            continue
        name = c.string(m["name"], _join(path, "name"), _NAME_RE, "a camera name")
        topic = c.string(m["topic"], _join(path, "topic"), _TOPIC_RE, "a ROS topic name")
        if name is not None and name in names:
            c.add(_join(path, "name"), f"camera name {name!r} is used twice",
                  "give each camera a distinct name")
            name = None
        if topic is not None and topic in topics:
            c.add(_join(path, "topic"), f"camera topic {topic!r} is used twice",
                  "each camera needs its own image topic")
            topic = None
        if name is None or topic is None:
            continue
        names.add(name)
        topics.add(topic)
        cams.append(Camera(name, topic))
    return cams


def _parse_controllers(c: _Collector, value: Any, decoder_types: Sequence[str]
                       ) -> list[tuple[int, ControllerSpec]]:
    """Parse ``controllers``; returns (index in the YAML list, spec) pairs."""
    out: list[tuple[int, ControllerSpec]] = []
    lst = c.list(value, "controllers", "`- {name: arm_controller, type: forward_command, "
                 "topic: /arm_controller/commands, joints: [...]}`")
    if lst is None:
        return out
    names: set[str] = set()
    topics: set[str] = set()
    for i, cv in enumerate(lst):
        path = _join("controllers", i)
        m = c.mapping(cv, path, ["name", "type", "topic", "joints"], ["params"],
                      "`{name: arm_controller, type: forward_command, "
                      "topic: /arm_controller/commands, joints: [...]}`")
        if m is None or any(k not in m for k in ("name", "type", "topic", "joints")):
            continue
        name = c.string(m["name"], _join(path, "name"), _NAME_RE, "a controller name")
        ctype = c.choice(m["type"], _join(path, "type"), decoder_types, "decoder type")
        topic = c.string(m["topic"], _join(path, "topic"), _TOPIC_RE, "a ROS topic name")
        jpath = _join(path, "joints")
        jlist = c.list(m["joints"], jpath, "`joints: [left_elbow_joint, left_wrist_roll_joint]`")
        params = m.get("params", {})
        if params is None:
            params = {}
        if not isinstance(params, dict):
            c.add(_join(path, "params"), f"expected a mapping of decoder options, got "
                  f"{_typename(params)} {params!r}", "write `params: {option: value}` or drop it")
            params = None
        if name is not None and name in names:
            c.add(_join(path, "name"), f"controller name {name!r} is used twice",
                  "give each controller a distinct name")
            name = None
        if topic is not None and topic in topics:
            c.add(_join(path, "topic"), f"topic {topic!r} is already used by another controller",
                  "give each controller its own command topic")
            topic = None
        joints: list[str] = []
        if jlist is not None:
            seen: dict[str, int] = {}
            for k, jn in enumerate(jlist):
                jn = c.string(jn, _join(jpath, k), what="a joint name")
                if jn is None:
                    continue
                if jn in seen:
                    c.add(_join(jpath, k), f"joint {jn!r} is listed twice in this controller "
                          f"(also at joints[{seen[jn]}])", "list each joint once per controller")
                    continue
                seen[jn] = k
                joints.append(jn)
        if name is None or ctype is None or topic is None or jlist is None or params is None:
            continue
        names.add(name)
        topics.add(topic)
        out.append((i, ControllerSpec(name, ctype, topic, tuple(joints),
                                      types.MappingProxyType(dict(params)))))
    return out


# ----------------------------------------------------------------------------- cross checks


def _cross_check(c: _Collector, groups: Mapping[str, JointGroup], action: list[KeySpec],
                 held: list[HeldJoint], controllers: list[tuple[int, ControllerSpec]],
                 controllers_raw: list) -> None:
    """Checks across sections: controller joints vs groups and action keys, held joints."""
    group_of = {j.name: g.name for g in groups.values() for j in g.joints}
    joint_by_name = {j.name: j for g in groups.values() for j in g.joints}
    action_key_of = {j: s.key for s in action for j in groups[s.group].joint_names}

    # Controller joints: in a group, driven by an action key, sent to one controller only.
    driven_by: dict[str, str] = {}
    for i, ctl in controllers:
        raw_joints = controllers_raw[i]["joints"]
        for jn in ctl.joints:
            path = f"controllers[{i}].joints[{raw_joints.index(jn)}]"
            if jn not in group_of:
                if jn not in c.tainted_joints and "joint_groups" not in c.incomplete:
                    c.add(path, f"joint {jn!r} is not in any joint group",
                          f"{_did_you_mean(jn, group_of)}correct the name, or add the joint to "
                          "a group under joint_groups that an action key uses")
            elif jn not in action_key_of:
                if "action_keys" in c.incomplete:
                    continue
                c.add(path, f"joint {jn!r} (group {group_of[jn]!r}) is not driven by any "
                      "action key", f"add an action key for group {group_of[jn]!r} or remove "
                      "the joint from this controller")
            elif jn in driven_by:
                c.add(path, f"joint {jn!r} is already driven by controller {driven_by[jn]!r}",
                      "send each action joint to exactly one controller")
            else:
                driven_by[jn] = ctl.name

    # Every action joint must reach a controller. Only checked when every controller parsed,
    # so a broken controller entry is not reported twice.
    if controllers_raw and len(controllers) == len(controllers_raw):
        for idx, s in enumerate(action):
            undriven = [j for j in groups[s.group].joint_names if j not in driven_by]
            if undriven:
                c.add(f"action_keys[{idx}]",
                      f"action joints {undriven} of key {s.key!r} are driven by no controller",
                      "add them to a controller's joints (a robot must not have undriven "
                      "action joints)")

    # Held joints are never driven, and sit inside their limits when they are also observed.
    ctl_of = {jn: ctl.name for _, ctl in controllers for jn in ctl.joints}
    for i, h in enumerate(held):
        path = f"held_joints[{i}]"
        if h.name in action_key_of:
            c.add(_join(path, "name"), f"held joint {h.name!r} is also driven by action key "
                  f"{action_key_of[h.name]!r}", "a joint is either held or driven: remove it "
                  "from held_joints or from the action key's group")
        elif h.name in ctl_of:
            c.add(_join(path, "name"), f"held joint {h.name!r} is also listed in controller "
                  f"{ctl_of[h.name]!r}", "remove it from held_joints or from the controller")
        if h.name in joint_by_name:
            lo, hi = joint_by_name[h.name].position_limits
            if not lo <= h.position <= hi:
                c.add(_join(path, "position"), f"held position {h.position} is outside the "
                      f"joint's limits [{lo}, {hi}]", "hold it at a position inside its limits")


# ----------------------------------------------------------------------------- entry points


def parse_embodiment(data: Any, source: str = "<dict>", *,
                     _lines: Mapping[str, int] | None = None) -> EmbodimentConfig:
    """Validate ``data`` (the YAML document as Python objects) and build the config.

    ``source`` names the origin in error messages. Raises EmbodimentConfigError listing every
    problem found.
    """
    c = _Collector(source, _lines)
    top = c.mapping(data, "", _TOP_REQUIRED, _TOP_OPTIONAL,
                    "`name: my_robot` / `tag: my_tag` / ... (see config/unitree_g1.yaml)")
    if top is None:
        raise EmbodimentConfigError(source, c.issues)
    get = top.get

    name = c.string(get("name"), "name", _NAME_RE, "an embodiment name") \
        if "name" in top else None
    tag = c.string(get("tag"), "tag", _NAME_RE, "an embodiment tag") if "tag" in top else None
    slot = c.integer(get("slot"), "slot", "the embodiment slot", 0, MAX_EMBODIMENT_SLOTS - 1) \
        if "slot" in top else None
    action_dt = c.number(get("action_dt"), "action_dt", "action_dt (seconds between chunk rows)",
                         positive=True) if "action_dt" in top else None
    representation = c.choice(get("action_representation", "absolute"),
                              "action_representation", ACTION_REPRESENTATIONS,
                              "action representation")

    group_list = _parse_joint_groups(c, get("joint_groups")) if "joint_groups" in top else []
    groups = {g.name: g for g in group_list}
    state = _parse_keys(c, get("state_keys"), "state_keys", groups) \
        if "state_keys" in top else []
    action = _parse_keys(c, get("action_keys"), "action_keys", groups) \
        if "action_keys" in top else []
    held = _parse_held(c, get("held_joints"))
    cameras = _parse_cameras(c, get("cameras")) if "cameras" in top else []
    controllers = _parse_controllers(c, get("controllers"), known_decoder_types()) \
        if "controllers" in top else []

    rates = Rates()
    if get("rates") is not None:
        rm = c.mapping(get("rates"), "rates", [], ["system1_hz", "system2_hz"],
                       "`rates: {system1_hz: 120, system2_hz: 10}`")
        if rm is not None:
            s1 = c.number(rm.get("system1_hz", DEFAULT_SYSTEM1_HZ), "rates.system1_hz",
                          "the System 1 rate (Hz)", positive=True)
            s2 = c.number(rm.get("system2_hz", DEFAULT_SYSTEM2_HZ), "rates.system2_hz",
                          "the System 2 rate (Hz)", positive=True)
            if s1 is not None and s2 is not None:
                rates = Rates(s1, s2)

    staleness = None
    if "staleness" in top:
        sm = c.mapping(get("staleness"), "staleness", ["state_s", "tokens_s"], [],
                       "`staleness: {state_s: 0.05, tokens_s: 0.5}`")
        if sm is not None and "state_s" in sm and "tokens_s" in sm:
            st = c.number(sm["state_s"], "staleness.state_s", "the joint-state age limit (s)",
                          positive=True)
            tk = c.number(sm["tokens_s"], "staleness.tokens_s", "the token age limit (s)",
                          positive=True)
            if st is not None and tk is not None:
                if tk < 1.0 / rates.system2_hz:
                    c.add("staleness.tokens_s", f"tokens_s {tk} s is shorter than one System 2 "
                          f"period ({1.0 / rates.system2_hz:g} s at {rates.system2_hz:g} Hz), so "
                          "tokens would always be stale",
                          f"set tokens_s >= {1.0 / rates.system2_hz:g}")
                else:
                    staleness = Staleness(st, tk)
    on_stale = c.choice(get("on_stale"), "on_stale", ON_STALE_BEHAVIOURS, "on_stale behaviour") \
        if "on_stale" in top else None
    start_enabled = c.boolean(get("start_enabled", False), "start_enabled", "start_enabled")

    if groups:
        raw = get("controllers")
        _cross_check(c, groups, action, held, controllers, raw if isinstance(raw, list) else [])

    if c.issues:
        raise EmbodimentConfigError(source, c.issues)
    return EmbodimentConfig(
        name=name, tag=tag, slot=slot, action_dt=action_dt,
        action_representation=representation, joint_groups=tuple(group_list),
        held_joints=tuple(held), state_specs=tuple(state), action_specs=tuple(action),
        cameras=tuple(cameras), controllers=tuple(ctl for _, ctl in controllers),
        rates=rates, staleness=staleness, on_stale=on_stale, start_enabled=start_enabled,
        source=source,
    )


def _line_map(node: yaml.Node, path: str, out: dict[str, int], dups: list[tuple[str, int]]
              ) -> None:
    """Record the 1-based line of every key path under ``node``; collect duplicate keys."""
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for knode, vnode in node.value:
            key = str(knode.value)
            kpath = _join(path, key)
            if key in seen:
                dups.append((kpath, knode.start_mark.line + 1))
            seen.add(key)
            out[kpath] = knode.start_mark.line + 1
            _line_map(vnode, kpath, out, dups)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            ipath = _join(path, i)
            out[ipath] = item.start_mark.line + 1
            _line_map(item, ipath, out, dups)


def load_embodiment(path: str | Path) -> EmbodimentConfig:
    """Read, parse and validate an embodiment YAML file.

    Raises EmbodimentConfigError (a ValueError) naming the file, the key path, the line, the bad
    value and the fix; malformed YAML is reported with its line and column.
    """
    p = Path(path)
    source = str(p)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise EmbodimentConfigError(source, [ConfigIssue(
            "", f"cannot read the file ({exc.strerror or exc})",
            "check the path; `gr00t-bringup check NAME` also accepts a bare embodiment name")]
        ) from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
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
    return parse_embodiment(data, source, _lines=lines)


def find_embodiment(name_or_path: str | Path, search_dirs: Sequence[str | Path]) -> Path:
    """Resolve an embodiment file: an existing path, or a bare name ``<dir>/<name>.yaml``.

    Raises EmbodimentConfigError listing the known names (and the closest one) when nothing
    matches.
    """
    text = str(name_or_path)
    p = Path(text).expanduser()
    looks_like_path = p.suffix in (".yaml", ".yml") or "/" in text or "\\" in text
    if p.is_file():
        return p
    if looks_like_path:
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
    hint = _did_you_mean(text, names)
    raise EmbodimentConfigError(text, [ConfigIssue(
        "", f"unknown embodiment {text!r} (searched {dirs})",
        f"{hint}known embodiments: {names or 'none'}; or pass a path to a YAML file")])


def check_against_checkpoint(emb: EmbodimentConfig, *, num_embodiments: int,
                             max_state_dim: int, max_action_dim: int,
                             embodiments: Mapping[str, Mapping[str, Any]] | None = None) -> None:
    """Check that ``emb`` fits a checkpoint (its action head sizes and ``config.json`` entry).

    ``embodiments`` is the checkpoint's ``config.json["embodiments"]`` when available. Raises
    EmbodimentConfigError naming both values on any mismatch.
    """
    c = _Collector(emb.source, None)
    if emb.slot >= num_embodiments:
        c.add("slot", f"slot {emb.slot} is not below the checkpoint's num_embodiments "
              f"({num_embodiments})", f"use a slot in 0..{num_embodiments - 1}")
    if emb.state_dim > max_state_dim:
        c.add("state_keys", f"the state vector has {emb.state_dim} joints but the checkpoint "
              f"accepts at most {max_state_dim}", "drop state keys or use a larger checkpoint")
    if emb.action_dim > max_action_dim:
        c.add("action_keys", f"the action vector has {emb.action_dim} joints but the checkpoint "
              f"produces at most {max_action_dim}", "drop action keys or use a larger checkpoint")
    if embodiments is not None:
        entry = embodiments.get(emb.tag)
        if entry is None:
            c.add("tag", f"tag {emb.tag!r} is not in the checkpoint (it has "
                  f"{sorted(embodiments)})",
                  f"{_did_you_mean(emb.tag, embodiments)}set tag to one the checkpoint was "
                  "trained on")
        else:
            for key, mine in (("slot", emb.slot), ("action_dt", emb.action_dt),
                              ("state_dim", emb.state_dim), ("action_dim", emb.action_dim)):
                theirs = entry.get(key)
                if theirs is not None and theirs != mine:
                    path = key if key in ("slot", "action_dt") else \
                        ("state_keys" if key == "state_dim" else "action_keys")
                    c.add(path, f"{key} is {mine} here but {theirs} in the checkpoint for tag "
                          f"{emb.tag!r}", f"make {key} match the checkpoint ({theirs})")
            # The vector layout, where the checkpoint records it (EmbodimentConfig.
            # checkpoint_entry): same sizes in another order or normalization would be fed
            # to the model silently.
            mine_entry = emb.checkpoint_entry()
            for key, path in (("state_keys", "state_keys"), ("action_keys", "action_keys"),
                              ("state_key_dims", "state_keys"),
                              ("action_key_dims", "action_keys"),
                              ("state_joints", "joint_groups"),
                              ("action_joints", "joint_groups")):
                theirs = entry.get(key)
                mine = mine_entry[key]
                if theirs is not None and json.loads(json.dumps(theirs)) != \
                        json.loads(json.dumps(mine)):
                    c.add(path, f"{key} is {mine} here but {theirs} in the checkpoint for tag "
                          f"{emb.tag!r}", "the model was trained on the checkpoint's layout: "
                          "restore that order, grouping and normalization, or retrain")
    if c.issues:
        raise EmbodimentConfigError(emb.source, c.issues)
