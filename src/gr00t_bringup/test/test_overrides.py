"""NAME:=VALUE parameter overrides: typed as a ROS parameter file types them."""

from __future__ import annotations

import argparse

import pytest

from gr00t_bringup.overrides import (OverrideError, override_arg, parse_override,
                                     parse_overrides)


def test_values_are_typed_like_a_parameter_file() -> None:
    assert parse_override("start_enabled:=False") == ("start_enabled", False)
    assert parse_override("seed:=3") == ("seed", 3)
    assert parse_override("ensemble_decay_per_s:=6.0") == ("ensemble_decay_per_s", 6.0)
    assert parse_override(" device := cuda ") == ("device", "cuda")
    # A value may itself hold ":=" (only the first one splits).
    assert parse_override("default_instruction:=a:=b") == ("default_instruction", "a:=b")


def test_a_quoted_value_stays_a_string() -> None:
    # What the nodes' error asks for a string that reads as a number (`-p x:="'007'"`): the
    # shell leaves the inner quotes, which were kept as part of the value.
    assert parse_override("joint_prefix:='007'") == ("joint_prefix", "007")
    assert parse_override('default_instruction:="true"') == ("default_instruction", "true")
    assert parse_override("default_instruction:='it''s'") == ("default_instruction", "it's")
    assert parse_overrides("""joint_prefix:="'007'" seed:=3""") == {"joint_prefix": "007",
                                                                     "seed": 3}


def test_a_launch_argument_holds_several() -> None:
    assert parse_overrides("device:=cuda  dtype:=bfloat16") == {"device": "cuda",
                                                                "dtype": "bfloat16"}
    assert parse_overrides("default_instruction:='pick up the cup' seed:=3") == {
        "default_instruction": "pick up the cup", "seed": 3}
    assert parse_overrides("camera_topics:=['/a','/b']") == {"camera_topics": ["/a", "/b"]}
    assert parse_overrides("") == {}
    with pytest.raises(OverrideError, match="quote"):
        parse_overrides("default_instruction:='unclosed")


@pytest.mark.parametrize("text", ["device=cuda", ":=cuda", "device"])
def test_other_forms_are_refused_with_the_form_to_write(text: str) -> None:
    with pytest.raises(OverrideError, match="NAME:=VALUE"):
        parse_override(text)
    with pytest.raises(argparse.ArgumentTypeError, match="NAME:=VALUE"):
        override_arg(text)
