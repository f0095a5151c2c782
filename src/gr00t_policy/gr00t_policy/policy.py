"""The whole GR00T N1-style policy: System 2 backbone + System 1 flow-matching action head.

State-dict keys are ``backbone.*`` and ``action_head.*`` (see DESIGN.md). A policy can be
built with only one of the two parts (System 1 never builds the backbone).
"""

from __future__ import annotations

from typing import Iterable, Mapping

import torch
from torch import nn

from gr00t_policy.action_head import FlowMatchingActionHead
from gr00t_policy.backbone import EagleBackbone
from gr00t_policy.policy_config import PolicyConfig

PARTS = ("backbone", "action_head")

# Batch keys of GR00TPolicy.loss. Optional: image_token_mask, noise, t, prefix_rows.
BATCH_KEYS = (
    "input_ids", "attention_mask", "pixel_values", "state", "actions", "action_mask",
    "embodiment_id",
)


def check_parts(parts: Iterable[str]) -> tuple[str, ...]:
    """Validate a parts selection; returns it as a tuple in canonical order."""
    parts = tuple(parts)
    unknown = [p for p in parts if p not in PARTS]
    if unknown or not parts:
        raise ValueError(f"parts must be a non-empty subset of {list(PARTS)}, got {list(parts)}")
    return tuple(p for p in PARTS if p in parts)


class GR00TPolicy(nn.Module):
    """``backbone`` (EagleBackbone or None) + ``action_head`` (FlowMatchingActionHead or None)."""

    def __init__(
        self,
        config: PolicyConfig,
        parts: Iterable[str] = PARTS,
        image_context_id: int | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(config, PolicyConfig):
            raise ValueError(f"GR00TPolicy needs a PolicyConfig, got {type(config).__name__}")
        self.config = config
        self.parts = check_parts(parts)
        self.backbone = (
            EagleBackbone(config.backbone, image_context_id) if "backbone" in self.parts else None
        )
        self.action_head = (
            FlowMatchingActionHead(config.action_head) if "action_head" in self.parts else None
        )

    def _require(self, *names: str) -> None:
        missing = [n for n in names if getattr(self, n) is None]
        if missing:
            raise ValueError(
                f"this GR00TPolicy was built with parts={list(self.parts)}; {missing} needed"
            )

    def encode(self, batch: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Backbone tokens (B, L, C) and mask (B, L) for a batch's prompts and images."""
        self._require("backbone")
        return self.backbone(
            batch["input_ids"], batch["attention_mask"], batch["pixel_values"],
            batch.get("image_token_mask"), batch.get("instruction_states"),
        )

    def loss(
        self, batch: Mapping[str, torch.Tensor], generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Joint flow-matching loss (masked MSE) through backbone and action head.

        Batch keys:
            input_ids (B, L) long, attention_mask (B, L) bool: left-padded prompts.
            pixel_values (B, V, 3, S, S) float: normalized images.
            image_token_mask (B, L) bool, optional: ``<IMG_CONTEXT>`` positions.
            instruction_states (B, L, D_text): with an instruction encoder only
                (``EagleBackbone.forward``).
            state (B, 1, S_max), actions (B, H, A_max), action_mask (B, H, A_max): normalized,
                zero-padded.
            embodiment_id (B,) long.
            noise (B, H, A_max), t (B,): optional; sampled with ``generator`` when absent.
            prefix_rows (B,) long: optional; rows given to the head
                (``FlowMatchingActionHead.loss``).
        """
        self._require("backbone", "action_head")
        missing = [k for k in BATCH_KEYS if k not in batch]
        if missing:
            raise ValueError(f"GR00TPolicy.loss: batch lacks {missing}; has {sorted(batch)}")
        features, mask = self.encode(batch)  # (B, L, C), (B, L)
        return self.loss_from_features(features, mask, batch, generator)

    def loss_from_features(
        self,
        features: torch.Tensor,
        mask: torch.Tensor,
        batch: Mapping[str, torch.Tensor],
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """:meth:`loss` on backbone tokens already computed by :meth:`encode` (for a trainer
        that also uses the tokens elsewhere)."""
        self._require("action_head")
        return self.action_head.loss(
            features, mask, batch["state"], batch["actions"], batch["action_mask"],
            batch["embodiment_id"], noise=batch.get("noise"), t=batch.get("t"),
            generator=generator, prefix_rows=batch.get("prefix_rows"),
        )

    @torch.no_grad()
    def sample(
        self,
        batch: Mapping[str, torch.Tensor],
        noise: torch.Tensor,
        num_steps: int | None = None,
    ) -> torch.Tensor:
        """Normalized, padded actions (B, H, A_max) for a batch (prompts, images, state)."""
        self._require("backbone", "action_head")
        features, mask = self.encode(batch)
        return self.action_head.sample(
            features, mask, batch["state"], batch["embodiment_id"], noise, num_steps
        )


def build_policy(
    config: PolicyConfig,
    device: str | torch.device = "cpu",
    *,
    parts: Iterable[str] = PARTS,
    image_context_id: int | None = None,
) -> GR00TPolicy:
    """Build a randomly initialised policy directly on ``device`` ("meta" allocates nothing)."""
    with torch.device(device):
        return GR00TPolicy(config, parts=parts, image_context_id=image_context_id)


def _numel(module: nn.Module | None) -> int:
    return 0 if module is None else sum(p.numel() for p in module.parameters())


def count_parameters(policy: GR00TPolicy) -> dict[str, int]:
    """Parameter counts per component (0 for a part that was not built)."""
    bb, ah = policy.backbone, policy.action_head
    counts = {
        "vision": _numel(bb.model.vision_model) if bb is not None else 0,
        "projector": _numel(bb.model.mlp1) if bb is not None else 0,
        "language_model": _numel(bb.model.language_model) if bb is not None else 0,
        "backbone_linear": _numel(bb.linear) if bb is not None else 0,
        "backbone_total": _numel(bb),
        "dit": _numel(ah.model) if ah is not None else 0,
        "state_encoder": _numel(ah.state_encoder) if ah is not None else 0,
        "action_encoder": _numel(ah.action_encoder) if ah is not None else 0,
        "action_decoder": _numel(ah.action_decoder) if ah is not None else 0,
        "position_embedding": _numel(ah.position_embedding) if ah is not None else 0,
        "action_head_total": _numel(ah),
    }
    counts["total"] = counts["backbone_total"] + counts["action_head_total"]
    return counts
