"""The recorder's own clock, watched while it records: a clock set back mid-episode (NTP or
chrony stepping it, someone running `date -s`) leaves a bag whose log times no longer put its
messages in order, which `gr00t-dataset from-bag` refuses whole (`Bag.clock_back`, found by
the same `ClockBackWatch`). The operator hears it at the step, and again in the stop reply,
while the demonstration can still be recorded again, not at conversion after a day of
episodes."""

from __future__ import annotations

from gr00t_policy.dataset.bag import ClockBackWatch


class ClockWatch:
    """The episode being recorded's log times, and the first step back, in words."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """A new episode: nothing logged yet, no problem."""
        self._watch = ClockBackWatch()
        self.problem = ""

    def observe(self, topic: str, now_ns: int) -> str | None:
        """Note a message logged at ``now_ns``; the problem, in words, the first time in the
        episode the clock is found more than CLOCK_BACK_S behind a time logged before."""
        if not self._watch.observe(topic, now_ns):
            return None
        _, at, latest, first = self._watch.back
        self.problem = (
            f"the recorder's clock went back {(latest - at) / 1e9:.3f} s "
            f"{(latest - first) / 1e9:.2f} s into the episode (a message on {topic}): "
            "gr00t-dataset from-bag will refuse this bag. Fix: discard this episode and "
            "record it again, and keep the robot's clock from stepping while recording "
            "(chrony: `makestep 1 3` steps it only at boot, then slews)")
        return self.problem
