"""Node parameters: one `Spec` per parameter, declared with a typed descriptor, checked once.

    SPECS = (
        Spec("rate_hz", "double", 10.0, "Token rate (Hz).", range=Range.above(0.0)),
        Spec("device", "string", "cpu", "Torch device.", choices=("cpu", "cuda")),
    )
    declare(node, SPECS)          # typed, described descriptors (`ros2 param describe`)
    values = read(node, SPECS)    # {name: value}, every value checked against its spec

A spec says everything about its parameter in one place: name, type, default, range or
choices (or that it holds topic names), description and whether it is read-only. A
parameter whose default is `UNSET` is declared without a value (dynamically typed) and reads
as None: the node then takes the embodiment YAML's value. Every double takes an integer
(`-p replan_period_ms:=50` is 50.0). A string given a value that ROS reads as a number or a
bool (`-p joint_prefix:=007` is the integer 7) is refused naming the quotes that keep it a
string (`-p joint_prefix:="'007'"`).

Ranges, choices and patterns are written once, in the spec. `declare` puts a closed range on
the descriptor (`floating_point_range` / `integer_range`, which rclpy enforces whenever the
value is set) and every constraint into `additional_constraints`; `read` (or `check`, on
plain values) validates each value against its spec: type, finiteness, range (also the
open bounds a descriptor cannot express), choices, pattern, required, topic names (which
rclpy refuses only when the node subscribes, in a traceback naming no parameter). Every
failure is a `ParameterError` naming the parameter, the value, what is allowed and how to
pass a good one (`-p name:=value`).
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, ParameterType
from rclpy.exceptions import (InvalidParameterTypeException, InvalidParameterValueException,
                               ParameterUninitializedException)
from rclpy.parameter import Parameter

from gr00t_common.ros_names import name_problem


class ParameterError(ValueError):
    """A node parameter with a missing, mistyped, out-of-range or unknown value."""


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()
"""Default of a parameter declared without a value: the node takes the embodiment YAML's."""

# spec type -> (ParameterType, what a value of it is, for messages)
_TYPES: dict[str, tuple[int, str]] = {
    "string": (ParameterType.PARAMETER_STRING, "a string"),
    "double": (ParameterType.PARAMETER_DOUBLE, "a floating-point number"),
    "integer": (ParameterType.PARAMETER_INTEGER, "an integer"),
    "bool": (ParameterType.PARAMETER_BOOL, "true or false"),
    "string_array": (ParameterType.PARAMETER_STRING_ARRAY, "a list of strings"),
}
TYPES = tuple(_TYPES)
# What ROS reads a -p value's text as where it is not a string (YAML: 7, 0.5, true).
_READ_AS = {Parameter.Type.INTEGER: "an integer", Parameter.Type.DOUBLE: "a number",
            Parameter.Type.BOOL: "a bool"}


def _number_text(x: float) -> str:
    return f"{x:g}"


@dataclass(frozen=True)
class Range:
    """Allowed numbers `lo <= x <= hi`; a missing bound is open-ended, `lo_open` makes the
    lower bound strict (`x > lo`). Non-finite numbers are never in a range."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False

    def __post_init__(self) -> None:
        if self.lo is None and self.hi is None:
            raise ValueError("Range needs lo, hi or both")
        if self.lo is not None and self.hi is not None and not self.lo < self.hi:
            raise ValueError(f"Range lo={self.lo} must be < hi={self.hi}")
        if self.lo_open and self.lo is None:
            raise ValueError("Range lo_open=True needs lo")

    @classmethod
    def above(cls, lo: float) -> Range:
        """x > lo."""
        return cls(lo=lo, lo_open=True)

    @classmethod
    def at_least(cls, lo: float) -> Range:
        """x >= lo."""
        return cls(lo=lo)

    @property
    def closed(self) -> bool:
        """Both bounds given and included: what a ParameterDescriptor range can express."""
        return self.lo is not None and self.hi is not None and not self.lo_open

    def contains(self, x: float) -> bool:
        if not math.isfinite(x):
            return False
        if self.lo is not None and (x <= self.lo if self.lo_open else x < self.lo):
            return False
        return self.hi is None or x <= self.hi

    def __str__(self) -> str:
        """`[1, 2000]`, `(0, 2]`, `> 0`, `>= 1` or `<= 5`."""
        if self.lo is not None and self.hi is not None:
            return (f"{'(' if self.lo_open else '['}{_number_text(self.lo)}, "
                    f"{_number_text(self.hi)}]")
        if self.lo is not None:
            return f"{'>' if self.lo_open else '>='} {_number_text(self.lo)}"
        return f"<= {_number_text(self.hi)}"


@dataclass(frozen=True)
class Pattern:
    """Allowed strings: those that `regex` matches whole (a family too open for `choices`,
    e.g. `cuda:N`); `text` says which in words, for errors, `ros2 param describe` and
    docs/PARAMETERS.md."""

    regex: str
    text: str

    def __post_init__(self) -> None:
        re.compile(self.regex)  # a bad regex fails where it is written
        if not self.text:
            raise ValueError(f"Pattern {self.regex!r} needs a text saying what it allows")

    def matches(self, value: str) -> bool:
        return re.fullmatch(self.regex, value) is not None


def literal(value: Any) -> str:
    """`value` as written after `-p name:=` on the command line."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(literal(v) for v in value) + "]"
    return str(value)


