"""The centre crop before resizing (GR00T N1's 95%), and the config field that carries it."""

from __future__ import annotations

import numpy as np
import pytest

from gr00t_policy.backbone import preprocess_images
from gr00t_policy.backbone_config import BackboneConfig, gr00t_n1_backbone, nano_backbone
from gr00t_policy.image_crop import center_crop, crop_box


def test_crop_box_follows_torchvision_center_crop():
    # torchvision CenterCrop((int(h * s), int(w * s))): offsets int(round((side - kept) / 2)).
    assert crop_box(480, 640, 0.95) == (12, 16, 456, 608)
    assert crop_box(101, 131, 0.95) == (3, 4, 95, 124)  # round(3.0), round(3.5) = 4
    assert crop_box(100, 100, 1.0) == (0, 0, 100, 100)
    for bad in (0.0, 1.5, float("nan")):
        with pytest.raises(ValueError, match="in \\(0, 1\\]"):
            crop_box(10, 10, bad)
    with pytest.raises(ValueError, match="empty"):
        crop_box(10, 10, 0.05)


def test_center_crop_is_a_view_of_the_middle_and_a_no_op_at_one():
    frames = np.arange(2 * 480 * 640 * 3, dtype=np.int64).reshape(2, 480, 640, 3)
    out = center_crop(frames, 0.95)
    assert out.shape == (2, 456, 608, 3) and np.shares_memory(out, frames)
    assert out[1, 0, 0, 0] == frames[1, 12, 16, 0]
    assert center_crop(frames, 1.0) is frames


def test_backbone_config_carries_the_crop_and_old_configs_read_as_before():
    assert gr00t_n1_backbone().image_crop == 0.95  # Isaac-GR00T's data configs
    nano = nano_backbone()
    assert nano.image_crop == 1.0 and "image_crop" not in nano.to_dict()  # ids unchanged
    cropped = BackboneConfig.from_dict({**nano.to_dict(), "image_crop": 0.95})
    assert cropped.to_dict()["image_crop"] == 0.95
    assert BackboneConfig.from_dict(cropped.to_dict()) == cropped
    with pytest.raises(ValueError, match="image_crop must be in \\(0, 1\\]"):
        BackboneConfig.from_dict({**nano.to_dict(), "image_crop": 95})


def test_preprocess_crops_before_resizing():
    img = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    cfg = BackboneConfig.from_dict({**nano_backbone().to_dict(), "image_crop": 0.95})
    cropped = preprocess_images([img], cfg)
    by_hand = preprocess_images([np.ascontiguousarray(img[12:468, 16:624])], nano_backbone())
    assert np.array_equal(cropped.numpy(), by_hand.numpy())
    assert not np.allclose(cropped.numpy(), preprocess_images([img], nano_backbone()).numpy())
