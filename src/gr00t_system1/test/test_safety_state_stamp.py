"""The 'deactivating' safety state is stamped as the first braking command that follows it
(gr00t_msgs/SafetyState: the stamp of that tick's commands), without a node or ROS graph."""

from __future__ import annotations

import sys
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # test_loop's simulated ticks
from test_loop import ACCEL, TICK, ramp_sim  # noqa: E402

from gr00t_common.stamps import stamp_to_seconds  # noqa: E402
import gr00t_system1.node as node_module  # noqa: E402
from gr00t_system1.node import DEACTIVATING, System1Node  # noqa: E402


class _Node(System1Node):
    """System1Node's braking alone: no rclpy node underneath."""

    @property
    def context(self):
        return types.SimpleNamespace(ok=lambda: True)


def test_the_deactivating_state_carries_the_first_braking_command_s_stamp(monkeypatch):
    """Deactivated right after a tick (a lifecycle request or a signal lands between ticks),
    the braking first waits for the next period: the state was stamped before that wait, a
    stamp no command carried (8 ms before the first braking command)."""
    sim, _ = ramp_sim(accel=ACCEL)
    for _ in range(8):  # moving
        sim.feed_state()
        sim.feed_tokens()
        sim.tick()
    clock = [sim.t]  # one clock for the node clock and the monotonic one, stepped by sleeps

    def sleep(s: float) -> None:
        clock[0] += s

    def command_time() -> float:
        clock[0] += 0.0005  # each read a little later
        return clock[0]

    monkeypatch.setattr(node_module, "time", types.SimpleNamespace(
        monotonic=lambda: clock[0], sleep=sleep))
    out = []
    n = object.__new__(_Node)
    n.__dict__.update(
        loop=sim.loop, period=TICK, _state_sent=("running", 1), _needs_path=False, commands=0,
        _command_time=command_time,
        state_pub=types.SimpleNamespace(publish=lambda m: out.append(
            ("state", m.state, stamp_to_seconds(m.header.stamp)))),
        _publish=lambda command, path, stamp, label: out.append(
            ("command", label, stamp_to_seconds(stamp))),
        get_logger=lambda: types.SimpleNamespace(info=lambda *_: None,
                                                 warning=lambda *_: None))
    n._brake_to_rest()
    assert out[0][:2] == ("state", DEACTIVATING)
    assert out[1][:2] == ("command", DEACTIVATING) and len(out) > 3
    assert out[0][2] == out[1][2]
