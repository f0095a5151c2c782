"""gr00t_bringup.lifecycle through the runner: what is refused before anything starts, and what
a failed transition says. A probe plays what is already on the domain; stub nodes
(conftest.py) stand in for System 1/2."""

from __future__ import annotations

from pathlib import Path

import pytest

from gr00t_bringup.graph import Graph
from gr00t_bringup.lifecycle import Timeouts, TransitionError
from gr00t_bringup.runner import EXIT_NODE_FAILED, GraphRunner, run_graph
from gr00t_testing import RosProbe
from gr00t_testing.runner_stubs import Output, managed




@pytest.mark.parametrize("there", ["publisher", "server", "subscriber"])
def test_a_graph_beside_one_that_commands_its_robot_is_refused(
        ros_domain_id, lifecycle_exe: Path, tmp_path: Path, there: str) -> None:
    """A second graph under --namespace: no node name is taken (the first graph runs at the
    root), but the controller topics and /gr00t/enable are absolute, so both System 1s would
    command one robot, and one /gr00t/enable call would switch both on. A probe stands in for
    the first graph's System 1; a subscriber (the simulator, the controllers) is no commander."""
    from std_msgs.msg import Float64MultiArray
    from std_srvs.srv import SetBool

    graph = Graph(nodes=[managed("gr00t_system1")], exclusive_topics=("/arm/commands",),
                  exclusive_services=("/gr00t/enable",))
    with RosProbe(name="first_system1", domain_id=ros_domain_id) as first:
        if there == "publisher":
            first.publisher(Float64MultiArray, "/arm/commands")
            # (by whom, once discovery has told the node's name too)
            said = (rf"/arm/commands: already published( by /first_system1)? on "
                    rf"ROS_DOMAIN_ID {ros_domain_id}: .*another ROS_DOMAIN_ID")
        elif there == "server":
            first.node.create_service(SetBool, "/gr00t/enable", lambda request, reply: reply)
            said = (rf"/gr00t/enable: already served on ROS_DOMAIN_ID {ros_domain_id}: "
                    r".*another ROS_DOMAIN_ID")
        else:
            first.collect(Float64MultiArray, "/arm/commands")
        # A long listen where something is there to hear: discovery is slow on a loaded machine.
        listen_s = 2.0 if there == "subscriber" else 10.0
        runner = GraphRunner(graph, work_dir=tmp_path / "w", out=Output(),
                             resolve=lambda n: lifecycle_exe,
                             timeouts=Timeouts(namesakes_s=listen_s))
        try:
            if there == "subscriber":
                runner.start()
                assert [c.spec.name for c in runner.children] == ["gr00t_system1"]
            else:
                with pytest.raises(TransitionError, match=said):
                    runner.start()
                assert runner.children == []  # nothing was started
        finally:
            runner.stop_all()


@pytest.mark.parametrize("option,what", [
    ("--services-timeout", "offer its lifecycle services"),
    ("--configure-timeout", "configure"),
])
def test_a_timeout_names_the_option_that_sets_it(ros_domain_id, lifecycle_exe: Path,
                                                 tmp_path: Path, option: str, what: str) -> None:
    """'did not configure within 3 s' said what, not how to give it longer; and the wait for
    the lifecycle services (imports, CUDA initialisation) had no option at all."""
    from gr00t_bringup import cli

    slow_start = tmp_path / "slow_start"  # a process that takes its time to import
    slow_start.write_text(f"#!/bin/sh\nsleep 30\nexec '{lifecycle_exe}' \"$@\"\n")
    slow_start.chmod(0o755)
    exe, params = ((slow_start, {}) if option == "--services-timeout"
                   else (lifecycle_exe, {"configure_s": 30.0}))
    args = cli._parser().parse_args(["run", option, "2"])
    out = Output()
    code = run_graph(Graph(nodes=[managed("slow", **params)]), work_dir=tmp_path / "w",
                     out=out, install_signal_handlers=False, resolve=lambda n: exe,
                     timeouts=cli.run_timeouts(args))
    assert code == EXIT_NODE_FAILED
    assert (f"node(s) 'slow' did not {what} within 2 s (a longer limit: {option} S)"
            in out.getvalue()), out.getvalue()
