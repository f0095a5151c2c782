"""PolicyConfig presets and validation, GR00TPolicy parts, joint loss and parameter counts."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from gr00t_policy.backbone import preprocess_images
from gr00t_policy.policy import GR00TPolicy, build_policy, count_parameters
from gr00t_policy.policy_config import POLICY_PRESETS, PolicyConfig, get_preset
from gr00t_policy.prompt import PromptBuilder, build_nano_tokenizer
from gr00t_policy.testing.policies import tiny_policy

torch.set_num_threads(1)


def tiny_policy_config() -> PolicyConfig:
    return tiny_policy(dict(vision_num_layers=1, lm_num_layers=2, lm_num_kv_heads=2,
                            lm_max_position_embeddings=128))


def tiny_batch(config: PolicyConfig, batch: int = 2) -> dict[str, torch.Tensor]:
    tok = build_nano_tokenizer(config.backbone)
    builder = PromptBuilder(tok, config.backbone)
    prompts = [builder.encode(t) for t in ("raise your left hand", "touch the red cube")][:batch]
    rng = np.random.default_rng(0)
    images = [[rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)] for _ in range(batch)]
    h = config.action_head
    g = torch.Generator().manual_seed(0)
    mask = torch.zeros(batch, h.action_horizon, h.max_action_dim)
    mask[..., :4] = 1.0
    return {
        "input_ids": torch.from_numpy(np.stack([p.input_ids for p in prompts])),
        "attention_mask": torch.from_numpy(np.stack([p.attention_mask for p in prompts])),
        "image_token_mask": torch.from_numpy(
            np.stack([p.input_ids == builder.image_context_id for p in prompts])
        ),
        "pixel_values": torch.stack([preprocess_images(im, config.backbone) for im in images]),
        "state": torch.randn(batch, 1, h.max_state_dim, generator=g),
        "actions": torch.randn(batch, h.action_horizon, h.max_action_dim, generator=g) * mask,
        "action_mask": mask,
        "embodiment_id": torch.tensor([0, 1][:batch]),
        "noise": torch.randn(batch, h.action_horizon, h.max_action_dim, generator=g),
        "t": torch.tensor([0.3, 0.8][:batch]),
    }


def test_presets_are_consistent():
    assert set(POLICY_PRESETS) == {"gr00t-n1-2b", "nano", "nano-smollm2"}
    nano = get_preset("nano")
    assert nano.backbone.output_dim == nano.action_head.cross_attention_dim == 128
    # nano-smollm2 is nano plus the instruction encoder, nothing else
    smol = get_preset("nano-smollm2").to_dict()
    assert smol["action_head"] == nano.to_dict()["action_head"]
    assert {k: v for k, v in smol["backbone"].items() if not k.startswith("instruction_")} == (
        nano.to_dict()["backbone"])
    assert smol["backbone"]["instruction_encoder_dim"] == 576
    full = get_preset("gr00t-n1-2b")
    assert full.backbone.output_dim == full.action_head.cross_attention_dim == 1536


def test_unknown_preset_lists_and_suggests():
    with pytest.raises(ValueError, match=r"'gr00t-n1'.*\['gr00t-n1-2b', 'nano', 'nano-smollm2'\].*'gr00t-n1-2b'"):
        get_preset("gr00t-n1")


def test_output_dim_must_match_cross_attention_dim():
    cfg = tiny_policy_config()
    with pytest.raises(ValueError, match="output_dim=32.*cross_attention_dim=64"):
        PolicyConfig(cfg.backbone, dataclasses.replace(cfg.action_head, cross_attention_dim=64))
    with pytest.raises(ValueError, match="PolicyConfig.backbone"):
        PolicyConfig(cfg.backbone.to_dict(), cfg.action_head)


def test_json_round_trip(tmp_path):
    for cfg in (*POLICY_PRESETS.values(), tiny_policy_config()):
        assert PolicyConfig.from_json(cfg.to_json()) == cfg
    path = get_preset("nano").save(tmp_path / "policy.json")
    assert PolicyConfig.load(path) == get_preset("nano")
    with pytest.raises(ValueError, match="action_head"):
        PolicyConfig.from_dict({"backbone": get_preset("nano").backbone.to_dict()})


def test_full_preset_parameter_counts_on_meta():
    policy = build_policy(get_preset("gr00t-n1-2b"), "meta")
    counts = count_parameters(policy)
    assert counts["dit"] == 537_803_776
    assert counts["backbone_total"] == 1_335_279_856
    assert 2.15e9 <= counts["total"] <= 2.25e9
    assert counts["total"] == sum(p.numel() for p in policy.parameters())
    parts = ("vision", "projector", "language_model", "backbone_linear")
    assert sum(counts[p] for p in parts) == counts["backbone_total"]
    head = ("dit", "state_encoder", "action_encoder", "action_decoder", "position_embedding")
    assert sum(counts[p] for p in head) == counts["action_head_total"]


def test_parts_build_only_what_is_asked():
    cfg = tiny_policy_config()
    head_only = build_policy(cfg, parts=("action_head",))
    assert head_only.backbone is None and head_only.action_head is not None
    assert all(k.startswith("action_head.") for k in head_only.state_dict())
    with pytest.raises(ValueError, match="parts"):
        head_only.loss(tiny_batch(cfg))
    with pytest.raises(ValueError, match="subset"):
        GR00TPolicy(cfg, parts=("vision",))


def test_joint_loss_trains_both_parts():
    cfg = tiny_policy_config()
    torch.manual_seed(0)
    policy = build_policy(cfg)
    batch = tiny_batch(cfg)
    loss = policy.loss(batch)
    assert loss.ndim == 0 and torch.isfinite(loss) and loss > 0
    loss.backward()
    vision_grad = policy.backbone.model.vision_model.vision_model.embeddings.patch_embedding.weight.grad
    lm_grad = policy.backbone.model.language_model.model.layers[0].mlp.up_proj.weight.grad
    assert vision_grad is not None and vision_grad.abs().sum() > 0
    assert lm_grad is not None and lm_grad.abs().sum() > 0
    assert policy.action_head.model.proj_out_2.weight.grad.abs().sum() > 0
    # Fixed noise and t in the batch: the loss is a deterministic function of the batch.
    with torch.no_grad():
        assert torch.equal(policy.loss(batch), policy.loss(batch))
        other = dict(batch, t=torch.tensor([0.1, 0.2]))
        assert not torch.equal(policy.loss(batch), policy.loss(other))
    with pytest.raises(ValueError, match="embodiment_id"):
        policy.loss({k: v for k, v in batch.items() if k != "embodiment_id"})


def test_a_few_steps_reduce_the_loss():
    cfg = tiny_policy_config()
    torch.manual_seed(0)
    policy = build_policy(cfg)
    batch = tiny_batch(cfg)
    opt = torch.optim.AdamW(policy.parameters(), lr=3e-3)
    first = policy.loss(batch).item()
    for _ in range(15):
        opt.zero_grad()
        policy.loss(batch).backward()
        opt.step()
    assert policy.loss(batch).item() < 0.7 * first


def test_sample_shape():
    cfg = tiny_policy_config()
    policy = build_policy(cfg).eval()
    batch = tiny_batch(cfg)
    out = policy.sample(batch, batch["noise"], num_steps=2)
    assert out.shape == batch["noise"].shape and torch.isfinite(out).all()
