"""A deadline on the last step of a node's exit: the rclpy and DDS teardown.

A node stops in two steps. Its own stop comes first and has no deadline: System 1's loop
joined, the recorder's episode file closed, the simulator's threads ended. Then rclpy's
teardown: the node destroyed, the executor and the context shut down. On rare occasions the
second step never returned after a SIGINT: in one CI run of the whole suite a stub node
printed that it had stopped cleanly and then sat in that teardown until the supervisor's
SIGTERM (ignored: rclpy's handler only shuts the context down, which had happened) and
SIGKILL, 15 s later, so bringup reported a crashed node. On a robot that is a Ctrl-C that
does not end the process.

`bounded_teardown(status)` wraps that second step. When it has not finished within its
deadline, every thread's stack goes to stderr (where the hang is, for a report upstream) and
the process exits at once with `status`, the code it was about to return: the node's own stop
had finished, so the exit is as clean as it would have been.

That first watchdog is Python and cannot run while the hung call holds the interpreter lock,
which rclpy's node destruction does: in a later CI run a stub node hung there, the Python
watchdog never fired, and faulthandler's exited with status 1, so bringup reported a failed
node. Two watchdogs that need no Python back it up: faulthandler dumps every thread's stack
one second after the deadline (its header is "Timeout (...)!"), and an `ExitTimer` ends the
process with `status` one second after that. Where POSIX timers are missing (not Linux),
faulthandler's watchdog exits instead, with status 1.

A managed node stopped by a signal owes rclpy one more step, its deactivate transition (the
state change published): that step goes under the deadline too. In one CI run System 1 had
braked to rest and logged "deactivated", and then never exited until SIGKILL 10 s later,
with no watchdog armed yet.

The process's exit after that has a deadline too (`run_process`, the entry point of every
node's process, arms `bound_the_exit`): the interpreter's finalization and the C libraries'
exit handlers, which include the DDS library's static destructors. Twice in CI System 1
logged "deactivated", finished its teardown in time, and then never exited: a DDS
participant left alive by rclpy's LifecycleNode (now destroyed in the teardown,
`gr00t_common.lifecycle.ManagedNode.destroy_node`) was deleted in Fast DDS's static
destructor, which hung joining a receive thread. Past the interpreter there is no Python to
run a watchdog or print a stack: only a timer that needs none can end the process there.

`finish(stop, node, status)` is the end of every node's `main`: the node's own stop, then the
teardown under that deadline, even when the stop raised (then with status 1). `main` returns
its status; `run_process(main)` exits with it, the exit bounded. A main called in-process (a
test) returns and arms nothing: once `finish` armed the exit, and the suite's pytest process
ended 3 s after a test ran the recorder's main in-process.
"""

from __future__ import annotations

import faulthandler
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

from gr00t_common.exit_timer import ExitTimer

TEARDOWN_DEADLINE_S = 5.0
"""Seconds rclpy's teardown may take after a node's own stop; it takes well under one
normally. Below bringup's 10-s wait after SIGINT, so a hung teardown still ends as a clean
exit there."""

EXIT_DEADLINE_S = 3.0
"""Seconds the process's exit may take once the teardown is done; a fraction of one normally.
A teardown just inside its 5 s and then a hung exit: 8 s, under bringup's 10-s wait after
SIGINT (a hung teardown exits within it and never reaches the exit)."""

_DUMP_AFTER_S = 1.0
"""After the deadline, when the Python watchdog has not ended the process: faulthandler's
stack dump (the interpreter lock is held; the Python watchdog's dump could not run)."""
_EXIT_AFTER_S = 2.0
"""After the deadline: the exit that needs no Python (`ExitTimer`)."""


def _stderr_fd() -> int:
    """A file descriptor for the stack dump: stderr's, or 2 when sys.stderr is replaced by
    something without one (pytest's capture, a StringIO)."""
    for stream in (sys.stderr, sys.__stderr__):
        try:
            return stream.fileno()
        except (AttributeError, OSError, ValueError):
            continue
    return 2


def _flush_std_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 - a closed stream must not stop the exit
            pass


