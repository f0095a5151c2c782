"""Bringing the graph's lifecycle nodes up and down, for `GraphRunner` (gr00t-bringup run,
gr00t-eval, the benchmarks), as nav2's lifecycle manager does for its nodes.

Up, once every process is started: configure every lifecycle node at once (each loads its
checkpoint, in parallel), then activate them in graph order (System 2 before System 1, so
tokens are on their way when System 1 starts planning). Down, before the processes are
signalled: deactivate every node that was activated (System 1 brakes, then stops
commanding); one that exits or refuses meanwhile is named, and the stop is not clean.

Every wait watches the processes too: a node that exits, refuses a transition (its log says
why) or does not answer in time is a `TransitionError` naming the node, the transition and
the node's last output lines. A stop request (SIGINT to the runner) ends the wait quietly.
"""

from __future__ import annotations

import math
import os
import posixpath
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["LifecycleDriver", "Timeouts", "TransitionError"]

POLL_S = 0.05
# A node logs why a transition failed just before it answers; its output reaches the
# runner through a pipe, the answer through DDS: give the log line this long to arrive.
OUTPUT_GRACE_S = 0.5
# How long a node that refused its deactivation may take to say which state it is in.
STATE_TIMEOUT_S = 2.0


class TransitionError(RuntimeError):
    """A lifecycle node did not reach the state it was asked for."""


@dataclass(frozen=True)
class Timeouts:
    """How long each step of bringing a node up or down may take (seconds).

    Attributes:
        services_s: from the process start until its lifecycle services answer (imports).
        configure_s: configure: loading the checkpoint, an ONNX export or a TensorRT
            engine build (minutes for a full-size model), the warm-up.
        activate_s: activate (starting threads and timers).
        deactivate_s: deactivate at shutdown; past it the node is stopped anyway.
        namesakes_s: before starting anything, how long to listen for another graph on the
            domain: nodes under our lifecycle nodes' names, commanders of our robot
            (`refuse_namesakes`; on one host or a LAN discovery takes ~0.1-0.3 s, longer on
            a loaded machine).
        options: the command-line option that sets a timeout, by field name
            ({"configure_s": "--configure-timeout"}): the error of a timeout that ran out
            names it, so that the fix is in the message.
    """

    services_s: float = 120.0
    configure_s: float = 900.0
    activate_s: float = 30.0
    deactivate_s: float = 5.0
    namesakes_s: float = 2.0
    options: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        for name in ("services_s", "configure_s", "activate_s", "deactivate_s", "namesakes_s"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"Timeouts.{name} must be a finite number of seconds > 0, "
                                 f"got {value!r}")


def refuse_namesakes(full_names: Sequence[str], stop: threading.Event, wait_s: float,
                     topics: Sequence[str] = (), services: Sequence[str] = ()) -> None:
    """TransitionError when another graph is on the domain: a node named like one of ours
    (another graph, or nodes a killed gr00t-bringup left behind, would answer our lifecycle
    requests), or a publisher on one of `topics` or a server of one of `services` (the
    robot's controller topics and /gr00t/enable, `Graph.exclusive_topics`: absolute, so a
    second graph under another --namespace has other node names and would command the same
    robot). Run before our nodes start, so everything found is another's; listens for
    ``wait_s`` (less on a stop request, or as soon as something is found)."""
    from gr00t_common.probe import RosProbe

    wanted = set(full_names)
    with RosProbe(name="gr00t_bringup_namesakes") as probe:
        deadline = time.monotonic() + wait_s
        while True:
            # By name (ros_discovery_info) or by lifecycle service (endpoint discovery),
            # whichever this participant hears of first.
            named = {posixpath.join(ns, name) for name, ns in
                     probe.node.get_node_names_and_namespaces()}
            there = sorted(n for n in wanted if n in named
                           or probe.node.count_services(f"{n}/change_state") > 0)
            published = {t: probe.node.get_publishers_info_by_topic(t) for t in topics}
            published = {t: who for t, who in published.items() if who}
            served = [s for s in services if probe.node.count_services(s) > 0]
            if (there or published or served or time.monotonic() >= deadline
                    or stop.is_set()):
                break
            stop.wait(POLL_S)
    if not (there or published or served):
        return
    domain = os.environ.get("ROS_DOMAIN_ID", "0")
    found = []
    if there:
        found.append(
            f"{', '.join(there)}: a node of this name is already on ROS_DOMAIN_ID {domain}: "
            "another graph is running (or its nodes outlived a killed gr00t-bringup; one "
            "killed in the last ~20 s may also still be listed), and it would answer our "
            "lifecycle requests")
    found += [f"{t}: already published{_by(who)} on ROS_DOMAIN_ID {domain}: another graph's "
              "System 1 (or another program) commands this robot, and two would fight over it"
              for t, who in published.items()]
    found += [f"{s}: already served on ROS_DOMAIN_ID {domain}: another graph's System 1 is "
              "there, and one call would switch both on" for s in served]
    raise TransitionError(
        "; ".join(found) + ". Nothing was started. Fix: stop the other graph, or run this "
        "one on another ROS_DOMAIN_ID (a --namespace alone moves the nodes, not the "
        "robot's topics: both System 1s would command one robot)")


