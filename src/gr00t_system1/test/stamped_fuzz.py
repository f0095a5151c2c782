"""The loop fuzz (`loop_fuzz`, beside this file) with every joint_trajectory message played
through the model of the Jazzy controller (`jtc_model.JtcModel`) as the `header_stamp: tick`
decoder sends it: header stamp = the tick's node-clock time, a first point at 0 = the tick's
command, then the path, times rounded to the nanosecond as the decoder's `_duration` does.
Each message is taken up a random delay after its tick (System 1's own send, ~3 ms, and the
transport) at the controller's next update (`period`, on the monotonic clock; its ROS time
is the node clock plus `clock_offset_s`). Checked: what the controller writes, its speed
between updates and its acceleration read a System 1 period apart (`accel_per_period`'s
second difference), against each joint's limits; and the messages it refuses.

A finding is explained when a documented exception (a stall, a re-arm, a clock step, a
deactivation: `EXCEPTIONS`) lies within `window` ticks before it or two ticks after. bench/loop_fuzz_jtc.py
runs campaigns; test_stamped_fuzz a few calm seeds in the suite.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

import loop_fuzz
from jtc_model import JtcModel

TICK = loop_fuzz.TICK
# In loop_fuzz.context's words: the documented exceptions to the limits.
EXCEPTIONS = ("stall", "rearm", "jump", "DEACTIVATED")


@dataclass
class Finding:
    kind: str  # "speed" or "accel"
    decoder: int
    joint: int
    ratio: float  # as a multiple of the joint's limit
    tick: int
    context: str
    explained: bool


class StampedWorld(loop_fuzz.World):
    """loop_fuzz.World that also keeps each trajectory message as the stamped decoder sends
    it: per decoder [(monotonic send time, header stamp, times (N + 1,), rows (N + 1, J))]."""

    def __init__(self, cfg: loop_fuzz.Config) -> None:
        self.clock: list[tuple[float, float]] = []  # (mono, node clock - mono) per publish
        self.stamped: dict[int, list] = {}
        super().__init__(cfg)
        self.stamped = {d: [] for d in self.jtcs}
        self.start = self.robot.copy()

    def publish(self, command, state):
        self.clock.append((self.mono, self.t - self.mono))
        super().publish(command, state)

    def message_sent(self, d, jtc, path, command):
        # The stamped message, played later by `play`; the receipt rule is not this one's.
        jtc.receive(self.jtc_time(), path[0], path[1])
        js = jtc.joints
        ns = np.round(np.concatenate([[0.0], path[0]]) * 1e9)  # the decoder's _duration
        self.stamped[d].append((self.mono, int(self.t * 1e9) / 1e9, ns / 1e9,
                                np.vstack([command[js], path[1][:, js]])))


def calm(cfg: loop_fuzz.Config) -> loop_fuzz.Config:
    """`cfg` without the documented exceptions' causes (stalls, clock steps, measurement
    jumps, blocked joints, deactivation): late and jittered ticks, holds, faults,
    disables, outages and every kind of plan stay."""
    cfg.p.update(stall=0.0, jump_back=0.0, jump_fwd=0.0, jumpstate=0.0, block=0.0, deact=0.0)
    cfg.jitter = 0.1
    return cfg


def play(w: StampedWorld, d: int, rng: np.random.Generator, delay_s: tuple[float, float],
         period: float, clock_offset_s: float = 0.0) -> tuple[np.ndarray, np.ndarray, Counter]:
    """The controller of decoder `d` over its messages: (update monotonic times (M,),
    commands (M, J), refusals by reason)."""
    msgs, js, why = w.stamped[d], w.jtcs[d].joints, Counter()
    if not msgs or js.size == 0:
        return np.zeros(0), np.zeros((0, js.size)), why
    cm = np.array([c[0] for c in w.clock])
    off = np.array([c[1] for c in w.clock])

    def ros(mono: float) -> float:  # the controller manager's ROS clock at `mono`
        i = max(int(np.searchsorted(cm, mono, side="right")) - 1, 0)
        return mono + off[i] + clock_offset_s

    jtc = JtcModel(np.clip(w.start, w.lower, w.upper)[js], period)
    arrivals = sorted(((m + rng.uniform(*delay_s), s, t, r) for m, s, t, r in msgs),
                      key=lambda a: a[0])
    u0 = msgs[0][0] + rng.uniform(0, period)
    us = u0 + period * np.arange(int((w.mono - u0) / period))
    out = np.empty((us.size, js.size))
    k = 0
    for i, u in enumerate(us):
        while k < len(arrivals) and arrivals[k][0] <= u:
            a, s, t, r = arrivals[k]
            k += 1
            if (np.diff(t) <= 0).any():
                why["times not strictly increasing"] += 1
                continue
            before = jtc.refused
            jtc.receive(ros(a), s, t, r)
            if jtc.refused > before:
                why["ends in the past"] += 1
        out[i] = jtc.update(ros(u))
    return us, out, why


def beyond(w: StampedWorld, us: np.ndarray, x: np.ndarray, js: np.ndarray, period: float,
           ratio: float) -> list[tuple[str, float, int, float]]:
    """[(kind, monotonic time, joint, multiple of its limit)] beyond `ratio` times a limit."""
    found = []
    if us.size < 8 or js.size == 0:
        return found
    v = np.abs(np.diff(x, axis=0)) / period  # (M - 1, J)
    for j in range(js.size):
        for i in np.flatnonzero(v[:, j] > ratio * w.vel[js[j]] + 1e-6):
            found.append(("speed", us[i], int(js[j]), v[i, j] / w.vel[js[j]]))
    if w.acc is None:
        return found
    for phase in np.arange(8) / 8:
        grid = np.arange(us[0] + phase * TICK, us[-1] - TICK, TICK)
        at = np.stack([np.interp(grid, us, x[:, j]) for j in range(js.size)], axis=1)
        a = np.abs(np.diff(at, 2, axis=0)) / TICK ** 2  # (G - 2, J) centred on grid[1:-1]
        for j in range(js.size):
            for i in np.flatnonzero(a[:, j] > ratio * w.acc[js[j]] + 1e-3):
                found.append(("accel", grid[i + 1], int(js[j]), a[i, j] / w.acc[js[j]]))
    return found


def run_stamped(cfg: loop_fuzz.Config, ticks: int, *, delay_s=(0.0005, 0.004),
                period: float = 0.002, clock_offset_s: float = 0.0, ratio: float = 1.1,
                window: int | None = None) -> tuple[StampedWorld, list[Finding], Counter]:
    """Run `cfg` for `ticks` and play every decoder's messages: (world, findings beyond
    `ratio`, refusals by reason). `window`: ticks before a finding searched for an
    exception (default 4 + 2 every_n_ticks of its decoder)."""
    orig = loop_fuzz.World
    loop_fuzz.World = StampedWorld  # run() builds the world
    try:
        w = loop_fuzz.run(cfg, ticks)
    finally:
        loop_fuzz.World = orig
    rng = np.random.default_rng(cfg.seed)
    ticks_mono = np.array([r[2] for r in w.log])
    findings, refused = [], Counter()
    for d, jtc in w.jtcs.items():
        us, x, why = play(w, d, rng, delay_s, period, clock_offset_s)
        refused.update(why)
        k = 4 + 2 * cfg.every[d - 1] if window is None else window
        for kind, mono, j, r in beyond(w, us, x, jtc.joints, period, ratio):
            i = int(np.searchsorted(ticks_mono, mono + 1e-9, side="right")) - 1
            tick = w.log[max(i, 0)][0]
            # (an acceleration sample spans the period after it, and the message taken up
            # there was sent up to delay_s before: an exception two ticks on counts too)
            ctx = loop_fuzz.context(w, tick + 2, k=k + 2)
            findings.append(Finding(kind, d, j, r, tick, ctx,
                                    any(e in ctx for e in EXCEPTIONS)))
    return w, findings, refused
