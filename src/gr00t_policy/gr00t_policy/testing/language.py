"""A tiny randomly initialised Llama saved as our language-model directory: a stand-in for
SmolLM2 where a test needs an instruction encoder but not the real 135 M weights."""

from __future__ import annotations

from pathlib import Path

import torch

from gr00t_policy.backbone_config import NANO_VOCAB_SIZE


def write_tiny_language_model(directory: str | Path, *, sha256: str, layers: int = 2,
                              width: int = 64, seed: int = 0) -> Path:
    """Write a ``layers``-layer cut of a 4-layer, ``width``-wide Llama with the nano
    tokenizer into ``directory``; its manifest names a source file with ``sha256``."""
    from transformers import LlamaConfig, LlamaModel

    from gr00t_policy.language.model import cut_language_model
    from gr00t_policy.language.store import save_language_model
    from gr00t_policy.prompt import build_nano_tokenizer

    config = LlamaConfig(
        vocab_size=NANO_VOCAB_SIZE, hidden_size=width, intermediate_size=2 * width,
        num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2, head_dim=width // 4,
        rms_norm_eps=1e-5, rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
        max_position_embeddings=256, tie_word_embeddings=True, use_cache=False,
        attn_implementation="sdpa",
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        lm = LlamaModel(config).eval()
    return save_language_model(cut_language_model(lm, layers), build_nano_tokenizer(), directory,
                               source={"package": "tiny-test", "file": "none", "sha256": sha256},
                               source_num_layers=4, dtype="float32")
