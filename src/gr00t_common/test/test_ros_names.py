"""gr00t_common.ros_names: a topic or service name rclpy would refuse, found before use and
reported for the flag it came from."""

from __future__ import annotations

import argparse

import pytest

from gr00t_common.ros_names import name_problem, service_arg, topic_arg


@pytest.mark.parametrize("name", ["/joint_states", "camera/image", "~/state", "{node}/state"])
def test_valid_names_have_no_problem(name):
    assert name_problem(name) == "" and name_problem(name, service=True) == ""


@pytest.mark.parametrize("name,problem", [
    ("not a topic", "must not contain characters other than alphanumerics"),
    ("/a//b", "must not contain repeated '/'"),
    ("/1st", "must not start with a number"),
    ("a/", "must not end with a forward slash"),
    ("", "must not be empty"),
])
def test_invalid_names_say_why_in_one_line(name, problem):
    for service in (False, True):
        why = name_problem(name, service=service)
        assert problem in why and "\n" not in why and ".c:" not in why, why


def test_the_argparse_types_name_the_flag(capsys):
    parser = argparse.ArgumentParser(prog="tool")
    parser.add_argument("--extra-topic", type=topic_arg)
    parser.add_argument("--service", type=service_arg)
    args = parser.parse_args(["--extra-topic", "/a", "--service", "/gr00t/set_instruction"])
    assert (args.extra_topic, args.service) == ("/a", "/gr00t/set_instruction")
    for flag, kind in (("--extra-topic", "topic"), ("--service", "service")):
        with pytest.raises(SystemExit) as info:
            parser.parse_args([flag, "bad name"])
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert f"argument {flag}: 'bad name' is not a valid ROS {kind} name (" in err, err
