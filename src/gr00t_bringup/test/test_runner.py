"""GraphRunner supervision with small real rclpy nodes (stub_node.py) standing in for System 1/2.

These check the runner's own behaviour (params files that rclpy accepts, name/namespace
remapping, output prefixing, clean stop, a crashing node, escalation past a node that ignores
SIGINT, a missing executable) in seconds; test_bringup_system.py runs the real nodes. The
`stub_exe` and `lifecycle_exe` fixtures are in conftest.py.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from gr00t_bringup.graph import Graph, NodeSpec
from gr00t_bringup.lifecycle import Timeouts
from gr00t_bringup.runner import (EXIT_MISSING_EXECUTABLE, EXIT_NODE_FAILED, EXIT_OK,
                                  scheduling,
                                  GraphRunner, find_executable, run_graph)
from gr00t_testing import wait_until
from gr00t_testing.runner_stubs import Output, managed

def spec(name: str, **params) -> NodeSpec:
    return NodeSpec(package="stub_pkg", executable="stub_node", name=name, namespace="/bench",
                    parameters={"greeting": f"hello from {name}", "numbers": [1.5, 2.5],
                                **params})



def start_runner(graph: Graph, stub_exe: Path, tmp_path: Path, **kw) -> tuple[GraphRunner, Output]:
    out = Output()
    runner = GraphRunner(graph, work_dir=tmp_path / "work", out=out,
                         resolve=lambda n: stub_exe, **kw)
    runner.start()
    return runner, out


def test_params_names_and_clean_stop(ros_domain_id, stub_exe: Path, tmp_path: Path) -> None:
    graph = Graph(nodes=[spec("alpha"), spec("beta")])
    runner, out = start_runner(graph, stub_exe, tmp_path)
    try:
        for name in ("alpha", "beta"):
            wait_until(lambda: any(l.startswith(f"[{name}] ready /bench/{name} ")
                                   for l in out.lines()), 30, f"{name} ready")
        assert "[alpha] ready /bench/alpha greeting=hello from alpha numbers=[1.5, 2.5]" \
            in out.lines()
        threading.Timer(0.2, runner.request_stop, args=("test over",)).start()
        code = runner.supervise()
    finally:
        runner.stop_all()
    assert code == EXIT_OK
    assert all(c.proc.returncode == 0 for c in runner.children), out.getvalue()
    assert "[alpha] stub stopped cleanly" in out.lines()
    assert "[beta] stub stopped cleanly" in out.lines()


def _may_use_fifo() -> bool:
    """Whether this process may give a child SCHED_FIFO (root, CAP_SYS_NICE or rtprio limit)."""
    import subprocess

    child = subprocess.Popen(["sleep", "5"])
    try:
        os.sched_setscheduler(child.pid, os.SCHED_FIFO, os.sched_param(1))
        return True
    except PermissionError:
        return False
    finally:
        child.kill()
        child.wait()


def test_realtime_priority_is_applied_or_its_absence_reported(ros_domain_id, stub_exe: Path,
                                                              tmp_path: Path) -> None:
    graph = Graph(nodes=[spec("plain"), NodeSpec(**{**spec("control").__dict__,
                                                     "realtime_priority": 10})])
    runner, out = start_runner(graph, stub_exe, tmp_path)
    try:
        got = {c.spec.name: scheduling(c.proc.pid) for c in runner.children}
    finally:
        runner.stop_all()
    assert got["plain"] == "SCHED_OTHER"
    if _may_use_fifo():
        assert got["control"] == "SCHED_FIFO 10"
        assert "[gr00t-bringup] control runs real-time: SCHED_FIFO 10" in out.lines()
    else:
        assert got["control"] == "SCHED_OTHER"
        assert any("WARNING: control asked for SCHED_FIFO 10 but runs SCHED_OTHER" in line
                   for line in out.lines()), out.getvalue()


def test_a_dying_node_is_named_and_the_others_stopped(ros_domain_id, stub_exe: Path,
                                                      tmp_path: Path) -> None:
    graph = Graph(nodes=[spec("steady"), spec("flaky", exit_after_s=1.0)])
    runner, out = start_runner(graph, stub_exe, tmp_path)
    try:
        code = runner.supervise(duration=60.0)
    finally:
        runner.stop_all()
    text = out.getvalue()
    assert code == EXIT_NODE_FAILED
    assert "node 'flaky' (stub_pkg/stub_node) exited unexpectedly with code 7" in text
    assert "    stub giving up on purpose" in text  # the tail of its output
    steady = runner.children[0]
    assert steady.proc.returncode == 0 and "[steady] stub stopped cleanly" in text


def test_killed_node_is_reported(ros_domain_id, stub_exe: Path, tmp_path: Path) -> None:
    runner, out = start_runner(Graph(nodes=[spec("one"), spec("two")]), stub_exe, tmp_path)
    try:
        for name in ("one", "two"):
            wait_until(lambda: any(l.startswith(f"[{name}] ready") for l in out.lines()), 30,
                       name)
        os.kill(runner.children[1].proc.pid, signal.SIGKILL)
        code = runner.supervise(duration=60.0)
    finally:
        runner.stop_all()
    assert code == EXIT_NODE_FAILED
    assert f"node 'two' (stub_pkg/stub_node) exited unexpectedly with code {-signal.SIGKILL}" \
        in out.getvalue()
    # -9 alone does not say a signal ended it, nor that the OOM killer sends that one.
    assert "(killed by SIGKILL" in out.getvalue() and "dmesg" in out.getvalue()
    assert runner.children[0].proc.returncode == 0


def test_escalates_past_a_node_that_ignores_sigint(ros_domain_id, stub_exe: Path,
                                                   tmp_path: Path) -> None:
    runner, out = start_runner(Graph(nodes=[spec("stubborn", ignore_sigint=True)]), stub_exe,
                               tmp_path, stop_timeout=1.0, term_timeout=5.0)
    try:
        wait_until(lambda: any(l.startswith("[stubborn] ready") for l in out.lines()), 30, "up")
        t0 = time.monotonic()
        runner.request_stop("test")
        code = runner.supervise()
    finally:
        runner.stop_all()
    assert code == EXIT_OK
    assert "stubborn still running: sending SIGTERM" in out.getvalue()
    assert runner.children[0].proc.returncode is not None
    assert time.monotonic() - t0 < 10.0


def test_duration_and_log_dir(ros_domain_id, stub_exe: Path, tmp_path: Path) -> None:
    out = Output()
    code = run_graph(Graph(nodes=[spec("timed")]), work_dir=tmp_path / "w", duration=3.0,
                     log_dir=tmp_path / "logs", out=out, install_signal_handlers=False,
                     resolve=lambda n: stub_exe)
    assert code == EXIT_OK
    assert "--duration 3 s elapsed" in out.getvalue()
    log = (tmp_path / "logs" / "timed.log").read_text()
    assert "ready /bench/timed" in log and "stub stopped cleanly" in log
    assert (tmp_path / "w" / "timed.params.yaml").is_file()


def test_a_log_file_that_cannot_be_written_stops_neither_the_console_nor_the_node(
        tmp_path: Path) -> None:
    """A full disk (here /dev/full) under --log-dir ended the node's output pump: its pipe was
    never read again, and once the pipe's 64 KiB filled, the node blocked in its next log
    call (System 1's executor, control timer and lifecycle services with it)."""
    chatty = tmp_path / "chatty"  # 400 KB of output, then a last line; no ROS needed
    chatty.write_text("#!/bin/sh\nline=$(printf '%0200d' 0)\n"
                      "for i in $(seq 2000); do echo \"$line\"; done\n"
                      "echo chatter done\nexec sleep 1000\n")
    chatty.chmod(0o755)
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "chatty.log").symlink_to("/dev/full")
    out = Output()
    runner = GraphRunner(Graph(nodes=[NodeSpec("p", "e", "chatty")]), work_dir=tmp_path / "w",
                         log_dir=logs, out=out, resolve=lambda n: chatty)
    try:
        runner.start()
        wait_until(lambda: "[chatty] chatter done" in out.lines(), 60,
                   "the node's last line (its output is still read)")
        assert runner.children[0].proc.poll() is None
    finally:
        runner.stop_all()
    warnings = [line for line in out.lines() if "chatty.log" in line]
    assert len(warnings) == 1, warnings  # said once, not once per line
    assert warnings[0].startswith(f"[gr00t-bringup] WARNING: cannot write {logs / 'chatty.log'}")
    assert "chatty's output goes on to this console only" in warnings[0]


