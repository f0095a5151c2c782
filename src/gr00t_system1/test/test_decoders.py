"""Decoder plugins: lookup by name, joint order, and the messages they publish (real DDS)."""

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from gr00t_testing import RosProbe, wait_until
from gr00t_policy.embodiment import BUILTIN_DECODER_TYPES, known_decoder_types
from gr00t_system1.decoders import (
    BUILTIN_DECODERS, Decoder, DecoderError, ForwardCommandDecoder, JointStateDecoder,
    JointTrajectoryDecoder, installed_decoders, load_decoder_class)

ACTION_JOINTS = ["j0", "j1", "j2", "j3"]
REPO_CONFIG = Path(__file__).resolve().parents[3] / "config"


def spec(type_, topic, joints, **params):
    return SimpleNamespace(name=f"{type_}_ctrl", type=type_, topic=topic, joints=joints,
                           params=params)


def test_builtins_are_registered_and_unknown_names_list_them():
    names = installed_decoders()
    assert {"forward_command", "joint_trajectory", "joint_state"} <= set(names)
    assert load_decoder_class("joint_state") is JointStateDecoder
    with pytest.raises(DecoderError) as info:
        load_decoder_class("forward_comand")
    for name in ("forward_command", "joint_trajectory", "joint_state"):
        assert name in str(info.value)


def test_every_name_the_schema_accepts_has_a_decoder():
    # The built-in names live in gr00t_policy.embodiment; this registry gives each a class.
    assert tuple(BUILTIN_DECODERS) == BUILTIN_DECODER_TYPES
    assert set(known_decoder_types()) <= set(installed_decoders())


def test_builtin_decoders_take_the_params_the_schema_checks():
    # One home for what each built-in takes: load_embodiment (and so `gr00t-bringup check`)
    # refuses exactly the params the decoder would refuse at configure.
    from gr00t_policy.embodiment.decoder_types import BUILTIN_DECODER_PARAMS

    for name, cls in BUILTIN_DECODERS.items():
        assert cls.PARAMS is BUILTIN_DECODER_PARAMS[name], name


def test_decoders_publish_their_joints_in_controller_order(ros_domain_id):
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Float64MultiArray
    from trajectory_msgs.msg import JointTrajectory

    with RosProbe(domain_id=ros_domain_id) as probe:
        fwd = ForwardCommandDecoder(probe.node, spec("forward_command", "/t/fwd", ["j3", "j1"]),
                                    ACTION_JOINTS)
        traj = JointTrajectoryDecoder(probe.node, spec("joint_trajectory", "/t/traj", ["j2", "j0"]),
                                      ACTION_JOINTS)
        js = JointStateDecoder(probe.node, spec("joint_state", "/t/js", ["j1"]), ACTION_JOINTS)
        got_fwd = probe.collect(Float64MultiArray, "/t/fwd")
        got_traj = probe.collect(JointTrajectory, "/t/traj")
        got_js = probe.collect(JointState, "/t/js")
        for pub in (fwd.publisher, traj.publisher, js.publisher):
            probe.wait_for_subscribers(pub)
        command = np.array([0.0, 1.0, 2.0, 3.0])
        path = (np.array([0.01, 0.05, 0.10]), np.array([command, command + 1, command + 2]))
        stamp = probe.node.get_clock().now().to_msg()

        def deliver():
            for d in (fwd, traj, js):
                d.publish(command, path, stamp, "running")
            return got_fwd and got_traj and got_js

        wait_until(deliver, 10, "decoded commands")
        assert list(got_fwd[0].data) == [3.0, 1.0]
        assert got_fwd[0].layout.dim[0].label == "running"
        t = got_traj[0]
        assert list(t.joint_names) == ["j2", "j0"]
        # header_stamp tick (the default): stamped with the tick, the command first, at 0
        assert (t.header.stamp.sec, t.header.stamp.nanosec) == (stamp.sec, stamp.nanosec)
        assert [list(p.positions) for p in t.points] == [[2.0, 0.0], [2.0, 0.0], [3.0, 1.0],
                                                         [4.0, 2.0]]
        assert [p.time_from_start.nanosec for p in t.points] == [0, 10_000_000, 50_000_000,
                                                                 100_000_000]
        assert list(got_js[0].name) == ["j1"] and list(got_js[0].position) == [1.0]


