"""Where System 1's safety state goes (gr00t_msgs/SafetyState), for its publisher and for
what reads it: a recorder, an evaluation, a tool.

Published when the state changes; reliable and transient local with depth 1, so a
subscriber that joins later (a recorder started mid-run) gets the state in force. A
subscriber must ask for transient local too, or it hears only the changes after it joined.
"""

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

SAFETY_STATE_TOPIC = "/gr00t/safety_state"
SAFETY_STATE_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                              history=HistoryPolicy.KEEP_LAST,
                              durability=DurabilityPolicy.TRANSIENT_LOCAL)
