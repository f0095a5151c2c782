"""Command-line flags derived from a config dataclass, so no flag is mirrored by hand.

Every field of the dataclass documents itself in ``field(metadata={"help": ...})``; from the
fields, their types and their defaults :func:`add_arguments` adds one argparse option each:

- ``name_with_underscores`` -> ``--name-with-underscores``;
- ``bool`` -> ``--x`` / ``--no-x``;
- ``int`` / ``float`` / ``str`` -> ``type=``, ``X | None`` the same with a None default;
- ``tuple[T, T]`` -> ``nargs=2``, ``tuple[T, ...]`` -> ``nargs="+"``;
- a field without a default -> a required option.

Optional metadata: ``choices``, ``metavar``, and ``cli=False`` for a field another option
sets (the caller then passes it to :func:`build`). A config that validates in
``__post_init__`` raises :class:`FieldError` naming the field, so the command line's error
can name the flag. Imports neither torch nor anything of ours.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from typing import Any, Mapping

HELP = "help"  # field metadata key: the flag's help text (required on every field)
CLI = "cli"  # field metadata key: False where another option sets the field


class FieldError(ValueError):
    """A config field holds a bad value; ``field`` names it (``key``: the entry of a mapping)."""

    def __init__(self, field: str, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.key = key


def flag_name(field_name: str) -> str:
    """``max_stale_frames`` -> ``--max-stale-frames``."""
    return "--" + field_name.replace("_", "-")


def _unwrap_optional(tp: Any) -> Any:
    """T for ``T | None`` (an absent option keeps its None default), else ``tp``."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def _argument(cls: type, field: dataclasses.Field, tp: Any) -> dict[str, Any]:
    """argparse.add_argument keyword arguments for one field."""
    where = f"{cls.__name__}.{field.name}"
    kwargs: dict[str, Any] = {"dest": field.name, "help": field.metadata[HELP]}
    for key in ("choices", "metavar"):
        if key in field.metadata:
            kwargs[key] = field.metadata[key]
    if field.default is not dataclasses.MISSING:
        default = field.default
    elif field.default_factory is not dataclasses.MISSING:
        default = field.default_factory()
    else:
        default = dataclasses.MISSING
    tp = _unwrap_optional(tp)
    if tp is bool:
        kwargs["action"] = argparse.BooleanOptionalAction
    elif typing.get_origin(tp) is tuple:
        items = typing.get_args(tp)
        if len(items) == 2 and items[1] is Ellipsis:
            kwargs["nargs"], kwargs["type"] = "+", items[0]
        elif items and all(t is items[0] for t in items):
            kwargs["nargs"], kwargs["type"] = len(items), items[0]
        else:
            raise TypeError(f"{where}: no flag for type {tp}; mark it cli=False and set it another way")
    elif tp in (int, float, str):
        kwargs["type"] = tp
    else:
        raise TypeError(f"{where}: no flag for type {tp}; mark it cli=False and set it another way")
    if kwargs.get("type") not in (None, int, float, str):
        raise TypeError(f"{where}: no flag for items of type {kwargs['type']}")
    if default is dataclasses.MISSING:
        kwargs["required"] = True
    else:
        kwargs["default"] = default
        if tp is bool:
            shown = flag_name(field.name) if default else flag_name("no_" + field.name)
        else:
            shown = " ".join(map(str, default)) if isinstance(default, tuple) else default
        if default is not None:
            kwargs["help"] += f" (default: {shown})".replace("%", "%%")
    return kwargs


def add_arguments(parser: argparse.ArgumentParser | Any, cls: type) -> dict[str, str]:
    """Add a flag for every field of dataclass ``cls`` not marked ``cli=False``; returns
    {field name: flag}. Raises TypeError for a field without help or of a type with no flag."""
    hints = typing.get_type_hints(cls)
    flags: dict[str, str] = {}
    for field in dataclasses.fields(cls):
        if not field.metadata.get(HELP):
            raise TypeError(f"{cls.__name__}.{field.name} has no field(metadata={{'help': ...}}); "
                            "every field documents its flag")
        if field.metadata.get(CLI, True) is False:
            continue
        flags[field.name] = flag_name(field.name)
        parser.add_argument(flags[field.name], **_argument(cls, field, hints[field.name]))
    return flags


def values(args: argparse.Namespace, cls: type, flags: Mapping[str, str]) -> dict[str, Any]:
    """The parsed values of ``cls``'s flags, as keyword arguments (lists back to tuples)."""
    out = {name: getattr(args, name) for name in flags}
    return {k: tuple(v) if isinstance(v, list) else v for k, v in out.items()}


def build(parser: argparse.ArgumentParser, cls: type, args: argparse.Namespace,
          flags: Mapping[str, str], extra_flags: Mapping[tuple[str, str | None], str] | None = None,
          **overrides: Any) -> Any:
    """``cls(**values, **overrides)``; a :class:`FieldError` becomes ``parser.error`` naming
    the flag (``flags``, or ``extra_flags[(field, key)]`` for fields set another way)."""
    try:
        return cls(**values(args, cls, flags), **overrides)
    except FieldError as err:
        flag = (extra_flags or {}).get((err.field, err.key)) or flags.get(err.field)
        if flag is None:
            raise
        parser.error(f"argument {flag}: {err}")
