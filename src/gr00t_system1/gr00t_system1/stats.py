"""Timing statistics for diagnostics (ROS-free): O(1) to record, percentiles on demand.

`RollingStats` keeps the last `window` samples (percentiles over recent behaviour) plus
whole-run counters: count, max, and how many samples exceeded a threshold.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np


class RollingStats:
    """Samples in seconds; the report is in milliseconds.

    Args:
        window: number of recent samples kept for percentiles.
        late_threshold_s: samples above this count as late (whole run); None = no counting.
    """

    def __init__(self, window: int = 1200, late_threshold_s: float | None = None) -> None:
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        self._recent: deque[float] = deque(maxlen=window)
        self.late_threshold_s = late_threshold_s
        self.count = 0
        self.late = 0
        self.max_s = 0.0

    def add(self, value_s: float) -> None:
        if not math.isfinite(value_s):
            return
        self._recent.append(value_s)
        self.count += 1
        if value_s > self.max_s:
            self.max_s = value_s
        if self.late_threshold_s is not None and value_s > self.late_threshold_s:
            self.late += 1

    def recent(self) -> np.ndarray:
        """The recent window, np.float64 (n,) seconds (a copy)."""
        return np.array(list(self._recent), dtype=np.float64)  # list(): one C-level copy

    def percentiles_ms(self, *qs: float, around: float | None = None) -> list[float]:
        """Percentiles (0..100) of the recent window in ms; NaN when empty.

        With `around`, percentiles of |sample - around| (e.g. period error vs nominal).
        """
        if not self._recent:
            return [math.nan for _ in qs]
        arr = self.recent()
        if around is not None:
            arr = np.abs(arr - around)
        return [float(v) * 1e3 for v in np.percentile(arr, qs)]

    def recent_max_ms(self) -> float:
        return max(self._recent) * 1e3 if self._recent else math.nan


class RateCounter:
    """Events per second over the time between two `rate()` calls."""

    def __init__(self, now: float) -> None:
        self.total = 0
        self._last_total = 0
        self._last_time = now

    def add(self, n: int = 1) -> None:
        self.total += n

    def rate(self, now: float) -> float:
        dt = now - self._last_time
        r = (self.total - self._last_total) / dt if dt > 0 else math.nan
        self._last_total, self._last_time = self.total, now
        return r
