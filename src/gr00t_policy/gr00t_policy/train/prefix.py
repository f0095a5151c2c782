"""Training the action head to plan on from given leading rows (real-time chunking by prefix
conditioning; System 1's rtc_method prefix; docs/plans/prefix_conditioning.md).

For a share `prefix_prob` of each batch's samples, the first d rows (d uniform in
1..`prefix_max_rows`) are given to the head as clean actions and left out of the loss and
its normalization (`FlowMatchingActionHead.loss` with `prefix_rows`).

Given rows drawn from the demonstration itself agree with the sample's state, so a head can
predict what follows them from the state alone and learn to ignore them: the first
fine-tune so did (a +0.05 rad offset on the given rows left the rows after them on the
demonstration, `bench/chunk_rows.py --given`). Under delay they do disagree: they are the
previous chunk's. `prefix_shift` adds to each such sample a constant offset per action
dimension (normalized units, ~N(0, prefix_shift^2)) on its given rows, decaying as
exp(-(k - d + 1) / SHIFT_DECAY_ROWS) over the rows k >= d after them, with the state
unchanged: the only way to predict the rows after a shifted prefix is to continue from it,
then return to the path the state implies, which is what the robot should do when the
previous chunk and the new state disagree.

Measured (docs/BENCHMARKS.md, "Real-time chunking by prefix conditioning"): with
prefix_shift 0.1 the head does continue from shifted rows, and in closed loop it does worse
than without: replanning every few rows, each plan carries the last one's offset on, so the
arm follows its own commands rather than its state. Kept as an option for that record and
for other data; off by default.
"""

from __future__ import annotations

import dataclasses

import torch

from gr00t_policy.flow_matching import prefix_rows_mask
from gr00t_policy.policy_config import PolicyConfig
from gr00t_policy.train.config import TrainConfig

SHIFT_DECAY_ROWS = 4.0  # rows after the given ones over which a shift falls by 1/e (0.2 s)


def with_prefix_rows(policy_config: PolicyConfig, cfg: TrainConfig) -> PolicyConfig:
    """The model config a run writes: its action head's `prefix_rows` says how many given
    rows this run trained the head on (0 without --prefix-prob)."""
    head = policy_config.action_head
    rows = cfg.prefix_max_rows if cfg.prefix_prob > 0.0 else 0
    if rows >= head.action_horizon:
        raise ValueError(f"--prefix-max-rows {rows} must be below the action horizon "
                         f"({head.action_horizon} rows): some rows must be left to plan")
    return dataclasses.replace(policy_config, action_head=head.replace(prefix_rows=rows))


def draw_prefix_rows(batch: int, prob: float, max_rows: int,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """d per sample (B,) long: 0 with probability 1 - `prob`, else uniform in [1, max_rows]."""
    if not 0.0 <= prob <= 1.0:
        raise ValueError(f"draw_prefix_rows: prob must be in [0, 1], got {prob}")
    if max_rows < 1:
        raise ValueError(f"draw_prefix_rows: max_rows must be >= 1, got {max_rows}")
    use = torch.rand(batch, generator=generator) < prob  # (B,)
    rows = torch.randint(1, max_rows + 1, (batch,), generator=generator)
    return torch.where(use, rows, torch.zeros_like(rows))  # (B,)


def shift_profile(rows: torch.Tensor, horizon: int) -> torch.Tensor:
    """(B,) given-row counts d -> (B, H) weights of a shift: 1 on rows < d, then
    exp(-(k - d + 1) / SHIFT_DECAY_ROWS); all 0 where d = 0."""
    k = torch.arange(horizon, dtype=torch.float32).unsqueeze(0)  # (1, H)
    d = rows.to(torch.float32).unsqueeze(1)  # (B, 1)
    after = torch.exp(-(k - d + 1.0) / SHIFT_DECAY_ROWS)  # (B, H)
    weights = torch.where(k < d, torch.ones_like(after), after)
    return weights * (d > 0).to(weights.dtype)


def add_prefix_rows(batch: dict[str, torch.Tensor], cfg: TrainConfig,
                    generator: torch.Generator) -> None:
    """Draw the batch's given rows (and shifts) in place: `prefix_rows` (B,), the given
    rows out of `action_mask`, `actions` shifted (module docstring). Nothing is drawn
    without --prefix-prob, so a run's other draws stay what they were."""
    if cfg.prefix_prob <= 0.0:
        return
    actions = batch["actions"]  # (B, H, A_max)
    b, h, a = actions.shape
    rows = draw_prefix_rows(b, cfg.prefix_prob, cfg.prefix_max_rows, generator)  # (B,)
    batch["prefix_rows"] = rows
    mask = batch["action_mask"]
    if cfg.prefix_shift > 0.0:
        offset = torch.randn(b, 1, a, generator=generator) * cfg.prefix_shift  # (B, 1, A_max)
        shift = offset * shift_profile(rows, h).unsqueeze(-1)  # (B, H, A_max)
        batch["actions"] = actions + shift.to(actions.dtype) * (mask > 0)  # padding stays 0
    given = prefix_rows_mask(rows, h)  # (B, H)
    batch["action_mask"] = mask * (~given).unsqueeze(-1)
