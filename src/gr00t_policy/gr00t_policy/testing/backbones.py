"""A tiny backbone configuration for tests that run the real backbone classes quickly."""

from __future__ import annotations

from gr00t_policy.backbone_config import BackboneConfig


def tiny_backbone(**changes) -> BackboneConfig:
    """4 image tokens per 56 px view, a 3-layer 64-wide LM read at layer 2, 32-wide output,
    48 tokens; `changes` override any field."""
    cfg = dict(
        vision_hidden_size=32, vision_intermediate_size=64, vision_num_layers=2,
        vision_num_heads=2, vision_patch_size=14, image_size=56, lm_hidden_size=64,
        lm_intermediate_size=128, lm_num_layers=3, lm_num_heads=2, lm_num_kv_heads=1,
        lm_max_position_embeddings=256, vocab_size=512, select_layer=2, output_dim=32,
        max_tokens=48,
    )
    cfg.update(changes)
    return BackboneConfig(**cfg)
