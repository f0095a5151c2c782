"""SIGINT/SIGTERM to a managed node's process (`run_managed`, `gr00t_common.stop_signals`):
active, the node is deactivated with the ROS context still up, so what its stop publishes
(System 1's braking commands) reaches the topics; a second signal, or one while it is not
active, ends the process at once. On a stub node (stub_managed_node.py) over real DDS.
System 1's braking on a signal is gr00t_system1's test_node.py."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from std_msgs.msg import String

from gr00t_testing import AUTOSTART, NodeProcess, RosProbe, lifecycle_state, wait_until

STUB = Path(__file__).with_name("stub_managed_node.py")
TOPIC = "/stub_managed/out"


def start_stub(tmp_path: Path, *params: str) -> NodeProcess:
    args = ["--ros-args", *[x for p in params for x in ("-p", p)]]
    return NodeProcess([sys.executable, str(STUB), *args], tmp_path / "stub.log")


def ticking(probe: RosProbe) -> list:
    """The stub's messages from now on, once it is ticking (active)."""
    got = probe.collect(String, TOPIC)
    wait_until(lambda: any(m.data == "tick" for m in got), 60, "ticks")
    return got


def exit_code(node: NodeProcess, timeout: float) -> int:
    try:
        return node.proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        node.stop(signal.SIGKILL)
        pytest.fail(f"still running {timeout:g} s after the signal:\n{node.output()[-3000:]}")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
def test_a_signal_deactivates_an_active_node_with_the_context_up(ros_domain_id, tmp_path, sig):
    """rclpy's own handler shut the context down first: the stop could publish nothing
    (System 1 sent no braking command; its controllers kept a moving target)."""
    node = start_stub(tmp_path, AUTOSTART)
    try:
        with RosProbe(domain_id=ros_domain_id) as probe:
            got = ticking(probe)
            node.proc.send_signal(sig)
            assert exit_code(node, 20) == 0, node.output()[-3000:]
            time.sleep(0.3)  # the last messages in flight
            said = [m.data for m in got]
        out = node.output()
        assert "braking" in said and said[-1] == "stopped", (said[-5:], out[-3000:])
        assert f"received {sig.name}: deactivating before exiting" in out, out[-3000:]
        assert "deactivated" in out and "context is down" not in out, out[-3000:]
        # The DDS participant went with the teardown, not in the exit handlers (where its
        # deletion once hung System 1's exit): rclpy's LifecycleNode kept the context alive.
        if sys.platform.startswith("linux"):
            assert "stub: dds participant threads after the teardown: []" in out, out[-3000:]
    finally:
        node.stop()


def test_a_transition_hung_after_the_stop_still_exits_with_status_0(ros_domain_id, tmp_path):
    """In one CI run System 1 braked to rest, logged "deactivated" and then never exited: the
    lifecycle transition after a node's own stop had no deadline (SIGKILL 10 s later)."""
    node = start_stub(tmp_path, AUTOSTART, "hang_deactivate_s:=60.0")
    try:
        with RosProbe(domain_id=ros_domain_id) as probe:
            got = ticking(probe)
            node.proc.send_signal(signal.SIGTERM)
            assert exit_code(node, 20) == 0, node.output()[-3000:]
            time.sleep(0.3)  # the last messages in flight
            said = [m.data for m in got]
        out = node.output()
        assert said[-1] == "stopped", (said[-5:], out[-3000:])  # the stop ran whole first
        assert "rclpy teardown still running after 5 s: exiting with status 0" in out, out[-3000:]
        assert "on_deactivate" in out  # the stack names where it hung
    finally:
        node.stop()


def test_a_second_signal_exits_at_once_without_finishing_the_stop(ros_domain_id, tmp_path):
    node = start_stub(tmp_path, AUTOSTART, "stop_s:=60.0")
    try:
        with RosProbe(domain_id=ros_domain_id) as probe:
            got = ticking(probe)
            node.proc.send_signal(signal.SIGINT)
            wait_until(lambda: any(m.data == "braking" for m in got), 10, "braking")
            t0 = time.monotonic()
            node.proc.send_signal(signal.SIGTERM)
            assert exit_code(node, 10) == 0, node.output()[-3000:]
            assert time.monotonic() - t0 < 8.0
            said = [m.data for m in got]
        out = node.output()
        assert "stopped" not in said
        assert "SIGTERM again: exiting at once, without braking" in out, out[-3000:]
        assert "Traceback" not in out, out[-3000:]
    finally:
        node.stop()


def test_a_signal_to_a_node_not_active_exits_at_once(ros_domain_id, tmp_path):
    node = start_stub(tmp_path)  # waits unconfigured
    try:
        with RosProbe(domain_id=ros_domain_id) as probe:
            assert lifecycle_state(probe, "/stub_managed", 60) == "unconfigured"
            node.proc.send_signal(signal.SIGINT)
            assert exit_code(node, 10) == 0, node.output()[-3000:]
        assert "Traceback" not in node.output()
    finally:
        node.stop()
