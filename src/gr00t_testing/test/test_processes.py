"""NodeProcess.stop on a process that does not exit: the log says where it hung."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time

import pytest

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
    assert "[native stacks" in out, out  # gdb's, before: a hang past the interpreter has no other


def _gdb_attaches() -> bool:
    """gdb is installed and may attach to a process it did not start (ptrace permitted)."""
    if shutil.which("gdb") is None:
        return False
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        done = subprocess.run(["gdb", "-batch", "-nx", "-p", str(sleeper.pid), "-ex", "bt"],
                              capture_output=True, text=True, timeout=60)
        return "#0 " in done.stdout
    finally:
        sleeper.kill()
        sleeper.wait()


def test_the_native_stacks_name_where_a_process_hung(tmp_path):
    if not _gdb_attaches():
        pytest.skip("needs gdb, allowed to attach to a process (ptrace; root or ptrace_scope 0)")
    code = ("import ctypes, signal\n"
            "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
            "print('ready', flush=True)\n"
            "ctypes.CDLL(None).pause()\n")  # a C frame, as a hang in a C++ destructor
    node = NodeProcess([sys.executable, "-c", code], tmp_path / "hung.log")
    deadline = time.monotonic() + 30
    while "ready" not in node.output() and time.monotonic() < deadline:
        time.sleep(0.05)
    node.stop(signal.SIGINT, timeout=0.5)
    out = node.output()
    native = out[out.index("[native stacks of pid"):]
    assert "#0 " in native and "pause" in native, native
