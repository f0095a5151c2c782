"""Guided flow-matching sampling (real-time chunking's inpainting): the formula on small
tensors, the zero-weight limit, and that guidance pulls the sample towards its target."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gr00t_policy.action_head_config import ACTION_HEAD_PRESETS
from gr00t_policy.export import example_inputs
from gr00t_policy.flow_matching import euler_integrate, guidance_scale, guided_euler_integrate
from gr00t_policy.runtime.rtc import soft_mask

NANO = ACTION_HEAD_PRESETS["nano"]
SLOT = 1


def test_guidance_scale_is_the_pigdm_weight_in_our_time_convention() -> None:
    for t in (0.1, 0.25, 0.5, 0.75, 0.9):
        r2 = (1 - t) ** 2 / (t ** 2 + (1 - t) ** 2)
        assert guidance_scale(t) == pytest.approx((1 - t) / (t * r2), rel=1e-12)
    assert guidance_scale(0.5) == pytest.approx(2.0)
    assert math.isinf(guidance_scale(0.0))  # the clip beta applies at the noise end
    with pytest.raises(ValueError, match="t must be in"):
        guidance_scale(1.5)


def test_one_guided_step_on_a_linear_field_is_the_closed_form() -> None:
    """v(x) = a x + b: A_hat = x + (1 - t) v, dA_hat/dx = (1 + (1 - t) a) I, so one Euler step
    from t = 0 is x + v + beta (1 + a) W (Y - A_hat); later steps clip beta at the scale."""
    a, b = 0.5, torch.tensor([[[0.2, -0.1]]])
    x0 = torch.tensor([[[1.0, 2.0]]], dtype=torch.float64)
    y = torch.tensor([[[0.0, 1.0]]], dtype=torch.float64)
    w = torch.tensor([[[1.0, 0.25]]], dtype=torch.float64)
    beta = 5.0

    def field(x, t_bucket):
        return a * x + b.to(x.dtype)

    v0 = field(x0, None)
    a_hat = x0 + v0
    expected = x0 + v0 + beta * (1 + a) * w * (y - a_hat)
    got = guided_euler_integrate(field, x0, 1, y, w, beta)
    assert torch.allclose(got, expected, atol=1e-12)
    # Two steps: the second at t = 0.5 uses min(beta, 2) = 2 and (1 + 0.5 a).
    x1 = x0 + 0.5 * (v0 + beta * (1 + a) * w * (y - a_hat))
    v1 = field(x1, None)
    a_hat1 = x1 + 0.5 * v1
    expected2 = x1 + 0.5 * (v1 + 2.0 * (1 + 0.5 * a) * w * (y - a_hat1))
    assert torch.allclose(guided_euler_integrate(field, x0, 2, y, w, beta), expected2,
                          atol=1e-12)


def test_zero_weights_or_zero_clip_is_plain_sampling_bit_for_bit(head, head_inputs) -> None:
    cond, state, slot, noise = head_inputs
    with torch.no_grad():
        plain = head.sample_from_conditioning(cond, state, slot, noise, 4)
    target = torch.randn_like(plain)
    no_weights = head.sample_guided_from_conditioning(
        cond, state, slot, noise, target, torch.zeros_like(plain), 5.0, 4)
    no_clip = head.sample_guided_from_conditioning(
        cond, state, slot, noise, target, torch.ones_like(plain), 0.0, 4)
    assert torch.equal(no_weights.detach(), plain)
    assert torch.equal(no_clip.detach(), plain)


def test_guided_sample_is_closer_to_the_target_where_weighted(head, head_inputs) -> None:
    """Same noise, same conditioning: with RTC's mask (d = 3 frozen rows, overlap up to
    H - 4) the guided chunk is nearer the previous chunk on the weighted rows, and the
    frozen rows nearly reproduce it."""
    cond, state, slot, noise = head_inputs
    horizon, width = noise.shape[1], noise.shape[2]
    with torch.no_grad():
        plain = head.sample_from_conditioning(cond, state, slot, noise, 4)
    gen = torch.Generator().manual_seed(1)
    target = torch.randn(1, horizon, width, generator=gen) * 0.5  # another chunk
    rows = torch.from_numpy(soft_mask(3, 4, horizon)).float()  # (H,)
    weights = rows[None, :, None].expand(1, horizon, width).contiguous()
    guided = head.sample_guided_from_conditioning(
        cond, state, slot, noise, target, weights, 5.0, 4).detach()

    def err(x, sel):
        return float((x - target)[:, sel].pow(2).mean())

    overlap = rows > 0
    assert err(guided, overlap) < 0.5 * err(plain, overlap)
    assert err(guided, slice(0, 3)) < 0.05 * err(plain, slice(0, 3))
    # Rows with no weight are not pulled (they change only through the model).
    assert not torch.equal(guided[:, ~overlap], target[:, ~overlap])


def test_plain_euler_and_guided_agree_for_a_field_without_weights() -> None:
    def field(x, t_bucket):
        return -x + t_bucket.to(x.dtype)[:, None, None] * 1e-3

    x0 = torch.randn(2, 4, 3, generator=torch.Generator().manual_seed(0))
    zero = torch.zeros_like(x0)
    assert torch.equal(guided_euler_integrate(field, x0, 3, zero, zero, 5.0),
                       euler_integrate(field, x0, 3))


# -- runners -------------------------------------------------------------------------------------

def test_runner_guidance_on_torch_and_the_limits_on_every_runner(head) -> None:
    from gr00t_policy.backends import GuidanceUnsupported, TorchRunner

    runner = TorchRunner(head, embodiment_slot=SLOT, num_steps=4, num_tokens=64)
    ex = example_inputs(NANO, 64, seed=2)
    runner.set_conditioning(ex["tokens"][0], ex["mask"][0])
    state, noise = ex["state"][0, 0], ex["noise"][0]
    plain = runner.sample(state, noise)
    target = np.zeros_like(plain)
    weights = np.ones_like(plain)
    assert np.array_equal(runner.sample_guided(state, noise, target, 0 * weights, 5.0), plain)
    assert np.array_equal(runner.sample_guided(state, noise, target, weights, 0.0), plain)
    guided = runner.sample_guided(state, noise, target, weights, 5.0)
    assert np.abs(guided).mean() < 0.2 * np.abs(plain).mean()
    with pytest.raises(ValueError, match="weights must be finite and >= 0"):
        runner.sample_guided(state, noise, target, -weights, 5.0)
    with pytest.raises(ValueError, match="target has shape"):
        runner.sample_guided(state, noise, target[:3], weights, 5.0)
    runner.supports_guidance = False  # as a runner built without the guided graph
    with pytest.raises(GuidanceUnsupported, match="guidance=True"):
        runner.sample_guided(state, noise, target, weights, 5.0)


@pytest.mark.slow
def test_onnxruntime_guided_graph_matches_torch(head, tmp_path) -> None:
    """make_runner(..., guidance=True) exports guided.onnx (the vector-Jacobian products
    included) beside the plain graphs; onnxruntime gives torch's guided actions."""
    from gr00t_policy.backends import make_runner
    from gr00t_policy.export_guided import GUIDED_FILE

    ort_runner = make_runner("onnxruntime", head, embodiment_slot=SLOT, num_steps=4,
                             num_tokens=64, cache_dir=tmp_path, guidance=True)
    torch_runner = make_runner("torch", head, embodiment_slot=SLOT, num_steps=4, num_tokens=64)
    assert ort_runner.supports_guidance
    assert len(list(tmp_path.glob(f"onnx/*/{GUIDED_FILE}"))) == 1
    ex = example_inputs(NANO, 64, seed=4)
    rng = np.random.default_rng(0)
    target = rng.standard_normal(ex["noise"][0].shape).astype(np.float32)
    weights = np.repeat(soft_mask(2, 5, NANO.action_horizon)[:, None], NANO.max_action_dim,
                        axis=1).astype(np.float32)
    for r in (ort_runner, torch_runner):
        r.set_conditioning(ex["tokens"][0], ex["mask"][0])
    got = ort_runner.sample_guided(ex["state"][0, 0], ex["noise"][0], target, weights, 5.0)
    ref = torch_runner.sample_guided(ex["state"][0, 0], ex["noise"][0], target, weights, 5.0)
    assert np.abs(got - ref).max() < 1e-4
    plain = ort_runner.sample(ex["state"][0, 0], ex["noise"][0])
    assert np.abs(got - plain).max() > 1e-2  # the guidance did something
    # A runner built without guidance says how to get it.
    from gr00t_policy.backends import GuidanceUnsupported

    bare = make_runner("onnxruntime", head, embodiment_slot=SLOT, num_steps=4, num_tokens=64,
                       cache_dir=tmp_path)
    bare.set_conditioning(ex["tokens"][0], ex["mask"][0])
    with pytest.raises(GuidanceUnsupported, match="guidance=True"):
        bare.sample_guided(ex["state"][0, 0], ex["noise"][0], target, weights, 5.0)
