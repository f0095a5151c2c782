"""What a controller's ``type`` may be, and what each decoder takes under ``params``.

This is the one list of built-in decoder names and of the ``params`` they take: the
embodiment schema accepts the names and checks the built-ins' ``params``, the System 1
decoder registry (``gr00t_system1.decoders``) maps each name to its class, and every decoder
(a plugin's too) checks its ``params`` with :func:`decoder_params`, so System 1 and
``gr00t-bringup check`` refuse the same entries.
Plugins from other packages are entry points in :data:`DECODER_ENTRY_POINT_GROUP`; the schema
reads only their names, nothing is imported (so no rclpy in the core). Only
:func:`plugin_params` imports a plugin, for ``gr00t-bringup check``.
"""

from __future__ import annotations

import importlib.metadata
import math
import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gr00t_policy.embodiment.errors import did_you_mean

FORWARD_COMMAND = "forward_command"
JOINT_TRAJECTORY = "joint_trajectory"
JOINT_STATE = "joint_state"
BUILTIN_DECODER_TYPES = (FORWARD_COMMAND, JOINT_TRAJECTORY, JOINT_STATE)
DECODER_ENTRY_POINT_GROUP = "gr00t_system1.decoders"
# (module, class) of the base class every decoder subclasses.
DECODER_BASE = ("gr00t_system1.decoders", "Decoder")


class DecoderSpecError(ValueError):
    """A controller entry its decoder refuses (its ``params``), or a plugin that cannot be
    loaded: ``message`` says what is wrong, ``fix`` how to put it right."""

    def __init__(self, message: str, fix: str) -> None:
        super().__init__(f"{message}; {fix}")
        self.message = message
        self.fix = fix


_KINDS = {bool: "true or false", int: "an int", float: "a number", str: "a string"}


@dataclass(frozen=True)
class DecoderParam:
    """One key a decoder takes under its controller's ``params``: the default, what it
    means, and the values allowed: of the default's type (for a float, also an int; a bool
    is no number; no NaN or infinity) and, for a number, at least ``minimum`` and at most
    ``maximum``; for a string, one of ``choices`` where given."""

    default: Any
    description: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if type(self.default) not in _KINDS:
            raise ValueError(f"DecoderParam default {self.default!r}: use one of "
                             f"{[k.__name__ for k in _KINDS]}")
        if (self.minimum, self.maximum) != (None, None) and type(self.default) in (bool, str):
            raise ValueError("DecoderParam minimum and maximum need a number default")
        if self.choices is not None and type(self.default) is not str:
            raise ValueError("DecoderParam choices need a string default")
        if None not in (self.minimum, self.maximum) and self.minimum > self.maximum:
            raise ValueError(f"DecoderParam minimum {self.minimum} is above its maximum "
                             f"{self.maximum}")
        if not self.accepts(self.default):
            raise ValueError(f"DecoderParam default {self.default!r} is not {self.allowed}")

    @property
    def allowed(self) -> str:
        """The allowed values in words: ``an int >= 1``, ``an int in 1..60``."""
        kind = _KINDS[type(self.default)]
        if self.choices is not None:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        if self.minimum is not None and self.maximum is not None:
            return f"{kind} in {self.minimum:g}..{self.maximum:g}"
        if self.minimum is not None:
            return f"{kind} >= {self.minimum:g}"
        return kind if self.maximum is None else f"{kind} <= {self.maximum:g}"

    def accepts(self, value: Any) -> bool:
        kind = type(self.default)
        if isinstance(value, bool) != (kind is bool):
            return False
        if kind is float:
            ok = isinstance(value, (int, float)) and math.isfinite(value)
        else:
            ok = isinstance(value, kind)
        if ok and self.choices is not None:
            return value in self.choices
        return ok and (self.minimum is None or value >= self.minimum) and \
            (self.maximum is None or value <= self.maximum)


# A joint_trajectory controller sent every n-th tick gets a path that runs point by point
# through the next n + 1 ticks, computed every tick (`CommandLoop.path_ticks`): its cost grows
# with n (100000 took seconds a tick). 60 ticks is half a second at the default 120 Hz,
# within the shortest GR00T chunk (16 rows of 1/30 s); sent less often, a controller would
# follow each plan for longer than its chunk covers.
MAX_EVERY_N_TICKS = 60

# How a joint_trajectory message is stamped (its `header_stamp` param); the first the default.
HEADER_STAMPS = ("tick", "receipt")

# The params of each built-in decoder (its class's PARAMS is this mapping), read-only.
BUILTIN_DECODER_PARAMS: dict[str, Mapping[str, DecoderParam]] = {
    FORWARD_COMMAND: types.MappingProxyType({}),
    JOINT_TRAJECTORY: types.MappingProxyType({
        "every_n_ticks": DecoderParam(
            1, "publish every n-th control tick (1: every tick, 60: every half second at "
               "120 Hz)", minimum=1, maximum=MAX_EVERY_N_TICKS),
        "header_stamp": DecoderParam(
            HEADER_STAMPS[0], "tick: each message is stamped with its control tick's time "
            "and starts with a point at 0, so the controller runs it on that clock whenever "
            "it takes it up (System 1 and the controller manager on one clock: one machine, "
            "both on /clock, or clocks synchronized to a millisecond or two); receipt: stamp "
            "0, the controller times each message from the update that takes it up (clocks "
            "need not agree, but every message then changes the joints' speed by several "
            "times the acceleration limit: docs/BENCHMARKS.md, \"Trajectory controllers "
            "under jitter\")", choices=HEADER_STAMPS),
    }),
    JOINT_STATE: types.MappingProxyType({}),
}