@dataclass(frozen=True)
class Spec:
    """One node parameter.

    Args:
        name: the parameter's name.
        type: one of TYPES ("string", "double", "integer", "bool", "string_array").
        default: the value when none is passed; `UNSET` = declared without one (reads as
            None: the node takes the embodiment YAML's value); a callable is called at
            declaration (a default that depends on the machine; give `shown_default`).
        description: what it means, with its unit; `ros2 param describe` and
            docs/PARAMETERS.md show it.
        range: allowed numbers (double and integer only).
        choices: allowed strings (string only).
        pattern: allowed strings, as a regular expression with its words (string only).
        required: an empty string / list is refused (string and string_array only).
        topic: the value (string) or each item (string_array) is a ROS topic name; an empty
            string that is not required means none.
        read_only: refuse changes after declaration (through the parameter services).
        example: a good value for error messages (`-p name:=example`); needed where the
            default does not make one (required with an empty default, UNSET or callable).
        shown_default: what docs/PARAMETERS.md prints for a callable default, or for an
            UNSET one that the node derives from another parameter rather than the YAML.
    """

    name: str
    type: str
    default: Any
    description: str
    range: Range | None = None
    choices: tuple[str, ...] = ()
    pattern: Pattern | None = None
    required: bool = False
    topic: bool = False
    read_only: bool = True
    example: str = ""
    shown_default: str = ""

    def __post_init__(self) -> None:
        where = f"parameter spec {self.name!r}"
        if self.type not in _TYPES:
            raise ValueError(f"{where}: type {self.type!r} is unknown; known: {list(TYPES)}")
        if not self.description:
            raise ValueError(f"{where}: description is empty; say what the parameter means")
        if self.range is not None and self.type not in ("double", "integer"):
            raise ValueError(f"{where}: a range needs type double or integer, not {self.type}")
        if self.choices and self.type != "string":
            raise ValueError(f"{where}: choices need type string, not {self.type}")
        if self.pattern is not None and self.type != "string":
            raise ValueError(f"{where}: a pattern needs type string, not {self.type}")
        if self.required and self.type not in ("string", "string_array"):
            raise ValueError(f"{where}: required needs type string or string_array")
        if self.topic and self.type not in ("string", "string_array"):
            raise ValueError(f"{where}: topic needs type string or string_array")
        machine_default = callable(self.default)
        if machine_default and not self.shown_default:
            raise ValueError(f"{where}: a callable default needs shown_default for the docs")
        empty_default = self.default in ("", [], ())
        if not self.example and (self.required and empty_default or self.default is UNSET
                                 or machine_default):
            raise ValueError(f"{where}: give an example value for its error messages")
        if self.default is not UNSET and not machine_default:
            self._check(self.default, required=False)  # a spec's own default must pass

    # -- what is allowed ---------------------------------------------------------------

    @property
    def type_text(self) -> str:
        return self.type.replace("_", " ")

    @property
    def allowed(self) -> str:
        """The constraints in words: `in [1, 2000]`, `> 0`, `one of a, b`, a pattern's
        text, `not empty`, `topic names`."""
        parts = []
        if self.range is not None:
            text = str(self.range)
            parts.append(f"in {text}" if text[0] in "[(" else text)
        if self.choices:
            parts.append("one of " + ", ".join(self.choices))
        if self.pattern is not None:
            parts.append(self.pattern.text)
        if self.required:
            parts.append("not empty")
        if self.topic:
            parts.append("topic names" if self.type == "string_array" else "a topic name")
        return "; ".join(parts)

    @property
    def example_text(self) -> str:
        if self.example:
            return self.example
        if self.default is not UNSET and not callable(self.default) and literal(self.default):
            return literal(self.default)
        return self.choices[0] if self.choices else "VALUE"

    @property
    def default_text(self) -> str:
        """The default as docs/PARAMETERS.md shows it."""
        if self.default is UNSET:
            return self.shown_default or "unset: from the embodiment YAML"
        if callable(self.default):
            return self.shown_default
        if self.default == "":
            return '`""`'
        return f"`{literal(self.default)}`"

    def descriptor(self) -> ParameterDescriptor:
        d = ParameterDescriptor(
            name=self.name, type=_TYPES[self.type][0], description=self.description,
            read_only=self.read_only, dynamic_typing=self.default is UNSET,
            additional_constraints=self.allowed)
        r = self.range
        if r is not None and r.closed:
            if self.type == "double":
                d.floating_point_range = [FloatingPointRange(
                    from_value=float(r.lo), to_value=float(r.hi), step=0.0)]
            else:
                d.integer_range = [IntegerRange(from_value=int(r.lo), to_value=int(r.hi), step=1)]
        return d

    # -- checking a value --------------------------------------------------------------

    def _pass(self, *, e_g: bool = True) -> str:
        return f"pass {'e.g. ' if e_g else ''}-p {self.name}:={self.example_text}"

    def _wrong_type(self, detail: str) -> ParameterError:
        return ParameterError(
            f"parameter {self.name} has the wrong type ({detail}); it takes "
            f"{_TYPES[self.type][1]} ({self.description}): {self._pass()}")

    def _unquoted(self, given: Parameter) -> ParameterError:
        """This string parameter was `given` a text that ROS read as a number or a bool:
        YAML quotes, inside the shell's, keep it a string."""
        text = literal(given.value)
        return ParameterError(
            f"parameter {self.name} takes a string ({self.description}), but ROS read the "
            f"value given as {_READ_AS[given.type_]} ({text}): a value that reads as a number "
            "or true/false stays a string only in quotes. Pass it quoted, as you meant it "
            f"(leading zeros too): -p {self.name}:=\"'{text}'\" (in a --params-file: "
            f"{self.name}: '{text}')")

    def check(self, value: Any) -> Any:
        """The validated value (doubles as float, string arrays as tuples; None when UNSET
        and not passed); raises ParameterError naming the parameter, the value and the fix."""
        return self._check(value, required=self.required)

    def _check(self, value: Any, *, required: bool) -> Any:
        if value is None:
            if self.default is UNSET:
                return None
            raise ParameterError(f"parameter {self.name} has no value: {self._pass()}")
        value = self._typed(value)
        if required and (not value.strip() if isinstance(value, str) else not value):
            raise ParameterError(f"parameter {self.name} is empty; it is required "
                                 f"({self.description}): {self._pass(e_g=False)}")
        if self.choices and value not in self.choices:
            raise ParameterError(f"parameter {self.name}={value!r} is not one of "
                                 f"{list(self.choices)}: {self._pass()}")
        if self.pattern is not None and not self.pattern.matches(value):
            raise ParameterError(f"parameter {self.name}={value!r} is not allowed: it must be "
                                 f"{self.allowed} ({self.description}); {self._pass()}")
        if self.range is not None and not self.range.contains(value):
            raise ParameterError(f"parameter {self.name}={value!r} is out of range: it must be "
                                 f"{self.allowed} ({self.description}); {self._pass()}")
        if self.topic:
            self._check_topics(value)
        return value

    def _check_topics(self, value: str | tuple[str, ...]) -> None:
        names = value if self.type == "string_array" else (value,) if value else ()  # "": none
        for name in names:
            problem = name_problem(name)
            if problem:
                holds = f" holds {name!r}," if self.type == "string_array" else f"={name!r} is"
                raise ParameterError(f"parameter {self.name}{holds} not a valid topic name "
                                     f"({problem}; {self.description}); {self._pass()}")

    def _typed(self, value: Any) -> Any:
        kind = self.type
        if kind == "double":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise self._wrong_type(f"{value!r} is not a number")
            value = float(value)
            if not math.isfinite(value):
                raise ParameterError(f"parameter {self.name}={value!r} is not a finite number "
                                     f"({self.description}); {self._pass()}")
            return value
        if kind == "integer" and (isinstance(value, bool) or not isinstance(value, int)):
            raise self._wrong_type(f"{value!r} is not an integer")
        if kind == "bool" and not isinstance(value, bool):
            raise self._wrong_type(f"{value!r} is not true or false")
        if kind == "string" and not isinstance(value, str):
            raise self._wrong_type(f"{value!r} is not a string")
        if kind == "string_array":
            if isinstance(value, str) or not all(isinstance(v, str) for v in value):
                raise self._wrong_type(f"{value!r} is not a list of strings")
            return tuple(value)
        return value


