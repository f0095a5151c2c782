"""Converting each camera's newest message just before the tick that uses it (no ROS).

Decoding a 1920x1080 PNG takes about as long as the nano backbone's inference; done in the
inference thread the two add up past the 100 ms period. `FrameConverter` runs the
conversions in a thread of its own, so the conversion for the next tick overlaps the
inference of this one, and times each so that it ends just before that tick
(`schedule(tick)`): it starts ``estimate + MARGIN_S`` ahead and takes the newest message
offered by then, so the frame is as fresh as when the inference thread converted it itself,
and it converts one set of frames per tick, never every frame of a 30 Hz camera.
`schedule(None)` (the inference thread is waiting for a frame) converts whatever arrives,
at most one set per ``min_interval_s``. The estimate is the slowest of the recent
conversions.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np

from gr00t_system2.frames import FrameStore
from gr00t_system2.image import REASON_CONVERSION, ImageError

MARGIN_S = 0.005  # hand-over to the inference thread and scheduling slack
INITIAL_ESTIMATE_S = 0.01
RECENT = 10  # conversions the estimate looks back on


class FrameConverter:
    """Converts the messages offered to a FrameStore into its frames (see module doc).

    convert(index, msg) -> uint8 (S, S, 3) RGB, or raises ImageError; on_reject(index, error, now)
    for a message that cannot be used; on_frame() after each set of frames is stored.
    """

    def __init__(self, store: FrameStore, convert: Callable[[int, Any], np.ndarray],
                 on_reject: Callable[[int, ImageError, float], None],
                 on_frame: Callable[[], None], min_interval_s: float) -> None:
        self._store = store
        self._convert = convert
        self._on_reject = on_reject
        self._on_frame = on_frame
        self._min_interval = min_interval_s
        self._cond = threading.Condition()
        self._due: float | None = None  # monotonic time of the next tick; None: as soon as possible
        self._served: float | None = None  # the tick the last conversion was for
        self._last_start = -float("inf")
        self._durations: deque[float] = deque(maxlen=RECENT)
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="gr00t_system2_convert", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def offered(self) -> None:
        """A camera message was offered to the store (any thread)."""
        with self._cond:
            self._cond.notify_all()

    def schedule(self, tick: float | None) -> None:
        """The inference thread's next tick (monotonic s), or None while it waits for a frame."""
        with self._cond:
            self._due = tick
            self._cond.notify_all()

    def estimate(self) -> float:
        """Seconds a conversion is expected to take (the slowest recent one)."""
        with self._cond:
            return max(self._durations, default=INITIAL_ESTIMATE_S)

    def _next_start(self, now: float) -> float | None:
        """When the next conversion may start (None: nothing to convert for now)."""
        if not self._store.has_pending():
            return None
        if self._due is None:
            return max(now, self._last_start + self._min_interval)
        if self._served == self._due:
            return None  # this tick has its frames; wait for the next schedule
        return self._due - max(self._durations, default=INITIAL_ESTIMATE_S) - MARGIN_S

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._stop:
                        return
                    now = time.monotonic()
                    start = self._next_start(now)
                    if start is not None and start <= now:
                        break
                    self._cond.wait(0.1 if start is None else min(start - now, 0.1))
                due, self._last_start = self._due, now
            t0 = time.perf_counter()
            stored = self._convert_pending(now)
            with self._cond:
                self._durations.append(time.perf_counter() - t0)
                self._served = due
            if stored:
                self._on_frame()

    def _convert_pending(self, now: float) -> bool:
        stored = False
        for index, pending in self._store.take_pending():
            try:
                rgb = self._convert(index, pending.msg)  # (S, S, 3)
            except ImageError as exc:
                self._on_reject(index, exc, now)
                continue
            except Exception as exc:  # noqa: BLE001 - OpenCV, numpy, torch: not this frame's end
                # One frame that breaks the decoder (cv2.error on a crafted header, a
                # MemoryError) must not end this thread: every camera would then go stale
                # with frames still arriving.
                self._on_reject(index, ImageError(
                    REASON_CONVERSION, f"could not convert the frame ({type(exc).__name__}: "
                    f"{exc}); check what the camera driver publishes"), now)
                continue
            self._store.put(index, rgb, pending.stamp_ns, pending.frame_id, pending.received,
                            pending.received_ns)
            stored = True
        return stored
