"""Messages the recorder never received, counted from DDS publication sequence numbers
(ROS-free).

Each publisher numbers its messages 1, 2, 3, ... (rmw message info
`publication_sequence_number`), so a jump from n to n + k between two messages the recorder
received means k - 1 were lost on the way: dropped by a best-effort link, or pushed out of
the recorder's queue (`queue_depth`) while it was busy. Sequence numbers are per publisher
and the message info does not say which one sent a message, so a topic is only counted while
it has exactly one publisher; a middleware that gives no numbers leaves it uncounted too
(both named in `uncounted`). A number that goes back is a publisher that restarted, or a
second one that discovery has not reported yet: gaps are not counted on that topic again
until a whole discovery period (`confirm` to `confirm`) passes with one publisher and no
number going back (two publishers' numbers keep going back; a restart's do not).
"""

from __future__ import annotations

from gr00t_common.message_info import UNSUPPORTED


class LossCounter:
    """Per topic: messages lost since `reset`, from the sequence numbers received."""

    def __init__(self) -> None:
        self.lost: dict[str, int] = {}  # topic -> messages lost
        self.uncounted: set[str] = set()  # topics with messages whose losses were not counted
        self._last: dict[str, int] = {}  # topic -> last sequence number received
        self._unsure: set[str] = set()  # a number went back: not counted for now
        self._back_since_confirm: set[str] = set()  # went back since the last `confirm`
        self.publishers: dict[str, int] = {}  # topic -> its publishers, as discovery last said

    def reset(self) -> None:
        """Forget the counts and numbers (a new episode); the publisher counts stay."""
        self.lost.clear()
        self.uncounted.clear()
        self._last.clear()
        self._unsure.clear()
        self._back_since_confirm.clear()

    def confirm(self, topic: str, publishers: int) -> None:
        """Discovery's count of the topic's publishers (when it is subscribed, then every
        discovery period): messages are counted while it is one; counting goes on, from the
        next message, once a number went back and then a period passed with one publisher and
        no number going back."""
        self.publishers[topic] = publishers
        back = topic in self._back_since_confirm
        self._back_since_confirm.discard(topic)
        if publishers == 1 and topic in self._unsure and not back:
            self._unsure.discard(topic)
            self._last.pop(topic, None)

    def observe(self, topic: str, seq: int | None) -> int:
        """A message of `topic` with sequence number `seq` (None, 0 or UNSUPPORTED: the
        middleware gives none) arrived; returns how many messages this one shows were lost
        just before it."""
        publishers = self.publishers.get(topic, 0)  # 0: discovery has not counted them yet
        if not seq or seq >= UNSUPPORTED or publishers != 1:
            if publishers:  # (0: not counted yet, nothing to say)
                self.uncounted.add(topic)  # no numbers, or several senders: no order
            self._last.pop(topic, None)
            return 0
        last = self._last.get(topic)
        self._last[topic] = seq
        if last is not None and seq <= last:
            self._unsure.add(topic)  # a restart, or a second publisher not discovered yet
            self._back_since_confirm.add(topic)
        if last is None or seq <= last:
            return 0
        if topic in self._unsure:
            if seq > last + 1:
                self.uncounted.add(topic)  # a gap it cannot tell from another sender's
            return 0
        gap = seq - last - 1
        if gap:
            self.lost[topic] = self.lost.get(topic, 0) + gap
        return gap
