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
    # ... and says what to do about it
    assert "set the camera driver to publish rgb8, bgr8 or mono8" in str(err.value)
    assert "image_proc" in str(err.value)


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


# -- compressed images and the resize ---------------------------------------------------------

def smooth_rgb(h: int = 48, w: int = 64) -> np.ndarray:
    """A smooth image (lossy JPEG stays close to it)."""
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // w, y * 255 // h, np.full_like(x, 90)], -1).astype(np.uint8)


def compressed(rgb: np.ndarray, kind: str, fmt: str | None = None):
    import cv2
    from sensor_msgs.msg import CompressedImage

    ok, data = cv2.imencode(".jpg" if kind == "jpeg" else ".png", rgb[..., ::-1])
    assert ok
    fmt = f"rgb8; {kind} compressed bgr8" if fmt is None else fmt
    return CompressedImage(format=fmt, data=data.tobytes())


@pytest.mark.parametrize("fmt", ["jpeg", "rgb8; jpeg compressed bgr8", "JPG",
                                 "yuv422_yuy2; jpeg compressed bgr8"])
def test_jpeg_is_decoded_to_rgb(fmt):
    from gr00t_system2.image import check_message, message_to_rgb

    rgb = smooth_rgb()
    msg = compressed(rgb, "jpeg", fmt)
    check_message(msg)
    out = message_to_rgb(msg)
    assert out.shape == rgb.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - rgb).mean() < 3  # lossy, but the channels are in order


def test_png_is_decoded_exactly():
    from gr00t_system2.image import message_to_rgb

    np.testing.assert_array_equal(message_to_rgb(compressed(RGB, "png", "png")), RGB)


@pytest.mark.parametrize("fmt", ["h264", "16UC1; compressedDepth png", "theora", "",
                                 "16UC1; png compressed 16UC1", "mono16; png compressed mono16"])
def test_unsupported_compressed_formats_are_rejected(fmt):
    from gr00t_system2.image import REASON_FORMAT, check_message

    msg = compressed(smooth_rgb(), "png", fmt)
    with pytest.raises(ImageError) as err:
        check_message(msg)
    assert err.value.reason == REASON_FORMAT
    assert repr(fmt) in str(err.value) and "jpeg, png" in str(err.value)