def test_a_trajectory_decoder_stamped_on_receipt_sends_the_path_alone(ros_domain_id):
    """header_stamp: receipt, for a controller on another clock: stamp 0 and no point at 0
    (the controller times the points from when it takes the message up; a point at 0 would
    step it back to where the joints were when the message was sent)."""
    from trajectory_msgs.msg import JointTrajectory

    with RosProbe(domain_id=ros_domain_id) as probe:
        traj = JointTrajectoryDecoder(
            probe.node, spec("joint_trajectory", "/r/traj", ["j2", "j0"],
                             header_stamp="receipt"), ACTION_JOINTS)
        assert not traj.stamped_paths
        got = probe.collect(JointTrajectory, "/r/traj")
        probe.wait_for_subscribers(traj.publisher)
        command = np.array([0.0, 1.0, 2.0, 3.0])
        path = (np.array([0.01, 0.05]), np.array([command + 1, command + 2]))
        stamp = probe.node.get_clock().now().to_msg()

        def deliver():
            traj.publish(command, path, stamp, "running")
            return got

        wait_until(deliver, 10, "a trajectory message")
        t = got[0]
        assert (t.header.stamp.sec, t.header.stamp.nanosec) == (0, 0)
        assert [list(p.positions) for p in t.points] == [[3.0, 1.0], [4.0, 2.0]]
        assert [p.time_from_start.nanosec for p in t.points] == [10_000_000, 50_000_000]


def test_messages_name_the_joints_with_the_joint_prefix(ros_domain_id):
    """A driver whose ros2_control description has prefix g1/ knows the YAML's j2 as g1/j2:
    the messages that name joints carry it; the columns stay the YAML's."""
    from sensor_msgs.msg import JointState
    from trajectory_msgs.msg import JointTrajectory

    with RosProbe(domain_id=ros_domain_id) as probe:
        traj = JointTrajectoryDecoder(probe.node, spec("joint_trajectory", "/p/traj",
                                                       ["j2", "j0"]), ACTION_JOINTS,
                                      joint_prefix="g1/")
        js = JointStateDecoder(probe.node, spec("joint_state", "/p/js", ["j1"]), ACTION_JOINTS,
                               joint_prefix="g1/")
        assert traj.joints == ("j2", "j0") and traj.ros_joints == ("g1/j2", "g1/j0")
        got_traj = probe.collect(JointTrajectory, "/p/traj")
        got_js = probe.collect(JointState, "/p/js")
        for pub in (traj.publisher, js.publisher):
            probe.wait_for_subscribers(pub)
        command = np.array([0.0, 1.0, 2.0, 3.0])
        path = (np.array([0.01]), np.array([command]))
        stamp = probe.node.get_clock().now().to_msg()

        def deliver():
            for d in (traj, js):
                d.publish(command, path, stamp, "running")
            return got_traj and got_js

        wait_until(deliver, 10, "decoded commands")
        assert list(got_traj[0].joint_names) == ["g1/j2", "g1/j0"]
        assert list(got_traj[0].points[0].positions) == [2.0, 0.0]
        assert list(got_js[0].name) == ["g1/j1"] and list(got_js[0].position) == [1.0]


@pytest.mark.parametrize("kind", ["forward_command", "joint_trajectory"])
def test_controller_joints_are_compared_with_the_joint_prefix(kind):
    """The controller is configured with the prefixed names: they match with joint_prefix
    set, and without it the refusal names the joint_prefix to set."""
    from gr00t_system1.controller_check import ControllerMismatch, compare

    theirs = {"joints": ["g1/j1", "g1/j0"], "interpolate_from_desired_state": True}
    assert compare(kind, "arm", "/arm_controller", ["j1", "j0"], theirs, "g1/") == []
    with pytest.raises(ControllerMismatch, match=r"set joint_prefix:=g1/$"):
        compare(kind, "arm", "/arm_controller", ["j1", "j0"], theirs)
    with pytest.raises(ControllerMismatch, match=r"with joint_prefix 'g2/'.*set joint_prefix:=g1/"):
        compare(kind, "arm", "/arm_controller", ["j1", "j0"], theirs, "g2/")
    if kind == "forward_command":  # the prefix and the order are both wrong: both are named
        with pytest.raises(ControllerMismatch, match=r"set joint_prefix:=g1/, and list the "
                                                     r"controller's joints in the YAML in the "
                                                     r"controller's order"):
            compare(kind, "arm", "/arm_controller", ["j0", "j1"], theirs)


