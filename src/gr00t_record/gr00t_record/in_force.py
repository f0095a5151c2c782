"""The newest message of a topic that says what is in force (System 1's safety state), so each
episode's bag starts with it however long before `start` it was published (ROS-free).

System 1 publishes its state only when it changes; a bag that held only the changes made
during its episode would not say what System 1 was doing when the episode began. The message
carried into an episode is written as the episode's first on its topic, logged when the
episode starts (the bag's timeline begins there: `ros2 bag play` replays it first, and a
message logged before the episode would stretch the bag's duration back to when it was
sent); its publish time stays when it was sent (its DDS source timestamp, as for every
message gr00t-record writes), and its header stamp the control tick the state began at.
"""

from __future__ import annotations


class InForce:
    """The newest message received on ``topic`` (CDR bytes, when it was sent in ns)."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self.data: bytes | None = None
        self.sent_ns: int | None = None

    def keep(self, data: bytes, sent_ns: int | None) -> None:
        self.data, self.sent_ns = bytes(data), sent_ns

    def carry_into(self, writer, now_ns: int) -> bool:
        """Write the kept message into ``writer`` (a `BagWriter` that has the topic), logged
        at ``now_ns``; False where there is none yet (or the bag lacks the topic)."""
        if self.data is None or not writer.has_topic(self.topic):
            return False
        writer.write(self.topic, self.data, now_ns, self.sent_ns or now_ns)
        return True
