"""pydantic's validation errors as embodiment issues: key path, the bad value, the fix.

pydantic reports a location (``("controllers", 1, "joints", 3)``) and an error type; this
module turns each into the key path users see (``controllers[1].joints[3]``), a message that
names the bad value, and a fix in the words the field declares (``what``/``example`` in
:func:`~gr00t_policy.embodiment.schema.yaml_key`), with "did you mean" for unknown keys and
names.
"""

from __future__ import annotations

import re
import types
from collections import abc
from typing import Annotated, Any, Mapping, NamedTuple, Sequence, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from gr00t_policy.embodiment.errors import (
    CHOICE_ERROR,
    REFERENCE_DOC,
    RULE_ERROR,
    ConfigIssue,
    did_you_mean,
    join_path,
    key_path,
    typename,
)
from gr00t_policy.embodiment.schema import PATTERN_RULES, yaml_keys

_DICT_KEY = "[key]"  # pydantic's location element for a mapping's key


class _Where(NamedTuple):
    """What a location points at: the innermost model field on the way, and the type there."""

    field: FieldInfo | None
    index: int | None  # the position inside a fixed-length list field
    target: Any  # the type at the location: a model class, a container type, a scalar type


def _unwrap(tp: Any) -> Any:
    """The type under ``Annotated`` layers and ``| None`` (an optional key)."""
    while True:
        if get_origin(tp) is Annotated:
            tp = get_args(tp)[0]
        elif get_origin(tp) in (Union, types.UnionType) and type(None) in get_args(tp):
            tp = next(a for a in get_args(tp) if a is not type(None))
        else:
            return tp


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _is_fixed_tuple(tp: Any) -> bool:
    args = get_args(tp)
    return get_origin(tp) is tuple and not (len(args) == 2 and args[1] is Ellipsis)


def _resolve(root: type[BaseModel], loc: Sequence[str | int]) -> _Where:
    tp: Any = root
    field: FieldInfo | None = None
    index: int | None = None
    for part in loc:
        tp = _unwrap(tp)
        origin, args = get_origin(tp), get_args(tp)
        if _is_model(tp):
            field, index = yaml_keys(tp).get(str(part)), None
            if field is None:
                return _Where(None, None, None)
            tp = field.annotation
        elif origin is tuple and isinstance(part, int):
            if _is_fixed_tuple(tp):
                index = part
                tp = args[part] if part < len(args) else None
            else:
                tp = args[0]
        elif origin in (dict, abc.Mapping) and args:
            tp = args[0] if part == _DICT_KEY else args[1]
        else:
            return _Where(field, index, None)
    return _Where(field, index, _unwrap(tp))


def _extra(field: FieldInfo | None, name: str) -> Any:
    extra = field.json_schema_extra if field is not None else None
    return extra.get(name) if isinstance(extra, dict) else None


def _what(where: _Where, loc: Sequence[str | int]) -> str:
    what = _extra(where.field, "what")
    if isinstance(what, (tuple, list)):
        return what[where.index] if where.index is not None else " / ".join(what)
    if what:
        return what
    return f"`{next((p for p in reversed(loc) if isinstance(p, str)), 'value')}`"


def _example(where: _Where) -> str:
    """A correct value for the location: its model's example, the field's, or a list item's."""
    if _is_model(where.target):
        return where.target.yaml_example
    example = _extra(where.field, "example")
    if example:
        return example
    item = _unwrap(get_args(where.target)[0]) if get_origin(where.target) is tuple else None
    if _is_model(item):
        return "`- " + item.yaml_example.strip("`") + "`"
    return "the form in " + REFERENCE_DOC


def _bounds(field: FieldInfo | None) -> tuple[Any, Any]:
    """The ``ge``/``le`` bounds a field declares (``None`` where it has none)."""
    metadata = field.metadata if field is not None else ()
    lo = next((m.ge for m in metadata if getattr(m, "ge", None) is not None), None)
    hi = next((m.le for m in metadata if getattr(m, "le", None) is not None), None)
    return lo, hi


def _raw(data: Any, loc: Sequence[str | int]) -> Any:
    """The value the user wrote at ``loc`` (``None`` where there is none)."""
    for part in loc:
        if isinstance(data, Mapping) and part in data:
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and part < len(data):
            data = data[part]
        else:
            return None
    return data


