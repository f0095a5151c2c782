"""The GR00T N1 action head: sizes, shapes, masking, slot isolation, and that it learns."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from gr00t_policy.action_head import FlowMatchingActionHead
from gr00t_policy.action_head_config import (
    ACTION_HEAD_PRESETS,
    ActionHeadConfig,
    get_action_head_preset,
)

NANO = ACTION_HEAD_PRESETS["nano"]


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make_head(seed: int = 0, cfg: ActionHeadConfig = NANO) -> FlowMatchingActionHead:
    torch.manual_seed(seed)
    return FlowMatchingActionHead(cfg).eval()


def make_inputs(cfg: ActionHeadConfig, batch: int = 2, tokens: int = 12, seed: int = 1):
    gen = torch.Generator().manual_seed(seed)
    features = torch.randn(batch, tokens, cfg.cross_attention_dim, generator=gen)
    mask = torch.ones(batch, tokens, dtype=torch.bool)
    mask[:, :4] = False  # left padding
    state = torch.randn(batch, 1, cfg.max_state_dim, generator=gen)
    noise = torch.randn(batch, cfg.action_horizon, cfg.max_action_dim, generator=gen)
    return features, mask, state, noise


# -- config ----------------------------------------------------------------------------------


def test_config_round_trip_and_presets() -> None:
    full = get_action_head_preset("gr00t-n1-2b")
    assert full == ActionHeadConfig()
    assert ActionHeadConfig.from_dict(NANO.to_dict()) == NANO
    assert NANO.num_cross_attention_blocks == 2
    assert full.num_cross_attention_blocks == 8
    with pytest.raises(ValueError, match="known presets"):
        get_action_head_preset("giant")


@pytest.mark.parametrize(
    "changes,field",
    [
        ({"head_dim": 40}, "head_dim"),
        ({"num_layers": 0}, "num_layers"),
        ({"max_seq_len": 8}, "max_seq_len"),
        ({"noise_s": 0.0}, "noise_s"),
        ({"noise_beta_alpha": -1.0}, "noise_beta_alpha"),
        ({"hidden_size": 12.5}, "hidden_size"),
    ],
)
def test_config_rejects_bad_values_naming_the_field(changes: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        dataclasses.replace(NANO, **changes)


def test_config_from_dict_rejects_unknown_keys() -> None:
    with pytest.raises(ValueError, match="unknown keys"):
        ActionHeadConfig.from_dict({**NANO.to_dict(), "hiden_size": 3})


# -- sizes and shapes ------------------------------------------------------------------------


def test_full_preset_parameter_counts_are_exact() -> None:
    with torch.device("meta"):
        head = FlowMatchingActionHead(ACTION_HEAD_PRESETS["gr00t-n1-2b"])

    def count(module: torch.nn.Module) -> int:
        return sum(p.numel() for p in module.parameters())

    assert count(head.model) == 537_803_776
    assert count(head.state_encoder) == 52_510_720
    assert count(head.action_encoder) == 228_212_736
    assert count(head.action_decoder) == 34_636_800
    assert count(head.position_embedding) == 1_572_864
    assert count(head) == 537_803_776 + 52_510_720 + 228_212_736 + 34_636_800 + 1_572_864


def test_official_key_names() -> None:
    keys = set(make_head().state_dict())
    for key in (
        "model.timestep_encoder.timestep_embedder.linear_1.weight",
        "model.timestep_encoder.timestep_embedder.linear_2.bias",
        "model.transformer_blocks.0.norm1.linear.weight",
        "model.transformer_blocks.0.attn1.to_q.weight",
        "model.transformer_blocks.1.attn1.to_k.bias",
        "model.transformer_blocks.0.attn1.to_out.0.weight",
        "model.transformer_blocks.3.ff.net.0.proj.weight",
        "model.transformer_blocks.3.ff.net.2.bias",
        "model.proj_out_1.weight",
        "model.proj_out_2.weight",
        "state_encoder.layer1.W",
        "state_encoder.layer2.b",
        "action_encoder.W1.W",
        "action_encoder.W3.b",
        "action_decoder.layer2.W",
        "position_embedding.weight",
    ):
        assert key in keys, key
    # to_k of cross blocks reads backbone width, of self blocks the inner width
    cfg = dataclasses.replace(NANO, cross_attention_dim=96)
    head = FlowMatchingActionHead(cfg)
    assert head.model.transformer_blocks[0].attn1.to_k.in_features == 96
    assert head.model.transformer_blocks[1].attn1.to_k.in_features == cfg.input_embedding_dim


def test_shapes() -> None:
    head = make_head()
    cfg = head.config
    features, mask, state, noise = make_inputs(cfg, batch=3, tokens=10)
    slot = torch.tensor([0, 1, 3])
    cond = head.encode_conditioning(features, mask)
    assert cond.keys.shape == (2, 3, cfg.num_heads, 10, cfg.head_dim)
    assert cond.values.shape == cond.keys.shape
    assert cond.bias.shape == (3, 1, 1, 10)
    state_tokens = head.encode_state(state, slot)
    assert state_tokens.shape == (3, 1, cfg.input_embedding_dim)
    v = head.velocity(noise, torch.tensor([0, 250, 999]), state_tokens, cond, slot)
    assert v.shape == noise.shape
    actions = head.sample(features, mask, state, slot, noise, num_steps=4)
    assert actions.shape == (3, cfg.action_horizon, cfg.max_action_dim)
    assert torch.isfinite(actions).all()


def test_bad_inputs_raise_value_errors() -> None:
    head = make_head()
    features, mask, state, noise = make_inputs(NANO)
    slot = torch.tensor([0, 0])
    with pytest.raises(ValueError, match="max_state_dim"):
        head.sample(features, mask, state[..., :10], slot, noise)
    with pytest.raises(ValueError, match="cross_attention_dim"):
        head.sample(features[..., :10], mask, state, slot, noise)
    with pytest.raises(ValueError, match="num_embodiments"):
        head.sample(features, mask, state, torch.tensor([0, 4]), noise)
    with pytest.raises(ValueError, match="mask shape"):
        head.sample(features, mask[:, 1:], state, slot, noise)


# -- masking and slot isolation ----------------------------------------------------------------


def test_padded_tokens_do_not_change_the_output() -> None:
    head = make_head()
    features, mask, state, noise = make_inputs(NANO)
    slot = torch.tensor([0, 2])
    ref = head.sample(features, mask, state, slot, noise)
    garbage = features.clone()
    garbage[~mask] = torch.randn(int((~mask).sum()), NANO.cross_attention_dim) * 100.0
    out = head.sample(garbage, mask, state, slot, noise)
    assert (out - ref).abs().max().item() < 1e-6
    # the same change on real tokens does change it (the check above can fail)
    unmasked = head.sample(garbage, torch.ones_like(mask), state, slot, noise)
    assert (unmasked - ref).abs().max().item() > 1e-3


def test_embodiment_slots_are_isolated() -> None:
    head = make_head()
    features, mask, state, noise = make_inputs(NANO)
    slot0, slot1 = torch.tensor([0, 0]), torch.tensor([1, 1])
    ref0 = head.sample(features, mask, state, slot0, noise)
    ref1 = head.sample(features, mask, state, slot1, noise)
    with torch.no_grad():
        for name, param in head.named_parameters():
            if name.endswith(".W") or name.endswith(".b"):
                param[1].add_(torch.randn_like(param[1]))
    assert torch.equal(head.sample(features, mask, state, slot0, noise), ref0)
    assert (head.sample(features, mask, state, slot1, noise) - ref1).abs().max().item() > 1e-3


def test_loss_ignores_masked_action_entries() -> None:
    head = make_head()
    features, mask, state, noise = make_inputs(NANO)
    slot = torch.tensor([0, 1])
    actions = torch.randn_like(noise)
    action_mask = torch.zeros_like(noise)
    action_mask[..., :7] = 1.0
    t = torch.tensor([0.3, 0.8])
    loss = head.loss(features, mask, state, actions, action_mask, slot, noise=noise, t=t)
    # Change the targets on the masked dims while keeping the network input x_t the same:
    # x_t = (1 - t) noise + t actions, so move the noise against the actions.
    changed = actions.clone()
    changed[..., 7:] += 5.0
    tt = t[:, None, None]
    noise_same_xt = noise.clone()
    noise_same_xt[..., 7:] = noise[..., 7:] - tt * 5.0 / (1 - tt)
    loss2 = head.loss(features, mask, state, changed, action_mask, slot, noise=noise_same_xt, t=t)
    torch.testing.assert_close(loss, loss2)
    loss_all = head.loss(features, mask, state, changed, torch.ones_like(noise), slot,
                         noise=noise_same_xt, t=t)
    assert loss_all.item() > loss.item() + 1.0


# -- it learns -------------------------------------------------------------------------------


def test_nano_head_learns_a_conditional_task() -> None:
    """Target chunk = tanh(M [z_tokens, z_state]); z_tokens lives in the (masked) tokens."""
    cfg = NANO
    torch.manual_seed(0)
    head = FlowMatchingActionHead(cfg)
    gen = torch.Generator().manual_seed(1)
    tokens, latent, act_dim, horizon = 8, 4, 6, cfg.action_horizon
    proj = torch.randn(latent, tokens, cfg.cross_attention_dim, generator=gen) / latent**0.5
    mix = torch.randn(2 * latent, horizon * act_dim, generator=gen) / (2 * latent) ** 0.5

    def batch(n: int, g: torch.Generator):
        z_tok = torch.randn(n, latent, generator=g)
        z_state = torch.randn(n, latent, generator=g)
        features = torch.einsum("bz,zlc->blc", z_tok, proj)  # (B, L, C)
        mask = torch.ones(n, tokens, dtype=torch.bool)
        mask[:, :2] = False
        features[:, :2] = torch.randn(n, 2, cfg.cross_attention_dim, generator=g) * 3.0
        state = torch.zeros(n, 1, cfg.max_state_dim)
        state[:, 0, :latent] = z_state
        actions = torch.zeros(n, horizon, cfg.max_action_dim)
        actions[:, :, :act_dim] = torch.tanh(torch.cat([z_tok, z_state], 1) @ mix).view(
            n, horizon, act_dim
        )
        action_mask = torch.zeros_like(actions)
        action_mask[:, :, :act_dim] = 1.0
        return features, mask, state, actions, action_mask, torch.zeros(n, dtype=torch.long)

    opt = torch.optim.AdamW(head.parameters(), lr=2e-3, weight_decay=0.0)
    losses = []
    for _ in range(300):
        features, mask, state, actions, action_mask, slot = batch(32, gen)
        loss = head.loss(features, mask, state, actions, action_mask, slot, generator=gen)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    first, last = sum(losses[:20]) / 20, sum(losses[-20:]) / 20
    assert last < 0.3 * first, (first, last)

    test_gen = torch.Generator().manual_seed(99)
    features, mask, state, actions, action_mask, slot = batch(64, test_gen)
    noise = torch.randn(actions.shape, generator=test_gen)
    pred = head.sample(features, mask, state, slot, noise, num_steps=4)
    err = ((pred - actions).abs() * action_mask).sum() / action_mask.sum()
    mean_action = (actions * action_mask).sum(0, keepdim=True) / actions.shape[0]
    baseline = ((actions - mean_action).abs() * action_mask).sum() / action_mask.sum()
    # measured: err ~0.16, baseline (predict the mean chunk) ~0.54
    assert err.item() < 0.25, (err.item(), baseline.item())
    assert err.item() < 0.5 * baseline.item()


# -- conventions (closed form) ---------------------------------------------------------------


def test_time_embeddings_follow_the_stated_conventions() -> None:
    from gr00t_policy.action_head import sinusoidal_encoding, timestep_projection

    t = torch.tensor([0, 7, 250, 999])
    proj = timestep_projection(t, 256).double()  # cos half first, freq exp(-ln(1e4) i / 127)
    tf = t.double()
    torch.testing.assert_close(proj[:, 0], torch.cos(tf), atol=1e-5, rtol=0)
    torch.testing.assert_close(proj[:, 127], torch.cos(tf * 1e-4), atol=1e-5, rtol=0)
    torch.testing.assert_close(proj[:, 128], torch.sin(tf), atol=1e-5, rtol=0)
    torch.testing.assert_close(proj[:, 255], torch.sin(tf * 1e-4), atol=1e-5, rtol=0)

    enc = sinusoidal_encoding(t[:, None].expand(4, 3), 128).double()  # sin half first
    assert enc.shape == (4, 3, 128)
    last = math.exp(-63 * math.log(1e4) / 64)  # the last of 64 frequencies
    torch.testing.assert_close(enc[:, 0, 0], torch.sin(tf), atol=1e-5, rtol=0)
    torch.testing.assert_close(enc[:, 1, 64], torch.cos(tf), atol=1e-5, rtol=0)
    torch.testing.assert_close(enc[:, 2, 63], torch.sin(tf * last), atol=1e-5, rtol=0)


def test_modulation_chunk_order() -> None:
    """norm1 chunks (scale, shift); proj_out_1 chunks (shift, scale) (a swap gives 4x + 2)."""
    head = make_head()
    dim = NANO.input_embedding_dim
    x = torch.randn(2, 5, dim)
    temb = torch.randn(2, dim)
    scale, shift = torch.full((dim,), 2.0), torch.full((dim,), 3.0)
    normed = torch.nn.functional.layer_norm(x, (dim,), eps=1e-5)
    ada = head.model.transformer_blocks[0].norm1
    with torch.no_grad():
        ada.linear.weight.zero_()
        ada.linear.bias.copy_(torch.cat([scale, shift]))
    torch.testing.assert_close(ada(x, temb), normed * 3.0 + 3.0)

    dit = head.model
    with torch.no_grad():
        dit.proj_out_1.weight.zero_()
        dit.proj_out_1.bias.copy_(torch.cat([shift, scale]))  # shift 3, scale 2
        dit.proj_out_2.weight.copy_(torch.eye(dim))
        dit.proj_out_2.bias.zero_()
        for block in dit.transformer_blocks:  # make every block the identity
            block.attn1.to_out[0].weight.zero_()
            block.attn1.to_out[0].bias.zero_()
            block.ff.net[2].weight.zero_()
            block.ff.net[2].bias.zero_()
    features, mask, _, _ = make_inputs(NANO, batch=2, tokens=6)
    cond = dit.encode_conditioning(features, mask)
    out = dit(x, torch.tensor([3, 500]), cond)
    expected = torch.nn.functional.layer_norm(x, (dim,), eps=1e-6) * 3.0 + 3.0
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
