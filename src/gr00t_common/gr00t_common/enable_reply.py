"""How System 1's /gr00t/enable reply names the latched faults a call cleared (one home for
the writer, System 1's node, and its readers, e.g. the evaluation).

The reply's message is its first line (what the switch now does), then one line per fault
the call cleared:

    disabled: no commands are published; controllers keep their last target
    cleared the latched fault: right_elbow_joint is 1.021 from its command ...

A fault latches again if its cause is still there (the next joint state is checked afresh).
"""

from __future__ import annotations

from collections.abc import Iterable

CLEARED = "cleared the latched fault: "


def with_cleared(message: str, faults: Iterable[str]) -> str:
    """`message` followed by a line per cleared fault (each on one line)."""
    lines = [message] + [CLEARED + str(f).replace("\n", " ") for f in faults]
    return "\n".join(lines)


def cleared_faults(message: str) -> list[str]:
    """The faults a reply written by `with_cleared` names, in its order."""
    return [line[len(CLEARED):] for line in message.split("\n")[1:] if line.startswith(CLEARED)]
