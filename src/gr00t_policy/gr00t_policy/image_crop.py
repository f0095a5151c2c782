"""The centre crop a backbone's images get before resizing (ROS-free, numpy only).

Isaac-GR00T's data configs crop every camera image to 95% of each side before resizing it
(`VideoCrop(scale=0.95)`: a random crop in training, a centre crop at inference,
`gr00t/data/transform/video.py`), so GR00T N1 and its fine-tunes expect the centre 95% of
the view. `BackboneConfig.image_crop` says how much a checkpoint's backbone keeps (1 = the
whole image, our nano checkpoints); System 2, offline encoding and training all crop here.
Sizes and offsets follow torchvision's `CenterCrop`: the kept size is int(side * fraction),
the offset int(round((side - kept) / 2)).
"""

from __future__ import annotations

import math

import numpy as np


def crop_box(height: int, width: int, fraction: float) -> tuple[int, int, int, int]:
    """(top, left, kept height, kept width) of the centre crop keeping ``fraction`` of each
    side; the whole image for fraction 1."""
    if not (math.isfinite(fraction) and 0.0 < fraction <= 1.0):
        raise ValueError(f"image crop fraction must be in (0, 1], got {fraction}")
    kept_h, kept_w = int(height * fraction), int(width * fraction)
    if kept_h < 1 or kept_w < 1:
        raise ValueError(f"a {height}x{width} image cropped to {fraction:g} of each side is empty")
    return (int(round((height - kept_h) / 2.0)), int(round((width - kept_w) / 2.0)),
            kept_h, kept_w)


def center_crop(images: np.ndarray, fraction: float) -> np.ndarray:
    """The centre crop of ``images`` (..., H, W, C) keeping ``fraction`` of each side, as a
    view (``images`` itself for fraction 1)."""
    if fraction == 1.0:
        return images
    top, left, kept_h, kept_w = crop_box(images.shape[-3], images.shape[-2], fraction)
    return images[..., top:top + kept_h, left:left + kept_w, :]
