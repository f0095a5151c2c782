"""Real-time chunking by prefix conditioning: the loss ignores the given rows and sees them
clean, sampling carries them unchanged and with none given is plain sampling bit for bit,
and the runners agree. RtcSampling's prefix method: test_rtc.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gr00t_policy.action_head_config import ACTION_HEAD_PRESETS, ActionHeadConfig
from gr00t_policy.export import example_inputs
from gr00t_policy.flow_matching import prefix_rows_mask
from gr00t_policy.train.config import TrainConfig
from gr00t_policy.train.prefix import (SHIFT_DECAY_ROWS, add_prefix_rows, draw_prefix_rows,
                                       shift_profile)

NANO = ACTION_HEAD_PRESETS["nano"].replace(prefix_rows=6)
SLOT = 1


def test_prefix_rows_config_is_checked_and_old_configs_read_as_zero() -> None:
    old = {k: v for k, v in NANO.to_dict().items() if k != "prefix_rows"}
    assert ActionHeadConfig.from_dict(old).prefix_rows == 0
    for bad in (-1, NANO.action_horizon, 2.0, True):
        with pytest.raises(ValueError, match="prefix_rows"):
            NANO.replace(prefix_rows=bad)


def test_draw_prefix_rows() -> None:
    g = torch.Generator().manual_seed(0)
    assert not draw_prefix_rows(100, 0.0, 8, g).any()
    rows = draw_prefix_rows(4000, 1.0, 8, g)
    assert rows.min() == 1 and rows.max() == 8
    half = draw_prefix_rows(4000, 0.5, 8, g)
    assert 0.45 < (half == 0).float().mean() < 0.55
    assert prefix_rows_mask(torch.tensor([0, 2]), 4).tolist() == [[False] * 4,
                                                                  [True, True, False, False]]
    with pytest.raises(ValueError, match="max_rows"):
        draw_prefix_rows(4, 0.5, 0, g)


def test_a_prefix_batch_masks_the_given_rows_and_shifts_them_fading_after() -> None:
    b, h, a = 64, 16, 4
    actions = torch.randn(b, h, a)
    mask = torch.ones(b, h, a)
    mask[..., 3] = 0.0  # a padded action dimension
    actions[..., 3] = 0.0
    batch = {"actions": actions.clone(), "action_mask": mask.clone()}
    add_prefix_rows(batch, TrainConfig(prefix_prob=0.5, prefix_max_rows=5, prefix_shift=0.1),
                    torch.Generator().manual_seed(0))
    rows = batch["prefix_rows"]
    assert 0 < int((rows == 0).sum()) < b and rows.max() <= 5
    given = prefix_rows_mask(rows, h)
    assert torch.equal(batch["action_mask"][..., 0], (~given).float())
    assert not batch["action_mask"][..., 3].any()
    shift = batch["actions"] - actions
    assert not shift[rows == 0].any() and not shift[..., 3].any()
    i = int(torch.nonzero(rows == 3)[0])
    assert torch.allclose(shift[i, 0], shift[i, 2]) and shift[i, 0].abs().max() > 0
    assert torch.allclose(shift[i, 3], shift[i, 0] * torch.exp(torch.tensor(-1 / SHIFT_DECAY_ROWS)))
    assert shift_profile(torch.tensor([0, 2]), 4).tolist()[0] == [0.0] * 4
    # Without --prefix-prob nothing is drawn or changed.
    plain = {"actions": actions.clone(), "action_mask": mask.clone()}
    g = torch.Generator().manual_seed(0)
    add_prefix_rows(plain, TrainConfig(), g)
    assert "prefix_rows" not in plain and torch.equal(plain["actions"], actions)
    assert torch.equal(g.get_state(), torch.Generator().manual_seed(0).get_state())


def test_loss_sees_the_given_rows_clean_at_the_top_bucket_and_leaves_them_out(head) -> None:
    b, h, a = 2, NANO.action_horizon, NANO.max_action_dim
    gen = torch.Generator().manual_seed(3)
    actions = torch.randn(b, h, a, generator=gen)
    noise = torch.randn(b, h, a, generator=gen)
    t = torch.tensor([0.3, 0.7])
    seen = {}

    def velocity(x, t_bucket, state_features, cond, embodiment_id, token_bucket=None):
        seen.update(x=x.clone(), t_bucket=t_bucket, token_bucket=token_bucket)
        return torch.zeros_like(x)

    ex = example_inputs(NANO, 64, seed=1)
    args = (torch.from_numpy(ex["tokens"]).expand(b, -1, -1),
            torch.from_numpy(ex["mask"]).expand(b, -1),
            torch.from_numpy(ex["state"]).expand(b, -1, -1), actions, torch.ones(b, h, a),
            torch.tensor([SLOT, SLOT]))
    original = head.velocity
    head.velocity = velocity
    try:
        loss = head.loss(*args, noise=noise, t=t, prefix_rows=torch.tensor([3, 0]))
    finally:
        head.velocity = original
    x_t = (1 - t)[:, None, None] * noise + t[:, None, None] * actions
    assert torch.equal(seen["x"][0, :3], actions[0, :3])  # given: clean
    assert torch.allclose(seen["x"][0, 3:], x_t[0, 3:]) and torch.allclose(seen["x"][1], x_t[1])
    assert seen["token_bucket"][0].tolist() == [1000] * 3 + [300] * (h - 3)
    assert seen["token_bucket"][1].tolist() == [700] * h
    assert seen["t_bucket"].tolist() == [300, 700]  # the DiT keeps the noisy rows' time
    # With zero predictions the loss is the mean squared target over the rows not given.
    target = actions - noise
    kept = torch.cat([target[0, 3:], target[1]])
    assert loss.item() == pytest.approx((kept ** 2).mean().item(), rel=1e-6)


def test_no_given_row_is_plain_sampling_and_given_rows_come_out_unchanged(head,
                                                                            head_inputs) -> None:
    cond, state, slot, noise = head_inputs
    prefix = torch.randn(noise.shape, generator=torch.Generator().manual_seed(9))
    none = torch.zeros(1, NANO.action_horizon, dtype=torch.bool)
    with torch.no_grad():
        plain = head.sample_from_conditioning(cond, state, slot, noise)
        same = head.sample_prefix_from_conditioning(cond, state, slot, noise, prefix, none)
        three = head.sample_prefix_from_conditioning(
            cond, state, slot, noise, prefix, prefix_rows_mask(torch.tensor([3]), 16))
    assert torch.equal(same, plain)
    assert torch.equal(three[:, :3], prefix[:, :3])
    assert (three[:, 3:] - plain[:, 3:]).abs().max() > 1e-4  # the rest planned from them


def test_runners_sample_prefix_and_say_when_they_cannot(head, tmp_path) -> None:
    from gr00t_policy.backends import PrefixUnsupported, make_runner
    from gr00t_policy.export_prefix import PREFIX_FILE

    ort = make_runner("onnxruntime", head, embodiment_slot=SLOT, num_steps=4, num_tokens=64,
                      cache_dir=tmp_path, prefix=True)
    ref = make_runner("torch", head, embodiment_slot=SLOT, num_steps=4, num_tokens=64)
    assert ort.supports_prefix and len(list(tmp_path.glob(f"onnx/*/{PREFIX_FILE}"))) == 1
    ex = example_inputs(NANO, 64, seed=4)
    state, noise = ex["state"][0, 0], ex["noise"][0]
    prefix = np.random.default_rng(0).standard_normal(noise.shape).astype(np.float32)
    for r in (ort, ref):
        r.set_conditioning(ex["tokens"][0], ex["mask"][0])
    for rows in (0, 1, 6):
        got = ort.sample_prefix(state, noise, prefix, rows)
        want = ref.sample_prefix(state, noise, prefix, rows)
        assert np.abs(got - want).max() < 1e-4
        assert np.array_equal(got[:rows], prefix[:rows])
    assert np.array_equal(ort.sample_prefix(state, noise, prefix, 0), ort.sample(state, noise))
    with pytest.raises(ValueError, match="rows must be an int"):
        ort.sample_prefix(state, noise, prefix, 17)
    bad = prefix.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        ort.sample_prefix(state, noise, bad, 2)
    bare = make_runner("onnxruntime", head, embodiment_slot=SLOT, num_steps=4, num_tokens=64,
                       cache_dir=tmp_path)
    bare.set_conditioning(ex["tokens"][0], ex["mask"][0])
    with pytest.raises(PrefixUnsupported, match="prefix=True"):
        bare.sample_prefix(state, noise, prefix, 2)
