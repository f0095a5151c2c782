"""Flags derived from a dataclass: one per field, typed by the field, errors naming the flag."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

import pytest

from gr00t_policy.dataclass_cli import FieldError, add_arguments, build


@dataclass(frozen=True)
class Example:
    name: str = field(metadata={"help": "required: no default"})
    max_count: int = field(default=3, metadata={"help": "a count"})
    ratio: float | None = field(default=None, metadata={"help": "optional"})
    fast: bool = field(default=True, metadata={"help": "a switch"})
    pair: tuple[float, float] = field(default=(1.0, 2.0), metadata={"help": "two numbers"})
    many: tuple[int, ...] = field(default=(1,), metadata={"help": "some numbers"})
    mode: str = field(default="a", metadata={"help": "a choice", "choices": ("a", "b")})
    hidden: int = field(default=0, metadata={"help": "set by the caller", "cli": False})

    def __post_init__(self) -> None:
        if self.max_count < 0:
            raise FieldError("max_count", f"Example.max_count must be >= 0, got {self.max_count}")


def _parse(argv, **overrides):
    parser = argparse.ArgumentParser()
    flags = add_arguments(parser, Example)
    return flags, build(parser, Example, parser.parse_args(argv), flags, **overrides)


def test_flags_follow_the_fields():
    flags, ex = _parse(["--name", "x"])
    assert flags == {"name": "--name", "max_count": "--max-count", "ratio": "--ratio",
                     "fast": "--fast", "pair": "--pair", "many": "--many", "mode": "--mode"}
    assert ex == Example(name="x")
    _, ex = _parse(["--name", "y", "--max-count", "5", "--ratio", "0.5", "--no-fast",
                    "--pair", "3", "4", "--many", "1", "2", "3", "--mode", "b"], hidden=7)
    assert ex == Example("y", 5, 0.5, False, (3.0, 4.0), (1, 2, 3), "b", 7)


def test_errors_name_the_flag(capsys):
    for argv in (["--max-count", "-1"], ["--mode", "c"], ["--pair", "1"], []):
        with pytest.raises(SystemExit):
            _parse(["--name", "x"] + argv if argv else argv)
    err = capsys.readouterr().err
    assert "argument --max-count: Example.max_count must be >= 0, got -1" in err
    assert "argument --mode: invalid choice" in err and "argument --pair" in err
    assert "the following arguments are required: --name" in err


def test_a_field_without_help_or_flag_type_is_refused():
    @dataclass
    class NoHelp:
        x: int = 0

    @dataclass
    class Odd:
        x: dict = field(default_factory=dict, metadata={"help": "no flag for this"})

    with pytest.raises(TypeError, match=r"NoHelp\.x has no field\(metadata"):
        add_arguments(argparse.ArgumentParser(), NoHelp)
    with pytest.raises(TypeError, match=r"Odd\.x: no flag for type"):
        add_arguments(argparse.ArgumentParser(), Odd)
