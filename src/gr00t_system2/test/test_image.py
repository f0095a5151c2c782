"""gr00t_system2.image: every accepted encoding and every rejection reason (no DDS)."""

import numpy as np
import pytest
from sensor_msgs.msg import Image

from gr00t_system2.image import (
    ACCEPTED_ENCODINGS,
    ImageError,
    REASON_DATA_LENGTH,
    REASON_ENCODING,
    REASON_SIZE,
    REASON_STEP,
    image_to_rgb,
)

RNG = np.random.default_rng(3)
RGB = RNG.integers(0, 256, size=(5, 7, 3), dtype=np.uint8)  # (H, W, 3)


def encode(rgb: np.ndarray, encoding: str) -> np.ndarray:
    """RGB (H, W, 3) -> the pixel layout of ``encoding``."""
    if encoding == "rgb8":
        return rgb
    if encoding == "bgr8":
        return rgb[..., ::-1]
    alpha = np.full(rgb.shape[:2] + (1,), 77, np.uint8)
    if encoding == "rgba8":
        return np.concatenate([rgb, alpha], axis=-1)
    if encoding == "bgra8":
        return np.concatenate([rgb[..., ::-1], alpha], axis=-1)
    if encoding == "mono8":
        return rgb[..., 0]
    raise ValueError(encoding)


def make_msg(pixels: np.ndarray, encoding: str, pad: int = 0) -> Image:
    h, w = pixels.shape[:2]
    rows = np.ascontiguousarray(pixels).reshape(h, -1)  # (H, W*C)
    if pad:
        rows = np.concatenate([rows, np.full((h, pad), 255, np.uint8)], axis=1)
    msg = Image()
    msg.encoding, msg.height, msg.width = encoding, h, w
    msg.step = rows.shape[1]
    msg.data = rows.tobytes()
    return msg


@pytest.mark.parametrize("encoding", sorted(ACCEPTED_ENCODINGS))
@pytest.mark.parametrize("pad", [0, 3])
def test_accepted_encodings_become_rgb(encoding, pad):
    msg = make_msg(encode(RGB, encoding), encoding, pad=pad)
    out = image_to_rgb(msg)
    assert out.shape == (5, 7, 3) and out.dtype == np.uint8
    if encoding == "mono8":
        expected = np.repeat(RGB[..., :1], 3, axis=-1)
    else:
        expected = RGB
    np.testing.assert_array_equal(out, expected)


def test_result_owns_its_memory():
    msg = make_msg(RGB, "rgb8")
    out = image_to_rgb(msg)
    out[0, 0, 0] ^= 0xFF
    assert msg.data[0] == RGB[0, 0, 0]  # the message buffer is untouched


def test_big_endian_flag_is_irrelevant_for_8_bit():
    msg = make_msg(encode(RGB, "bgr8"), "bgr8")
    msg.is_bigendian = 1
    np.testing.assert_array_equal(image_to_rgb(msg), RGB)


@pytest.mark.parametrize("encoding", ["16UC1", "yuv422", "bayer_rggb8", "32FC1", "mono16", "", "RGB8"])
def test_unsupported_encodings_are_rejected(encoding):
    msg = make_msg(RGB, "rgb8")
    msg.encoding = encoding
    with pytest.raises(ImageError) as err:
        image_to_rgb(msg)
    assert err.value.reason == REASON_ENCODING
    assert repr(encoding) in str(err.value) and "rgb8" in str(err.value)


@pytest.mark.parametrize("height,width", [(0, 7), (5, 0), (0, 0)])
def test_zero_sizes_are_rejected(height, width):
    msg = make_msg(RGB, "rgb8")
    msg.height, msg.width = height, width
    msg.step = width * 3
    msg.data = bytes(msg.step * height)
    with pytest.raises(ImageError) as err:
        image_to_rgb(msg)
    assert err.value.reason == REASON_SIZE
    assert "height" in str(err.value)


def test_step_below_row_size_is_rejected():
    msg = make_msg(RGB, "rgb8")
    msg.step = 7 * 3 - 1
    msg.data = bytes(msg.step * 5)
    with pytest.raises(ImageError) as err:
        image_to_rgb(msg)
    assert err.value.reason == REASON_STEP
    assert "step=20" in str(err.value) and "21" in str(err.value)


@pytest.mark.parametrize("delta", [-1, -21, +1])
def test_data_length_must_equal_step_times_height(delta):
    msg = make_msg(RGB, "rgb8")
    data = bytes(msg.data)
    msg.data = data[:delta] if delta < 0 else data + bytes(delta)
    with pytest.raises(ImageError) as err:
        image_to_rgb(msg)
    assert err.value.reason == REASON_DATA_LENGTH
    assert "data length" in str(err.value) and "step*height" in str(err.value)


def test_plain_object_with_image_fields_works():
    class Fields:
        encoding, height, width, step, is_bigendian = "bgr8", 5, 7, 21, 0
        data = encode(RGB, "bgr8").tobytes()

    np.testing.assert_array_equal(image_to_rgb(Fields()), RGB)
