"""Managed (lifecycle) nodes, the client side: asking a node for a transition or its state
over its lifecycle_msgs services (`<node>/change_state`, `<node>/get_state`).

    client = LifecycleClient(probe.node, "/gr00t_system1")
    future = client.request("configure")       # ChangeState, by label
    ok = transition(probe.node, "/gr00t_system1", "activate", timeout=30.0)
    label = get_state(probe.node, "/gr00t_system1")   # "unconfigured", "inactive", "active", ...

`gr00t-bringup run` drives its nodes through this; tests use it through gr00t_testing. The
node that owns the clients must be spun by another thread (a `RosProbe`'s is).
Transitions are sent by label, never by id: rclpy refuses an impossible label with
`success: false`, while an impossible id raises inside the managed node's executor.
"""

from __future__ import annotations

from typing import Any

from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState

from gr00t_common.probe import wait_until

__all__ = ["TRANSITIONS", "LifecycleClient", "get_state", "transition"]

TRANSITIONS = ("configure", "activate", "deactivate", "cleanup", "shutdown")


class LifecycleClient:
    """Clients of one managed node's change_state and get_state services.

    Args:
        node: the rclpy node the clients are created on.
        target: the managed node's fully qualified name ("/gr00t_system1", "/ns/name").
    """

    def __init__(self, node: Any, target: str) -> None:
        self.node = node
        self.target = target.rstrip("/")
        self._change = node.create_client(ChangeState, f"{self.target}/change_state")
        self._get = node.create_client(GetState, f"{self.target}/get_state")

    def ready(self) -> bool:
        """Both services are up (the node is constructed and spinning)."""
        return self._change.service_is_ready() and self._get.service_is_ready()

    def request(self, name: str) -> Any:
        """Ask for transition `name` (one of TRANSITIONS); a future of ChangeState.Response
        (`success` false: refused, or the node's callback failed; its log says why)."""
        if name not in TRANSITIONS:
            raise ValueError(f"unknown lifecycle transition {name!r}; use one of "
                             f"{list(TRANSITIONS)}")
        return self._change.call_async(ChangeState.Request(transition=Transition(label=name)))

    def request_state(self) -> Any:
        """A future of GetState.Response (`current_state.label`)."""
        return self._get.call_async(GetState.Request())

    def destroy(self) -> None:
        self.node.destroy_client(self._change)
        self.node.destroy_client(self._get)


def _wait_ready(client: LifecycleClient, timeout: float) -> None:
    wait_until(client.ready, timeout, f"the lifecycle services of {client.target}")


def transition(node: Any, target: str, name: str, timeout: float = 30.0) -> bool:
    """Ask `target` for transition `name` and wait for the answer; True on success.
    TimeoutError when the services do not appear or no answer comes within `timeout`."""
    client = LifecycleClient(node, target)
    try:
        _wait_ready(client, timeout)
        future = client.request(name)
        wait_until(future.done, timeout, f"{target} to answer {name}")
        return bool(future.result().success)
    finally:
        client.destroy()


def get_state(node: Any, target: str, timeout: float = 30.0) -> str:
    """The current lifecycle state label of `target` ("unconfigured", "active", ...)."""
    client = LifecycleClient(node, target)
    try:
        _wait_ready(client, timeout)
        future = client.request_state()
        wait_until(future.done, timeout, f"the state of {target}")
        return str(future.result().current_state.label)
    finally:
        client.destroy()
