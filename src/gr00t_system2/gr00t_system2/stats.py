"""Small rolling statistics for diagnostics (no ROS): rates, latency percentiles, throttling."""

from __future__ import annotations

import threading
from collections import deque

import numpy as np


class RateMeter:
    """Events per second over the last ``window_s`` seconds (monotonic time).

    Until ``window_s`` has passed since the first event, the window is the time since that
    event, so the rate is not under-reported while it fills.
    """

    def __init__(self, window_s: float = 5.0) -> None:
        if window_s <= 0:
            raise ValueError(f"window_s must be > 0, got {window_s}")
        self.window_s = window_s
        self._times: deque[float] = deque()
        self._first: float | None = None
        self._lock = threading.Lock()

    def tick(self, now: float) -> None:
        with self._lock:
            if self._first is None:
                self._first = now
            self._times.append(now)
            self._trim(now)

    def rate(self, now: float) -> float:
        """Events in the window divided by the window length (0.0 when none)."""
        with self._lock:
            self._trim(now)
            if self._first is None:
                return 0.0
            span = min(self.window_s, now - self._first)
            if span <= 0.0:
                return 0.0
            return len(self._times) / span

    def _trim(self, now: float) -> None:
        while self._times and self._times[0] < now - self.window_s:
            self._times.popleft()


class LatencyWindow:
    """The last ``size`` latencies (seconds) and how many exceeded a budget."""

    def __init__(self, size: int = 200) -> None:
        if size < 1:
            raise ValueError(f"size must be >= 1, got {size}")
        self._values: deque[float] = deque(maxlen=size)
        self._lock = threading.Lock()

    def add(self, seconds: float) -> None:
        with self._lock:
            self._values.append(float(seconds))

    def __len__(self) -> int:
        with self._lock:
            return len(self._values)

    def percentile(self, q: float) -> float | None:
        """The q-th percentile (0..100) in seconds, None when empty."""
        with self._lock:
            if not self._values:
                return None
            return float(np.percentile(np.fromiter(self._values, dtype=np.float64), q))

    def fraction_over(self, budget_s: float) -> float | None:
        """Share of the window's latencies above ``budget_s``, None when empty."""
        with self._lock:
            if not self._values:
                return None
            return sum(v > budget_s for v in self._values) / len(self._values)


class Throttle:
    """Allows one event per key every ``period_s`` seconds (for rate-limited logs)."""

    def __init__(self, period_s: float = 2.0) -> None:
        self.period_s = period_s
        self._last: dict[object, float] = {}
        self._lock = threading.Lock()

    def allow(self, key: object, now: float) -> bool:
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.period_s:
                return False
            self._last[key] = now
            return True
