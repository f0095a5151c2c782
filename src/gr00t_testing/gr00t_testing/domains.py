"""ROS_DOMAIN_IDs of their own for tests and benches, reserved on this host.

Two pytest sessions, or a bench beside a test run, must not start nodes on one domain: each
would hear the other's /joint_states. An id is held through ROS's domain_coordinator (a bound
local port per id, the scheme of ament's run_test_isolated), so another process asking skips
it. Ids run 1..100 (safe with DDS's default port mapping on Linux), starting where this
process's pid points and stepping per request, so a test does not reuse the id of the one
before it (whose processes may still be leaving).
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Iterator
from typing import Any

import domain_coordinator

_IDS = itertools.cycle([1 + (os.getpid() + i) % 100 for i in range(100)])
_HELD: list[Any] = []  # `hold_domain`'s reservations, kept until the process exits


def _next_id() -> int:
    return next(_IDS)


@contextlib.contextmanager
def reserved_domain() -> Iterator[int]:
    """A domain id no other process on this host holds, for the ``with`` block."""
    with domain_coordinator.domain_id(selector=_next_id) as domain_id:
        yield domain_id


def hold_domain() -> int:
    """A domain id no other process on this host holds, reserved until this process exits
    (a bench's graphs)."""
    reservation = reserved_domain()
    domain_id = reservation.__enter__()
    _HELD.append(reservation)
    return domain_id
