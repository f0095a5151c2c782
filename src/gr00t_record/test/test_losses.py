"""LossCounter: lost messages from publication sequence numbers."""

from gr00t_record.losses import UNSUPPORTED, LossCounter


def test_gaps_count_as_lost_and_several_publishers_or_no_numbers_do_not():
    c = LossCounter()
    for topic in ("/cam", "/x"):
        c.confirm(topic, 1)
    c.confirm("/js", 2)
    assert [c.observe("/cam", s) for s in (5, 6, 9, 10)] == [0, 0, 2, 0]
    assert c.observe("/js", 4) == 0 and c.observe("/js", 9) == 0  # two senders
    c.confirm("/js", 1)
    assert c.observe("/js", 10) == 0 and c.observe("/js", 12) == 1
    for seq in (None, 0, UNSUPPORTED, UNSUPPORTED):  # the middleware gives no numbers
        assert c.observe("/x", seq) == 0
    assert c.observe("/new", 7) == 0  # its publisher not counted by discovery yet
    assert c.lost == {"/cam": 2, "/js": 1} and c.uncounted == {"/js", "/x"}
    c.reset()
    assert c.lost == {} and c.uncounted == set() and c.observe("/cam", 20) == 0
    assert c.publishers == {"/cam": 1, "/x": 1, "/js": 1}  # discovery's counts outlive it


def test_a_number_going_back_stops_counting_until_discovery_confirms_one_publisher():
    c = LossCounter()
    c.confirm("/cam", 1)
    assert [c.observe("/cam", s) for s in (5000, 5001)] == [0, 0]
    # A second publisher, not discovered yet: its 1, 2 and the first one's 5002 interleave.
    assert [c.observe("/cam", s) for s in (1, 5002, 2, 5003)] == [0, 0, 0, 0]
    assert c.lost == {}
    c.confirm("/cam", 1)  # discovery lags: it still reports one publisher
    assert [c.observe("/cam", s) for s in (3, 5004, 4, 5005)] == [0, 0, 0, 0]
    c.confirm("/cam", 1)  # numbers went back since the last pass: still not counted
    assert c.lost == {} and "/cam" in c.uncounted  # the jumps it could not judge are said
    assert [c.observe("/cam", s) for s in (5006, 5008)] == [0, 0]  # the other one left
    c.confirm("/cam", 1)  # a whole period with one publisher and no number going back
    assert [c.observe("/cam", s) for s in (5010, 5011, 5014)] == [0, 0, 2]
    assert c.lost == {"/cam": 2}


def test_a_restarted_publisher_is_counted_again_after_one_clean_period():
    c = LossCounter()
    c.confirm("/js", 1)
    assert [c.observe("/js", s) for s in (40, 41, 1, 2)] == [0, 0, 0, 0]  # restart
    c.confirm("/js", 1)
    assert [c.observe("/js", s) for s in (3, 4)] == [0, 0]
    c.confirm("/js", 1)
    assert [c.observe("/js", s) for s in (5, 8)] == [0, 2] and c.lost == {"/js": 2}
