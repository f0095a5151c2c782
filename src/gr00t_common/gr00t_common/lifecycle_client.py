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

A transition's reply can be lost like any service reply from a client the node has only
just discovered (see gr00t_common.service_call), and a transition may not be sent twice. So
`TransitionCheck` asks for the node's state when no reply has come after a while: a node
already in the transition's goal state has made it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState

from gr00t_common.probe import wait_until
from gr00t_common.service_call import RESEND_AFTER_S, call_resending

__all__ = ["GOAL_STATE", "TRANSITIONS", "LifecycleClient", "TransitionCheck", "get_state",
           "transition"]

# The state each transition ends in when it succeeds (never the state it starts from).
GOAL_STATE = {"configure": "inactive", "activate": "active", "deactivate": "inactive",
              "cleanup": "unconfigured", "shutdown": "finalized"}
TRANSITIONS = tuple(GOAL_STATE)


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

    def check(self, name: str) -> "TransitionCheck":
        """Ask for transition `name`; a check that says when it has been made."""
        return TransitionCheck(self, name)

    def ask_state(self, timeout: float) -> Any | None:
        """GetState.Response, asked again if a reply is lost (a question may be asked twice);
        None after `timeout`. The node must be spun by another thread."""
        return call_resending(self._get, GetState.Request(), timeout, time.sleep)

    def forget(self, future: Any) -> None:
        """Stop waiting for the reply `future` (a late one is then dropped)."""
        self._change.remove_pending_request(future)
        self._get.remove_pending_request(future)

    def destroy(self) -> None:
        self.node.destroy_client(self._change)
        self.node.destroy_client(self._get)


class TransitionCheck:
    """One transition asked of a node. Calling it answers None while there is no answer
    yet, then the answer: True made, False refused or failed.

    Without a reply after `ask_state_after` seconds it asks the node's state, at most once
    per `ask_state_after`: the goal state means made. A refusal whose reply was lost stays
    None (the caller's timeout names it); a transition asked of a node already in its goal
    state, refused and its reply lost, reads as made.
    """

    def __init__(self, client: LifecycleClient, name: str,
                 ask_state_after: float = RESEND_AFTER_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client, self.name = client, name
        self.goal = GOAL_STATE.get(name)
        self.ask_state_after = ask_state_after
        self.clock = clock
        self.reply = client.request(name)
        self.sent_at = clock()
        self._state: Any = None
        self._state_asked_at = 0.0
        self.answer: bool | None = None

    def __call__(self) -> bool | None:
        if self.answer is None:
            self.answer = self._look()
        return self.answer

    def _look(self) -> bool | None:
        if self.reply.done():
            if self._state is not None:
                self.client.forget(self._state)
            return bool(self.reply.result().success)
        now = self.clock()
        if now - self.sent_at < self.ask_state_after:
            return None
        if self._state is not None and self._state.done():
            if str(self._state.result().current_state.label) == self.goal:
                self.client.forget(self.reply)
                return True
            self._state = None
        if self._state is not None and now - self._state_asked_at >= self.ask_state_after:
            self.client.forget(self._state)  # that reply was lost too: ask again
            self._state = None
        if self._state is None and now - self._state_asked_at >= self.ask_state_after:
            self._state = self.client.request_state()
            self._state_asked_at = now
        return None


def _wait_ready(client: LifecycleClient, timeout: float) -> None:
    wait_until(client.ready, timeout, f"the lifecycle services of {client.target}")


def transition(node: Any, target: str, name: str, timeout: float = 30.0) -> bool:
    """Ask `target` for transition `name` and wait for the answer; True on success.
    TimeoutError when the services do not appear or no answer comes within `timeout`."""
    client = LifecycleClient(node, target)
    try:
        _wait_ready(client, timeout)
        check = client.check(name)
        wait_until(lambda: check() is not None, timeout, f"{target} to answer {name}")
        return bool(check.answer)
    finally:
        client.destroy()


def get_state(node: Any, target: str, timeout: float = 30.0) -> str:
    """The current lifecycle state label of `target` ("unconfigured", "active", ...)."""
    client = LifecycleClient(node, target)
    try:
        _wait_ready(client, timeout)
        # A question, not an act: asked again if its reply is lost (fresh client).
        reply = client.ask_state(timeout)
        if reply is None:
            raise TimeoutError(f"timed out after {timeout} s waiting for the state of {target}")
        return str(reply.current_state.label)
    finally:
        client.destroy()
