"""The System 2 diagnostic status as plain data: level, message and key/values (no ROS).

Levels (the diagnostic_msgs/DiagnosticStatus values):
  ERROR  a camera is missing (never received or stale): no tokens are published;
  WARN   inference does not keep up with the period (more than KEEP_UP_MAX_OVERRUN_SHARE of
         the recent runs took longer than 1 / rate_hz), inference errors occurred, or a
         camera's newest frame is stamped further from this node's clock than System 1
         accepts tokens (token_staleness_s behind, gr00t_policy.runtime.stamps'
         MAX_FUTURE_STAMP_S ahead; the count of such frames stays in the values);
  OK     otherwise (with no instruction set yet: OK, saying that no tokens are published
         until one is).
Rejected frames are reported in the message and the key/values at any level. Per camera:
its subscription (message type and reliability, or why there is none yet), the frames it
received (rejected ones included), how far its newest frame's stamp lay behind this node's
clock as it arrived (`stamp_lag_ms`), those a newer frame replaced before a tick used them,
the frames DDS reported lost, its resolution and how often that changed mid-stream.
"""

from __future__ import annotations

from dataclasses import dataclass, field

OK, WARN, ERROR = 0, 1, 2
KEEP_UP_MAX_OVERRUN_SHARE = 0.1


@dataclass(frozen=True)
class System2Health:
    """Everything the status is computed from; times in seconds."""

    target_rate_hz: float
    achieved_rate_hz: float
    published: int
    latency_median_s: float | None
    latency_p99_s: float | None
    overrun_share: float | None  # share of recent runs slower than the period, None if no runs
    missing: dict[str, str]  # topic -> why
    image_ages_s: dict[str, float | None]  # topic -> seconds since receipt, None if never
    instruction_id: int | None  # None: no instruction set yet (an empty default)
    instruction: str
    backbone_id: str
    rejected: dict[tuple[str, str], int] = field(default_factory=dict)  # (topic, reason) -> n
    errors: dict[str, int] = field(default_factory=dict)  # reason -> n
    subscriptions: dict[str, str] = field(default_factory=dict)  # topic -> type, reliability
    received: dict[str, int] = field(default_factory=dict)  # topic -> frames arrived, rejected too
    unused: dict[str, int] = field(default_factory=dict)  # topic -> replaced before a tick used them
    lost: dict[str, int] = field(default_factory=dict)  # topic -> frames lost in DDS
    stamps_off: dict[str, int] = field(default_factory=dict)  # topic -> frames stamped off the clock
    stamp_off_now: set[str] = field(default_factory=set)  # newest frame stamped off the clock
    # topic -> s its newest frame's stamp lay behind this node's clock on receipt; None: unstamped
    stamp_lags: dict[str, float | None] = field(default_factory=dict)
    sizes: dict[str, tuple[int, int]] = field(default_factory=dict)  # topic -> last (width, height)
    size_changes: dict[str, int] = field(default_factory=dict)  # topic -> resolution changes

    @property
    def keeps_up(self) -> bool:
        return self.overrun_share is None or self.overrun_share <= KEEP_UP_MAX_OVERRUN_SHARE


def _ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{1e3 * seconds:.1f}"


def summarize(h: System2Health) -> tuple[int, str, list[tuple[str, str]]]:
    """(level, message, [(key, value)]) for one DiagnosticStatus."""
    values = [
        ("achieved_rate_hz", f"{h.achieved_rate_hz:.2f}"),
        ("target_rate_hz", f"{h.target_rate_hz:.2f}"),
        ("published", str(h.published)),
        ("inference_latency_median_ms", _ms(h.latency_median_s)),
        ("inference_latency_p99_ms", _ms(h.latency_p99_s)),
        ("inference_keeps_up", str(h.keeps_up)),
        ("inference_overrun_share", "n/a" if h.overrun_share is None else f"{h.overrun_share:.2f}"),
        ("missing_cameras", ", ".join(h.missing) or "none"),
        ("instruction_id", "none" if h.instruction_id is None else str(h.instruction_id)),
        ("instruction", h.instruction),
        ("backbone_id", h.backbone_id),
    ]
    values += [(f"image_age_ms {t}", _ms(age)) for t, age in h.image_ages_s.items()]
    values += [(f"missing {t}", why) for t, why in h.missing.items()]
    values += [(f"camera_subscription {t}", how) for t, how in h.subscriptions.items()]
    values += [(f"frames_received {t}", str(n)) for t, n in h.received.items()]
    values += [(f"frames_unused {t}", str(n)) for t, n in h.unused.items()]
    values += [(f"frames_lost {t}", str(n)) for t, n in h.lost.items()]
    values += [(f"stamp_lag_ms {t}", "unstamped" if lag is None else _ms(lag))
               for t, lag in sorted(h.stamp_lags.items())]
    values += [(f"frames_stamp_off_clock {t}", str(n)) for t, n in sorted(h.stamps_off.items())]
    values += [(f"frame_size {t}", f"{w}x{hh}") for t, (w, hh) in sorted(h.sizes.items())]
    values += [(f"frame_size_changes {t}", str(n)) for t, n in sorted(h.size_changes.items())]
    values += [(f"rejected_frames {t} {r}", str(n)) for (t, r), n in sorted(h.rejected.items())]
    values += [(f"errors {r}", str(n)) for r, n in sorted(h.errors.items())]

    period_ms = 1e3 / h.target_rate_hz
    if h.missing:
        level, message = ERROR, "camera(s) missing, no tokens: " + ", ".join(
            f"{t} ({h.subscriptions[t]})" if t in h.subscriptions else t for t in h.missing)
    elif not h.keeps_up:
        level, message = WARN, (
            f"inference slower than the {period_ms:.0f} ms period ({100 * h.overrun_share:.0f}% "
            f"of runs overrun); running as fast as it can at {h.achieved_rate_hz:.1f} Hz"
        )
    elif h.errors:
        level, message = WARN, f"inference errors: {h.errors}"
    elif h.stamp_off_now:
        level, message = WARN, ("camera stamps too far behind or ahead of this node's clock "
                                "(System 1 refuses the tokens built on them): "
                                + ", ".join(sorted(h.stamp_off_now)))
    elif h.instruction_id is None:
        level, message = OK, "no instruction set yet: no tokens until one is"
    else:
        level, message = OK, f"publishing at {h.achieved_rate_hz:.1f} Hz"
    if h.rejected:
        message += f"; rejected frames: {sum(h.rejected.values())}"
    return level, message, values
