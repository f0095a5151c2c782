"""A tiny policy configuration (the tiny backbone and a tiny action head) for tests that build,
train, save or convert a whole policy quickly."""

from __future__ import annotations

from typing import Any, Mapping

from gr00t_policy.action_head_config import ActionHeadConfig
from gr00t_policy.policy_config import PolicyConfig
from gr00t_policy.testing.backbones import tiny_backbone


def tiny_action_head(**changes) -> ActionHeadConfig:
    """A 2-layer 32-wide DiT planning 4-row chunks of up to 6 action dimensions from up to 8
    state dimensions, 2 embodiment slots; `changes` override any field."""
    cfg: dict[str, Any] = dict(
        hidden_size=32, input_embedding_dim=32, num_layers=2, num_heads=2, head_dim=16,
        cross_attention_dim=32, timestep_channels=16, max_state_dim=8, max_action_dim=6,
        action_horizon=4, max_seq_len=8, num_embodiments=2,
    )
    cfg.update(changes)
    return ActionHeadConfig(**cfg)


def tiny_policy(backbone: Mapping[str, Any] | None = None, **head) -> PolicyConfig:
    """`tiny_backbone(**backbone)` and `tiny_action_head(**head)`."""
    return PolicyConfig(tiny_backbone(**(backbone or {})), tiny_action_head(**head))
