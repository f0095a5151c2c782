"""System 1's safety state on the wire, for what reads it without ROS (gr00t-dataset from-bag):
the topic, its message type, and the state in which System 1's commands are the policy's.

The message is gr00t_msgs/msg/SafetyState (its STATE_ constants are the states' names);
gr00t_common.safety_topic takes the topic name from here and adds the QoS it is published with.
"""

SAFETY_STATE_TOPIC = "/gr00t/safety_state"
SAFETY_STATE_TYPE = "gr00t_msgs/msg/SafetyState"
# SafetyState.STATE_RUNNING: following the policy's plan. In any other state (a hold, a
# fault, disabled, waiting, deactivating) System 1's commands are its own holding or braking.
RUNNING = "running"
# The holds (SafetyState.STATE_HOLD_* and STATE_FAULT): System 1 stops the arm whatever the
# policy planned (a stale input, no plan in time, a latched fault). gr00t_system1.safety's
# HOLD_STATES, by name (test_safety checks they agree).
HOLDS = frozenset({"hold_stale_state", "hold_stale_tokens", "hold_no_plan", "fault"})
