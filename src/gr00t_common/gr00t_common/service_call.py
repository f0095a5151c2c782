"""Calling a ROS service from a client that has just been created, without losing the reply.

A fresh client can see the server (``wait_for_service`` is true) before the server has
discovered the client's reply reader. rmw_fastrtps then waits 100 ms for that reader and,
when discovery is slower (a loaded machine, a server process that has just started), drops
the reply: the server logs "failed to send response (timeout)" and the caller waits for
nothing (ros2/rmw_fastrtps#390, #467; rmw_cyclonedds blocks in the server instead). The
request itself did arrive and did act.

`call_resending` sends the request again when no reply has come after `resend_after`
seconds (then twice as long, ...), until `timeout`. Use it only for requests that may act
twice: resetting to a seed, enabling, setting an instruction (a repeat puts the same words
in force again under the next id). It returns the reply to the *latest* request answered
within moments of the first answer, so when the repeat is answered too, what it reports is
the state the server was left in (e.g. the instruction id in force). A server that is slow
rather than deaf still runs the repeat after the first answer has been returned; long-lived
clients whose server may be slow should resend late (gr00t-eval: 10 s).

`timeout_arg` is the argparse type of the command-line tools' `--timeout`: a number of
seconds > 0, refused at parsing (naming the flag) otherwise; a zero, negative or NaN
timeout would give up at once and report a server that is up as not answering.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import time
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["RESEND_AFTER_S", "call_from_own_node", "call_resending", "calls_from_own_node",
           "own_node", "timeout_arg"]

# A reply normally comes in milliseconds; two seconds without one means it was lost (or the
# server is far behind, in which case a repeat costs nothing but a second answer).
RESEND_AFTER_S = 2.0
# Once an earlier request has been answered, how long to wait for the answer to a later
# repeat (the server answers in order, so it follows within moments if it comes at all).
LATER_ANSWERS_S = 0.5


def call_resending(
    client: Any,
    request: Any,
    timeout: float,
    pump: Callable[[float], None],
    resend_after: float = RESEND_AFTER_S,
    clock: Callable[[], float] = time.monotonic,
) -> Any | None:
    """Call `client` (an rclpy Client whose server is available) with `request`; the reply,
    or None when nothing answered within `timeout` seconds.

    `pump(seconds)` lets replies arrive: a sleep when another thread spins the client's
    node, ``executor.spin_once(timeout_sec=seconds)`` otherwise.
    """
    if not (timeout > 0 and resend_after > 0):  # NaN too
        raise ValueError(f"timeout and resend_after must be > 0 (got {timeout}, {resend_after})")
    start = clock()
    deadline = start + timeout
    futures = [client.call_async(request)]
    next_send = start + resend_after
    interval = resend_after
    answered_at: float | None = None
    try:
        while True:
            now = clock()
            done = [i for i, f in enumerate(futures) if f.done()]
            if done:
                if answered_at is None:
                    answered_at = now
                latest = max(done)
                if latest == len(futures) - 1 or now - answered_at >= LATER_ANSWERS_S:
                    return futures[latest].result()
            elif now >= deadline:
                return None
            elif now >= next_send:
                interval *= 2
                next_send = now + interval
                futures.append(client.call_async(request))
            pump(0.02)
    finally:
        for f in futures:
            if not f.done():
                client.remove_pending_request(f)


def timeout_arg(text: str) -> float:
    """argparse `type` of a `--timeout` in seconds: a finite number > 0, else argparse's
    error naming the flag."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number of seconds > 0; pass e.g. --timeout 10")
    return seconds


def call_from_own_node(node_name: str, srv_type: Any, service: str, request: Any,
                       timeout: float) -> tuple[bool, Any | None]:
    """For a command-line tool: call `service` once (again if its reply is lost) from a node
    of its own, in a context of its own, then tear both down. (appeared, reply): appeared is
    False when the service did not appear within `timeout`; reply is None when it did not
    answer within `timeout`."""
    appeared, replies = calls_from_own_node(node_name, srv_type, service, [request], timeout)
    return appeared, (replies[0] if replies else None)


def calls_from_own_node(node_name: str, srv_type: Any, service: str, requests: list[Any],
                        timeout: float, resend_after: float = RESEND_AFTER_S
                        ) -> tuple[bool, list[Any | None]]:
    """`call_from_own_node` for several requests in turn, from one node (also safe inside
    another node's callback: nothing is shared with it). (appeared, replies): replies stop
    at the first request not answered within `timeout` (its None is the last entry)."""
    with own_node(node_name) as (node, pump):
        client = node.create_client(srv_type, service)
        if not client.wait_for_service(timeout_sec=timeout):
            return False, []
        replies: list[Any | None] = []
        for request in requests:
            replies.append(call_resending(client, request, timeout, pump,
                                          resend_after=resend_after))
            if replies[-1] is None:
                break
        return True, replies


@contextlib.contextmanager
def own_node(node_name: str) -> Iterator[tuple[Any, Callable[[float], None]]]:
    """(node, pump) for a command-line tool: a node in a context of its own (nothing shared
    with any other node in the process), and `pump(seconds)` that runs its callbacks for up
    to that long; both torn down on exit."""
    import rclpy
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor

    context = Context()
    rclpy.init(context=context, args=[])
    node = rclpy.create_node(node_name, context=context, enable_rosout=False,
                             start_parameter_services=False)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    try:
        yield node, lambda seconds: executor.spin_once(timeout_sec=seconds)
    finally:
        executor.shutdown()
        node.destroy_node()
        if context.ok():
            rclpy.shutdown(context=context)
