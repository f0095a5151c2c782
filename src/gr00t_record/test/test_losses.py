"""LossCounter: lost messages from publication sequence numbers."""

from gr00t_record.losses import LossCounter


def test_gaps_count_as_lost_and_restarts_or_several_publishers_do_not():
    c = LossCounter()
    assert [c.observe("/cam", s, 1) for s in (5, 6, 9, 10)] == [0, 0, 2, 0]
    assert c.observe("/cam", 1, 1) == 0  # the publisher restarted
    assert c.observe("/cam", 3, 1) == 1
    assert c.observe("/js", 4, 2) == 0 and c.observe("/js", 9, 2) == 0  # two senders
    assert c.observe("/js", 10, 1) == 0 and c.observe("/js", 12, 1) == 1
    assert c.observe("/x", None, 1) == 0 and c.observe("/x", 0, 1) == 0
    assert c.lost == {"/cam": 3, "/js": 1}
    c.reset()
    assert c.lost == {} and c.observe("/cam", 20, 1) == 0
