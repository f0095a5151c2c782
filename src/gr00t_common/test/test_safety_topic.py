"""/gr00t/safety_state's QoS: a reader keeps every change, a late one gets the state in force."""

from __future__ import annotations

import time

import rclpy
from rclpy.executors import SingleThreadedExecutor

from gr00t_common.safety_topic import (SAFETY_STATE_QOS, SAFETY_STATE_READER_QOS,
                                       SAFETY_STATE_TOPIC)


def test_changes_that_come_while_the_reader_is_busy_all_reach_it(ros_domain_id):
    """A one-tick hold (running, hold_stale_tokens, running 8 ms apart) while the reader's
    executor was busy: with the publisher's depth 1 the reader kept only the last 'running'
    and gr00t-eval timed no hold at all."""
    from gr00t_msgs.msg import SafetyState

    context = rclpy.Context()
    rclpy.init(context=context, args=[], domain_id=ros_domain_id)
    try:
        writer = rclpy.create_node("safety_writer", context=context)
        reader = rclpy.create_node("safety_reader", context=context)
        pub = writer.create_publisher(SafetyState, SAFETY_STATE_TOPIC, SAFETY_STATE_QOS)
        got: list[str] = []
        reader.create_subscription(SafetyState, SAFETY_STATE_TOPIC,
                                   lambda m: got.append(m.state), SAFETY_STATE_READER_QOS)
        late: list[str] = []
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(reader)
        deadline = time.monotonic() + 20
        while pub.get_subscription_count() < 1 and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
        assert pub.get_subscription_count() == 1
        sent = ["running", "hold_stale_tokens", "running"]
        for state in sent:  # the reader's executor does not run meanwhile
            pub.publish(SafetyState(state=state))
        time.sleep(0.5)  # delivered to the reader's history, not yet taken
        deadline = time.monotonic() + 10
        while len(got) < len(sent) and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
        assert got == sent
        # A reader that joins now gets only the state in force (the publisher's depth 1).
        reader.create_subscription(SafetyState, SAFETY_STATE_TOPIC,
                                   lambda m: late.append(m.state), SAFETY_STATE_READER_QOS)
        deadline = time.monotonic() + 10
        while not late and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
        executor.spin_once(timeout_sec=0.3)
        assert late == ["running"]
    finally:
        rclpy.try_shutdown(context=context)
