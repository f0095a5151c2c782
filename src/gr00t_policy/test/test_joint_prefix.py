"""A robot's joint-name prefix: checked, put on, and named where the names do not match."""

import pytest

from gr00t_policy.embodiment.joint_prefix import (fitting_prefixes, prefix_fix, prefix_problem,
                                                  prefixed)

NEEDED = ["left_elbow_joint", "right_elbow_joint"]


@pytest.mark.parametrize("good", ["", "g1/", "robot1_", "/g1/arm/", "R2_d2/"])
def test_plausible_prefixes_pass(good):
    assert prefix_problem(good) is None


@pytest.mark.parametrize("bad", ["g1 /", " g1/", "g1/\n", "g1\t", "g1-", "g1.", "g1:"])
def test_whitespace_and_other_characters_are_refused(bad):
    problem = prefix_problem(bad)
    assert problem is not None and repr(bad) in problem and "letters, digits" in problem


def test_prefixed_puts_it_on_every_name():
    assert prefixed("g1/", NEEDED) == ("g1/left_elbow_joint", "g1/right_elbow_joint")
    assert prefixed("", NEEDED) == tuple(NEEDED)


def test_the_prefix_every_needed_joint_is_there_under_is_named():
    present = ["g1/left_elbow_joint", "g1/right_elbow_joint", "g1/head_joint"]
    assert fitting_prefixes(NEEDED, present) == ["g1/"]
    fix = prefix_fix(NEEDED, present, "", "joint_prefix:={}")
    assert fix is not None and fix.endswith("set joint_prefix:=g1/")
    assert "'g1/left_elbow_joint'" in fix
    # A command-line flag gets the prefix shell-quoted.
    assert prefix_fix(NEEDED, present, "", "--joint-prefix {}").endswith("--joint-prefix g1/")


def test_a_wrong_prefix_is_named_with_the_right_one():
    assert prefix_fix(NEEDED, ["robot1_" + n for n in NEEDED], "robot2_",
                      "joint_prefix:={}").startswith("the joint prefix is 'robot2_', but")
    fix = prefix_fix(NEEDED, NEEDED, "g1/", "joint_prefix:={}")  # the robot has none
    assert "with no prefix" in fix and fix.endswith("set joint_prefix:=''")


def test_no_prefix_fix_where_no_prefix_explains_the_names():
    # One joint is missing under every prefix: a wrong YAML, not a prefix.
    assert prefix_fix(NEEDED, ["g1/left_elbow_joint", "g1/right_wrist_joint"], "",
                      "joint_prefix:={}") is None
    # The names already fit the prefix set: nothing to say.
    assert prefix_fix(NEEDED, ["g1/" + n for n in NEEDED], "g1/", "joint_prefix:={}") is None
    assert fitting_prefixes([], ["a"]) == []