def test_the_loop_hears_which_ticks_a_trajectory_controller_was_sent_a_path(ros_domain_id):
    """System 1 tells its loop which joints got this tick's path (after a stall they go on
    from it): a decoder sent every 2nd tick on the ticks it publishes, never another one."""
    from gr00t_system1.node import System1Node

    with RosProbe(domain_id=ros_domain_id) as probe:
        traj = JointTrajectoryDecoder(probe.node, spec("joint_trajectory", "/t/every2",
                                                       ["j2", "j0"], every_n_ticks=2),
                                      ACTION_JOINTS)
        fwd = ForwardCommandDecoder(probe.node, spec("forward_command", "/t/fwd2", ["j1"]),
                                    ACTION_JOINTS)
        told = []
        node = SimpleNamespace(decoders=[traj, fwd],
                               loop=SimpleNamespace(path_sent=lambda j: told.append(list(j))))
        command = np.zeros(4)
        path = (np.array([0.01]), command[None, :])
        stamp = probe.node.get_clock().now().to_msg()
        for tick in range(4):
            System1Node._publish(node, command, path, stamp, "running")
        assert traj.published == 2 and fwd.published == 4
        assert told == [[2, 0], [2, 0]]
        assert not command.flags.writeable  # every decoder gets this array: none may change it


def test_bad_controller_entries_are_refused(ros_domain_id):
    with RosProbe(domain_id=ros_domain_id) as probe:
        with pytest.raises(DecoderError, match="not action joints"):
            ForwardCommandDecoder(probe.node, spec("forward_command", "/t/a", ["jX"]), ACTION_JOINTS)
        with pytest.raises(DecoderError, match="unknown params"):
            ForwardCommandDecoder(probe.node, spec("forward_command", "/t/b", ["j0"], rate=3),
                                  ACTION_JOINTS)
        with pytest.raises(DecoderError, match=r"every_n_ticks must be an int in 1\.\.60, got 0"):
            JointTrajectoryDecoder(probe.node, spec("joint_trajectory", "/t/c", ["j0"],
                                                    every_n_ticks=0), ACTION_JOINTS)
        with pytest.raises(DecoderError, match="did you mean 'every_n_ticks'"):
            JointTrajectoryDecoder(probe.node, spec("joint_trajectory", "/t/d", ["j0"],
                                                    every_n_tick=2), ACTION_JOINTS)
        with pytest.raises(DecoderError, match=r"header_stamp must be one of 'tick', "
                                               r"'receipt', got 'now'"):
            JointTrajectoryDecoder(probe.node, spec("joint_trajectory", "/t/f", ["j0"],
                                                    header_stamp="now"), ACTION_JOINTS)
        assert JointTrajectoryDecoder(probe.node, spec("joint_trajectory", "/t/e", ["j0"]),
                                      ACTION_JOINTS).params == {"every_n_ticks": 1,
                                                                "header_stamp": "tick"}


class FakeController:
    """A node named like a ros2_control controller, with its parameters, spun in its own
    context (what check_controllers reads over the parameter services)."""

    def __init__(self, name: str, topic: str = "", msg_type: Any = None, **params) -> None:
        import threading

        import rclpy
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor

        self.context = Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node(name, context=self.context)
        for key, value in params.items():
            self.node.declare_parameter(key, value)
        if topic:  # the command topic it reads (~/commands, ~/joint_trajectory)
            self.node.create_subscription(msg_type, topic, lambda _msg: None, 10)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()

    def close(self) -> None:
        import rclpy

        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.shutdown(context=self.context)
        self.thread.join(5.0)


