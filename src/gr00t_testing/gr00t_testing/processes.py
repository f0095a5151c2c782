"""Nodes and CLIs in their own OS processes, for tests that drive them over real DDS."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path


class NodeProcess:
    """A node (or any command) in its own OS process, with output captured to a file."""

    def __init__(self, argv: Sequence[str], log_path: Path, env: dict[str, str] | None = None) -> None:
        self.argv = list(argv)
        self.log_path = Path(log_path)
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            self.argv,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            # faulthandler: a process that must be killed first gets SIGABRT (stop), and a
            # Python one then prints every thread's stack to the log: where it hung.
            env={**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1", "PYTHONFAULTHANDLER": "1"},
            start_new_session=True,
        )

    @classmethod
    def python_module(cls, module: str, args: Sequence[str], log_path: Path,
                      env: dict[str, str] | None = None) -> "NodeProcess":
        return cls([sys.executable, "-m", module, *args], log_path, env)

    def output(self) -> str:
        if not self._log.closed:  # closed by stop()
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, sig: int = signal.SIGINT, timeout: float = 10.0) -> int:
        """Signal the process group and wait; when it has not exited in time, its threads'
        native stacks go to the log (`native_stacks`, where gdb is installed), then SIGABRT
        (a Python process prints its threads' Python stacks to the log, PYTHONFAULTHANDLER,
        unless it hung after the interpreter's finalization), then SIGKILL. The exit status
        is the process's: -6 or -9 after those."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._log.write(native_stacks(self.proc.pid).encode(errors="replace"))
                self._log.flush()
                try:
                    os.killpg(self.proc.pid, signal.SIGABRT)
                    self.proc.wait(timeout=3.0)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    if self.proc.poll() is None:
                        os.killpg(self.proc.pid, signal.SIGKILL)
                        self.proc.wait(timeout=5.0)
        self._log.close()
        return self.proc.returncode


def native_stacks(pid: int, timeout_s: float = 60.0) -> str:
    """Every thread's native stack of process `pid` (gdb's `thread apply all bt`), or a line
    saying why there is none. faulthandler shows Python frames only, and none at all once the
    interpreter has finalized: a hang in a C++ static destructor at exit (a DDS library's)
    printed nothing in CI, so the test that stopped such a node gets the C frames this way."""
    gdb = shutil.which("gdb")
    if gdb is None:
        return "\n[native stacks: gdb is not installed]\n"
    try:
        done = subprocess.run([gdb, "-batch", "-nx", "-p", str(pid),
                               "-ex", "set debuginfod enabled off", "-ex", "thread apply all bt"],
                              capture_output=True, text=True, encoding="utf-8",
                              errors="replace", timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return f"\n[native stacks: gdb took more than {timeout_s:g} s]\n"
    except OSError as exc:  # the stop must go on to SIGABRT and SIGKILL whatever gdb did
        return f"\n[native stacks: gdb did not run: {exc}]\n"
    return f"\n[native stacks of pid {pid}, gdb exit {done.returncode}]\n{done.stdout}\n" \
        f"{done.stderr[-2000:]}\n"


def bringup_command(*args: str) -> list[str]:
    """argv for the `gr00t-bringup` CLI (the installed script, else `python -m` of the same)."""
    exe = shutil.which("gr00t-bringup")
    return [exe, *args] if exe else [sys.executable, "-m", "gr00t_bringup.cli", *args]


def instruct_command(*args: str) -> list[str]:
    """argv for the `gr00t-instruct` CLI (the installed script, else `python -m`)."""
    exe = shutil.which("gr00t-instruct")
    return [exe, *args] if exe else [sys.executable, "-m", "gr00t_bringup.instruct", *args]
