"""gr00t_testing.domains: the suite's ROS_DOMAIN_ID fixture (conftest.py) and the benches
reserve their id on this host.

Two pytest sessions on one machine (two CI jobs, a developer's shell beside CI) must not
start nodes on the same domain: each would hear the other's /joint_states.
"""

from __future__ import annotations

import os
import subprocess
import sys

import domain_coordinator
import pytest

from gr00t_testing import domains


def test_the_fixture_holds_its_id_for_the_test(ros_domain_id):
    assert os.environ["ROS_DOMAIN_ID"] == str(ros_domain_id)
    assert 1 <= ros_domain_id <= 100
    # Another session asking for this id is refused and moves on to the next one.
    with domain_coordinator.domain_id(selector=iter([ros_domain_id, ros_domain_id + 1]).__next__
                                      ) as other:
        assert other == ros_domain_id + 1


def test_an_id_another_session_holds_is_skipped(monkeypatch: pytest.MonkeyPatch, request):
    taken = domains._next_id()
    # Pretend another session holds the id this session would take next.
    with domain_coordinator.domain_id(selector=lambda: taken):
        # (not the cycle's next id, so the test fails if the fixture does not ask domains')
        free = (taken + 2) % 100 + 1
        monkeypatch.setattr(domains, "_IDS", iter([taken, free]))
        domain_id = request.getfixturevalue("ros_domain_id")
        assert domain_id == free
        assert os.environ["ROS_DOMAIN_ID"] == str(free)


def test_a_bench_holds_its_ids_until_it_exits():
    held = domains.hold_domain()
    code = ("import domain_coordinator, sys\n"
            f"with domain_coordinator.domain_id(selector=iter([{held}, 0]).__next__) as d:\n"
            "    sys.exit(d)\n")
    # Another process cannot take the held id (it gets the next one it asks for).
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
