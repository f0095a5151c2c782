"""Where System 1's safety state goes (gr00t_msgs/SafetyState), for its publisher and for
what reads it: a recorder, an evaluation, a tool.

Published when the state changes; reliable and transient local with depth 1, so a
subscriber that joins later (a recorder started mid-run) gets the state in force. A
subscriber must ask for transient local too, or it hears only the changes after it joined.

A reader subscribes with `SAFETY_STATE_READER_QOS`, not the publisher's depth 1: with depth 1
a change that arrived while the reader's executor was busy (an image callback, a held lock)
was replaced by the next one before its callback ran, so a hold that lasted a tick or two
never reached gr00t-eval (`system1_held_s`) or a test. Only the publisher's depth decides
what a late joiner gets (the state in force); the reader's keeps the changes queued.
"""

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

# The name's home is the ROS-free core, where gr00t-dataset from-bag reads the topic too.
from gr00t_policy.runtime.safety_state import SAFETY_STATE_TOPIC

__all__ = ["SAFETY_STATE_QOS", "SAFETY_STATE_READER_QOS", "SAFETY_STATE_TOPIC"]

SAFETY_STATE_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                              history=HistoryPolicy.KEEP_LAST,
                              durability=DurabilityPolicy.TRANSIENT_LOCAL)
SAFETY_STATE_READER_QOS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE,
                                     history=HistoryPolicy.KEEP_LAST,
                                     durability=DurabilityPolicy.TRANSIENT_LOCAL)
"""For subscribers: compatible with the publisher's, deep enough for the changes that come
while a callback waits (a change at most every control tick)."""
