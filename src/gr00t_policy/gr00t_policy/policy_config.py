"""Configuration of the whole policy: backbone (System 2) + action head (System 1).

Imports no torch. Presets: ``gr00t-n1-2b`` (the published GR00T N1 2B sizes) and ``nano``
(the CPU default that trains in about an hour on 2 cores).
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gr00t_policy.action_head_config import ACTION_HEAD_PRESETS, ActionHeadConfig
from gr00t_policy.backbone_config import (
    BackboneConfig,
    gr00t_n1_backbone,
    nano_backbone,
    nano_smollm2_backbone,
)


@dataclass(frozen=True)
class PolicyConfig:
    """Backbone and action head configs, checked against each other.

    Attributes:
        backbone: the System 2 vision-language backbone.
        action_head: the System 1 flow-matching action head.
    """

    backbone: BackboneConfig
    action_head: ActionHeadConfig

    def __post_init__(self) -> None:
        if not isinstance(self.backbone, BackboneConfig):
            raise ValueError(
                f"PolicyConfig.backbone must be a BackboneConfig, got {type(self.backbone).__name__}"
            )
        if not isinstance(self.action_head, ActionHeadConfig):
            raise ValueError(
                "PolicyConfig.action_head must be an ActionHeadConfig, got "
                f"{type(self.action_head).__name__}"
            )
        if self.backbone.output_dim != self.action_head.cross_attention_dim:
            raise ValueError(
                f"PolicyConfig: backbone.output_dim={self.backbone.output_dim} must equal "
                f"action_head.cross_attention_dim={self.action_head.cross_attention_dim} "
                "(System 2 tokens are the action head's cross-attention input)"
            )

    def with_views(self, views: int) -> "PolicyConfig":
        """This config for ``views`` cameras: each view more (or fewer) adds (removes) its
        image tokens to ``max_tokens``. No weight changes shape: each view is encoded alike
        and the language model's positions are rotary."""
        b = self.backbone
        if views == b.num_views:
            return self
        # max_tokens holds every view's image tokens (BackboneConfig checks), so it still does.
        tokens = b.max_tokens + (views - b.num_views) * b.image_tokens_per_view
        backbone = b.from_dict({**b.to_dict(), "num_views": views, "max_tokens": tokens})
        return PolicyConfig(backbone, self.action_head)

    def to_dict(self) -> dict[str, Any]:
        """{"backbone": {...}, "action_head": {...}}."""
        return {"backbone": self.backbone.to_dict(), "action_head": self.action_head.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "PolicyConfig":
        """Inverse of :meth:`to_dict` (extra top-level keys such as "format" are ignored)."""
        for key in ("backbone", "action_head"):
            if key not in data:
                raise ValueError(f"PolicyConfig.from_dict: missing {key!r}; keys: {sorted(data)}")
        return cls(
            backbone=BackboneConfig.from_dict(data["backbone"]),
            action_head=ActionHeadConfig.from_dict(data["action_head"]),
        )

    def to_json(self) -> str:
        """Indented JSON with sorted keys."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "PolicyConfig":
        """Parse :meth:`to_json` output."""
        return cls.from_dict(json.loads(text))

    def save(self, path: str | Path) -> Path:
        """Write :meth:`to_json` to ``path``."""
        path = Path(path)
        path.write_text(self.to_json())
        return path

    @classmethod
    def load(cls, path: str | Path) -> "PolicyConfig":
        """Read a file written by :meth:`save`."""
        return cls.from_json(Path(path).read_text())


POLICY_PRESETS: dict[str, PolicyConfig] = {
    "gr00t-n1-2b": PolicyConfig(gr00t_n1_backbone(), ACTION_HEAD_PRESETS["gr00t-n1-2b"]),
    "nano": PolicyConfig(nano_backbone(), ACTION_HEAD_PRESETS["nano"]),
    # The nano policy with a frozen pretrained SmolLM2 reading the instruction (issue 19).
    "nano-smollm2": PolicyConfig(nano_smollm2_backbone(), ACTION_HEAD_PRESETS["nano"]),
}


def get_preset(name: str) -> PolicyConfig:
    """The preset called ``name``; an unknown name lists the known ones and the closest."""
    if name in POLICY_PRESETS:
        return POLICY_PRESETS[name]
    known = sorted(POLICY_PRESETS)
    close = difflib.get_close_matches(str(name), known, n=1, cutoff=0.0)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"unknown policy preset {name!r}; known presets: {known}{hint}")
