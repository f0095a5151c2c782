"""Camera image validation and conversion to RGB uint8 (no DDS needed).

Raw images: `image_to_rgb` takes anything with the fields of a ``sensor_msgs/Image``
(encoding, height, width, step, data, is_bigendian), checks that they agree with each other,
and returns an (H, W, 3) uint8 RGB array converted by cv_bridge. cv_bridge never looks at
``step``, so a padded row or a short buffer would silently scramble the image: every layout
field is checked here first (`check_layout`, cheap enough for every received frame), and
padded rows are packed before cv_bridge sees them. Accepted encodings: rgb8, bgr8, rgba8,
bgra8 (alpha dropped) and mono8 (grey replicated to three channels). Anything else (16UC1,
yuv422, bayer_*, 32FC1, ...) raises `ImageError`.

Compressed images: `compressed_to_rgb` decodes a ``sensor_msgs/CompressedImage`` (fields
format, data) holding JPEG or PNG, as image_transport's ``compressed`` plugin publishes it
(format "jpeg", "png", "rgb8; jpeg compressed bgr8", ...), with OpenCV. `check_compressed`
checks the format and the payload's signature bytes without decoding.

`message_to_rgb` / `check_message` pick the one that fits the message. `message_to_rgb` also
refuses a blank frame (`check_not_blank`: one colour all over, as a lens cap, a failed
exposure or a driver sending zeros gives): the backbone would encode it into tokens that
look like any others, and System 1 would act on a view with nothing in it. `resize_rgb`
brings an image to the backbone's square input size the way training did (see its
docstring).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from cv_bridge import CvBridge, CvBridgeError

from gr00t_policy.image_crop import center_crop
from gr00t_policy.runtime.stamps import CLOCK_FIX

# encoding -> channels; every accepted encoding has one byte per channel.
ACCEPTED_ENCODINGS: dict[str, int] = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1}

# Short keys for ImageError.reason, used to count rejected frames per reason.
REASON_ENCODING = "encoding"
REASON_SIZE = "size"
REASON_STEP = "step"
REASON_DATA_LENGTH = "data_length"
REASON_CONVERSION = "conversion"
REASON_FORMAT = "format"
REASON_PAYLOAD = "payload"
REASON_DECODE = "decode"
REASON_BLANK = "blank"
REASON_STAMP = "stamp"

# A frame is blank when, on a grid of at most BLANK_GRID x BLANK_GRID pixels spread over it,
# no channel spans more than BLANK_MAX_SPREAD grey levels. Real scenes are far from it: the
# simulator's head camera spans 245 levels, and the same view dimmed to 1.5% of its
# brightness (nothing brighter than 4) still spans 4. A real sensor's noise alone spans
# more than 2 in the dark. Noise frames are not looked for.
BLANK_MAX_SPREAD = 2
BLANK_GRID = 64

# CompressedImage payload kinds OpenCV decodes here -> the bytes every such file starts with.
COMPRESSED_SIGNATURES: dict[str, bytes] = {"jpeg": b"\xff\xd8\xff", "png": b"\x89PNG\r\n\x1a\n"}
COMPRESSED_FIX = (
    "publish JPEG or PNG (image_transport's compressed plugin, format jpeg or png), or list "
    "the raw sensor_msgs/Image topic in camera_topics instead"
)


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
            f"encoding {encoding!r} is not supported; accepted: {', '.join(ACCEPTED_ENCODINGS)}. "
            "Fix: set the camera driver to publish rgb8, bgr8 or mono8, or convert its frames "
            "with image_proc (its debayer node takes bayer_* and yuv422 and publishes "
            "image_color in bgr8)",
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


def check_not_blank(rgb: np.ndarray) -> None:
    """Raise ImageError (REASON_BLANK) for a uint8 (H, W, 3) frame of (near-)one colour.

    Cheap: it looks at a grid of at most BLANK_GRID x BLANK_GRID pixels, spaced evenly
    (not by a fixed stride, which a striped image could fall between).
    """
    h, w = rgb.shape[:2]
    rows = np.linspace(0, h - 1, min(h, BLANK_GRID)).astype(np.intp)
    cols = np.linspace(0, w - 1, min(w, BLANK_GRID)).astype(np.intp)
    grid = rgb[np.ix_(rows, cols)].reshape(-1, rgb.shape[2])  # (n, 3)
    lo, hi = grid.min(axis=0), grid.max(axis=0)  # (3,) each
    spread = int((hi.astype(np.int16) - lo).max())
    if spread <= BLANK_MAX_SPREAD:
        colour = ", ".join(str(int(v)) for v in lo)
        raise ImageError(
            REASON_BLANK,
            f"blank frame: one colour all over (RGB {colour}, no channel spans more than "
            f"{spread} grey level(s)); likely a lens cap, a failed exposure (all black or all "
            "white) or a driver sending zeros. The policy would act on a view with nothing "
            "in it: look at the camera and at its topic (rqt_image_view)")


def compressed_kind(fmt: str) -> str:
    """'jpeg' or 'png' from a CompressedImage ``format`` string; ImageError otherwise.

    image_transport's compressed plugin writes "jpeg" / "png" or
    "<encoding>; <jpeg|png> compressed <encoding>"; compressedDepth (16-bit depth in PNG)
    and video codecs (h264, theora, ...) are not camera colour images and are refused.
    """
    text = str(fmt).lower()
    # "<raw encoding>; png compressed <payload encoding>": the payload's pixels must be one
    # of the raw encodings accepted (16UC1 depth decoded as colour would be shifted to 1-15).
    payload = text.split("compressed", 1)[1].strip() if "compressed " in text else ""
    if payload and payload not in ACCEPTED_ENCODINGS:
        raise ImageError(
            REASON_FORMAT,
            f"compressed format {str(fmt)!r} holds {payload} pixels, not 8-bit colour; "
            f"accepted: jpeg, png of {', '.join(ACCEPTED_ENCODINGS)}; " + COMPRESSED_FIX)
    if "compresseddepth" not in text:
        words = text.replace(";", " ").split()
        for kind in COMPRESSED_SIGNATURES:
            if kind in words or (kind == "jpeg" and "jpg" in words):
                return kind
    raise ImageError(
        REASON_FORMAT,
        f"compressed format {str(fmt)!r} is not supported; accepted: jpeg, png; "
        + COMPRESSED_FIX,
    )


def check_compressed(fmt: str, data: Any) -> str:
    """Check a CompressedImage's format and payload signature; return 'jpeg' or 'png'.

    Cheap (no decoding): run on every received frame. Raises ImageError naming what is wrong.
    """
    kind = compressed_kind(fmt)
    head = bytes(data[:8])
    signature = COMPRESSED_SIGNATURES[kind]
    if not head.startswith(signature):
        raise ImageError(
            REASON_PAYLOAD,
            f"payload of {len(data)} bytes is not {kind.upper()} (format {str(fmt)!r}): it "
            f"starts with {head.hex(' ') or 'nothing'}, a {kind} file starts with "
            f"{signature.hex(' ')}; " + COMPRESSED_FIX,
        )
    return kind


def compressed_to_rgb(msg: Any) -> np.ndarray:
    """Decode a CompressedImage-like object (format, data) to uint8 (H, W, 3) RGB.

    Raises ImageError for an unsupported format or a payload OpenCV cannot decode.
    """
    kind = check_compressed(msg.format, msg.data)
    buf = np.frombuffer(msg.data, dtype=np.uint8)  # (N,), zero-copy
    try:
        bgr = cv2.imdecode(buf, cv2.IMREAD_COLOR)  # (H, W, 3) BGR, or None
    except cv2.error as exc:  # e.g. a header claiming more pixels than OpenCV allows
        raise ImageError(REASON_DECODE, f"OpenCV refused the {len(msg.data)}-byte "
                         f"{kind.upper()} payload ({str(exc).strip()}); "
                         + COMPRESSED_FIX) from None
    if bgr is None or bgr.ndim != 3 or bgr.shape[2] != 3 or bgr.size == 0:
        raise ImageError(
            REASON_DECODE,
            f"OpenCV could not decode the {len(msg.data)}-byte {kind.upper()} payload (corrupt "
            "or truncated); " + COMPRESSED_FIX,
        )
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)  # (H, W, 3) RGB, owns its memory


def is_compressed(msg: Any) -> bool:
    """True for a CompressedImage-like object (it has ``format``, no ``encoding``)."""
    return hasattr(msg, "format") and not hasattr(msg, "encoding")


def check_stamp(stamp: Any) -> None:
    """Raise ImageError (REASON_STAMP) for a negative header stamp (anything with .sec and
    .nanosec): no clock gives one, and the tokens could not carry it."""
    if stamp.sec < 0:
        raise ImageError(
            REASON_STAMP,
            f"header stamp is negative (sec={stamp.sec}, nanosec={stamp.nanosec}): a stamp "
            f"is a time on the ROS clock, or 0 for none. Fix the driver's stamps: {CLOCK_FIX}")


def check_message(msg: Any) -> None:
    """The cheap per-frame checks of an Image or CompressedImage (no conversion): its
    header stamp, then its layout or its compressed payload's signature."""
    header = getattr(msg, "header", None)
    if header is not None:
        check_stamp(header.stamp)
    if is_compressed(msg):
        check_compressed(msg.format, msg.data)
    else:
        check_layout(str(msg.encoding), int(msg.height), int(msg.width), int(msg.step),
                     len(msg.data))