def _by(endpoints: Sequence[Any]) -> str:
    """' by /ns/node, ...' for the publishers whose node is known yet (endpoint discovery
    can come before the node's name); '' when none is."""
    names = sorted({posixpath.join(e.node_namespace, e.node_name) for e in endpoints
                    if not e.node_name.startswith("_NODE_NAME_UNKNOWN")})
    return f" by {', '.join(names)}" if names else ""


class LifecycleDriver:
    """Drives the lifecycle nodes among a runner's children through a client node.

    Args:
        children: the runner's children whose spec is a lifecycle node, in graph order;
            each has `.spec` (name, full_name), `.proc` (a Popen) and `.tail_text()`.
        say: writes one line of the runner's own output.
        stop: set when the runner is asked to stop; waits end early, without an error.
        timeouts: see `Timeouts`.
    """

    def __init__(self, children: Sequence[Any], *, say: Callable[[str], None],
                 stop: threading.Event, timeouts: Timeouts) -> None:
        from gr00t_common.lifecycle_client import LifecycleClient
        from gr00t_common.probe import RosProbe

        self.children = list(children)
        self.say = say
        self.stop = stop
        self.timeouts = timeouts
        # A context of its own, in the domain of the environment the nodes inherit.
        self._probe = RosProbe(name="gr00t_bringup")
        self._clients = {c.spec.name: LifecycleClient(self._probe.node, c.spec.full_name)
                         for c in self.children}
        self.active: list[Any] = []

    # -- up ------------------------------------------------------------------------------
    def bring_up(self) -> bool:
        """configure all, then activate one by one. True when all are active, False when a
        stop was requested meanwhile; TransitionError when a node fails."""
        t0 = time.monotonic()
        ready = [(c, lambda c=c: True if self._clients[c.spec.name].ready() else None)
                 for c in self.children]
        if not self._await(ready, "offer its lifecycle services", "services_s"):
            return False
        configure = [(c, self._answer(c, "configure")) for c in self.children]
        if not self._await(configure, "configure", "configure_s"):
            return False
        names = ", ".join(c.spec.name for c in self.children)
        self.say(f"configured {names} in {time.monotonic() - t0:.1f} s")
        for c in self.children:
            # Counted as active from the request on: a stop asked for before the answer
            # arrives (a lost or late reply) must still deactivate a node that may be active.
            self.active.append(c)
            try:
                if not self._await([(c, self._answer(c, "activate"))], "activate",
                                   "activate_s"):
                    return False
            except TransitionError:
                self.active.remove(c)  # refused or failed: it stayed inactive (or exited)
                raise
            self.say(f"{c.spec.name} is active")
        return True

    def _answer(self, child: Any, transition: str) -> Callable[[], bool | None]:
        """Send `transition`; a check that is None until answered, then the answer."""
        return self._clients[child.spec.name].check(transition)

    def _await(self, checks: list[tuple[Any, Callable[[], bool | None]]], what: str,
               limit: str) -> bool:
        """Wait until every (child, check) check is True; False on a stop request;
        TransitionError when a check is False, its node exits, or the timeout named `limit`
        (a `Timeouts` field) passes."""
        timeout = getattr(self.timeouts, limit)
        option = self.timeouts.options.get(limit)
        longer = f" (a longer limit: {option} S)" if option else ""
        pending = {child.spec.name: (child, check) for child, check in checks}
        deadline = time.monotonic() + timeout
        while pending:
            if self.stop.is_set():
                return False
            for name, (child, check) in list(pending.items()):
                if child.proc.poll() is not None:
                    raise TransitionError(
                        f"node {name!r} exited with code {child.proc.returncode} before it "
                        f"could {what}; its last output:\n{child.tail_text()}")
                answer = check()
                if answer is False:
                    time.sleep(OUTPUT_GRACE_S)
                    raise TransitionError(
                        f"node {name!r} failed to {what} (its lifecycle callback refused or "
                        f"failed; the reason is in its output); its last output:\n"
                        f"{child.tail_text()}")
                if answer:
                    del pending[name]
            if pending and time.monotonic() > deadline:
                late = ", ".join(repr(name) for name in pending)
                raise TransitionError(
                    f"node(s) {late} did not {what} within {timeout:g} s{longer}; the last "
                    f"output of each:\n" + "\n".join(c.tail_text() for c, _ in pending.values()))
            self.stop.wait(POLL_S)
        return True

    # -- down ----------------------------------------------------------------------------
    def deactivate(self) -> list[str]:
        """Deactivate every node this driver asked to activate and that still runs (all at
        once), waiting at most `timeouts.deactivate_s`; a node that does not answer is reported
        and left to be stopped by signal. A node is asked even when its activation was not
        confirmed: its change_state service serves requests in order, so the deactivation
        follows the activation, and is refused only when that failed, or when the node is at
        rest already (another client deactivated it: said, and no problem).

        Returns a line per node that may not have braked (it exited while deactivating, it
        refused while active, or it did not answer); they are said as warnings too."""
        running = [c for c in self.active if c.proc.poll() is None]
        self.active = []
        answers = [(c, self._answer(c, "deactivate")) for c in running]
        deadline = time.monotonic() + self.timeouts.deactivate_s
        # A node that exits answers no more: stop waiting for it.
        while time.monotonic() < deadline and any(
                answer() is None and c.proc.poll() is None for c, answer in answers):
            time.sleep(POLL_S)
        problems = []
        for c, answer in answers:
            result, name = answer(), c.spec.name
            if result:
                self.say(f"{name} deactivated")
                continue
            if c.proc.poll() is not None:
                problem = (f"{name} exited while deactivating (code {c.proc.returncode}): "
                           "not braked")
                self.say(f"WARNING: {problem}")
            elif result is False and (state := self._state(c)) not in (None, "active"):
                # `ros2 lifecycle set ... deactivate` mid-run: it braked then, nothing to do.
                self.say(f"{name} was {state} already (deactivated by another client)")
                continue
            else:
                why = "refused" if result is False else \
                    f"no answer within {self.timeouts.deactivate_s:g} s"
                problem = f"{name} did not deactivate ({why})"
                self.say(f"WARNING: {problem}; stopping it anyway")
            problems.append(problem)
        return problems

    def _state(self, child: Any) -> str | None:
        """`child`'s lifecycle state label; None when it does not say within a few seconds."""
        reply = self._clients[child.spec.name].ask_state(STATE_TIMEOUT_S)
        return None if reply is None else str(reply.current_state.label)

    def close(self) -> None:
        for client in self._clients.values():
            client.destroy()
        self._clients = {}
        self._probe.close()