@contextmanager
def bounded_teardown(status: int = 0, deadline_s: float = TEARDOWN_DEADLINE_S,
                     what: str = "rclpy teardown") -> Iterator[None]:
    """Run the block; if it is still running after `deadline_s`, dump every thread's stack to
    stderr and end the process with `status` (`os._exit`: no further cleanup runs).

    For a node's `main` only: whatever process it runs in ends there (pytest's too, where a
    test calls a main in-process and its teardown hangs). It replaces any other
    `faulthandler.dump_traceback_later` watchdog for the block's duration."""
    if deadline_s <= 0:
        raise ValueError(f"bounded_teardown: deadline_s must be > 0 (got {deadline_s})")
    fd = _stderr_fd()

    def expire() -> None:
        try:
            _flush_std_streams()  # os._exit drops what is buffered
            os.write(fd, f"{what} still running after {deadline_s:g} s: exiting with status "
                         f"{status} (the node had stopped); the threads were at:\n".encode())
            faulthandler.dump_traceback(file=fd, all_threads=True)
        finally:
            os._exit(status)

    _flush_std_streams()  # the exit without Python cannot flush them
    timer = threading.Timer(deadline_s, expire)
    timer.daemon = True
    try:
        hard_exit = ExitTimer.arm(deadline_s + _EXIT_AFTER_S, status)
    except OSError:  # the C library refused a timer (a limit reached): faulthandler exits
        hard_exit = None
    try:
        if hard_exit is None:
            faulthandler.dump_traceback_later(deadline_s + _EXIT_AFTER_S, exit=True, file=fd)
        else:
            faulthandler.dump_traceback_later(deadline_s + _DUMP_AFTER_S, file=fd)
        timer.start()
        yield
    finally:
        timer.cancel()
        faulthandler.cancel_dump_traceback_later()
        if hard_exit is not None:
            hard_exit.cancel()


def run_process(main: Callable[[], int]) -> NoReturn:
    """The entry point of a node's process (its console script, `python -m`): run `main()`
    and exit with its status, the exit bounded (`bound_the_exit`; status 1 when `main`
    raised, and the exception propagates)."""
    status = 1
    try:
        status = main()
    finally:
        bound_the_exit(status)
    sys.exit(status)


def bound_the_exit(status: int, deadline_s: float = EXIT_DEADLINE_S) -> None:
    """End the process with `status` if it still runs `deadline_s` from now: for a process
    about to exit (`run_process`; nothing cancels it). An `ExitTimer`, as the exit has no
    Python to run a watchdog or print a stack once the interpreter has finalized; where
    there are no POSIX timers, faulthandler's watchdog, which exits with status 1 and only
    until the interpreter finalizes."""
    _flush_std_streams()  # the exit without Python cannot flush them
    try:
        armed = ExitTimer.arm(deadline_s, status)
    except OSError:
        armed = None
    if armed is None:
        faulthandler.dump_traceback_later(deadline_s, exit=True, file=_stderr_fd())


def finish(stop: Callable[[], None] | None, node: Any | None, status: int,
           executor: Any | None = None, deadline_s: float = TEARDOWN_DEADLINE_S,
           wind_down: Callable[[], None] | None = None) -> None:
    """End a node's `main`: run `stop()` (the node's own stop, no deadline), then, under
    `bounded_teardown`, `wind_down()` (what rclpy still does for the stopped node: a managed
    node's deactivate transition, its event published), destroy `node`, shut `executor` and
    rclpy's context down. The teardown runs even when `stop` raised (no half-alive node at
    exit); the exception then propagates and a hung teardown exits with status 1 instead of
    `status`."""
    import rclpy  # here, not at the top: bounded_teardown itself needs no ROS

    try:
        if stop is not None:
            stop()
    except BaseException:
        status = 1
        raise
    finally:
        with bounded_teardown(status, deadline_s):
            try:
                if wind_down is not None:
                    wind_down()
            finally:
                if node is not None:
                    node.destroy_node()
                if executor is not None:
                    executor.shutdown()
                rclpy.try_shutdown()