def test_missing_executable_starts_nothing(tmp_path: Path, stub_exe: Path) -> None:
    for ghost, expected in ((NodeSpec("gr00t_no_such_pkg", "sim_node", "ghost"),
                             "package 'gr00t_no_such_pkg' is not installed"),
                            (NodeSpec("gr00t_bringup", "no_such_exe", "ghost"),
                             "executable 'no_such_exe' of package 'gr00t_bringup' not found")):
        out = Output()
        code = run_graph(Graph(nodes=[spec("fine"), ghost]), work_dir=tmp_path, duration=5.0,
                         out=out, install_signal_handlers=False,
                         resolve=lambda n: stub_exe if n.package == "stub_pkg" else
                         find_executable(n.package, n.executable))
        assert code == EXIT_MISSING_EXECUTABLE
        text = out.getvalue()
        assert expected in text and "setup.sh" in text
        assert "started" not in text


# -- lifecycle nodes ----------------------------------------------------------------------------


def resolver(stub_exe: Path, lifecycle_exe: Path):
    return lambda n: lifecycle_exe if n.lifecycle else stub_exe


def test_lifecycle_nodes_are_brought_up_after_start_and_deactivated_before_stop(
        ros_domain_id, stub_exe: Path, lifecycle_exe: Path, tmp_path: Path) -> None:
    graph = Graph(nodes=[spec("plain"), managed("first", configure_s=1.0), managed("second")])
    out = Output()
    runner = GraphRunner(graph, work_dir=tmp_path / "work", out=out,
                         resolve=resolver(stub_exe, lifecycle_exe))
    try:
        runner.start()  # returns once both are active
        lines = out.lines()
        assert "[gr00t-bringup] first is active" in lines
        assert "[gr00t-bringup] second is active" in lines
        # Both configured (at once) before either was activated, in graph order.
        configured = next(i for i, l in enumerate(lines)
                          if l.startswith("[gr00t-bringup] configured first, second in "))
        assert configured < lines.index("[gr00t-bringup] first is active") \
            < lines.index("[gr00t-bringup] second is active")
        threading.Timer(0.2, runner.request_stop, args=("test over",)).start()
        code = runner.supervise()
    finally:
        runner.stop_all()
    lines = out.lines()
    assert code == EXIT_OK, out.getvalue()
    for name in ("first", "second"):
        # Deactivated over the lifecycle service first, then stopped by SIGINT.
        assert lines.index(f"[{name}] deactivated") < lines.index(f"[{name}] stub stopped cleanly")
        assert f"[gr00t-bringup] {name} deactivated" in lines
    assert "[plain] stub stopped cleanly" in lines
    assert all(c.proc.returncode == 0 for c in runner.children), out.getvalue()


