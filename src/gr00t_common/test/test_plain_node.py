"""gr00t_common.plain_node.run: a real node in a child process, stopped by signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

CHILD = textwrap.dedent("""
    import sys, time
    from rclpy.node import Node
    from gr00t_common import plain_node

    class Slow(Node):
        def __init__(self):
            super().__init__("plain_node_test")
            self.ticks = 0
            self.create_timer(0.05, self.tick)

        def tick(self):  # only a spinning node prints it: a signal before spin finds no node
            self.ticks += 1
            if self.ticks == 1:
                print("spinning", flush=True)

    def close(node):
        print("closing", flush=True)
        time.sleep(1.0)  # a second signal arrives meanwhile and must not cut this short
        print("closed", node.get_name(), flush=True)

    plain_node.run(Slow, close=close)
    print("returned", flush=True)
""")


def _wait_for_line(proc: subprocess.Popen, line: str, timeout: float) -> list[str]:
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = proc.stdout.readline()
        if not got:
            break
        seen.append(got.strip())
        if got.strip() == line:
            return seen
    raise AssertionError(f"no {line!r} from the child within {timeout} s; it printed {seen}")


def test_sigint_closes_the_node_and_a_second_ctrl_c_does_not_cut_it(ros_domain_id):
    env = dict(os.environ, ROS_DOMAIN_ID=str(ros_domain_id),
               ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST")
    proc = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)
    try:
        _wait_for_line(proc, "spinning", 60)
        proc.send_signal(signal.SIGINT)
        _wait_for_line(proc, "closing", 10)
        proc.send_signal(signal.SIGINT)  # a second Ctrl-C: ignored during close
        out = proc.communicate(timeout=30)[0]
        rest = out.split()
        assert proc.returncode == 0, out  # the whole output: a traceback names its line
        assert " ".join(rest).startswith("closed plain_node_test returned"), rest
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


REFUSING_CHILD = textwrap.dedent("""
    import sys
    from rclpy.node import Node
    from gr00t_common import plain_node

    class Refusing(Node):
        def __init__(self):
            super().__init__("plain_node_refusing")
            raise ValueError("parameter gain=-1 is out of range; pass e.g. -p gain:=1")

    sys.exit(plain_node.run(Refusing, args=sys.argv, name="plain_node_refusing"))
""")


def _refusing(ros_domain_id, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, ROS_DOMAIN_ID=str(ros_domain_id),
               ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST")
    return subprocess.run([sys.executable, "-c", REFUSING_CHILD, *args], capture_output=True,
                          text=True, env=env, timeout=60)


def test_a_node_that_cannot_start_says_why_in_one_line_and_exits_1(ros_domain_id):
    done = _refusing(ros_domain_id)
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "Traceback" not in out, out
    assert ("[plain_node_refusing]: cannot start: parameter gain=-1 is out of range; pass e.g. "
            "-p gain:=1") in out, out


def test_a_malformed_command_line_exits_2_without_a_traceback(ros_domain_id):
    done = _refusing(ros_domain_id, "--ros-args", "-p", "gain:=1\u0007")
    out = done.stdout + done.stderr
    assert done.returncode == 2, out
    assert "invalid command-line arguments" in out and "Traceback" not in out, out