def test_controllers_are_checked_against_the_running_ones(ros_domain_id):
    from gr00t_system1.controller_check import ControllerMismatch, check_controllers

    from std_msgs.msg import Float64MultiArray
    from trajectory_msgs.msg import JointTrajectory

    waist = FakeController("waist_controller", "~/commands", Float64MultiArray,
                           joints=["j1", "j0"])  # another order
    upper = FakeController("upper_controller", "~/joint_trajectory", JointTrajectory,
                           joints=["j2", "j0"], interpolate_from_desired_state=False)
    partial = FakeController("partial_controller", "~/joint_trajectory", JointTrajectory,
                             joints=["j2", "j0"], allow_partial_joints_goal=True,
                             interpolate_from_desired_state=True)
    try:
        with RosProbe(domain_id=ros_domain_id) as probe:
            wait_until(lambda: {"waist_controller", "upper_controller"} <= {
                n for n, _ in probe.node.get_node_names_and_namespaces()}, 20, "the controllers")
            wait_until(lambda: all(probe.node.count_subscribers(t) for t in (
                "/waist_controller/commands", "/upper_controller/joint_trajectory",
                "/partial_controller/joint_trajectory")), 20, "the controllers' subscriptions")
            fwd = ForwardCommandDecoder(probe.node, spec("forward_command",
                                                         "/waist_controller/commands",
                                                         ["j0", "j1"]), ACTION_JOINTS)
            # Entry 0 would move the controller's j1: refused, naming both orders.
            with pytest.raises(ControllerMismatch, match=r"\['j1', 'j0'\].*\['j0', 'j1'\]"):
                check_controllers(probe.node, [fwd])
            fwd_ok = ForwardCommandDecoder(probe.node, spec("forward_command",
                                                            "/waist_controller/commands",
                                                            ["j1", "j0"]), ACTION_JOINTS)
            # A trajectory controller matches by name (any order), but would restart every
            # trajectory from the measured position: a warning naming the parameter.
            traj = JointTrajectoryDecoder(probe.node, spec("joint_trajectory",
                                                           "/upper_controller/joint_trajectory",
                                                           ["j0", "j2"]), ACTION_JOINTS)
            sim = ForwardCommandDecoder(probe.node, spec("forward_command", "/sim_arm/commands",
                                                         ["j3"]), ACTION_JOINTS)
            lines = check_controllers(probe.node, [fwd_ok, traj, sim])
            warnings = [line for warn, line in lines if warn]
            assert len(warnings) == 3, warnings
            # nothing reads /sim_arm/commands here (no simulator): the commands go nowhere
            assert "interpolate_from_desired_state: true" in warnings[0]
            assert "nothing subscribes to /sim_arm/commands:" in warnings[1]
            assert "no node /sim_arm in the graph" in warnings[2]  # said, not silently skipped
            # A trajectory entry given a forward_command topic: the controller's node is
            # there, but it reads another topic, which the warning names.
            misdirected = JointTrajectoryDecoder(
                probe.node, spec("joint_trajectory", "/upper_controller/commands", ["j0", "j2"]),
                ACTION_JOINTS)
            warnings = [line for warn, line in check_controllers(probe.node, [misdirected])
                        if warn]
            assert "nothing subscribes to /upper_controller/commands; node /upper_controller " \
                "subscribes to ['/upper_controller/joint_trajectory']" in warnings[0], warnings
            assert any("waist_controller's joints match" in line for _, line in lines)
            short = JointTrajectoryDecoder(probe.node, spec("joint_trajectory",
                                                            "/upper_controller/joint_trajectory",
                                                            ["j0"]), ACTION_JOINTS)
            with pytest.raises(ControllerMismatch, match=r"leaves out \['j2'\]"):
                check_controllers(probe.node, [short])
            # Unless the controller takes partial goals; a joint it does not have is refused
            # either way.
            wait_until(lambda: "partial_controller" in {
                n for n, _ in probe.node.get_node_names_and_namespaces()}, 20, "the controller")
            part = JointTrajectoryDecoder(probe.node, spec("joint_trajectory",
                                                           "/partial_controller/joint_trajectory",
                                                           ["j0"]), ACTION_JOINTS)
            assert [w for w, _ in check_controllers(probe.node, [part])] == [False]
            wrong = JointTrajectoryDecoder(probe.node, spec("joint_trajectory",
                                                            "/partial_controller/joint_trajectory",
                                                            ["j0", "j3"]), ACTION_JOINTS)
            with pytest.raises(ControllerMismatch, match=r"also sends \['j3'\]"):
                check_controllers(probe.node, [wrong])
    finally:
        waist.close()
        upper.close()
        partial.close()


