"""The recorder's own clock, watched while it records: a clock set back mid-episode (NTP or
chrony stepping it, someone running `date -s`) leaves a bag whose log times no longer put its
messages in order, which `gr00t-dataset from-bag` cuts at each step (`Bag.parts`, found by the
same `ClockBackWatch`): the demonstration becomes two episodes, split where the clock went
back. The operator hears it at the step, and again in the stop reply, while the
demonstration can still be recorded again whole, not at conversion after a day of episodes."""

from __future__ import annotations

from gr00t_policy.dataset.bag import ClockBackWatch


class ClockWatch:
    """The episode being recorded's log times, and each step back, in words."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """A new episode: nothing logged yet, no problem."""
        self._watch = ClockBackWatch()
        self.problem = ""

    def observe(self, topic: str, now_ns: int) -> str | None:
        """Note a message logged at ``now_ns``; the problem, in words, each time in the
        episode the clock is found more than CLOCK_BACK_S behind a time logged before (the
        stop reply's `problem` names every step)."""
        steps = len(self._watch.steps)
        self._watch.observe(topic, now_ns)
        if len(self._watch.steps) == steps:
            return None
        where = ", ".join(f"{s.back_s:.3f} s {s.into_s:.2f} s into the episode (a message on "
                          f"{s.topic})" for s in self._watch.steps)
        parts = len(self._watch.steps) + 1
        self.problem = (
            f"the recorder's clock went back {where}: gr00t-dataset from-bag will cut this bag "
            f"there into {'two' if parts == 2 else parts} episodes, each a part of the "
            "demonstration. Fix: if it must be whole, discard this episode and record it "
            "again; keep the robot's clock from stepping while recording (chrony: "
            "`makestep 1 3` steps it only at boot, then slews)")
        return self.problem
