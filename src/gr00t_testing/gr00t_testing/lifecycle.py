"""Lifecycle transitions of a node under test, driven from a test's `RosProbe`.

    activate(probe, "/gr00t_system1")            # configure + activate, or AssertionError
    assert change_state(probe, "/gr00t_system1", "deactivate")
    assert state(probe, "/gr00t_system1") == "inactive"

Tests that do not care about the transitions start the node with `AUTOSTART` among its
parameters instead (`-p autostart:=true`).
"""

from __future__ import annotations

from gr00t_common.lifecycle_client import get_state, transition

# The parameter override that makes a node configure and activate itself at start.
AUTOSTART = "autostart:=true"
# Loading a checkpoint and exporting ONNX on a loaded 2-core machine.
CONFIGURE_TIMEOUT = 150.0


def change_state(probe, node: str, name: str, timeout: float = CONFIGURE_TIMEOUT) -> bool:
    """Ask `node` (fully qualified name) for transition `name`; True when it succeeded."""
    return transition(probe.node, node, name, timeout)


def state(probe, node: str, timeout: float = 30.0) -> str:
    """`node`'s lifecycle state label ("unconfigured", "inactive", "active", ...)."""
    return get_state(probe.node, node, timeout)


def activate(probe, node: str, timeout: float = CONFIGURE_TIMEOUT) -> None:
    """configure (when unconfigured) then activate `node`; AssertionError naming the
    transition and the state it left the node in when one fails."""
    if state(probe, node, timeout) == "unconfigured":
        assert change_state(probe, node, "configure", timeout), \
            f"{node} failed to configure (now {state(probe, node)}); see its log"
    assert change_state(probe, node, "activate", timeout), \
        f"{node} failed to activate (now {state(probe, node)}); see its log"
