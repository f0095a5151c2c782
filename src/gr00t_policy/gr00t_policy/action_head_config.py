"""Configuration of the System 1 flow-matching action head (no torch import).

`ActionHeadConfig` describes the GR00T N1 action head: embodiment-specific state/action
encoders and action decoder around a diffusion transformer (DiT) that alternates
cross-attention to the backbone tokens with self-attention over [state; action] tokens.

Two presets live in `ACTION_HEAD_PRESETS`: `gr00t-n1-2b` (the published GR00T-N1-2B head,
parameter counts checked in the tests) and `nano` (the CPU default, sized by measurement).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ActionHeadConfig:
    """Sizes and flow-matching settings of `FlowMatchingActionHead`.

    Attributes:
        hidden_size: state-encoder hidden width, DiT output width, action-decoder hidden width.
        input_embedding_dim: width of state/action tokens = DiT inner width
            (must equal num_heads * head_dim).
        num_layers: number of DiT transformer blocks.
        num_heads: attention heads per block.
        head_dim: width of one attention head.
        cross_attention_dim: width of the backbone tokens the DiT attends to.
        ff_mult: feed-forward inner width = ff_mult * input_embedding_dim.
        interleave_self_attention: even blocks cross-attend to the backbone, odd blocks
            self-attend; if False every block cross-attends.
        timestep_channels: channels of the DiT's sinusoidal timestep projection.
        max_state_dim: state vectors are zero-padded to this width.
        max_action_dim: action vectors are zero-padded to this width.
        action_horizon: H, the number of actions in one chunk.
        max_seq_len: rows of the action position embedding (>= action_horizon).
        num_embodiments: slots of the embodiment-specific encoders/decoder.
        num_timestep_buckets: t in [0, 1] is discretised into int(t * buckets).
        num_inference_steps: default K of the Euler integration.
        noise_beta_alpha: alpha of the Beta distribution of u (t = (s - u) / s).
        noise_beta_beta: beta of that Beta distribution.
        noise_s: s in t = (s - u) / s.
        prefix_rows: the most leading rows of a chunk the head was trained to take as given
            (clean, at the top time bucket) and plan the rest from: real-time chunking by
            prefix conditioning (`flow_matching.prefix_euler_integrate`). 0: never trained
            so; a checkpoint written before this field reads as 0.
    """

    hidden_size: int = 1024
    input_embedding_dim: int = 1536
    num_layers: int = 16
    num_heads: int = 32
    head_dim: int = 48
    cross_attention_dim: int = 1536
    ff_mult: int = 4
    interleave_self_attention: bool = True
    timestep_channels: int = 256
    max_state_dim: int = 64
    max_action_dim: int = 32
    action_horizon: int = 16
    max_seq_len: int = 1024
    num_embodiments: int = 32
    num_timestep_buckets: int = 1000
    num_inference_steps: int = 4
    noise_beta_alpha: float = 1.5
    noise_beta_beta: float = 1.0
    noise_s: float = 0.999
    prefix_rows: int = 0

    def __post_init__(self) -> None:
        positive_ints = (
            "hidden_size", "input_embedding_dim", "num_layers", "num_heads", "head_dim",
            "cross_attention_dim", "ff_mult", "timestep_channels", "max_state_dim",
            "max_action_dim", "action_horizon", "max_seq_len", "num_embodiments",
            "num_timestep_buckets", "num_inference_steps",
        )
        for name in positive_ints:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"ActionHeadConfig.{name} must be a positive int, got {value!r}"
                )
        if not isinstance(self.interleave_self_attention, bool):
            raise ValueError(
                "ActionHeadConfig.interleave_self_attention must be a bool, got "
                f"{self.interleave_self_attention!r}"
            )
        if self.num_heads * self.head_dim != self.input_embedding_dim:
            raise ValueError(
                f"ActionHeadConfig: num_heads * head_dim = {self.num_heads} * {self.head_dim}"
                f" = {self.num_heads * self.head_dim} must equal input_embedding_dim = "
                f"{self.input_embedding_dim}; change head_dim or num_heads"
            )
        if self.input_embedding_dim % 2 or self.timestep_channels % 2:
            raise ValueError(
                "ActionHeadConfig.input_embedding_dim and timestep_channels must be even "
                f"(sin/cos halves), got {self.input_embedding_dim} and {self.timestep_channels}"
            )
        if self.max_seq_len < self.action_horizon:
            raise ValueError(
                f"ActionHeadConfig.max_seq_len = {self.max_seq_len} must be >= "
                f"action_horizon = {self.action_horizon} (one position row per action)"
            )
        for name in ("noise_beta_alpha", "noise_beta_beta"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"ActionHeadConfig.{name} must be > 0, got {value!r}")
        if not isinstance(self.noise_s, (int, float)) or not 0.0 < self.noise_s <= 1.0:
            raise ValueError(f"ActionHeadConfig.noise_s must be in (0, 1], got {self.noise_s!r}")
        if (isinstance(self.prefix_rows, bool) or not isinstance(self.prefix_rows, int)
                or not 0 <= self.prefix_rows < self.action_horizon):
            raise ValueError(f"ActionHeadConfig.prefix_rows must be an int in [0, "
                             f"action_horizon = {self.action_horizon}), got {self.prefix_rows!r}")

    @property
    def num_cross_attention_blocks(self) -> int:
        """Number of DiT blocks that cross-attend to the backbone tokens."""
        if self.interleave_self_attention:
            return (self.num_layers + 1) // 2
        return self.num_layers

    def is_cross_attention_block(self, index: int) -> bool:
        """True if DiT block `index` cross-attends to the backbone tokens."""
        return not self.interleave_self_attention or index % 2 == 0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict of all fields."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ActionHeadConfig":
        """Build from `to_dict()` output; unknown keys raise ValueError naming them."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"ActionHeadConfig.from_dict: unknown keys {unknown}; known keys are "
                f"{sorted(known)}"
            )
        return cls(**data)

    def replace(self, **changes: Any) -> "ActionHeadConfig":
        """A copy with `changes` applied (validated again)."""
        return dataclasses.replace(self, **changes)


# nano: the CPU default. Same code as gr00t-n1-2b with small numbers: 4 blocks of width 128
# (4 heads x 32), 128-wide backbone tokens, 4 embodiment slots; 1.42 M parameters.
# Chosen by measurement (bench/action_head_latency.py; figures in docs/BENCHMARKS.md,
# "Results: components"): a whole 4-step chunk fits one 120 Hz period with margin on
# onnxruntime at 1 thread on a 2-core CPU, even under load, so the preset stays this small;
# a few million parameters is where that budget runs out.
ACTION_HEAD_PRESETS: dict[str, ActionHeadConfig] = {
    "gr00t-n1-2b": ActionHeadConfig(),
    "nano": ActionHeadConfig(
        hidden_size=128,
        input_embedding_dim=128,
        num_layers=4,
        num_heads=4,
        head_dim=32,
        cross_attention_dim=128,
        max_state_dim=64,
        max_action_dim=32,
        action_horizon=16,
        max_seq_len=32,
        num_embodiments=4,
    ),
}


def get_action_head_preset(name: str) -> ActionHeadConfig:
    """The preset called `name`; an unknown name raises ValueError listing the known ones."""
    try:
        return ACTION_HEAD_PRESETS[name]
    except KeyError:
        raise ValueError(
            f"unknown action head preset {name!r}; known presets: {sorted(ACTION_HEAD_PRESETS)}"
        ) from None
