"""How the embodiment checks report: one issue per mistake, everything else still checked.

The schema (pydantic) and the checks across sections (gr00t_policy.embodiment.validate) run on
the same document; these tests pin how their reports combine. test_embodiment.py covers each
kind of mistake on its own.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from gr00t_policy.embodiment import (
    BUILTIN_DECODER_TYPES,
    EmbodimentConfigError,
    load_embodiment,
    parse_embodiment,
)

REPO = Path(__file__).resolve().parents[3]
G1_YAML = REPO / "config" / "unitree_g1.yaml"


@pytest.fixture()
def g1() -> dict[str, Any]:
    return yaml.safe_load(G1_YAML.read_text())


def _issues(data: dict[str, Any]) -> list:
    with pytest.raises(EmbodimentConfigError) as info:
        parse_embodiment(data, "test")
    return list(info.value.issues)


def test_a_type_error_elsewhere_does_not_hide_cross_section_problems(g1):
    g1["slot"] = 40
    g1["controllers"][1]["joints"][3] = "left_elbow_jiont"
    paths = [i.path for i in _issues(g1)]
    assert paths == ["slot", "controllers[1].joints[3]", "action_keys[1]"]


def test_a_broken_group_is_reported_once_not_by_every_key_that_uses_it(g1):
    g1["joint_groups"]["waist"] = ["waist_yaw_joint"]
    (issue,) = _issues(g1)
    assert issue.path == "joint_groups.waist" and "expected a mapping" in issue.message


def test_a_key_list_that_is_not_a_list_is_reported_once(g1):
    g1["action_keys"] = {"waist": "min_max"}
    (issue,) = _issues(g1)
    assert issue.path == "action_keys" and "expected a list" in issue.message


def test_a_group_that_is_defined_nowhere_is_reported_with_the_closest_name(g1):
    g1["state_keys"][1]["group"] = "left_armm"
    (issue,) = _issues(g1)
    assert issue.path == "state_keys[1].group"
    assert "did you mean 'left_arm'?" in issue.fix


def test_a_list_with_a_broken_entry_is_not_also_called_empty(g1):
    g1["cameras"][0]["topic"] = 7
    (issue,) = _issues(g1)
    assert issue.path == "cameras[0].topic"
    assert "got int 7" in issue.message


def test_position_of_the_wrong_shape_is_one_issue(g1):
    g1["joint_groups"]["waist"]["joints"][0]["position"] = [1.0]
    (issue,) = _issues(g1)
    assert issue.path == "joint_groups.waist.joints[0].position"
    assert "2 values" in issue.message and "[min, max]" in issue.fix


def test_strict_values_are_not_coerced(g1):
    g1["action_dt"] = "0.05"
    g1["start_enabled"] = "true"
    g1["rates"]["system1_hz"] = True
    paths = {i.path for i in _issues(g1)}
    assert paths == {"action_dt", "start_enabled", "rates.system1_hz"}


def test_a_bad_group_name_names_the_rule(g1):
    g1["joint_groups"]["left arm"] = g1["joint_groups"].pop("left_arm")
    issues = _issues(g1)
    assert issues[0].path == "joint_groups.left arm"
    assert "not valid as a joint group name" in issues[0].message
    assert "only letters, digits" in issues[0].fix


def test_issues_are_listed_in_file_order(tmp_path, g1):
    g1["on_stale"] = "freeze"
    g1["slot"] = -1
    g1["controllers"][0]["type"] = "nope"
    f = tmp_path / "g1.yaml"
    f.write_text(yaml.safe_dump(g1, sort_keys=False))
    with pytest.raises(EmbodimentConfigError) as info:
        load_embodiment(f)
    lines = [i.line for i in info.value.issues]
    assert len(lines) == 3 and lines == sorted(lines)


def test_params_are_read_only_and_round_trip(g1, monkeypatch):
    # A plugin's params reach its decoder as written (its class judges them; the schema
    # judges only the built-ins').
    from gr00t_policy.embodiment import load

    monkeypatch.setattr(load, "known_decoder_types", lambda: (*BUILTIN_DECODER_TYPES, "imp"))
    g1["controllers"][0].update(type="imp", params={"gain": 2.0, "names": ["a", "b"]})
    emb = parse_embodiment(copy.deepcopy(g1), "params")
    with pytest.raises(TypeError):
        emb.controllers[0].params["gain"] = 3.0  # type: ignore[index]
    assert emb.to_dict()["controllers"][0]["params"] == {"gain": 2.0, "names": ["a", "b"]}
    assert parse_embodiment(emb.to_dict(), "again") == emb


def test_config_is_frozen_hashable_and_groups_know_their_names(g1):
    emb = parse_embodiment(g1, "frozen")
    with pytest.raises(ValueError):
        emb.slot = 3  # type: ignore[misc]
    assert hash(emb) == hash(parse_embodiment(copy.deepcopy(g1), "other source"))
    assert [g.name for g in emb.joint_groups] == list(g1["joint_groups"])
    assert emb.source == "frozen"


def test_builtin_decoder_names_are_accepted(g1):
    for i, name in enumerate(BUILTIN_DECODER_TYPES):
        g1["controllers"][i]["type"] = name
    emb = parse_embodiment(g1, "decoders")
    assert [c.type for c in emb.controllers[:3]] == list(BUILTIN_DECODER_TYPES)


def test_a_held_joint_needs_limits_and_its_position_inside_them(g1):
    del g1["held_joints"][3]["limits"]
    g1["held_joints"][4]["position"] = 2.0  # left ankle pitch: limits [-0.87, 0.52]
    issues = _issues(g1)
    assert [i.path for i in issues] == ["held_joints[3]", "held_joints[4].position"]
    assert "no position limits" in issues[0].message and "limits: [min, max]" in issues[0].fix
    assert "outside the joint's limits" in issues[1].message


def test_a_held_joint_in_a_joint_group_has_the_groups_limits_only(g1):
    # The held entry's own limits were silently replaced by the group's, and a held position
    # outside them passed: System 1 would have held the head at 2.0 against [-0.1, 0.1].
    g1["joint_groups"]["head"] = {"joints": [
        {"name": "head_joint", "position": [-3.0, 3.0], "velocity": 6.0}]}
    g1["state_keys"].append({"key": "head", "group": "head", "normalization": "min_max"})
    g1["held_joints"].append({"name": "head_joint", "position": 2.0, "limits": [-0.1, 0.1],
                              "velocity": 1.0})
    g1["controllers"].append({"name": "head_controller", "type": "forward_command",
                              "topic": "/head_controller/commands", "joints": ["head_joint"],
                              "holds": True})
    (issue,) = _issues(copy.deepcopy(g1))
    assert issue.path == "held_joints[12].limits"
    assert "[-0.1, 0.1]" in issue.message and "group 'head'" in issue.message and \
        "[-3.0, 3.0]" in issue.message and "remove `limits`" in issue.fix
    # Written again as the group's, they are the same limits, and the position is held to them.
    g1["held_joints"][-1]["limits"] = [-3.0, 3.0]
    assert parse_embodiment(copy.deepcopy(g1), "test").limits_of("head_joint") == (-3.0, 3.0)
    g1["held_joints"][-1]["position"] = 3.5
    assert [i.path for i in _issues(g1)] == ["held_joints[12].position"]


def test_a_holds_controller_drives_held_joints_with_velocity_limits_only(g1):
    legs = [h["name"] for h in g1["held_joints"]]
    g1["controllers"].append({"name": "legs", "type": "forward_command",
                              "topic": "/legs/commands", "joints": legs, "holds": True})
    issues = _issues(g1)  # no velocity limits on the held joints yet
    assert {i.path for i in issues} == {f"held_joints[{k}]" for k in range(len(legs))}
    assert "no velocity limit" in issues[0].message
    for h in g1["held_joints"]:
        h["velocity"], h["acceleration"] = 1.0, 5.0
    emb = parse_embodiment(copy.deepcopy(g1), "test")
    assert emb.commanded_held_joints == tuple(legs)
    assert emb.command_joints == (*emb.action_joints, *legs)
    lim = emb.command_limits()
    assert lim["velocity"][-1] == 1.0 and lim["acceleration"][-1] == 5.0
    # An action joint in a holds controller, or a held joint in a plain one, is refused.
    g1["controllers"][-1]["joints"].append("left_elbow_joint")
    (issue,) = [i for i in _issues(copy.deepcopy(g1)) if "holds: true" in i.message]
    assert "left_elbow_joint" in issue.message
    g1["controllers"][-1]["joints"].pop()
    g1["controllers"][-1]["holds"] = False
    assert any("also listed in controller" in i.message for i in _issues(g1))


def test_acceleration_and_margin_must_be_positive(g1):
    g1["joint_groups"]["waist"]["joints"][0]["acceleration"] = 0.0
    g1["plausibility"] = {"position_margin": -1.0}
    paths = {i.path for i in _issues(g1)}
    assert paths == {"joint_groups.waist.joints[0].acceleration", "plausibility.position_margin"}


@pytest.mark.parametrize("change, path, words", [
    (lambda s: s["rest_pose"].update(left_knee_joint=0.1), "simulator.rest_pose.left_knee_joint",
     "not an action joint"),
    (lambda s: s["rest_pose"].update(left_elbow_joint=9.0), "simulator.rest_pose.left_elbow_joint",
     "outside the joint's limits"),
    (lambda s: s["expert"]["waist_joints"].append("waist_yaw"),
     "simulator.expert.waist_joints[2]", "did you mean 'waist_yaw_joint'?"),
    (lambda s: s["expert"]["arm_groups"].update(left="left_arms"),
     "simulator.expert.arm_groups.left", "did you mean 'left_arm'?"),
    (lambda s: s["expert"].update(noise_groups=["waist", "legs"]),
     "simulator.expert.noise_groups[1]", "not a joint group"),
    (lambda s: s["cameras"].update(wrist={"body": "torso_link", "pos": [0, 0, 0]}),
     "simulator.cameras.wrist", "not one of `cameras`"),
    (lambda s: s.update(cameras={"ego": s["cameras"]["head"]}), "simulator.cameras.ego",
     "not one of `cameras`"),
    (lambda s: s["palms"]["left"].update(quat=[1, 0, 0]), "simulator.palms.left.quat",
     "4"),
    (lambda s: s["cameras"]["head"].update(pitch_deg=120.0),
     "simulator.cameras.head.pitch_deg", "90"),
])
def test_the_simulator_section_is_checked_against_the_file(g1, change, path, words):
    """The simulator section's references to joints, groups and cameras are checked like
    the rest of the file, each mistake once, with its key path."""
    sim = copy.deepcopy(g1["simulator"])
    change(sim)
    issues = _issues({**g1, "simulator": sim})
    assert path in [i.path for i in issues], issues
    issue = next(i for i in issues if i.path == path)
    assert words in f"{issue.message} {issue.fix}", issue


def test_a_file_without_a_simulator_section_is_still_a_robot(g1):
    """The runtime never needs the section: without it the file parses to the same robot."""
    del g1["simulator"]
    emb = parse_embodiment(g1, "test")
    assert emb.simulator is None
    assert emb.checkpoint_entry() == load_embodiment(G1_YAML).checkpoint_entry()


def test_limits_in_degrees_are_refused_saying_so(g1):
    g1["joint_groups"]["waist"]["joints"][0]["position"] = [-150.0, 150.0]
    g1["held_joints"][0]["position"] = 45.0  # a knee held at "45" would be driven to 45 rad
    issues = _issues(g1)
    assert [i.path for i in issues] == ["joint_groups.waist.joints[0].position",
                                        "held_joints[0].position"]
    assert all("degrees" in i.message and "radians" in i.fix for i in issues)


def test_velocities_and_accelerations_in_degrees_are_refused_saying_so(g1):
    # The elbow's 6 rad/s and 60 rad/s^2 written in deg/s and deg/s^2 passed, and System 1
    # then stepped it 0.24-0.72 rad a tick; 1e300 passed too.
    elbow = g1["joint_groups"]["left_arm"]["joints"][3]
    elbow["velocity"], elbow["acceleration"] = 343.8, 3437.7
    g1["joint_groups"]["waist"]["joints"][0]["velocity"] = 1.0e300
    g1["held_joints"][0].update(velocity=57.3, acceleration=573.0)  # 1 rad/s, 10 rad/s^2
    issues = _issues(g1)
    assert [i.path for i in issues] == [
        "joint_groups.waist.joints[0].velocity", "joint_groups.left_arm.joints[3].velocity",
        "joint_groups.left_arm.joints[3].acceleration", "held_joints[0].velocity"]
    assert "'left_elbow_joint'" in issues[1].message and "deg/s (343.8 deg/s = 6" in \
        issues[1].message and "rad/s" in issues[1].fix
    assert "deg/s^2 (3437.7 deg/s^2 = 60" in issues[2].message
    assert "'left_hip_pitch_joint'" in issues[3].message
    assert all("looks like deg/s" in i.message and "at most" in i.fix for i in issues)
    # The bounds themselves are plausible limits: the fastest G1 joint (URDF) and more.
    elbow["velocity"], elbow["acceleration"] = 50.0, 1000.0
    g1["joint_groups"]["waist"]["joints"][0]["velocity"] = 37.0
    g1["held_joints"][0].update(velocity=1.0, acceleration=10.0)
    parse_embodiment(g1, "test")


def test_relative_topics_and_ages_in_milliseconds_are_refused(g1):
    g1["controllers"][0]["topic"] = "waist_controller/commands"  # would follow --namespace
    g1["staleness"]["state_s"] = 50.0
    by_path = {i.path: i for i in _issues(g1)}
    assert "absolute" in by_path["controllers[0].topic"].fix
    assert "milliseconds" in by_path["staleness.state_s"].fix


def test_yaml_1_1_quirks_are_explained(g1):
    g1["joint_groups"]["waist"]["joints"][0]["acceleration"] = "6e1"  # PyYAML: a string
    g1["on_stale"] = False  # `on_stale: no`
    by_path = {i.path: i for i in _issues(g1)}
    assert "no '.'" in by_path["joint_groups.waist.joints[0].acceleration"].message
    assert "quote" in by_path["on_stale"].fix


@pytest.mark.parametrize("written, fix", [
    ("1.5e2", "1.5e+2"), ("1.0e300", "1.0e+300"), (".5e2", ".5e+2"), ("1e3", "1.0e+3"),
    ("6e-1", "6.0e-1"),
])
def test_an_exponent_that_yaml_reads_as_a_string_is_explained(tmp_path, written, fix):
    # PyYAML (YAML 1.1) wants a '.' and a signed exponent: 1.5e2 and 1.0e300 are strings too,
    # and were told "write it as a number, e.g. 0.5".
    path = tmp_path / "exponent.yaml"
    path.write_text(G1_YAML.read_text().replace("acceleration: 60.0}",
                                                f"acceleration: {written}}}", 1))
    with pytest.raises(EmbodimentConfigError) as info:
        load_embodiment(path)
    (issue,) = info.value.issues
    assert issue.path == "joint_groups.waist.joints[0].acceleration"
    assert f"got the string {written!r}: YAML reads" in issue.message
    assert f"write it as {fix}, unquoted" in issue.fix
    assert isinstance(yaml.safe_load(fix), float)


def test_a_file_not_in_utf8_or_nested_without_end_is_named_not_a_traceback(tmp_path):
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes(G1_YAML.read_text().replace("name: unitree_g1", "name: unitree_g1  # °", 1)
                       .encode("latin-1", errors="replace"))
    with pytest.raises(EmbodimentConfigError, match=r"not UTF-8 \(byte 0xb0 at line \d+"):
        load_embodiment(latin1)
    deep = tmp_path / "deep.yaml"
    deep.write_text("a: " + "[" * 3000 + "]" * 3000 + "\n")
    with pytest.raises(EmbodimentConfigError, match="nested too deeply"):
        load_embodiment(deep)


def test_sin_cos_is_a_state_normalization_only_and_widens_the_state(g1):
    g1["state_keys"][1]["normalization"] = "sin_cos"  # left_arm: 7 joints, 14 values
    emb = parse_embodiment(copy.deepcopy(g1), "test")
    assert (emb.state_dim, emb.state_width) == (31, 38)
    from gr00t_policy.embodiment import check_against_checkpoint

    with pytest.raises(EmbodimentConfigError, match="gives the model 38 values"):
        check_against_checkpoint(emb, num_embodiments=4, max_state_dim=32, max_action_dim=32)
    g1["action_keys"][1]["normalization"] = "sin_cos"
    (issue,) = _issues(g1)
    assert issue.path == "action_keys[1].normalization" and "state keys only" in issue.message


def test_tracking_names_joint_groups_and_a_limit_that_may_be_off(g1):
    g1["tracking"] = {"max_error": 0.4, "for_s": 0.2, "ignore": ["left_hand", "right_hands"]}
    issue = next(i for i in _issues(g1) if i.path == "tracking.ignore[1]")
    assert "not a joint group" in issue.message and "did you mean 'right_hand'?" in issue.fix
    for bad, path in [({"max_error": 0.0}, "tracking.max_error"),
                      ({"max_error": float("nan")}, "tracking.max_error"),
                      ({"for_s": 3.0}, "tracking.for_s"), ({"for_s": -0.1}, "tracking.for_s")]:
        g1["tracking"] = bad
        assert [i.path for i in _issues(g1)] == [path], bad
    g1["tracking"] = {"max_error": float("inf"), "ignore": ["left_hand", "right_hand"]}
    emb = parse_embodiment(g1, "test")
    assert emb.tracking.max_error == float("inf") and emb.tracking.for_s == 0.5
    hands = {j.name for g in ("left_hand", "right_hand") for j in emb.group(g).joints}
    assert set(emb.tracked_joints) == set(emb.command_joints) - hands
    assert len(emb.tracked_joints) < len(emb.command_joints)


def test_a_binary_key_needs_0_and_1_within_its_joints_limits(g1):
    # A gripper measured in metres ([0, 0.04]) or closing to negative angles: binary reads
    # every position as 0 (x > 0.5 never holds) and commands 0 or 1, which the limits clamp.
    del g1["simulator"]  # its rest pose would be outside the new limits too
    g1["joint_groups"]["left_hand"]["joints"][0]["position"] = [0.0, 0.04]
    g1["state_keys"][3]["normalization"] = "binary"
    g1["action_keys"][3]["normalization"] = "binary"
    issues = _issues(g1)
    assert [i.path for i in issues] == ["state_keys[3].normalization",
                                        "action_keys[3].normalization"]
    joint = g1["joint_groups"]["left_hand"]["joints"][0]["name"]
    assert joint in issues[0].message and "[0, 0.04]" in issues[0].message
    assert "min_max" in issues[0].fix
    # Limits that hold both 0 and 1 are what binary needs (a driver that takes 0/1).
    for j in g1["joint_groups"]["left_hand"]["joints"]:
        j["position"] = [0.0, 1.0]
    assert parse_embodiment(g1, "test").state_keys[3].mode == "binary"
