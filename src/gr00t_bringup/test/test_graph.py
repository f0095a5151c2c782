"""build_graph: the node list and parameters for each shipped embodiment (no ROS needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from gr00t_bringup.graph import GraphError, build_graph, default_config_dirs
from gr00t_bringup.runner import node_command, params_file_content
from gr00t_policy.embodiment import EmbodimentConfigError

REPO = Path(__file__).resolve().parents[3]
CONFIG = REPO / "config"


def write_ckpt_config(ckpt: Path, embodiments: dict) -> Path:
    """A checkpoint directory holding just the config.json fields build_graph reads."""
    ckpt.mkdir(parents=True, exist_ok=True)
    (ckpt / "config.json").write_text(json.dumps({
        "format": "gr00t_ros/1",
        "action_head": {"num_embodiments": 4, "max_state_dim": 64, "max_action_dim": 32},
        "embodiments": embodiments,
    }))
    return ckpt


@pytest.fixture
def ckpt(tmp_path: Path) -> Path:
    return write_ckpt_config(tmp_path / "ckpt", {
        "unitree_g1": {"slot": 0, "action_dt": 0.05, "state_dim": 31, "action_dim": 31},
        "gr1": {"slot": 1, "action_dt": 0.05, "state_dim": 29, "action_dim": 29},
    })


def load_yaml(name: str) -> dict:
    return yaml.safe_load((CONFIG / f"{name}.yaml").read_text())


@pytest.mark.parametrize("name", ["unitree_g1", "fourier_gr1"])
def test_nodes_and_parameters_come_from_the_yaml(name: str, ckpt: Path) -> None:
    raw = load_yaml(name)
    g = build_graph(name, checkpoint=ckpt, config_dirs=[CONFIG])
    assert [(n.package, n.executable, n.name) for n in g.nodes] == [
        ("gr00t_system2", "system2_node", "gr00t_system2"),
        ("gr00t_system1", "system1_node", "gr00t_system1"),
    ]
    assert g.embodiment.name == name
    s2, s1 = g.node("gr00t_system2").parameters, g.node("gr00t_system1").parameters
    assert s2["checkpoint"] == s1["checkpoint"] == str(ckpt.resolve())
    assert s2["camera_topics"] == [c["topic"] for c in raw["cameras"]]
    assert s2["rate_hz"] == pytest.approx(raw["rates"]["system2_hz"])
    assert Path(s1["embodiment"]) == (CONFIG / f"{name}.yaml").resolve()
    assert s1["backend"] == "onnxruntime"
    assert s1["control_rate_hz"] == pytest.approx(raw["rates"]["system1_hz"])
    assert s1["state_staleness_s"] == pytest.approx(raw["staleness"]["state_s"])
    assert s1["token_staleness_s"] == pytest.approx(raw["staleness"]["tokens_s"])
    assert s1["start_enabled"] is bool(raw.get("start_enabled", False))
    # System 2 knows System 1's token limit: it stops using a camera's frame no later
    # (stale_image_s, derived by System 2 when not given).
    assert s2["token_staleness_s"] == s1["token_staleness_s"]
    assert "stale_image_s" not in s2
    from gr00t_common.params import UNSET
    from gr00t_system2.params import SPECS, validate
    values = {spec.name: None if spec.default is UNSET else spec.default for spec in SPECS}
    values.update((k, v) for k, v in s2.items() if k in values)
    assert validate(values).stale_image_s <= raw["staleness"]["tokens_s"]
    for n in g.nodes:
        assert n.parameters["use_sim_time"] is False
        assert n.namespace == "" and n.remappings == []
        assert n.lifecycle  # both front ends configure and activate them
        assert "autostart" not in n.parameters  # the front ends drive the transitions


def test_the_two_embodiments_differ_where_their_yamls_do(ckpt: Path) -> None:
    g1 = build_graph("unitree_g1", checkpoint=ckpt, config_dirs=[CONFIG])
    gr1 = build_graph("fourier_gr1", checkpoint=ckpt, config_dirs=[CONFIG])
    assert g1.node("gr00t_system2").parameters["camera_topics"] == ["/camera/head/image_raw"]
    assert gr1.node("gr00t_system2").parameters["camera_topics"] == ["/camera/ego_view/image_raw"]
    # Real robots wait for /gr00t/enable; the simulator graph enables itself.
    assert g1.node("gr00t_system1").parameters["start_enabled"] is False
    assert gr1.node("gr00t_system1").parameters["start_enabled"] is False
    sim = build_graph("unitree_g1", checkpoint=ckpt, config_dirs=[CONFIG], sim=True)
    assert sim.node("gr00t_system1").parameters["start_enabled"] is True


def test_a_simulated_graph_keeps_its_dds_on_this_host(ckpt: Path, monkeypatch) -> None:
    # It enables itself and commands the YAML's real controller topics: a robot on the network
    # in the same domain must not hear it. A range the user set is kept.
    monkeypatch.delenv("ROS_AUTOMATIC_DISCOVERY_RANGE", raising=False)
    sim = build_graph("unitree_g1", checkpoint=ckpt, config_dirs=[CONFIG], sim=True)
    for n in sim.nodes:
        assert n.env["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST", n.name
    robot = build_graph("unitree_g1", checkpoint=ckpt, config_dirs=[CONFIG])
    assert all("ROS_AUTOMATIC_DISCOVERY_RANGE" not in n.env for n in robot.nodes)
    monkeypatch.setenv("ROS_AUTOMATIC_DISCOVERY_RANGE", "SUBNET")
    sim = build_graph("unitree_g1", checkpoint=ckpt, config_dirs=[CONFIG], sim=True)
    assert all("ROS_AUTOMATIC_DISCOVERY_RANGE" not in n.env for n in sim.nodes)


def test_a_yaml_path_works_like_a_name(ckpt: Path) -> None:
    g = build_graph(str(CONFIG / "fourier_gr1.yaml"), checkpoint=ckpt, config_dirs=[])
    assert g.embodiment.tag == "gr1"


def test_namespace_remappings_sim_time_and_backend(ckpt: Path) -> None:
    g = build_graph("unitree_g1", checkpoint=ckpt, config_dirs=[CONFIG], namespace="robot1/",
                    use_sim_time=True, backend="torch",
                    remappings=[("/joint_states", "/g1/joint_states")])
    for n in g.nodes:
        assert n.namespace == "/robot1"
        assert n.remappings == [("/joint_states", "/g1/joint_states")]
        assert n.parameters["use_sim_time"] is True
    assert g.node("gr00t_system1").parameters["backend"] == "torch"
    argv = node_command(g.node("gr00t_system1"), Path("/x/system1_node"), Path("/tmp/p.yaml"))
    assert argv == ["/x/system1_node", "--ros-args", "-r", "__node:=gr00t_system1",
                    "-r", "__ns:=/robot1", "--params-file", "/tmp/p.yaml",
                    "-r", "/joint_states:=/g1/joint_states"]


def test_the_names_one_robot_has_once_are_system1s_as_it_resolves_them(ckpt: Path) -> None:
    """What no other graph on the domain may use (the runner refuses to start beside it): the
    controller command topics and /gr00t/enable, absolute, so a namespace does not move them;
    a remapping does, rcl's way (FROM and TO made absolute in the node's namespace)."""
    g = build_graph("unitree_g1", checkpoint=ckpt, config_dirs=[CONFIG], namespace="b",
                    remappings=[("/left_arm_controller/commands",
                                 "/b/left_arm_controller/commands"),
                                ("left_hand_controller/commands", "/elsewhere"),  # /b/left_hand...
                                ("/right_hand_controller/commands", "rh"),
                                ("/gr00t/enable", "/b/gr00t/enable")])
    moved = {"/left_arm_controller/commands": "/b/left_arm_controller/commands",
             "/right_hand_controller/commands": "/b/rh"}
    topics = [c["topic"] for c in load_yaml("unitree_g1")["controllers"]]
    assert g.exclusive_topics == tuple(moved.get(t, t) for t in topics)
    assert g.exclusive_services == ("/b/gr00t/enable",)
    plain = build_graph("unitree_g1", checkpoint=ckpt, config_dirs=[CONFIG], namespace="b")
    assert plain.exclusive_topics == tuple(topics)
    assert plain.exclusive_services == ("/gr00t/enable",)


@pytest.mark.parametrize("rule", ["__ns:=/robot_a", "__node:=other", "__name:=other",
                                  "gr00t_system1:__ns:=/robot_a"])
def test_a_remapping_of_node_names_or_namespaces_is_refused(ckpt: Path, rule: str) -> None:
    """The runner addresses its lifecycle nodes by name (/gr00t_system1/change_state): renamed
    or moved behind its back, it waited 120 s for services that never came."""
    src, _, dst = rule.partition(":=")
    with pytest.raises(GraphError, match=r"not a topic: .*--namespace NS"):
        build_graph("unitree_g1", checkpoint=ckpt, config_dirs=[CONFIG], remappings=[(src, dst)])


def test_params_file_round_trips_types(ckpt: Path) -> None:
    g = build_graph("unitree_g1", checkpoint=ckpt, config_dirs=[CONFIG])
    doc = yaml.safe_load(yaml.safe_dump(params_file_content(g.node("gr00t_system2"))))
    params = doc["/**"]["ros__parameters"]
    assert params["camera_topics"] == ["/camera/head/image_raw"]
    assert isinstance(params["rate_hz"], float) and isinstance(params["use_sim_time"], bool)


def test_sim_adds_the_simulator_node_only_when_asked(ckpt: Path) -> None:
    without = build_graph("unitree_g1", checkpoint=ckpt, config_dirs=[CONFIG])
    with_sim = build_graph("unitree_g1", checkpoint=ckpt, config_dirs=[CONFIG], sim=True)
    assert "gr00t_sim" not in [n.name for n in without.nodes]
    sim = with_sim.node("gr00t_sim")
    assert (sim.package, sim.executable) == ("gr00t_sim", "sim_node")
    assert sim.parameters["embodiment"] == with_sim.embodiment_path
    # By default everything runs on the wall clock (the simulator stamps like a robot).
    assert sim.parameters["publish_clock"] is False
    assert with_sim.node("gr00t_system1").parameters["use_sim_time"] is False
    clocked = build_graph("unitree_g1", checkpoint=ckpt, config_dirs=[CONFIG], sim=True,
                          use_sim_time=True)
    assert clocked.node("gr00t_sim").parameters == {
        "embodiment": clocked.embodiment_path, "publish_clock": True, "use_sim_time": False}
    assert clocked.node("gr00t_system1").parameters["use_sim_time"] is True
    assert clocked.node("gr00t_system2").parameters["use_sim_time"] is True


def test_record_dir_adds_the_recorder_with_parameters_it_knows(ckpt: Path, tmp_path: Path
                                                              ) -> None:
    from gr00t_record.params import SPECS

    plain = build_graph("unitree_g1", checkpoint=ckpt, config_dirs=[CONFIG], sim=True)
    assert "gr00t_record" not in [n.name for n in plain.nodes]
    g = build_graph("unitree_g1", checkpoint=ckpt, config_dirs=[CONFIG], sim=True,
                    namespace="b", record_dir=tmp_path / "bags",
                    record_topics=["/gr00t/action_chunk", "/gr00t_sim/state"])
    rec = g.node("gr00t_record")
    assert (rec.package, rec.executable, rec.namespace, rec.lifecycle) == (
        "gr00t_record", "recorder_node", g.node("gr00t_system1").namespace, False)
    assert rec.parameters["output_dir"] == str((tmp_path / "bags").resolve())
    assert rec.parameters["embodiment"] == g.embodiment_path
    assert rec.parameters["extra_topics"] == ["/gr00t/action_chunk", "/gr00t_sim/state"]
    assert set(rec.parameters) - {"use_sim_time"} <= {s.name for s in SPECS}
    # No extra topics: no empty list in the parameter file (it would have no type).
    bare = build_graph("unitree_g1", checkpoint=ckpt, config_dirs=[CONFIG],
                       record_dir=tmp_path / "bags").node("gr00t_record")
    assert "extra_topics" not in params_file_content(bare)["/**"]["ros__parameters"]
    with pytest.raises(GraphError, match="record_dir is empty"):
        build_graph("unitree_g1", checkpoint=ckpt, config_dirs=[CONFIG], record_dir=" ")


def test_sim_refuses_an_embodiment_without_a_simulator_before_anything_starts(ckpt: Path) -> None:
    assert load_yaml("fourier_gr1").get("simulator") is None
    build_graph("fourier_gr1", checkpoint=ckpt, config_dirs=[CONFIG])  # fine on a robot
    with pytest.raises(GraphError, match=r"--sim: .*fourier_gr1.yaml has no `simulator:` section"):
        build_graph("fourier_gr1", checkpoint=ckpt, config_dirs=[CONFIG], sim=True)


def test_sim_refuses_more_cameras_than_it_renders(ckpt: Path, tmp_path: Path) -> None:
    data = load_yaml("unitree_g1")
    head = data["cameras"][0]
    data["cameras"].append({**head, "name": "wrist", "topic": "/camera/wrist/image_raw"})
    data["simulator"]["cameras"]["wrist"] = data["simulator"]["cameras"][head["name"]]
    two = tmp_path / "unitree_g1.yaml"
    two.write_text(yaml.safe_dump(data, sort_keys=False))
    build_graph(str(two), checkpoint=ckpt)  # fine on a robot
    with pytest.raises(GraphError, match=r"--sim: .* lists 2 cameras, and gr00t_sim renders one"):
        build_graph(str(two), checkpoint=ckpt, sim=True)


def test_a_camera_count_the_checkpoint_does_not_read_is_refused(tmp_path: Path) -> None:
    ckpt = write_ckpt_config(tmp_path / "two_views", {
        "unitree_g1": {"slot": 0, "action_dt": 0.05, "state_dim": 31, "action_dim": 31}})
    config = json.loads((ckpt / "config.json").read_text())
    (ckpt / "config.json").write_text(json.dumps({**config, "backbone": {"num_views": 2}}))
    with pytest.raises(EmbodimentConfigError,
                       match=r"cameras: 1 camera\(s\) listed \(head\) but the checkpoint's "
                             r"backbone reads 2 image\(s\)"):
        build_graph("unitree_g1", checkpoint=ckpt, config_dirs=[CONFIG])


def test_unknown_embodiment_lists_the_known_ones(ckpt: Path) -> None:
    with pytest.raises(EmbodimentConfigError) as err:
        build_graph("unitree_g2", checkpoint=ckpt, config_dirs=[CONFIG])
    text = str(err.value)
    assert "unitree_g2" in text and "unitree_g1" in text and "fourier_gr1" in text


def test_default_config_dirs_find_the_shipped_configs() -> None:
    dirs = default_config_dirs()
    assert any((d / "unitree_g1.yaml").is_file() for d in dirs), dirs


def test_missing_checkpoint_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(GraphError, match="make-random-checkpoint"):
        build_graph("unitree_g1", checkpoint=tmp_path / "nope", config_dirs=[CONFIG])
    (tmp_path / "empty").mkdir()
    with pytest.raises(GraphError, match="config.json"):
        build_graph("unitree_g1", checkpoint=tmp_path / "empty", config_dirs=[CONFIG])
    (tmp_path / "empty" / "config.json").write_text("{}")  # the file, not its directory
    with pytest.raises(GraphError, match=rf"is a file; .*--checkpoint {tmp_path / 'empty'}"):
        build_graph("unitree_g1", checkpoint=tmp_path / "empty" / "config.json",
                    config_dirs=[CONFIG])


def test_checkpoint_without_the_embodiment_tag_is_refused(tmp_path: Path) -> None:
    ckpt = write_ckpt_config(tmp_path / "g1only", {
        "unitree_g1": {"slot": 0, "action_dt": 0.05, "state_dim": 31, "action_dim": 31}})
    build_graph("unitree_g1", checkpoint=ckpt, config_dirs=[CONFIG])
    with pytest.raises(EmbodimentConfigError, match="gr1"):
        build_graph("fourier_gr1", checkpoint=ckpt, config_dirs=[CONFIG])


def test_unknown_backend_is_refused(ckpt: Path) -> None:
    with pytest.raises(GraphError, match="onnxruntime"):
        build_graph("unitree_g1", checkpoint=ckpt, config_dirs=[CONFIG], backend="tensorflow")


def test_extra_parameters_reach_their_node_and_misspelt_names_are_refused(ckpt: Path) -> None:
    graph = build_graph(checkpoint=ckpt, system1_parameters={"chunk_mode": "rtc"},
                        system2_parameters={"device": "cuda", "dtype": "bfloat16"})
    assert graph.node("gr00t_system1").parameters["chunk_mode"] == "rtc"
    assert graph.node("gr00t_system2").parameters["device"] == "cuda"
    assert "chunk_mode" not in graph.node("gr00t_system2").parameters
    # Refused here, before any process starts (the node would refuse it too, at start).
    with pytest.raises(GraphError, match=r"system1 has no parameter chunk_mod \(did you mean "
                                         r"chunk_mode"):
        build_graph(checkpoint=ckpt, system1_parameters={"chunk_mod": "rtc"})
    with pytest.raises(GraphError, match="system2 has no parameter chunk_mode; "):
        build_graph(checkpoint=ckpt, system2_parameters={"chunk_mode": "rtc"})
    # rclpy's own parameters are every node's.
    build_graph(checkpoint=ckpt, system1_parameters={"start_type_description_service": False})


def test_extra_parameter_values_are_checked_against_their_specs(ckpt: Path) -> None:
    # A staleness limit written in ms would all but switch off the holds on stale inputs:
    # refused with the bound of the YAML key it overrides, before any process starts.
    with pytest.raises(GraphError, match=r"system1: parameter state_staleness_s=100.0 is out "
                                         r"of range: it must be in \(0, 1\].*-p "
                                         r"state_staleness_s:=0.1"):
        build_graph(checkpoint=ckpt, system1_parameters={"state_staleness_s": 100.0})
    with pytest.raises(GraphError, match=r"token_staleness_s=500.0 .* in \(0, 5\]"):
        build_graph(checkpoint=ckpt, system1_parameters={"token_staleness_s": 500.0})
    g = build_graph(checkpoint=ckpt, system1_parameters={"state_staleness_s": 1.0,
                                                         "token_staleness_s": 5.0})
    assert g.node("gr00t_system1").parameters["state_staleness_s"] == 1.0
    with pytest.raises(GraphError, match="system2: parameter dtype='int8' is not one of"):
        build_graph(checkpoint=ckpt, system2_parameters={"dtype": "int8"})


def test_joint_prefix_is_set_like_any_system1_parameter_but_not_with_the_simulator(
        ckpt: Path) -> None:
    # A robot whose ros2_control description prefixes its joints (g1/left_elbow_joint).
    graph = build_graph("unitree_g1", checkpoint=ckpt, system1_parameters={"joint_prefix": "g1/"})
    assert graph.node("gr00t_system1").parameters["joint_prefix"] == "g1/"
    with pytest.raises(GraphError, match=r"system1: parameter joint_prefix='g1 /' is not "
                                         r"allowed: .*-p joint_prefix:=g1/"):
        build_graph("unitree_g1", checkpoint=ckpt, system1_parameters={"joint_prefix": "g1 /"})
    # gr00t_sim names the joints as the YAML does: System 1 would wait for every one.
    with pytest.raises(GraphError, match=r"--sim with system1 parameter joint_prefix='g1/'.*"
                                         r"Drop it for the simulator"):
        build_graph("unitree_g1", checkpoint=ckpt, sim=True,
                    system1_parameters={"joint_prefix": "g1/"})
    build_graph("unitree_g1", checkpoint=ckpt, sim=True, system1_parameters={"joint_prefix": ""})


@pytest.mark.parametrize("node, name, value, fix", [
    ("system1", "embodiment", str(CONFIG / "fourier_gr1.yaml"), "--embodiment"),
    ("system1", "checkpoint", "/other/ckpt", "--checkpoint"),
    ("system2", "checkpoint", "/other/ckpt", "--checkpoint"),
    ("system2", "camera_topics", ["/camera/wrist/image_raw"], "--remap"),
])
def test_a_parameter_the_whole_graph_shares_is_not_set_for_one_node(ckpt: Path, node, name,
                                                                    value, fix) -> None:
    # `--system1-param embodiment:=...` ran System 1 on another robot than the simulator and
    # System 2 had, and than the checkpoint was checked against, without a word.
    with pytest.raises(GraphError, match=rf"{node}: parameter {name} comes from the graph's "
                                         rf".*{fix}"):
        build_graph("unitree_g1", checkpoint=ckpt, sim=True,
                    **{f"{node}_parameters": {name: value}})


def test_only_system1_asks_for_realtime_scheduling(ckpt: Path) -> None:
    from gr00t_bringup.graph import SYSTEM1_RT_PRIORITY

    graph = build_graph("unitree_g1", checkpoint=ckpt, sim=True)
    assert {n.name: n.realtime_priority for n in graph.nodes} == {
        "gr00t_sim": 0, "gr00t_system2": 0, "gr00t_system1": SYSTEM1_RT_PRIORITY}
    assert 1 <= SYSTEM1_RT_PRIORITY <= 99
    # The simulator stays a plain node: it runs from its start.
    assert {n.name: n.lifecycle for n in graph.nodes} == {
        "gr00t_sim": False, "gr00t_system2": True, "gr00t_system1": True}


def test_may_use_realtime_follows_root_and_the_rtprio_limit(monkeypatch) -> None:
    import os
    import resource

    from gr00t_bringup.graph import may_use_realtime

    limit = {"v": (0, 0)}
    monkeypatch.setattr(resource, "getrlimit", lambda which: limit["v"])
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert not may_use_realtime(50)  # an ordinary user without an rtprio limit
    limit["v"] = (10, 10)
    assert may_use_realtime(10) and not may_use_realtime(50)
    limit["v"] = (resource.RLIM_INFINITY, resource.RLIM_INFINITY)
    assert may_use_realtime(99)
    limit["v"] = (0, 0)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert may_use_realtime(99)  # root


def test_system2_runs_with_its_fast_dds_profile_unless_one_is_set(ckpt: Path, monkeypatch) -> None:
    import xml.etree.ElementTree as ET

    from gr00t_bringup.graph import DDS_PROFILE_ENV, SYSTEM2_DDS_PROFILE

    monkeypatch.delenv(DDS_PROFILE_ENV, raising=False)
    g = build_graph("unitree_g1", checkpoint=ckpt, config_dirs=[CONFIG])
    profile = Path(g.node("gr00t_system2").env[DDS_PROFILE_ENV])
    assert profile == (CONFIG / SYSTEM2_DDS_PROFILE).resolve()
    assert DDS_PROFILE_ENV not in g.node("gr00t_system1").env
    # UDPv4 only (no shared memory) with socket buffers of at least 4 MB, as the default.
    ns = {"f": "http://www.eprosima.com/XMLSchemas/fastRTPS_Profiles"}
    root = ET.parse(profile).getroot()
    (transport,) = root.findall("f:transport_descriptors/f:transport_descriptor", ns)
    assert transport.findtext("f:type", namespaces=ns) == "UDPv4"
    for field in ("sendBufferSize", "receiveBufferSize"):
        assert int(transport.findtext(f"f:{field}", namespaces=ns)) >= 4 * 1024 * 1024
    (participant,) = root.findall("f:participant", ns)
    assert participant.get("is_default_profile") == "true"
    assert participant.findtext("f:rtps/f:useBuiltinTransports", namespaces=ns) == "false"

    # A profile the user set already is theirs to keep.
    monkeypatch.setenv(DDS_PROFILE_ENV, "/etc/my_fastdds.xml")
    g = build_graph("unitree_g1", checkpoint=ckpt, config_dirs=[CONFIG])
    assert DDS_PROFILE_ENV not in g.node("gr00t_system2").env
