"""What rmw's message info tells about a received message's publisher (ROS-free).

Each publisher numbers its messages 1, 2, 3, ... (`publication_sequence_number` in the
message info an rclpy subscription callback of two arguments receives). The numbers are per
publisher, and the info does not say which publisher sent a message: numbers that go back
are a publisher that restarted, or a second one sending on the same topic. The recorder
counts lost messages from them (gr00t_record.losses); System 1 tells a second publisher of
complete joint states from them (gr00t_system1.inputs).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# rmw's RMW_MESSAGE_INFO_SEQUENCE_NUMBER_UNSUPPORTED: the middleware gives no number.
UNSUPPORTED = 2**64 - 1


def sequence_number(info: Mapping[str, Any] | None) -> int | None:
    """The message's publication sequence number, or None where the middleware gives none."""
    seq = None if info is None else info.get("publication_sequence_number")
    return seq if isinstance(seq, int) and 0 < seq < UNSUPPORTED else None