def message_to_rgb(msg: Any, bridge: CvBridge | None = None) -> np.ndarray:
    """An Image or CompressedImage as uint8 (H, W, 3) RGB; ImageError when it cannot be or
    when it is blank (`check_not_blank`)."""
    rgb = compressed_to_rgb(msg) if is_compressed(msg) else image_to_rgb(msg, bridge)
    check_not_blank(rgb)
    return rgb


def resize_rgb(rgb: np.ndarray, size: int, crop: float = 1.0) -> np.ndarray:
    """uint8 (H, W, 3) RGB -> uint8 (size, size, 3): the centre ``crop`` of each side
    (`gr00t_policy.image_crop`, the backbone's ``image_crop``; none at 1), then bilinear with
    anti-aliasing.

    What training fed the backbone: gr00t_policy.train.data.resize_frames resizes every
    recorded frame with this filter and rounds to uint8; this is torch's uint8 kernel for
    the same filter (fixed-point weights, within one grey level of it) and costs a few
    percent of resizing a float copy (docs/BENCHMARKS.md, "Camera streams"). An image
    already ``size`` x ``size`` is returned as it is.
    """
    rgb = center_crop(rgb, crop)  # (h, w, 3), a view
    if rgb.shape[:2] == (size, size):
        return rgb
    x = torch.from_numpy(np.ascontiguousarray(rgb))  # (h, w, 3): a crop is a strided view
    x = x.permute(2, 0, 1).unsqueeze(0)  # (1, 3, H, W) uint8, channels-last
    y = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return np.ascontiguousarray(y[0].permute(1, 2, 0).numpy())  # (S, S, 3) uint8
