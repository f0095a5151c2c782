"""A client node for code that is not a node itself: tests, benchmarks and `gr00t-eval`.

A `RosProbe` is an rclpy node in its own context (so its domain id comes from the caller,
not from whoever called `rclpy.init` first), spun by a background thread. Callers publish,
subscribe and call services through it and wait on conditions with a timeout.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from gr00t_common.service_call import RESEND_AFTER_S, call_resending

RELIABLE = QoSProfile(
    depth=50,
    reliability=ReliabilityPolicy.RELIABLE,
    history=HistoryPolicy.KEEP_LAST,
    durability=DurabilityPolicy.VOLATILE,
)

# For recording a command stream whose consecutive messages are compared (steps,
# accelerations). The probe's callbacks run on one Python thread, which stalls for up to
# ~0.2 s on a loaded 2-core machine (measured with gr00t-eval beside a training run); a short
# KEEP_LAST history then drops commands while the thread catches up, and a command dropped
# inside such a burst makes its neighbours look like successive ticks: a false acceleration
# spike (gr00t-eval reported 188-519 rad/s^2 against a limiter capped at 100). 1200 is 10 s
# of a 120 Hz stream.
RECORDING = QoSProfile(
    depth=1200,
    reliability=ReliabilityPolicy.RELIABLE,
    history=HistoryPolicy.KEEP_LAST,
    durability=DurabilityPolicy.VOLATILE,
)


class RosProbe:
    """A test-side node with its own context and spinning thread."""

    def __init__(self, name: str = "gr00t_test_probe", domain_id: int | None = None) -> None:
        if domain_id is None:
            domain_id = int(os.environ.get("ROS_DOMAIN_ID", "0"))
        self.context = Context()
        # args=[]: the caller's command line (gr00t-bringup's --system1-param a:=b) is not
        # this node's, and rcl would read its a:=b as deprecated remap rules.
        rclpy.init(context=self.context, args=[], domain_id=domain_id)
        self.node: Node = rclpy.create_node(name, context=self.context)
        self._executor = SingleThreadedExecutor(context=self.context)
        self._executor.add_node(self.node)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        while not self._stop.is_set() and self.context.ok():
            self._executor.spin_once(timeout_sec=0.02)

    # -- topics ------------------------------------------------------------------------
    def collect(self, msg_type: Any, topic: str, qos: QoSProfile = RELIABLE) -> list[Any]:
        """Subscribe to `topic`; the returned list fills as messages arrive."""
        received: list[Any] = []

        def on_msg(msg: Any) -> None:
            with self._lock:
                received.append(msg)

        self.node.create_subscription(msg_type, topic, on_msg, qos)
        return received

    def publisher(self, msg_type: Any, topic: str, qos: QoSProfile = RELIABLE) -> Any:
        return self.node.create_publisher(msg_type, topic, qos)

    def wait_for_subscribers(self, publisher: Any, count: int = 1, timeout: float = 20.0) -> None:
        wait_until(lambda: publisher.get_subscription_count() >= count, timeout,
                   f"a subscriber on {publisher.topic_name}")

    # -- services ----------------------------------------------------------------------
    def call(self, srv_type: Any, name: str, request: Any, timeout: float = 20.0,
             resend: bool = True) -> Any:
        """Call service `name`, repeating the request if its reply is lost (see
        gr00t_common.service_call); `resend=False` for a request that must not act twice
        (e.g. a reset without a seed, which steps to the next one)."""
        client = self.node.create_client(srv_type, name)
        try:
            if not client.wait_for_service(timeout_sec=timeout):
                raise TimeoutError(f"service {name} did not appear within {timeout} s")
            reply = call_resending(client, request, timeout, time.sleep,
                                   resend_after=RESEND_AFTER_S if resend else timeout)
            if reply is None:
                raise TimeoutError(f"timed out after {timeout} s waiting for a reply from {name}")
            return reply
        finally:
            self.node.destroy_client(client)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5.0)
        self._executor.shutdown()
        self.node.destroy_node()
        if self.context.ok():
            rclpy.shutdown(context=self.context)

    def __enter__(self) -> "RosProbe":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `predicate` until it holds; raise TimeoutError naming `what` otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.01)
    raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