def test_a_forward_command_controller_commanding_velocity_or_effort_is_refused(ros_domain_id):
    """forward_command_controller applies the entries to its `interface_name`: one set to
    velocity (velocity_controllers/JointGroupVelocityController sets it so) or effort took
    System 1's positions as rad/s or N m, and configure passed, as only `joints` was read."""
    from gr00t_system1.controller_check import ControllerMismatch, check_controllers

    from std_msgs.msg import Float64MultiArray

    names = {"velocity": "vel_controller", "effort": "eff_controller",
             "position": "pos_controller"}
    fakes = {kind: FakeController(name, "~/commands", Float64MultiArray, joints=["j0", "j1"],
                                  interface_name=kind) for kind, name in names.items()}
    try:
        with RosProbe(domain_id=ros_domain_id) as probe:
            wait_until(lambda: set(names.values()) <= {
                n for n, _ in probe.node.get_node_names_and_namespaces()}, 20, "the controllers")
            wait_until(lambda: all(probe.node.count_subscribers(f"/{n}/commands")
                                   for n in names.values()), 20, "their subscriptions")

            def decoder(name):
                return ForwardCommandDecoder(probe.node, spec(
                    "forward_command", f"/{name}/commands", ["j0", "j1"]), ACTION_JOINTS)

            for kind in ("velocity", "effort"):
                with pytest.raises(ControllerMismatch) as refused:
                    check_controllers(probe.node, [decoder(names[kind])])
                text = str(refused.value)
                assert f"/{names[kind]} has interface_name {kind!r}" in text, text
                assert "interface_name: position" in text, text  # the fix
            lines = check_controllers(probe.node, [decoder(names["position"])])
            assert lines == [(False, "controller 'forward_command_ctrl': /pos_controller's "
                                     "joints match the YAML")], lines
    finally:
        for fake in fakes.values():
            fake.close()


def test_mixed_check_lines_are_logged_without_rclpy_refusing_a_severity_change(ros_domain_id):
    """A configure with one controller that matches (info) and one absent (warning): rclpy
    raises 'Logger severity cannot be changed between calls' at a call site whose severity
    changes, which failed configure; log_lines logs them on two."""
    from gr00t_system1.controller_check import log_lines

    with RosProbe(domain_id=ros_domain_id) as probe:
        logger = probe.node.get_logger()
        log_lines(logger, [(False, "joints match"), (True, "no node /x"), (False, "match")])
        with pytest.raises(ValueError, match="severity cannot be changed"):
            for warn, line in [(False, "a"), (True, "b")]:  # what the node did before
                (logger.warning if warn else logger.info)(line)


PLUGIN = """
from gr00t_policy.embodiment.decoder_types import DecoderParam
from gr00t_system1.decoders import Decoder


class ImpedanceDecoder(Decoder):
    PARAMS = {"stiffness": DecoderParam(100.0, "joint stiffness, N m/rad", minimum=0.0),
              "label": "imp"}  # a plain default: the name is checked, not the value

    def _create_publisher(self, node):
        return None

    def publish(self, command, path, stamp, state_label):
        pass
"""