def declare(node: Any, specs: Iterable[Spec]) -> None:
    """Declare every spec on `node` (an rclpy Node) with its descriptor.

    A value passed with the wrong type, or outside a descriptor's range, raises
    ParameterError naming the parameter (rclpy refuses both at declaration). A parameter
    that is already declared is left as it is: a lifecycle node declares its parameters in
    on_configure, and configures again after a cleanup.
    """
    for spec in specs:
        if node.has_parameter(spec.name):
            continue
        default = spec.default() if callable(spec.default) else spec.default
        if default is UNSET:
            default = None
        elif spec.type == "string_array" and not default:
            # rclpy takes an empty list for a byte array: declare the type instead (`read`
            # gives the empty default while nothing is passed).
            default = Parameter.Type.STRING_ARRAY
        given = _overrides(node).get(spec.name)
        if (spec.type == "double" and spec.default is not UNSET and given is not None
                and given.type_ is Parameter.Type.INTEGER):
            # rclpy refuses an integer for a double (an UNSET one, dynamically typed, takes it
            # and `read` makes it a float); `-p replan_period_ms:=50` means 50.0.
            _overrides(node)[spec.name] = Parameter(spec.name, value=float(given.value))
        try:
            node.declare_parameter(spec.name, default, spec.descriptor())
        except InvalidParameterTypeException as exc:
            if spec.type == "string" and given is not None and given.type_ in _READ_AS:
                raise spec._unquoted(given) from exc
            raise spec._wrong_type(str(exc)) from exc
        except InvalidParameterValueException as exc:
            raise ParameterError(
                f"parameter {spec.name} is out of range ({exc}); it must be {spec.allowed} "
                f"({spec.description}); {spec._pass()}") from exc


