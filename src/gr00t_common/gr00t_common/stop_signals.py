"""SIGINT/SIGTERM for a managed node: deactivate first (System 1 brakes to rest), then exit.

How a robot's node is stopped: Ctrl-C under `ros2 launch`, `docker stop`, systemd. rclpy's
own handlers shut the ROS context down the moment the signal comes, before the node's main
can stop anything, so System 1 could not publish one braking command and the controllers
kept its last, moving target: a G1 forward_command arm stopped dead from 4 rad/s (about 8
times its acceleration limit), a GR-1 joint_trajectory_controller ran on along the last
plan, a second of motion, unsupervised. `run_managed` therefore starts rclpy without its
handlers and installs these:

- the first signal while the node is active ends the spin loop with the context still up;
  `run_managed` then deactivates the node (System 1 brakes within its acceleration limits,
  as on `ros2 lifecycle set ... deactivate`) and ends the process;
- a signal while the node is not active (starting, configuring, inactive: nothing to
  brake), or a second signal, raises KeyboardInterrupt in the main thread, as Python's own
  SIGINT handler does: the process ends at once, without braking (a person or a process
  manager insisting; `ros2 launch` sends SIGTERM 5 s after its SIGINT).

The handler takes no lock. Python runs it in the main thread between two bytecodes, where
that thread may hold one (rclpy's executor takes several; `gr00t_bringup.runner` once hung
forever on an `Event.set` in a handler), so it only reads and sets plain attributes, or
raises. Nor can it wake the executor: it runs only once the main thread is back from rcl's
wait, which an idle node may never leave. CPython's C-level handler writes the signal's
number to the wakeup fd (`signal.set_wakeup_fd`, async-signal-safe), and a thread of ours
reads it and triggers a guard condition of the node (an ordinary thread may: rcl's trigger
is thread-safe). Its callback, run by the executor in the main thread, asks the spin loop
to return.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopSignals:
    """The handlers of one `run_managed` (module docstring). Install with `install()` from
    the main thread, `attach(node, is_active)` once the node exists, `close()` before the
    teardown (further signals are ignored then: the teardown has its own deadline)."""

    def __init__(self) -> None:
        self.signum: int | None = None  # the signal that asked for the stop
        self.at_once = False  # the handler raised KeyboardInterrupt: stop without braking
        self._requested = False  # set by the guard condition's callback (main thread)
        self._handled = False  # the handler has let one signal through
        self._is_active: Callable[[], bool] = lambda: False
        self._guard: Any = None
        self._node: Any = None
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._write_fd, False)  # set_wakeup_fd requires it
        self._old_wakeup = -1
        self._thread = threading.Thread(target=self._wake, daemon=True, name="stop-signals")
        self._closed = False

    @classmethod
    def install(cls) -> StopSignals:
        """Handle SIGINT and SIGTERM from now on (the main thread only, as signal.signal)."""
        stop = cls()
        stop._thread.start()
        stop._old_wakeup = signal.set_wakeup_fd(stop._write_fd, warn_on_full_buffer=False)
        for sig in SIGNALS:
            signal.signal(sig, stop._handle)
        return stop

    def attach(self, node: Any, is_active: Callable[[], bool]) -> None:
        """From now on a signal while `is_active()` stops `node` gracefully. `is_active` is
        called inside the signal handler: it must only read plain attributes."""
        self._node = node
        self._is_active = is_active
        self._guard = node.create_guard_condition(self._on_signal)

    def requested(self) -> bool:
        """A signal asked for a graceful stop (the spin loop's condition)."""
        return self._requested

    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum is not None else "a signal"

    def _handle(self, signum: int, _frame: Any) -> None:
        # In the main thread between two bytecodes: no lock, no I/O (module docstring).
        if self._handled or not self._is_active():
            self.at_once = True
            raise KeyboardInterrupt
        self._handled = True

    def _wake(self) -> None:
        while data := os.read(self._read_fd, 1):
            self.signum = data[0]
            guard = self._guard
            if guard is not None:
                try:
                    guard.trigger()
                except Exception:  # noqa: BLE001 - destroyed with the node: stopping anyway
                    pass

    def _on_signal(self) -> None:
        if self._requested or not self._handled:
            return  # not let through (KeyboardInterrupt), or said already
        self._requested = True
        self._node.get_logger().info(
            f"received {self.name()}: deactivating before exiting; another signal exits at "
            "once")

    def close(self) -> None:
        """Ignore SIGINT/SIGTERM from now on and end the thread (once; again: nothing)."""
        if self._closed:
            return
        self._closed = True
        for sig in SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        signal.set_wakeup_fd(self._old_wakeup)
        os.close(self._write_fd)  # the thread reads end-of-file and returns
        self._thread.join(timeout=2.0)
        os.close(self._read_fd)
