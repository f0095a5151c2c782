"""NodeProcess.stop on a process that does not exit: the log says where it hung."""

from __future__ import annotations

import signal
import sys
import time

from gr00t_testing import NodeProcess


def test_a_process_that_ignores_the_signal_leaves_its_stack_in_the_log(tmp_path):
    code = ("import signal, time\n"
            "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
            "def stuck_in_teardown():\n"
            "    print('ready', flush=True)\n"
            "    time.sleep(60)\n"
            "stuck_in_teardown()\n")
    node = NodeProcess([sys.executable, "-c", code], tmp_path / "hung.log")
    deadline = time.monotonic() + 30
    while "ready" not in node.output() and time.monotonic() < deadline:
        time.sleep(0.05)
    rc = node.stop(signal.SIGINT, timeout=0.5)
    out = node.output()
    assert rc == -signal.SIGABRT, out
    assert "stuck_in_teardown" in out, out  # faulthandler's stack of the hung thread