def check(specs: Iterable[Spec], values: Mapping[str, Any]) -> dict[str, Any]:
    """{name: validated value} from raw values (as rclpy returns them), in spec order."""
    return {spec.name: spec.check(values[spec.name]) for spec in specs}


def read(node: Any, specs: Iterable[Spec]) -> dict[str, Any]:
    """{name: validated value} of the declared parameters (see `check`)."""
    specs = tuple(specs)
    return check(specs, {s.name: _value(node, s) for s in specs})


def _value(node: Any, spec: Spec) -> Any:
    try:
        return node.get_parameter(spec.name).value
    except ParameterUninitializedException:  # an empty string_array default (see `declare`)
        return spec.default() if callable(spec.default) else spec.default


def declare_and_read(node: Any, specs: Iterable[Spec]) -> dict[str, Any]:
    """`declare`, then `refuse_unknown`, then `read`."""
    specs = tuple(specs)
    declare(node, specs)
    refuse_unknown(node)
    return read(node, specs)


# Overrides that rclpy reads itself when a publisher or subscription asks for them.
_FRAMEWORK_PREFIXES = ("qos_overrides.",)
# Parameters every rclpy node declares itself.
FRAMEWORK_PARAMETERS = ("use_sim_time", "start_type_description_service")


def _overrides(node: Any) -> dict[str, Parameter]:
    """The values `node` was given (`-p`, `--params-file`): {name: Parameter}. rclpy has no
    public getter; it reads a parameter's value from here when it is declared."""
    return getattr(node, "_parameter_overrides", None) or {}


def refuse_unknown(node: Any) -> None:
    """Raise ParameterError when `node` was given a parameter (`-p`, `--params-file`) that it
    has not declared. rclpy ignores such overrides without a word, so a misspelt or renamed
    parameter would leave its default in force on the robot. Call it once every parameter
    of the node is declared."""
    check_names(f"node {node.get_name()}", _overrides(node), node.list_parameters([], 0).names)


def check_names(owner: str, given: Iterable[str], known: Iterable[str]) -> None:
    """Raise ParameterError naming each of `given` that is not in `known` (nor one rclpy reads
    itself), with the closest known name, and listing `owner`'s parameters."""
    known = sorted(set(known) | set(FRAMEWORK_PARAMETERS))
    unknown = sorted(n for n in given if n not in known and not n.startswith(_FRAMEWORK_PREFIXES))
    if not unknown:
        return
    hints = []
    for name in unknown:
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        hints.append(f"{name} (did you mean {close[0]}?)" if close else name)
    raise ParameterError(
        f"{owner} has no parameter {', '.join(hints)}; it would be ignored. "
        f"Its parameters: {', '.join(known)} (`ros2 param describe`, docs/PARAMETERS.md)")