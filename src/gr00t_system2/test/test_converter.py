"""gr00t_system2.converter: conversions timed to the inference thread's ticks (no DDS)."""

import threading
import time

import numpy as np
import pytest

from gr00t_system2.converter import INITIAL_ESTIMATE_S, MARGIN_S, FrameConverter
from gr00t_system2.frames import FrameStore
from gr00t_system2.image import REASON_DECODE, ImageError

IMG = np.zeros((4, 4, 3), np.uint8)


class Rig:
    def __init__(self, cost_s: float = 0.0) -> None:
        self.store = FrameStore(["/a"])
        self.converted: list[tuple[float, str]] = []  # (start time, msg)
        self.rejected: list[str] = []
        self.stored = threading.Event()
        self.cost = cost_s

        def convert(_index, msg):
            self.converted.append((time.monotonic(), msg))
            time.sleep(self.cost)
            if msg == "bad":
                raise ImageError(REASON_DECODE, "bad payload")
            if msg == "breaks":
                raise RuntimeError("decoder blew up")
            return IMG

        self.conv = FrameConverter(self.store, convert,
                                   on_reject=lambda i, e, now: self.rejected.append(str(e)),
                                   on_frame=self.stored.set, min_interval_s=0.05)
        self.conv.start()

    def offer(self, msg: str, stamp: int = 1, received_ns: int = 0) -> None:
        self.store.offer(0, msg, stamp, "cam", time.monotonic(), received_ns)
        self.conv.offered()


@pytest.fixture
def rig():
    r = Rig()
    yield r
    r.conv.stop()


def test_waiting_inference_gets_frames_at_once(rig):
    rig.conv.schedule(None)
    t0 = time.monotonic()
    rig.offer("m1", stamp=0, received_ns=123)
    assert rig.stored.wait(1.0)
    assert rig.converted[0][0] - t0 < 0.05
    snap = rig.store.snapshot(time.monotonic(), 1.0)
    assert snap.complete
    assert snap.oldest_stamp_ns() == 123  # unstamped: the receipt time comes along


def test_scheduled_tick_converts_the_newest_frame_just_before_it_once(rig):
    tick = time.monotonic() + 0.3
    rig.conv.schedule(tick)
    for k in range(5):  # a 30 Hz camera before the tick: only the newest is converted
        rig.offer(f"m{k}", stamp=k)
        time.sleep(0.033)
    assert rig.stored.wait(1.0)
    start, msg = rig.converted[0]
    assert msg == "m4" and len(rig.converted) == 1
    assert start == pytest.approx(tick - INITIAL_ESTIMATE_S - MARGIN_S, abs=0.03)
    snap = rig.store.snapshot(time.monotonic(), 1.0)
    assert snap.frames[0].stamp_ns == 4
    # More frames before the next schedule: not converted (this tick has its frame).
    rig.offer("m5", stamp=5)
    time.sleep(0.25)
    assert len(rig.converted) == 1
    rig.conv.schedule(time.monotonic())  # the next tick is due: convert now
    deadline = time.monotonic() + 1.0
    while len(rig.converted) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [m for _, m in rig.converted] == ["m4", "m5"]


def test_slow_conversions_start_earlier():
    r = Rig(cost_s=0.08)
    try:
        r.conv.schedule(None)
        r.offer("m1")
        assert r.stored.wait(1.0)
        r.stored.clear()
        assert r.conv.estimate() >= 0.08
        tick = time.monotonic() + 0.4
        r.conv.schedule(tick)
        r.offer("m2")
        assert r.stored.wait(1.0)
        assert r.converted[1][0] == pytest.approx(tick - r.conv.estimate() - MARGIN_S, abs=0.03)
        assert time.monotonic() <= tick + 0.03  # done by the tick
    finally:
        r.conv.stop()


def offer_and_wait_for_a_reject(rig, msg: str) -> None:
    rig.conv.schedule(None)
    rig.offer(msg)
    deadline = time.monotonic() + 1.0
    while not rig.rejected and time.monotonic() < deadline:
        time.sleep(0.01)


def test_rejected_frames_are_reported_and_not_stored(rig):
    offer_and_wait_for_a_reject(rig, "bad")
    assert rig.rejected == ["bad payload"]
    assert not rig.stored.is_set()
    assert not rig.store.snapshot(time.monotonic(), 1.0).complete


def test_a_frame_that_breaks_the_decoder_is_rejected_and_the_next_still_converts(rig):
    offer_and_wait_for_a_reject(rig, "breaks")
    assert rig.rejected and "RuntimeError: decoder blew up" in rig.rejected[0]
    rig.offer("good", stamp=2)  # the thread lives on
    assert rig.stored.wait(1.0)
    assert rig.store.snapshot(time.monotonic(), 1.0).complete


def test_stop_is_prompt(rig):
    rig.conv.schedule(time.monotonic() + 100.0)
    rig.offer("m1")
    t0 = time.monotonic()
    rig.conv.stop()
    assert time.monotonic() - t0 < 0.5
