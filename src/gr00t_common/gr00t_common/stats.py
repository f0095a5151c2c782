"""Rolling statistics for diagnostics and benchmark summaries (ROS-free; numpy).

- `percentiles(values, qs)`: the one percentile computation (NaN per q when empty);
- `RollingWindow`: the last `size` samples for percentiles, plus whole-run counters (count,
  max, samples above a threshold); O(1) to add, thread-safe;
- `RateCounter`: events per second between two readings (System 1's replans per second);
- `RateMeter`: events per second over a sliding time window (System 2's token rate);
- `Throttle`: one event per key per period (rate-limited logs).

Times are plain floats (the caller's clock, usually time.monotonic()); samples are in
seconds by convention, `*_ms` methods report milliseconds.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Iterable, Sequence

import numpy as np


def finite(values: Iterable[float]) -> np.ndarray:
    """The finite values, np.float64 (n,)."""
    arr = np.asarray(values if isinstance(values, np.ndarray) else list(values), dtype=np.float64)
    return arr[np.isfinite(arr)]


def percentiles(values: Iterable[float], qs: Sequence[float], *,
                around: float | None = None) -> list[float]:
    """Percentiles (0..100, linear interpolation) of `values`; NaN for each q when empty.

    With `around`, percentiles of |value - around| (e.g. period error against the nominal).
    """
    arr = np.asarray(values if isinstance(values, np.ndarray) else list(values), dtype=np.float64)
    if arr.size == 0:
        return [math.nan for _ in qs]
    if around is not None:
        arr = np.abs(arr - around)
    return [float(v) for v in np.percentile(arr, qs)]


def summary_ms(values_s: Iterable[float], qs: Sequence[int] = (50, 90, 99), *,
               mean: bool = False) -> dict[str, float | int | None]:
    """{"n", "p50", ..., "max"[, "mean"]} of the finite values (seconds), in ms rounded to
    the microsecond; None for each figure when there is none (reports and JSON files)."""
    arr = finite(values_s)
    out: dict[str, float | int | None] = {"n": int(arr.size)}
    for q, v in zip(qs, percentiles(arr, qs)):
        out[f"p{q}"] = round(v * 1e3, 3) if arr.size else None
    out["max"] = round(float(arr.max()) * 1e3, 3) if arr.size else None
    if mean:
        out["mean"] = round(float(arr.mean()) * 1e3, 3) if arr.size else None
    return out


class RollingWindow:
    """The last `size` samples, and whole-run counters over every sample added.

    Non-finite samples are ignored. `late_threshold`: samples above it are counted in
    `late` (whole run); None = no counting.
    """

    def __init__(self, size: int, late_threshold: float | None = None) -> None:
        if size < 1:
            raise ValueError(f"size must be >= 1, got {size}")
        self._recent: deque[float] = deque(maxlen=size)
        self._lock = threading.Lock()
        self.late_threshold = late_threshold
        self.count = 0
        self.late = 0
        self.max_all = 0.0

    def add(self, value: float) -> None:
        if not math.isfinite(value):
            return
        with self._lock:
            self._recent.append(value)
            self.count += 1
            if value > self.max_all:
                self.max_all = value
            if self.late_threshold is not None and value > self.late_threshold:
                self.late += 1

    def __len__(self) -> int:
        with self._lock:
            return len(self._recent)

    def values(self) -> np.ndarray:
        """The window, np.float64 (n,), oldest first (a copy)."""
        with self._lock:
            return np.array(list(self._recent), dtype=np.float64)  # list(): one C-level copy

    def percentiles(self, *qs: float, around: float | None = None) -> list[float]:
        """Percentiles (0..100) of the window; NaN each when empty (see `percentiles`)."""
        return percentiles(self.values(), qs, around=around)

    def percentiles_ms(self, *qs: float, around: float | None = None) -> list[float]:
        """`percentiles` of samples in seconds, in milliseconds."""
        return [v * 1e3 for v in self.percentiles(*qs, around=around)]

    def percentile(self, q: float) -> float | None:
        """One percentile of the window, None when empty."""
        value = self.percentiles(q)[0]
        return None if math.isnan(value) else value

    def recent_max(self) -> float:
        """The window's largest sample; NaN when empty."""
        with self._lock:
            return max(self._recent) if self._recent else math.nan

    def fraction_over(self, threshold: float) -> float | None:
        """Share of the window's samples above `threshold`; None when empty."""
        with self._lock:
            if not self._recent:
                return None
            return sum(v > threshold for v in self._recent) / len(self._recent)


class RateCounter:
    """Events per second over the time between two `rate()` calls."""

    def __init__(self, now: float) -> None:
        self.total = 0
        self._last_total = 0
        self._last_time = now

    def add(self, n: int = 1) -> None:
        self.total += n

    def rate(self, now: float) -> float:
        """Events since the previous call per second; NaN when no time has passed."""
        dt = now - self._last_time
        r = (self.total - self._last_total) / dt if dt > 0 else math.nan
        self._last_total, self._last_time = self.total, now
        return r


class RateMeter:
    """Events per second over the last `window_s` seconds; thread-safe.

    Until `window_s` has passed since the first event, the window is the time since that
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


class Throttle:
    """Allows one event per key every `period_s` seconds (for rate-limited logs)."""

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