def _shape_issue(root: type[BaseModel], loc: Sequence[str | int], data: Any) -> ConfigIssue:
    """A fixed-length list (``position: [min, max]``) with the wrong shape."""
    where = _resolve(root, loc)
    raw = _raw(data, loc)
    n = len(get_args(where.target))
    return ConfigIssue(key_path(loc), f"expected a list of {n} values, got {typename(raw)} "
                       f"{raw!r}", f"write it as {_example(where)}")


def _key_issue(root: type[BaseModel], err: Mapping[str, Any]) -> ConfigIssue:
    """A missing, unknown or non-string key in a mapping."""
    loc, kind = tuple(err["loc"]), err["type"]
    parent, name = loc[:-1], loc[-1]
    where = _resolve(root, parent)
    known = list(yaml_keys(where.target)) if _is_model(where.target) else []
    if kind == "missing":
        at = f"under {key_path(parent)!r}" if parent else "at the top level"
        return ConfigIssue(key_path(loc), f"missing required key {name!r}",
                           f"add `{name}: ...` {at} (see {REFERENCE_DOC})")
    if kind == "invalid_key":
        return ConfigIssue(join_path(key_path(parent), str(name)),
                           f"key {name!r} is a {typename(name)}, not a string",
                           f"use one of the known keys {known}")
    return ConfigIssue(key_path(loc), f"unknown key {name!r}",
                       f"{did_you_mean(name, known)}known keys here: {known}")


# What YAML 1.1 (PyYAML) leaves a string though it reads as a number: an exponent, unless
# the mantissa has a '.' and the exponent a sign (1e3, 1.5e2 and 1.0e300 are strings,
# 1.5e+2 is a number). Groups: mantissa, exponent sign, exponent digits.
_YAML11_EXPONENT = re.compile(r"^([-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+))[eE]([-+]?)([0-9]+)$")


def yaml_string_number(value: Any) -> tuple[str, str] | None:
    """For a string that reads as a number with an exponent ("1e3", YAML 1.1's quirk, or
    a quoted number): (why YAML left it a string, how to write it as a number), e.g.
    ("YAML reads it as a string (no '.' and no sign after the 'e'; ...)", "1.0e+3"); None
    for any other value. Every YAML file this package reads explains the quirk so."""
    match = _YAML11_EXPONENT.match(value) if isinstance(value, str) else None
    if match is None:
        return None
    mantissa, sign, digits = match.groups()
    lacks = " and ".join(w for w, missing in (("no '.'", "." not in mantissa),
                                              ("no sign after the 'e'", not sign)) if missing)
    why = (f"YAML reads it as a string ({lacks}; a number with an exponent needs a '.' and a "
           "signed exponent)" if lacks else "it is quoted")
    return why, f"{mantissa if '.' in mantissa else mantissa + '.0'}e{sign or '+'}{digits}"