def test_check_refuses_the_plugin_params_the_plugin_refuses(capsys, tmp_path, monkeypatch):
    """`gr00t-bringup check` loads an installed plugin's class and applies the rule its
    decoder applies at configure (decoder_params), so the two refuse the same entries."""
    import sys

    import yaml

    from gr00t_policy.embodiment.check import check_main
    from gr00t_policy.testing.plugins import write_decoder_distribution

    write_decoder_distribution(tmp_path, "gr00t_test_impedance",
                               "impedance = gr00t_test_impedance:ImpedanceDecoder")
    (tmp_path / "gr00t_test_impedance.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "gr00t_test_impedance", raising=False)
    doc = yaml.safe_load((REPO_CONFIG / "unitree_g1.yaml").read_text())
    path = tmp_path / "g1_impedance.yaml"

    def check(params) -> str:
        doc["controllers"][2].update(type="impedance", params=params)
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        rc = check_main([str(path)])
        err = capsys.readouterr().err
        assert rc == (1 if err else 0), err
        return err

    assert check({"stiffness": 50, "label": "any value"}) == ""
    cls = load_decoder_class("impedance")
    assert cls(None, spec("impedance", "/t/imp", ["j0"], stiffness=50), ACTION_JOINTS).params \
        == {"stiffness": 50, "label": "imp"}
    for params, needle in (({"stifness": 50}, "unknown params ['stifness']"),
                           ({"stiffness": -1.0}, "params.stiffness must be a number >= 0, got "
                                                 "-1.0")):
        err = check(params)
        assert "controllers[2].params (line " in err and needle in err, err
        with pytest.raises(DecoderError) as info:  # refused before any publisher exists
            cls(None, spec("impedance", "/t/imp", ["j0"], **params), ACTION_JOINTS)
        assert needle in str(info.value)
    assert "did you mean 'stiffness'?" in check({"stifness": 50})


class _Quiet(Decoder):
    def _create_publisher(self, node):
        return None

    def publish(self, command, path, stamp, state_label):
        pass


class OldPlugin(_Quiet):
    """A plugin written before joint_prefix: its __init__ takes the three arguments."""

    def __init__(self, node, spec, action_joints):
        super().__init__(node, spec, action_joints)


class DroppingPlugin(_Quiet):
    """A plugin that takes joint_prefix but does not pass it on."""

    def __init__(self, node, spec, action_joints, joint_prefix=""):
        super().__init__(node, spec, action_joints)


def test_a_plugin_without_joint_prefix_runs_unprefixed_and_is_refused_with_one(monkeypatch):
    import gr00t_system1.decoders as decoders

    plugins = {"old": OldPlugin, "dropping": DroppingPlugin, "forward_command": _Quiet}
    monkeypatch.setattr(decoders, "load_decoder_class", plugins.__getitem__)
    old, new = spec("old", "/t/old", ["j1"]), spec("forward_command", "/t/fwd", ["j0"])
    # No prefix set: the plugin written before joint_prefix works as it did.
    [d] = decoders.make_decoders(None, [old], ACTION_JOINTS)
    assert d.ros_joints == ("j1",)
    # A prefix set: refused naming the class and the fix, not a bare TypeError.
    with pytest.raises(DecoderError, match=r"test_decoders\.OldPlugin \(controller 'old_ctrl', "
                                           r"type 'old'\) takes no joint_prefix.*'g1/'.*"
                                           r"Fix: give its __init__ a keyword `joint_prefix"):
        decoders.make_decoders(None, [new, old], ACTION_JOINTS, joint_prefix="g1/")
    with pytest.raises(DecoderError, match=r"DroppingPlugin .* names its joints \['j1'\]: it did "
                                           r"not pass the prefix on"):
        decoders.make_decoders(None, [spec("dropping", "/t/d", ["j1"])], ACTION_JOINTS,
                               joint_prefix="g1/")
    [d] = decoders.make_decoders(None, [new], ACTION_JOINTS, joint_prefix="g1/")
    assert d.ros_joints == ("g1/j0",)


def test_the_check_knows_the_decoder_base_by_name():
    # gr00t_policy tells a plugin class from another without importing rclpy: by name.
    from gr00t_policy.embodiment.decoder_types import DECODER_BASE
    from gr00t_system1.decoders import Decoder

    assert (Decoder.__module__, Decoder.__qualname__) == DECODER_BASE


def test_a_plugin_cannot_take_a_builtin_name(monkeypatch):
    import importlib.metadata

    clash = importlib.metadata.EntryPoint(
        name="forward_command", value="their_pkg.decoders:Theirs", group="gr00t_system1.decoders")
    monkeypatch.setattr(importlib.metadata, "entry_points",
                        lambda group=None: [clash] if group == "gr00t_system1.decoders" else [])
    with pytest.raises(DecoderError, match="their_pkg.decoders:Theirs.*built-in"):
        installed_decoders()
    # `gr00t-bringup check` says so too, rather than passing what System 1 refuses.
    from gr00t_policy.embodiment.check import check_main

    assert check_main([str(REPO_CONFIG / "unitree_g1.yaml")]) == 1
