"""gr00t_record.clock_watch: the recorder's clock stepping back, told in from-bag's terms."""

from __future__ import annotations

from gr00t_record.clock_watch import ClockWatch

S = 1_000_000_000


def test_each_step_back_is_named_with_what_from_bag_makes_of_it():
    watch = ClockWatch()
    assert watch.observe("/a", 100 * S) is None and watch.observe("/a", 101 * S) is None
    first = watch.observe("/b", 100 * S + S // 2)  # 0.5 s back, 1 s in
    assert first == watch.problem
    assert first.startswith("the recorder's clock went back 0.500 s 1.00 s into the episode "
                            "(a message on /b): gr00t-dataset from-bag will cut this bag "
                            "there into two episodes")
    assert "record it again" in first and "makestep" in first
    assert watch.observe("/a", 100 * S + 8 * S // 10) is None  # the new timeline goes on
    second = watch.observe("/a", 90 * S)
    assert "0.500 s 1.00 s into the episode (a message on /b), 10.800 s 1.30 s into the " \
           "episode (a message on /a)" in second and "into 3 episodes" in second
    watch.reset()
    assert watch.problem == "" and watch.observe("/a", 10 * S) is None
