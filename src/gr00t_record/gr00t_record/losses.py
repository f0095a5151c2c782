"""Messages the recorder never received, counted from DDS publication sequence numbers
(ROS-free).

Each publisher numbers its messages 1, 2, 3, ... (rmw message info
`publication_sequence_number`), so a jump from n to n + k between two messages the recorder
received means k - 1 were lost on the way: dropped by a best-effort link, or pushed out of
the recorder's queue (`queue_depth`) while it was busy. Sequence numbers are per publisher
and the message info does not say which one sent a message, so a topic is only counted while
it has exactly one publisher. A number that goes back is a publisher that restarted: counting
starts again from it.
"""

from __future__ import annotations


class LossCounter:
    """Per topic: messages lost since `reset`, from the sequence numbers received."""

    def __init__(self) -> None:
        self.lost: dict[str, int] = {}  # topic -> messages lost
        self._last: dict[str, int] = {}  # topic -> last sequence number received

    def reset(self) -> None:
        """Forget everything (a new episode)."""
        self.lost.clear()
        self._last.clear()

    def observe(self, topic: str, seq: int | None, publishers: int) -> int:
        """A message of `topic` with sequence number `seq` (None or 0: the middleware gives
        none) arrived while the topic had `publishers` publishers; returns how many messages
        this one shows were lost just before it."""
        if not seq or publishers != 1:
            self._last.pop(topic, None)  # several senders (or none known): no order to follow
            return 0
        last = self._last.get(topic)
        self._last[topic] = seq
        if last is None or seq <= last:
            return 0
        gap = seq - last - 1
        if gap:
            self.lost[topic] = self.lost.get(topic, 0) + gap
        return gap
