"""Camera image validation and conversion to RGB uint8 (no DDS needed).

`image_to_rgb` takes anything with the fields of a ``sensor_msgs/Image`` (encoding, height,
width, step, data, is_bigendian), checks that they agree with each other, and returns an
(H, W, 3) uint8 RGB array converted by cv_bridge. cv_bridge never looks at ``step``, so a
padded row or a short buffer would silently scramble the image: every layout field is
checked here first, and padded rows are packed before cv_bridge sees them.

Accepted encodings: rgb8, bgr8, rgba8, bgra8 (alpha dropped) and mono8 (grey replicated to
three channels). Anything else (16UC1, yuv422, bayer_*, 32FC1, ...) raises `ImageError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from cv_bridge import CvBridge, CvBridgeError

# encoding -> channels; every accepted encoding has one byte per channel.
ACCEPTED_ENCODINGS: dict[str, int] = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1}

# Short keys for ImageError.reason, used to count rejected frames per reason.
REASON_ENCODING = "encoding"
REASON_SIZE = "size"
REASON_STEP = "step"
REASON_DATA_LENGTH = "data_length"
REASON_CONVERSION = "conversion"


class ImageError(ValueError):
    """An image that cannot be used; ``reason`` is one of the REASON_* keys."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass
class _PackedImage:
    """The fields cv_bridge reads, with rows packed (step == width * channels)."""

    encoding: str
    height: int
    width: int
    step: int
    data: Any
    is_bigendian: int = 0


def check_layout(encoding: str, height: int, width: int, step: int, data_length: int) -> int:
    """Check an image's fields against each other; return its number of channels.

    Raises ImageError naming the field, its value and what is accepted.
    """
    if encoding not in ACCEPTED_ENCODINGS:
        raise ImageError(
            REASON_ENCODING,
            f"encoding {encoding!r} is not supported; accepted: {', '.join(ACCEPTED_ENCODINGS)}",
        )
    channels = ACCEPTED_ENCODINGS[encoding]
    if height <= 0 or width <= 0:
        raise ImageError(
            REASON_SIZE, f"height={height}, width={width}: both must be > 0 (empty image)"
        )
    row_bytes = width * channels
    if step < row_bytes:
        raise ImageError(
            REASON_STEP,
            f"step={step} is less than width*channels*bytes = {width}*{channels}*1 = "
            f"{row_bytes} for {encoding}; step must be at least one row of pixels",
        )
    if data_length != step * height:
        raise ImageError(
            REASON_DATA_LENGTH,
            f"data length {data_length} != step*height = {step}*{height} = {step * height}; "
            "data must hold exactly height rows of step bytes",
        )
    return channels


def image_to_rgb(msg: Any, bridge: CvBridge | None = None) -> np.ndarray:
    """Validate an Image-like object and return its pixels as uint8 (H, W, 3) RGB.

    The result owns its memory (never a view of ``msg.data``). ``is_bigendian`` is
    irrelevant for the accepted one-byte-per-channel encodings and is ignored.
    Raises ImageError (with ``reason``) for any inconsistent or unsupported image.
    """
    encoding = str(msg.encoding)
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    data = msg.data
    channels = check_layout(encoding, height, width, step, len(data))
    row_bytes = width * channels
    buf = np.frombuffer(data, dtype=np.uint8)  # (step * height,), zero-copy
    if step != row_bytes:
        buf = np.ascontiguousarray(buf.reshape(height, step)[:, :row_bytes])  # (H, W*C)
    packed = _PackedImage(encoding, height, width, row_bytes, buf)
    try:
        rgb = (bridge or CvBridge()).imgmsg_to_cv2(packed, desired_encoding="rgb8")  # (H, W, 3)
    except (CvBridgeError, ValueError, TypeError) as exc:
        raise ImageError(REASON_CONVERSION, f"cv_bridge could not convert {encoding}: {exc}") from exc
    rgb = np.asarray(rgb)
    if rgb.shape != (height, width, 3) or rgb.dtype != np.uint8:
        raise ImageError(
            REASON_CONVERSION,
            f"cv_bridge returned {rgb.dtype} {rgb.shape} for {encoding}, expected uint8 "
            f"({height}, {width}, 3)",
        )
    if np.may_share_memory(rgb, buf) or not rgb.flags.c_contiguous:
        rgb = rgb.copy()
    return rgb