def test_a_png_header_claiming_too_many_pixels_is_a_decode_error():
    import struct
    import zlib

    from sensor_msgs.msg import CompressedImage

    from gr00t_system2.image import REASON_DECODE, message_to_rgb

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    png = (b"\x89PNG\r\n\x1a\n"  # a header claiming 40000 x 40000 (1.6e9) RGB pixels
           + chunk(b"IHDR", struct.pack(">IIBBBBB", 40000, 40000, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b""))
    with pytest.raises(ImageError) as err:  # cv2.error before: it ended the converter thread
        message_to_rgb(CompressedImage(format="png", data=png))
    assert err.value.reason == REASON_DECODE


def test_bad_compressed_payloads_are_rejected_naming_the_fix():
    from sensor_msgs.msg import CompressedImage

    from gr00t_system2.image import REASON_DECODE, REASON_PAYLOAD, check_message, message_to_rgb

    not_jpeg = CompressedImage(format="jpeg", data=bytes(range(200)))
    with pytest.raises(ImageError) as err:
        check_message(not_jpeg)  # caught on receipt, by the signature
    assert err.value.reason == REASON_PAYLOAD
    assert "not JPEG" in str(err.value) and "image_transport" in str(err.value)
    good = compressed(smooth_rgb(), "jpeg")
    truncated = CompressedImage(format=good.format, data=bytes(good.data)[:40])
    check_message(truncated)  # the signature is right: only decoding finds it
    with pytest.raises(ImageError) as err:
        message_to_rgb(truncated)
    assert err.value.reason == REASON_DECODE and "corrupt or truncated" in str(err.value)
    with pytest.raises(ImageError):
        check_message(CompressedImage(format="png", data=b""))


@pytest.mark.parametrize("shape", [(224, 224), (480, 640), (1080, 1920), (97, 131)])
def test_resize_matches_training_within_one_grey_level(shape):
    from gr00t_policy.train.data import resize_frames

    from gr00t_system2.image import resize_rgb

    img = np.random.default_rng(shape[0]).integers(0, 256, shape + (3,), dtype=np.uint8)
    for crop in (1.0, 0.95):  # 0.95: GR00T N1's centre crop, the same in both
        out = resize_rgb(img, 112, crop)
        assert out.shape == (112, 112, 3) and out.dtype == np.uint8 and out.flags.c_contiguous
        trained = resize_frames(img[None], 112, crop)[0].permute(1, 2, 0).numpy()  # (S, S, 3)
        assert np.abs(out.astype(int) - trained).max() <= 1
    same = np.zeros((112, 112, 3), np.uint8)
    assert resize_rgb(same, 112) is same


def test_prepared_frames_are_not_cropped_twice():
    """System 2 crops and resizes on its converter thread and hands the backbone prepared
    frames: they must encode like the raw frame would (within the uint8 rounding)."""
    from gr00t_policy.backbone import preprocess_images
    from gr00t_policy.backbone_config import BackboneConfig, nano_backbone

    from gr00t_system2.image import resize_rgb

    cfg = BackboneConfig.from_dict({**nano_backbone().to_dict(), "image_crop": 0.95})
    raw = np.random.default_rng(3).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    prepared = resize_rgb(raw, cfg.image_size, cfg.image_crop)
    direct = preprocess_images([raw], cfg).numpy()
    via_node = preprocess_images([prepared], cfg, prepared=True).numpy()
    assert np.abs(via_node - direct).max() <= 1.01 / 255 / 0.5  # one grey level, std 0.5
    twice = preprocess_images([prepared], cfg).numpy()  # what a second crop would give
    assert np.abs(twice - direct).max() > 0.1
    with pytest.raises(ValueError, match="prepared images are the backbone's 112x112"):
        preprocess_images([raw], cfg, prepared=True)


def uniform(colour, h: int = 48, w: int = 64) -> np.ndarray:
    return np.tile(np.array(colour, np.uint8), (h, w, 1))  # (H, W, 3)


@pytest.mark.parametrize("name,pixels", [
    ("black", uniform((0, 0, 0))),
    ("white", uniform((255, 255, 255))),
    ("grey", uniform((128, 128, 128))),
    ("red", uniform((255, 0, 0))),
    # a failed exposure is rarely exact: two grey levels of noise on a dark frame
    ("near black", np.random.default_rng(0).integers(0, 3, (48, 64, 3), dtype=np.uint8)),
])
def test_blank_frames_are_rejected_naming_the_likely_causes(name, pixels):
    from gr00t_system2.image import REASON_BLANK, message_to_rgb

    for msg in (make_msg(pixels, "rgb8"), make_msg(pixels[..., 0].copy(), "mono8"),
                compressed(pixels, "png")):
        with pytest.raises(ImageError) as err:
            message_to_rgb(msg)
        assert err.value.reason == REASON_BLANK, name
        assert "lens cap" in str(err.value) and "exposure" in str(err.value)
        assert "driver" in str(err.value)


def test_dark_and_sparse_scenes_are_not_blank():
    from gr00t_system2.image import check_not_blank, message_to_rgb

    # A scene dimmed until nothing is brighter than 4 grey levels (the simulator's head
    # camera view, dimmed the same way, spans 4 levels too).
    dark = (smooth_rgb().astype(float) * 4 / 255).round().astype(np.uint8)
    assert dark.max() == 4
    check_not_blank(dark)
    # Thin bright stripes every 8th row: an evenly spaced grid of samples must not fall
    # between them.
    striped = uniform((200, 30, 30), 480, 640)
    striped[::8] = 255
    check_not_blank(striped)
    # One small object on a plain background.
    wall = uniform((180, 180, 180), 480, 640)
    wall[200:230, 300:330] = (20, 90, 200)
    check_not_blank(wall)
    # The test fixtures of the node tests (random scenes) go through as before.
    np.testing.assert_array_equal(message_to_rgb(make_msg(RGB, "rgb8")), RGB)


@pytest.mark.parametrize("compressed_msg", [False, True])
def test_negative_stamps_are_rejected_naming_the_fix(compressed_msg):
    from gr00t_system2.image import REASON_STAMP, check_message

    msg = compressed(smooth_rgb(), "png") if compressed_msg else make_msg(RGB, "rgb8")
    check_message(msg)  # stamp 0: unstamped, accepted
    msg.header.stamp.sec = -5
    with pytest.raises(ImageError) as err:
        check_message(msg)
    assert err.value.reason == REASON_STAMP
    assert "sec=-5" in str(err.value) and "ROS clock" in str(err.value)
