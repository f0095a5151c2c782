"""The spin loop of a plain (not lifecycle) node: the simulator, the expert, the recorder.

`run` spins the node until Ctrl-C or SIGTERM, then stops it in order: further signals are
ignored from then on (a second Ctrl-C must not cut a recorder's episode file or a
simulator's threads in half), the node's own `close` runs, and the node, the executor and
the context are torn down (within `gr00t_common.teardown`'s deadline). A node that cannot
start (a malformed command line; a bad parameter, embodiment YAML or model file refused by
its constructor) logs one fatal line naming it and the fix, and `run` returns a non-zero
status (`gr00t_common.startup`). System 1 and System 2 are lifecycle nodes and have their
own loop (`gr00t_common.lifecycle.spin`).
"""

from __future__ import annotations

import functools
import signal
from collections.abc import Callable
from typing import TypeVar

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node

from gr00t_common.startup import EXIT_BAD_ARGUMENTS, EXIT_STARTUP_FAILED, EXPECTED_ERRORS, init
from gr00t_common.teardown import finish

N = TypeVar("N", bound=Node)


def run(make: Callable[[], N], close: Callable[[N], None] | None = None,
        args: list[str] | None = None, name: str = "") -> int:
    """Make the node with `make()` (after `rclpy.init(args)`), spin it until shutdown, then
    `close(node)` with SIGINT/SIGTERM ignored, and destroy it. Returns the exit status: 0
    after a clean stop, `EXIT_STARTUP_FAILED` when `make()` raised one of `EXPECTED_ERRORS`
    (logged as one fatal line of the logger `name`, default: `make`'s name),
    `EXIT_BAD_ARGUMENTS` when rcl refuses the command line."""
    logger = rclpy.logging.get_logger(name or getattr(make, "__name__", "node"))
    if not init(args, logger):
        return EXIT_BAD_ARGUMENTS
    node: N | None = None
    executor = SingleThreadedExecutor()
    status = 1  # the exit status should the teardown hang: 1 unless it all ended cleanly
    try:
        try:
            node = make()
        except EXPECTED_ERRORS as exc:  # each names its parameter or file, and the fix
            logger.fatal(f"cannot start: {exc}")
            status = EXIT_STARTUP_FAILED
            return status
        executor.add_node(node)
        executor.spin()
        status = 0
    except (KeyboardInterrupt, ExternalShutdownException):
        status = 0
    finally:
        if node is not None:  # its stop must not be cut short (nothing to stop otherwise)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stop = None if node is None or close is None else functools.partial(close, node)
        finish(stop, node, status, executor)  # torn down even when close failed
    return status
