"""The suite's ROS_DOMAIN_ID fixture (conftest.py) reserves its id on this host.

Two pytest sessions on one machine (two CI jobs, a developer's shell beside CI) must not
start nodes on the same domain: each would hear the other's /joint_states. The fixture holds
ROS's domain_coordinator reservation (a bound local port per id) for the test's duration.
"""

from __future__ import annotations

import os

import domain_coordinator
import pytest


def test_the_fixture_holds_its_id_for_the_test(ros_domain_id):
    assert os.environ["ROS_DOMAIN_ID"] == str(ros_domain_id)
    assert 1 <= ros_domain_id <= 100
    # Another session asking for this id is refused and moves on to the next one.
    with domain_coordinator.domain_id(selector=iter([ros_domain_id, ros_domain_id + 1]).__next__
                                      ) as other:
        assert other == ros_domain_id + 1


def test_an_id_another_session_holds_is_skipped(monkeypatch: pytest.MonkeyPatch, request):
    import conftest

    taken = next(conftest._DOMAIN_IDS)
    # Pretend another session holds the id this session would take next.
    with domain_coordinator.domain_id(selector=lambda: taken):
        # (not the cycle's next id, so the test fails if the fixture does not ask conftest's)
        free = (taken + 2) % 100 + 1
        monkeypatch.setattr(conftest, "_DOMAIN_IDS", iter([taken, free]))
        domain_id = request.getfixturevalue("ros_domain_id")
        assert domain_id == free
        assert os.environ["ROS_DOMAIN_ID"] == str(free)
