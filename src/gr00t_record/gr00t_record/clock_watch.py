"""The recorder's own clock, watched while it records: a clock set back mid-episode (NTP or
chrony stepping it, someone running `date -s`) leaves a bag whose log times no longer put its
messages in order, which `gr00t-dataset from-bag` refuses whole (`Bag.clock_back`, the same
CLOCK_BACK_S threshold). The operator hears it at the step, and again in the stop reply,
while the demonstration can still be recorded again, not at conversion after a day of
episodes."""

from __future__ import annotations

from gr00t_policy.dataset.bag import CLOCK_BACK_S


class ClockWatch:
    """The latest log time of the episode being recorded, and the first step back."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """A new episode: nothing logged yet, no problem."""
        self._latest: int | None = None
        self._first: int | None = None
        self.problem = ""

    def observe(self, topic: str, now_ns: int) -> str | None:
        """Note a message logged at ``now_ns``; the problem, in words, the first time in the
        episode the clock is found more than CLOCK_BACK_S behind a time logged before."""
        if self._latest is None:
            self._latest = self._first = now_ns
            return None
        if now_ns >= self._latest:
            self._latest = now_ns
            return None
        if self.problem or now_ns >= self._latest - CLOCK_BACK_S * 1e9:
            return None
        self.problem = (
            f"the recorder's clock went back {(self._latest - now_ns) / 1e9:.3f} s "
            f"{(self._latest - self._first) / 1e9:.2f} s into the episode (a message on "
            f"{topic}): gr00t-dataset from-bag will refuse this bag. Fix: discard this "
            "episode and record it again, and keep the robot's clock from stepping while "
            "recording (chrony: `makestep 1 3` steps it only at boot, then slews)")
        return self.problem