def _value_issue(root: type[BaseModel], err: Mapping[str, Any]) -> ConfigIssue:
    """A value of the wrong type, out of range, or not one of the allowed names."""
    loc, kind = tuple(err["loc"]), err["type"]
    value, ctx = err.get("input"), err.get("ctx") or {}
    path = key_path(p for p in loc if p != _DICT_KEY)
    # A mapping's key (``joint_groups.<name>``) is described by the mapping's field.
    where = _resolve(root, loc[:-2] if loc[-1:] == (_DICT_KEY,) else loc)
    what = _what(where, loc)
    got = f"got {typename(value)} {value!r}"
    # YAML 1.1 (PyYAML) reads unquoted yes/no/on/off as booleans, and 1e3 or 1.5e2 as strings.
    quote = (" (unquoted yes/no/on/off are booleans in YAML: quote the word)"
             if isinstance(value, bool) else "")
    lo, hi = _bounds(where.field)
    if kind == RULE_ERROR:
        return ConfigIssue(path, ctx["message"], ctx["fix"])
    if kind in (CHOICE_ERROR, "literal_error"):
        choices = ctx.get("choices") or list(get_args(where.target))
        shown = ctx.get("value", repr(value))
        return ConfigIssue(path, f"unknown {ctx.get('what', what)} {shown}",
                           f"{did_you_mean(value, choices)}use one of {choices}{quote}")
    if kind in ("model_type", "model_attributes_type", "dict_type", "mapping_type"):
        return ConfigIssue(path, f"expected a mapping, {got}",
                           f"write it as a mapping, e.g. {_example(where)}")
    if kind in ("list_type", "tuple_type"):
        return ConfigIssue(path, f"expected a list, {got}",
                           f"write it as a YAML list, e.g. {_example(where)}")
    if kind == "too_short":
        noun = "mapping" if ctx.get("field_type") == "Dictionary" else "list"
        return ConfigIssue(path, f"the {noun} is empty",
                           f"give at least one entry, e.g. {_example(where)}")
    if kind in ("string_type", "string_too_short"):
        return ConfigIssue(path, f"expected a non-empty string ({what}), {got}",
                           f"write {what} as a plain string{quote}")
    if kind == "string_pattern_mismatch":
        rule = PATTERN_RULES.get(ctx.get("pattern"), f"the pattern {ctx.get('pattern')}")
        return ConfigIssue(path, f"{value!r} is not valid as {what}", f"use {rule}")
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return ConfigIssue(path, f"expected an integer ({what}), {got}",
                           f"write {what} as an integer in {lo}..{hi}")
    if kind == "less_than_equal" and isinstance(ctx.get("le"), float):  # a float key's maximum
        unit = ("; a value far above it is usually in milliseconds, not seconds"
                if path.startswith("staleness.") or path == "action_dt" else "")
        return ConfigIssue(path, f"{what} {value:g} is above its largest allowed value, "
                                 f"{ctx.get('le'):g}", f"write at most {ctx.get('le'):g}{unit}")
    if kind == "greater_than_equal" and where.target is float:  # a number key (or an int given)
        return ConfigIssue(path, f"{what} {value:g} is below its smallest allowed value, "
                                 f"{ctx.get('ge'):g}", f"write at least {ctx.get('ge'):g}")
    if kind in ("greater_than_equal", "less_than_equal"):
        return ConfigIssue(path, f"{what} {value} is out of range {lo}..{hi}",
                           f"use an integer in {lo}..{hi}")
    if kind in ("float_type", "float_parsing"):
        string_number = yaml_string_number(value)
        if string_number:
            why, written = string_number
            return ConfigIssue(path, f"expected a number ({what}), got the string {value!r}: "
                                     f"{why}", f"write it as {written}, unquoted")
        return ConfigIssue(path, f"expected a number ({what}), {got}",
                           f"write {what} as a number, e.g. 0.5")
    if kind == "finite_number":
        return ConfigIssue(path, f"{what} must be finite, got {value!r}",
                           f"write a finite number for {what}")
    if kind == "greater_than":
        return ConfigIssue(path, f"{what} must be > {ctx.get('gt'):g}, got {value!r}",
                           f"write a positive number for {what}")
    if kind in ("bool_type", "bool_parsing"):
        return ConfigIssue(path, f"expected true or false ({what}), {got}",
                           "write true or false (unquoted)")
    return ConfigIssue(path, f"{err['msg']}, {got}", f"see {REFERENCE_DOC} for this key")


def _long_enough(err: Mapping[str, Any]) -> bool:
    """pydantic counts a tuple's length after validation: a list whose entries have errors
    would be "too short" too; those entries are reported, the length is not the mistake."""
    value, ctx = err.get("input"), err.get("ctx") or {}
    return isinstance(value, (list, tuple)) and len(value) >= ctx.get("min_length", 0)


def schema_issues(error: ValidationError, data: Any, root: type[BaseModel]) -> list[ConfigIssue]:
    """Every error of ``root.model_validate(data)`` as an issue (lines are added by the caller).

    Several errors inside one fixed-length list (``position``) become one issue about its shape.
    """
    issues: list[ConfigIssue] = []
    for err in error.errors():
        loc = tuple(err["loc"])
        if err["type"] == "too_short" and _long_enough(err):
            continue
        parent = _resolve(root, loc[:-1]) if loc else None
        if parent is not None and _is_fixed_tuple(parent.target) and err["type"] == "missing":
            issue = _shape_issue(root, loc[:-1], data)
        elif loc and _is_fixed_tuple(_resolve(root, loc).target) and \
                err["type"] in ("too_long", "too_short", "tuple_type", "list_type"):
            issue = _shape_issue(root, loc, data)
        elif err["type"] in ("missing", "extra_forbidden", "invalid_key"):
            issue = _key_issue(root, err)
        else:
            issue = _value_issue(root, err)
        if issue not in issues:
            issues.append(issue)
    return issues
