"""System1Node._brake_to_rest's last word: at rest, or still moving when its time ran out.

Driven on a stand-in for the node (no ROS graph): the method only needs the loop, the
clock and a publisher."""

import time
from types import SimpleNamespace

import numpy as np

from gr00t_system1.node import System1Node


class _Logger:
    def __init__(self):
        self.lines = []

    def warning(self, text):
        self.lines.append(("warning", text))

    def info(self, text):
        self.lines.append(("info", text))


class _Loop:
    """A loop whose limiter is at rest while a path a trajectory controller was sent still
    moves for `moving_commands` more braking commands (`CommandLoop.brake` returns None
    only once neither moves)."""

    def __init__(self, moving_commands):
        self.left = moving_commands
        self.limiter = SimpleNamespace(longest_stop_s=0.0, moving=False,
                                       too_soon=lambda now: False)
        self.path_ticks = 1

    def brake(self, now, mono):
        if self.left == 0:
            return None
        self.left -= 1
        return np.zeros(2)


def _node(moving_commands):
    logger = _Logger()
    node = SimpleNamespace(
        loop=_Loop(moving_commands), period=0.002, _needs_path=False, commands=0,
        _command_time=time.monotonic, _publish=lambda *a: None, _send_state=lambda *a: None,
        context=SimpleNamespace(ok=lambda: True), get_logger=lambda: logger)
    return node, logger


def test_a_path_still_moving_when_braking_runs_out_of_time_is_warned_about():
    """The limiter at rest, a sent path still moving past the deadline (11 periods): the
    warning said nothing, as it looked at the limiter alone."""
    node, logger = _node(moving_commands=1000)
    System1Node._brake_to_rest(node)
    kinds = [k for k, _ in logger.lines]
    assert kinds == ["warning"], logger.lines
    assert "still moving" in logger.lines[0][1]


def test_braking_that_ends_at_rest_says_so():
    node, logger = _node(moving_commands=3)
    System1Node._brake_to_rest(node)
    assert logger.lines == [("info", "braked to rest in 3 commands before stopping")]
    assert node.commands == 3