def test_a_stop_during_activation_still_deactivates_that_node(
        ros_domain_id, stub_exe: Path, lifecycle_exe: Path, tmp_path: Path) -> None:
    # SIGINT before the runner has the activation's answer (a slow on_activate here; in the
    # field also a late or lost reply): the node may be active, so it is deactivated.
    out = Output()
    runner = GraphRunner(Graph(nodes=[managed("slow_up", activate_s=3.0)]),
                         work_dir=tmp_path / "work", out=out,
                         resolve=resolver(stub_exe, lifecycle_exe))
    try:
        stopper = threading.Thread(target=lambda: (
            wait_until(lambda: "[gr00t-bringup] configured slow_up" in out.getvalue(), 60,
                       "the configure"),
            time.sleep(0.5), runner.request_stop("test over")))
        stopper.start()
        runner.start()
        stopper.join()
        code = runner.supervise()
    finally:
        runner.stop_all()
    lines = out.lines()
    assert code == EXIT_OK, out.getvalue()
    assert "[gr00t-bringup] slow_up is active" not in lines  # the stop came first
    assert lines.index("[slow_up] activated") < lines.index("[slow_up] deactivated") \
        < lines.index("[slow_up] stub stopped cleanly"), out.getvalue()
    assert "[gr00t-bringup] slow_up deactivated" in lines


@pytest.mark.parametrize("params,message", [
    ({"fail_configure": True}, "node 'broken' failed to configure"),
    ({"exit_in_configure": True}, "node 'broken' exited with code 7 before it could configure"),
])
def test_a_failed_configure_is_named_with_its_output_and_the_graph_stopped(
        ros_domain_id, stub_exe: Path, lifecycle_exe: Path, tmp_path: Path, params,
        message) -> None:
    out = Output()
    graph = Graph(nodes=[spec("plain"), managed("fine"), managed("broken", **params)])
    code = run_graph(graph, work_dir=tmp_path / "w", duration=60.0, out=out,
                     install_signal_handlers=False, resolve=resolver(stub_exe, lifecycle_exe))
    text = out.getvalue()
    assert code == EXIT_NODE_FAILED, text
    assert message in text
    reason = "stub cannot configure" if params.get("fail_configure") else "stub crashing"
    assert f"    {reason}" in text  # the node's own output, in the runner's error
    assert "is active" not in text  # nothing was activated
    for name in ("plain", "fine"):  # the others were stopped, not left running
        assert f"[gr00t-bringup] {name} exited with code" in text, text
        # A node still importing when the graph stops (broken can fail first) is
        # interrupted there and never says so; one that came up stops cleanly.
        came_up = any(line.startswith((f"[{name}] up ", f"[{name}] ready "))
                      for line in text.splitlines())
        assert not came_up or f"[{name}] stub stopped cleanly" in text, text