def decoder_params(label: str, declared: Mapping[str, Any],
                   given: Mapping[Any, Any]) -> dict[str, Any]:
    """``given`` over the defaults of ``declared`` (a decoder's PARAMS: name -> DecoderParam,
    or name -> plain default, whose values are not checked).

    ``label`` names the decoder in messages. Raises DecoderSpecError naming every key that
    ``declared`` does not have and every value a DecoderParam does not allow.
    """
    problems: list[str] = []
    fixes: list[str] = []
    unknown = sorted((k for k in given if k not in declared), key=str)
    if unknown:
        hints = "".join(did_you_mean(k, [str(d) for d in declared]) for k in unknown)
        takes = f"only {sorted(declared)}" if declared else "no params"
        problems.append(f"unknown params {unknown}")
        fixes.append(f"{hints}{label} takes {takes}: rename or remove "
                     f"{'it' if len(unknown) == 1 else 'them'}")
    for key, spec in declared.items():
        if key in given and isinstance(spec, DecoderParam) and not spec.accepts(given[key]):
            problems.append(f"params.{key} must be {spec.allowed}, got {given[key]!r}")
            fixes.append(f"set {key} to {spec.allowed} ({spec.description}; default "
                         f"{spec.default!r})")
    if problems:
        raise DecoderSpecError("; ".join(problems), "; ".join(fixes))
    defaults = {k: v.default if isinstance(v, DecoderParam) else v for k, v in declared.items()}
    return {**defaults, **given}


def params_reference() -> str:
    """The built-in decoders' params in words, for the ``params`` key's reference text."""
    parts = []
    for name, declared in BUILTIN_DECODER_PARAMS.items():
        keys = ", ".join(f"`{k}` ({p.description}; {p.allowed}, default {p.default!r})"
                         for k, p in declared.items())
        parts.append(f"`{name}`: {keys or 'none'}")
    return "; ".join(parts)


def plugin_entry_points() -> dict[str, importlib.metadata.EntryPoint]:
    """The decoder plugins registered here, by name (none imported)."""
    return {ep.name: ep
            for ep in importlib.metadata.entry_points(group=DECODER_ENTRY_POINT_GROUP)}


def plugin_params(name: str) -> Mapping[str, Any]:
    """The PARAMS of the decoder plugin registered as ``name``, by importing its class (and
    what it imports: System 1's Decoder base brings rclpy); System 1 loads its decoders
    itself. Raises DecoderSpecError when no plugin has that name here, or its class does not
    load or is no decoder (System 1 could not load it either)."""
    ep = plugin_entry_points().get(name)
    if ep is None:
        raise DecoderSpecError(
            f"no decoder plugin {name!r} is installed here",
            f"install the package that registers it under {DECODER_ENTRY_POINT_GROUP!r} "
            "(System 1 refuses the type without it)")
    where = f"decoder plugin {name!r} ({ep.value})"
    try:
        cls = ep.load()
    except Exception as exc:  # noqa: BLE001 - a plugin's import may raise anything
        raise DecoderSpecError(
            f"{where} does not load: {type(exc).__name__}: {exc}",
            "install the plugin's package and what it needs (System 1 could not load it "
            "either)") from exc
    # Told by name: importing gr00t_system1 (rclpy) to compare would defeat the ROS-free core.
    bases = getattr(cls, "__mro__", ())
    if not any((c.__module__, c.__qualname__) == DECODER_BASE for c in bases):
        raise DecoderSpecError(
            f"{where} resolves to {cls!r}, which is not a {'.'.join(DECODER_BASE)} subclass "
            "(System 1 refuses it)", f"register a subclass of {'.'.join(DECODER_BASE)}")
    return cls.PARAMS


def plugin_clashes() -> list[str]:
    """Registered plugins that take a built-in decoder's name, as "name = module:Class": they
    would silently change what every YAML using that type sends, so System 1 refuses to start
    with one installed (and `gr00t-bringup check` says so)."""
    return [f"{ep.name} = {ep.value}"
            for ep in importlib.metadata.entry_points(group=DECODER_ENTRY_POINT_GROUP)
            if ep.name in BUILTIN_DECODER_TYPES]


def clash_message(clashes: list[str]) -> str:
    return (f"the {DECODER_ENTRY_POINT_GROUP!r} entry point(s) {clashes} take the name of a "
            "built-in decoder; register each under a name of its own and use that as the "
            "controllers' type")


def known_decoder_types() -> tuple[str, ...]:
    """Built-in decoder types plus the names registered under ``gr00t_system1.decoders``.

    Only entry-point names are read; nothing is imported (so no rclpy here).
    """
    names = list(BUILTIN_DECODER_TYPES)
    for name in plugin_entry_points():
        if name not in names:
            names.append(name)
    return tuple(names)
