"""gr00t_system2.cameras.choose: how a camera topic is subscribed, from its publishers (no DDS)."""

import pytest

from gr00t_system2.cameras import TYPES, Choice, PublisherInfo, choose

RAW, COMPRESSED = TYPES["raw"], TYPES["compressed"]


def pub(topic_type: str = RAW, reliable: bool = True, node: str = "/driver") -> PublisherInfo:
    return PublisherInfo(node=node, topic_type=topic_type, reliable=reliable)


def test_auto_follows_the_publishers():
    assert choose("/c", [pub()], "auto", "auto").choice == Choice("raw", True)
    assert choose("/c", [pub(reliable=False)], "auto", "auto").choice == Choice("raw", False)
    assert choose("/c", [pub(COMPRESSED)], "auto", "auto").choice == Choice("compressed", True)
    # One best-effort publisher among reliable ones: best effort hears them all.
    mixed = [pub(), pub(reliable=False, node="/other")]
    assert choose("/c", mixed, "auto", "auto").choice == Choice("raw", False)


def test_auto_waits_for_a_publisher():
    decision = choose("/c", [], "auto", "auto")
    assert decision.choice is None and "no publisher yet" in decision.why
    decision = choose("/c", [], "auto", "raw")
    assert decision.choice is None and "camera_qos=auto" in decision.why


def test_fixed_parameters_subscribe_at_once():
    assert choose("/c", [], "reliable", "compressed").choice == Choice("compressed", True)
    assert choose("/c", [], "best_effort", "raw").choice == Choice("raw", False)
    # A fixed transport with auto reliability follows the publishers of that type.
    assert choose("/c", [pub(reliable=False)], "auto", "raw").choice == Choice("raw", False)


def test_configurations_that_cannot_work_are_named():
    decision = choose("/c", [pub(reliable=False)], "reliable", "raw")
    assert decision.choice == Choice("raw", True)
    assert "cannot connect to best-effort" in decision.problem and "camera_qos:=auto" in decision.problem
    decision = choose("/c", [pub(COMPRESSED)], "auto", "raw")
    assert decision.choice is None and "camera_transport to auto" in decision.problem
    decision = choose("/c", [pub(), pub(COMPRESSED, node="/b")], "auto", "auto")
    assert decision.choice is None and "both" in decision.problem
    decision = choose("/c", [pub("sensor_msgs/msg/PointCloud2")], "auto", "auto")
    assert decision.choice is None and "PointCloud2" in decision.problem


def test_bad_parameter_values_raise():
    with pytest.raises(ValueError, match="camera_qos='sensor'"):
        choose("/c", [], "sensor", "auto")
    with pytest.raises(ValueError, match="camera_transport='ffmpeg'"):
        choose("/c", [], "auto", "ffmpeg")