def test_a_configure_that_takes_too_long_is_a_timeout(ros_domain_id, stub_exe: Path,
                                                      lifecycle_exe: Path,
                                                      tmp_path: Path) -> None:
    from gr00t_bringup.runner import Timeouts

    out = Output()
    t0 = time.monotonic()
    code = run_graph(Graph(nodes=[managed("slow", configure_s=30.0)]), work_dir=tmp_path / "w",
                     duration=60.0, out=out, install_signal_handlers=False,
                     resolve=resolver(stub_exe, lifecycle_exe),
                     timeouts=Timeouts(configure_s=2.0))
    assert code == EXIT_NODE_FAILED
    assert "node(s) 'slow' did not configure within 2 s" in out.getvalue()
    assert time.monotonic() - t0 < 30.0
    with pytest.raises(ValueError, match="configure_s"):
        Timeouts(configure_s=0.0)


# A SIGINT delivered while the supervision loop is inside threading.Event.wait (holding the
# event's lock): a handler that set the event itself hung there for good.
_SIGINT_IN_WAIT = r'''
import os, signal, sys, threading, time
from pathlib import Path
from gr00t_bringup.graph import Graph, NodeSpec
from gr00t_bringup.runner import run_graph

exe, work = Path(sys.argv[1]), Path(sys.argv[2])
t0, fired = time.monotonic(), []

def in_wait(frame, event, arg):
    if event == "line" and not fired:
        fired.append(True)
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C, arriving inside Condition.wait
    return in_wait

def tracer(frame, event, arg):
    if (event == "call" and frame.f_code is threading.Condition.wait.__code__
            and time.monotonic() - t0 > 1.0 and not fired):
        return in_wait
    return None

sys.settrace(tracer)
rc = run_graph(Graph(nodes=[NodeSpec(package="p", executable="e", name="sleeper")]),
               work_dir=work, resolve=lambda spec: exe, out=sys.stdout)
sys.settrace(None)
print("returned", rc, "signal fired", bool(fired), flush=True)
'''


def test_a_sigint_inside_the_stop_events_wait_still_stops_the_graph(tmp_path: Path) -> None:
    import subprocess

    exe = tmp_path / "sleeper"
    exe.write_text("#!/bin/sh\nexec sleep 1000\n")
    exe.chmod(0o755)
    script = tmp_path / "sigint_in_wait.py"
    script.write_text(_SIGINT_IN_WAIT)
    try:
        done = subprocess.run([sys.executable, str(script), str(exe), str(tmp_path / "work")],
                              capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"run_graph hung after a SIGINT inside Event.wait: {exc.stdout}")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "returned 0 signal fired True" in done.stdout, done.stdout
    assert "stopping all nodes (received SIGINT)" in done.stdout


def test_a_second_graph_on_the_domain_is_refused_before_it_configures_anything(
        ros_domain_id, stub_exe: Path, lifecycle_exe: Path, tmp_path: Path) -> None:
    """Its configure request would go to the running graph's node of the same name (which
    refuses it: already active, and the second graph said its own node failed), and two
    System 1s would command one robot."""
    from gr00t_bringup.lifecycle import TransitionError

    graph = Graph(nodes=[managed("first")])
    first_out, second_out = Output(), Output()
    first = GraphRunner(graph, work_dir=tmp_path / "a", out=first_out,
                        resolve=resolver(stub_exe, lifecycle_exe))
    # A long listen: the suite loads both cores, and discovery then takes longer.
    second = GraphRunner(graph, work_dir=tmp_path / "b", out=second_out,
                         resolve=resolver(stub_exe, lifecycle_exe),
                         timeouts=Timeouts(namesakes_s=10.0))
    try:
        first.start()
        assert "[gr00t-bringup] first is active" in first_out.lines()
        with pytest.raises(TransitionError, match=r"/bench/first: a node of this name is already "
                                                  rf"on ROS_DOMAIN_ID {ros_domain_id}: .*another ROS_DOMAIN_ID"):
            second.start()
        assert second.children == []  # nothing of the second graph was started
        assert all(c.proc.poll() is None for c in first.children)  # the first graph runs on
    finally:
        second.stop_all()
        first.stop_all()
