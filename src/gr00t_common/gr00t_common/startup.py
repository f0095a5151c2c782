"""How every node's `main` refuses to start: one fatal line naming what is wrong, no traceback.

A node that cannot start because of what it was given (a malformed command line, a bad
parameter, an embodiment YAML or a model file it cannot use) says so in one line, through
its logger, and its `main` returns a status for the shell: `EXIT_BAD_ARGUMENTS` when rcl
refuses the command line, `EXIT_STARTUP_FAILED` otherwise. Each error of
`EXPECTED_ERRORS` already names its input (the parameter, the file, the key) and the fix;
anything else is a bug and keeps its traceback.

Used by the plain nodes' loop (`gr00t_common.plain_node`, where the constructor does all
the start-up work) and the lifecycle nodes' (`gr00t_common.lifecycle`, where configure
does it and reports these errors as the transition's reason).
"""

from __future__ import annotations

from typing import Any

__all__ = ["EXIT_BAD_ARGUMENTS", "EXIT_STARTUP_FAILED", "EXPECTED_ERRORS", "init"]

EXIT_STARTUP_FAILED = 1
EXIT_BAD_ARGUMENTS = 2  # rcl refused the command line (malformed --ros-args)

# Errors a start expects and reports as its reason (a bad parameter, file, checkpoint or
# embodiment); anything else is a bug and is reported with its traceback.
EXPECTED_ERRORS: tuple[type[BaseException], ...] = (ValueError, OSError, RuntimeError, KeyError)


def init(args: list[str] | None, logger: Any, signal_handlers: bool = True) -> bool:
    """`rclpy.init(args=args)`, which installs rclpy's SIGINT/SIGTERM handlers (they shut
    the context down, which stops spin) unless `signal_handlers` is False (the caller
    installs its own: `gr00t_common.stop_signals`); False, with a fatal line on `logger`,
    when rcl refuses the command line."""
    import rclpy
    from rclpy.signals import SignalHandlerOptions

    options = SignalHandlerOptions.ALL if signal_handlers else SignalHandlerOptions.NO
    try:
        rclpy.init(args=args, signal_handler_options=options)
    except Exception as exc:  # noqa: BLE001 - rcl refuses malformed --ros-args (RCLError)
        logger.fatal(f"cannot start: invalid command-line arguments: {exc}")
        return False
    return True
