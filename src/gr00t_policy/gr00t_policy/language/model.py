"""``CutLanguageModel``: the first N decoder layers of a Llama and its final RMSNorm.

The output is what GR00T N1 takes from its VLM's language model and what our backbone's
``LanguageModel`` holder computes: the last hidden state of a Llama truncated to N layers,
after the final norm. The module holds the Llama as ``.model``, exactly as that holder does,
so its state dict keys are the backbone's minus the ``backbone.model.language_model.`` prefix.

The sizes a cut needs (``llama_spec``) are a plain JSON dict, stored in our manifest, so the
cut is rebuilt without transformers' config files.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
from torch import nn

# LlamaConfig fields that decide the tensors and the arithmetic of a cut (besides the layer
# count). rope_parameters carries the rotary base (and scaling, when a model has one).
SPEC_FIELDS: tuple[str, ...] = (
    "vocab_size", "hidden_size", "intermediate_size", "num_attention_heads",
    "num_key_value_heads", "head_dim", "hidden_act", "rms_norm_eps", "rope_parameters",
    "max_position_embeddings", "attention_bias", "mlp_bias", "tie_word_embeddings",
)


def llama_spec(config) -> dict[str, Any]:
    """The JSON-serialisable sizes of a transformers ``LlamaConfig`` (SPEC_FIELDS)."""
    if getattr(config, "model_type", None) != "llama":
        raise ValueError(
            f"expected a Llama config, got model_type {getattr(config, 'model_type', None)!r}"
        )
    spec = {name: getattr(config, name) for name in SPEC_FIELDS}
    spec["rope_parameters"] = dict(spec["rope_parameters"] or {})
    return spec


def build_llama_config(spec: Mapping[str, Any], num_layers: int):
    """A transformers ``LlamaConfig`` of ``num_layers`` layers from a ``llama_spec`` dict."""
    from transformers import LlamaConfig

    missing = [name for name in SPEC_FIELDS if name not in spec]
    if missing:
        raise ValueError(f"llama spec lacks {missing}; it has {sorted(spec)}")
    return LlamaConfig(
        **{name: spec[name] for name in SPEC_FIELDS},
        num_hidden_layers=num_layers,
        use_cache=False,
        attn_implementation="sdpa",
    )


def check_num_layers(num_layers: Any, available: int) -> int:
    """``num_layers`` as an int in [1, available]; ValueError naming the value otherwise."""
    is_int = isinstance(num_layers, int) and not isinstance(num_layers, bool)
    if not is_int or not 1 <= num_layers <= available:
        raise ValueError(
            f"num_layers={num_layers!r} must be an int in [1, {available}] (the source model "
            f"has {available} decoder layers)"
        )
    return num_layers


class CutLanguageModel(nn.Module):
    """Token ids + mask -> the hidden states after N Llama layers and the final norm."""

    def __init__(self, config) -> None:
        """Build from a transformers ``LlamaConfig`` whose num_hidden_layers is N."""
        super().__init__()
        from transformers import LlamaModel

        self.model = LlamaModel(config)

    @property
    def num_layers(self) -> int:
        return len(self.model.layers)

    @property
    def hidden_size(self) -> int:
        return self.model.config.hidden_size

    def reset_rotary(self, device: str | torch.device) -> None:
        """Recompute the rotary table (a buffer no state dict carries) on ``device``.

        Needed after building on the meta device and assigning weights.
        """
        with torch.device(device):
            self.model.rotary_emb = type(self.model.rotary_emb)(self.model.config)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Hidden states of left- (or right-) padded prompts.

        Args:
            input_ids: (B, L) long.
            attention_mask: (B, L) bool/int, 1 on real tokens.

        Returns:
            (B, L, D) float; zero on padded positions.
        """
        if input_ids.ndim != 2 or attention_mask.shape != input_ids.shape:
            raise ValueError(
                f"input_ids and attention_mask must both be (B, L); got "
                f"{tuple(input_ids.shape)} and {tuple(attention_mask.shape)}"
            )
        mask = attention_mask.bool()  # (B, L)
        # Positions count real tokens only, so left padding does not shift them (as the backbone).
        position_ids = (mask.long().cumsum(-1) - 1).clamp(min=0)  # (B, L)
        hidden = self.model(
            input_ids=input_ids, attention_mask=mask.long(), position_ids=position_ids
        ).last_hidden_state  # (B, L, D)
        return torch.where(mask.unsqueeze(-1), hidden, torch.zeros_like(hidden))  # (B, L, D)


def left_pad(rows: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Token id lists of different lengths as one left-padded batch for ``CutLanguageModel``:
    ids (B, L) long, padding 0, and mask (B, L) bool, True on real tokens; L = the longest."""
    length = max(len(r) for r in rows)
    ids = torch.zeros((len(rows), length), dtype=torch.long)  # (B, L)
    mask = torch.zeros((len(rows), length), dtype=torch.bool)  # (B, L)
    for i, row in enumerate(rows):
        ids[i, length - len(row):] = torch.tensor(row)
        mask[i, length - len(row):] = True
    return ids, mask


def cut_language_model(lm: nn.Module, num_layers: int) -> CutLanguageModel:
    """The first ``num_layers`` layers of a transformers ``LlamaModel``, sharing its tensors.

    Nothing is copied: several cuts of one loaded model (say 6, 12 and 30 layers) cost no
    extra memory. The result is in eval mode.
    """
    check_num_layers(num_layers, len(lm.layers))
    spec = llama_spec(lm.config)
    with torch.device("meta"):
        cut = CutLanguageModel(build_llama_config(spec, num_layers))
    state = {}
    for key, tensor in lm.state_dict().items():
        parts = key.split(".")
        if parts[0] == "layers" and int(parts[1]) >= num_layers:
            continue
        state[f"model.{key}"] = tensor
    cut.load_state_dict(state, strict=True, assign=True)
    cut.reset_rotary(lm.embed_tokens.weight.device)
    return cut.eval()
