"""BackboneConfig validation, the Eagle-style backbone and the numpy BackboneRunner."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gr00t_policy.backbone import BackboneRunner, EagleBackbone, pixel_shuffle, preprocess_images
from gr00t_policy.backbone_config import BACKBONE_PRESETS, BackboneConfig, nano_backbone
from gr00t_policy.prompt import PromptBuilder, build_nano_tokenizer
from gr00t_policy.testing.backbones import tiny_backbone

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def tokenizer():
    return build_nano_tokenizer()


def _runner(cfg: BackboneConfig, tokenizer, seed: int = 0) -> BackboneRunner:
    torch.manual_seed(seed)
    return BackboneRunner.from_modules(EagleBackbone(cfg), tokenizer, backbone_id="test")


def _image(seed: int, h: int = 80, w: int = 100) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)


# Config ---------------------------------------------------------------------------------------


def test_full_preset_derived_sizes():
    cfg = BACKBONE_PRESETS["gr00t-n1-2b"]()
    assert cfg.patches_per_side == 16
    assert cfg.image_tokens_per_view == 64
    assert cfg.projector_input_dim == 4608
    assert cfg.lm_head_dim == 64


def test_nano_preset_derived_sizes():
    cfg = nano_backbone()
    assert cfg.image_tokens_per_view == 16 and cfg.projector_input_dim == 768
    assert cfg.output_dim == 128 and cfg.max_tokens == 64


@pytest.mark.parametrize(
    "changes, field",
    [
        (dict(vision_num_heads=5), "vision_num_heads"),
        (dict(image_size=100), "image_size"),
        (dict(pixel_shuffle_ratio=0.3), "pixel_shuffle_ratio"),
        (dict(lm_num_kv_heads=3), "lm_num_kv_heads"),
        (dict(select_layer=4), "select_layer"),
        (dict(max_tokens=0), "max_tokens"),
        (dict(max_tokens=3), "max_tokens"),
        (dict(image_std=(0.5, 0.0, 0.5)), "image_std"),
        (dict(image_end_token="<img>"), "image_end_token"),
        (dict(output_dim=True), "output_dim"),
    ],
)
def test_config_validation_names_field(changes, field):
    with pytest.raises(ValueError, match=field):
        tiny_backbone(**changes)


def test_config_dict_round_trip():
    cfg = nano_backbone()
    data = cfg.to_dict()
    assert data["image_mean"] == [0.5, 0.5, 0.5]
    assert BackboneConfig.from_dict(data) == cfg
    with pytest.raises(ValueError, match="bogus"):
        BackboneConfig.from_dict({**data, "bogus": 1})


# Modules ---------------------------------------------------------------------------------------


def test_pixel_shuffle_matches_index_formula():
    x = torch.arange(2 * 4 * 6 * 3, dtype=torch.float32).reshape(2, 4, 6, 3)  # (N, W, H, C)
    y = pixel_shuffle(x, 0.5)
    assert y.shape == (2, 2, 3, 12)
    for n in range(2):
        for a in range(2):
            for b in range(3):
                expected = torch.cat(
                    [x[n, 2 * a, 2 * b], x[n, 2 * a, 2 * b + 1],
                     x[n, 2 * a + 1, 2 * b], x[n, 2 * a + 1, 2 * b + 1]]
                )
                assert torch.equal(y[n, a, b], expected)


def test_state_dict_keys_mirror_official_layout():
    cfg = tiny_backbone()
    keys = set(EagleBackbone(cfg).state_dict())
    assert "model.vision_model.vision_model.embeddings.patch_embedding.weight" in keys
    assert "model.vision_model.vision_model.post_layernorm.weight" in keys
    assert not any(".head." in k for k in keys)  # pooling head removed
    assert {k.split(".")[2] for k in keys if k.startswith("model.mlp1.")} == {"0", "1", "3"}
    layers = {k.split(".")[4] for k in keys if k.startswith("model.language_model.model.layers.")}
    assert layers == {str(i) for i in range(cfg.select_layer)}
    assert "model.language_model.model.norm.weight" in keys
    assert "model.language_model.model.embed_tokens.weight" in keys
    assert {"linear.weight", "linear.bias"} <= keys


def test_full_backbone_parameter_count_on_meta():
    with torch.device("meta"):
        bb = EagleBackbone(BackboneConfig())
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    # SigLIP-so400m/14 @ 224 without head; mlp1 4608->2048->2048; SmolLM2 layers 0-11 + norm.
    assert count(bb.model.vision_model) == 412_442_352
    assert count(bb.model.mlp1) == 4608 * 2 + 4608 * 2048 + 2048 + 2048 * 2048 + 2048
    assert count(bb.model.language_model) == 49164 * 2048 + 12 * 67_112_960 + 2048
    assert count(bb.linear) == 2048 * 1536 + 1536
    assert count(bb) == 1_335_279_856


# Runner ----------------------------------------------------------------------------------------


def test_encode_shapes_padding_and_determinism(tokenizer):
    cfg = tiny_backbone()
    runner = _runner(cfg, tokenizer)
    tokens, mask = runner.encode([_image(0)], "touch the red cube with your left hand")
    assert tokens.shape == (cfg.max_tokens, cfg.output_dim) and tokens.dtype == np.float32
    assert mask.shape == (cfg.max_tokens,) and mask.dtype == np.bool_
    n_real = runner.prompt.encode("touch the red cube with your left hand").num_real
    assert int(mask.sum()) == n_real and mask[-n_real:].all()
    assert np.all(tokens[~mask] == 0.0) and np.isfinite(tokens).all()
    assert np.abs(tokens[mask]).sum() > 0
    again, _ = runner.encode([_image(0)], "touch the red cube with your left hand")
    assert np.array_equal(tokens, again)
    assert (runner.max_tokens, runner.output_dim, runner.image_size, runner.num_views) == (
        cfg.max_tokens, cfg.output_dim, cfg.image_size, 1
    )
    assert runner.backbone_id == "test"


def test_real_tokens_do_not_depend_on_padding(tokenizer):
    """Positions count real tokens, so more left padding leaves real rows unchanged."""
    short, long = tiny_backbone(max_tokens=40), tiny_backbone(max_tokens=70)
    torch.manual_seed(0)
    bb = EagleBackbone(short)
    a = BackboneRunner.from_modules(bb, tokenizer, "x")
    t_short, m_short = a.encode([_image(1)], "raise your right hand")
    bb_long = EagleBackbone(long)
    bb_long.load_state_dict(bb.state_dict())
    t_long, m_long = BackboneRunner.from_modules(bb_long, tokenizer, "x").encode(
        [_image(1)], "raise your right hand"
    )
    n = int(m_short.sum())
    assert int(m_long.sum()) == n
    np.testing.assert_allclose(t_long[-n:], t_short[-n:], atol=1e-5)


def test_image_is_scattered_after_the_system_turn(tokenizer):
    """Changing the image changes tokens from <IMG_CONTEXT> on, never the causal prefix."""
    cfg = tiny_backbone()
    runner = _runner(cfg, tokenizer)
    ids = runner.prompt.encode("raise your left hand").input_ids
    first_ctx = int(np.argmax(ids == runner.prompt.image_context_id))
    t1, mask = runner.encode([_image(1)], "raise your left hand")
    t2, _ = runner.encode([_image(2)], "raise your left hand")
    np.testing.assert_array_equal(t1[:first_ctx], t2[:first_ctx])
    assert np.abs(t1[first_ctx:] - t2[first_ctx:]).max() > 1e-4
    t3, _ = runner.encode([_image(1)], "raise your right hand")
    assert np.abs(t3[mask] - t1[mask]).max() > 1e-4  # (same prompt length)


def test_batch_matches_single(tokenizer):
    cfg = tiny_backbone(num_views=2)
    torch.manual_seed(0)
    bb = EagleBackbone(cfg).eval()
    builder = PromptBuilder(tokenizer, cfg)
    bb.image_context_id = builder.image_context_id
    prompts = [builder.encode("raise your left hand"), builder.encode("touch the blue cube")]
    ids = torch.from_numpy(np.stack([p.input_ids for p in prompts]))  # (2, L)
    am = torch.from_numpy(np.stack([p.attention_mask for p in prompts]))  # (2, L)
    pix = torch.stack([preprocess_images([_image(i), _image(i + 5)], cfg) for i in range(2)])
    with torch.no_grad():
        tokens, mask = bb(ids, am, pix)  # (2, L, C)
        for i in range(2):
            single, _ = bb(ids[i : i + 1], am[i : i + 1], pix[i : i + 1])
            torch.testing.assert_close(tokens[i], single[0], atol=1e-5, rtol=1e-5)
    assert torch.equal(mask, am)


def test_preprocess_resizes_and_normalizes():
    cfg = tiny_backbone()
    white = np.full((30, 90, 3), 255, dtype=np.uint8)
    black = np.zeros((cfg.image_size, cfg.image_size, 3), dtype=np.uint8)
    pix = preprocess_images([white, black], cfg)
    assert pix.shape == (2, 3, cfg.image_size, cfg.image_size)
    torch.testing.assert_close(pix[0], torch.ones_like(pix[0]))
    torch.testing.assert_close(pix[1], -torch.ones_like(pix[1]))


def test_encode_input_errors(tokenizer):
    cfg = tiny_backbone()
    runner = _runner(cfg, tokenizer)
    with pytest.raises(ValueError, match="expected 1 camera image"):
        runner.encode([_image(0), _image(1)], "raise your left hand")
    with pytest.raises(ValueError, match="uint8"):
        runner.encode([_image(0).astype(np.float32)], "raise your left hand")
    with pytest.raises(ValueError, match=rf"tokens but .*room for at most .*max_tokens {cfg.max_tokens}"):
        runner.encode([_image(0)], "cube " * 60)
    with pytest.raises(ValueError, match="dtype"):
        BackboneRunner.from_modules(EagleBackbone(cfg), tokenizer, "x", dtype="float8")


def test_forward_without_image_context_id_is_explained(tokenizer):
    cfg = tiny_backbone()
    bb = EagleBackbone(cfg)
    ids = torch.zeros(1, cfg.max_tokens, dtype=torch.long)
    with pytest.raises(ValueError, match="image_context_id"):
        bb(ids, torch.ones_like(ids, dtype=torch.bool), torch.zeros(1, 1, 3, 56, 56))
