"""EmbeddingTokens message -> (tokens, mask) arrays, with the System 2 -> 1 contract checked.

ROS-free: takes any object with the EmbeddingTokens fields (duck typing), so it is unit
tested without rclpy. A message that breaks the contract raises `TokenError` naming the
field, the value received and the value expected.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# gr00t_msgs/EmbeddingTokens dtype constants -> little-endian numpy dtypes.
DTYPE_FLOAT16 = 1
DTYPE_FLOAT32 = 2
WIRE_DTYPES: dict[int, np.dtype] = {DTYPE_FLOAT16: np.dtype("<f2"), DTYPE_FLOAT32: np.dtype("<f4")}


class TokenError(ValueError):
    """Embedding tokens that do not fit this System 1's checkpoint."""


class TokenDecoder:
    """Checks and decodes EmbeddingTokens for one checkpoint.

    Args:
        backbone_id: the checkpoint's backbone_id; tokens from another backbone are refused.
        num_tokens: L, the checkpoint's backbone max_tokens.
        dim: C, the action head's cross_attention_dim.
    """

    def __init__(self, backbone_id: str, num_tokens: int, dim: int) -> None:
        if not backbone_id:
            # An empty id on both sides would accept tokens from any backbone.
            raise ValueError("the checkpoint has no backbone_id, so System 1 cannot tell its "
                             "System 2's tokens from another backbone's; re-save it with "
                             "gr00t_policy.checkpoint.save_checkpoint")
        self.backbone_id = str(backbone_id)
        self.num_tokens = int(num_tokens)
        self.dim = int(dim)

    def decode(self, msg: Any) -> tuple[np.ndarray, np.ndarray]:
        """(tokens np.float32 (L, C), mask np.bool_ (L,)) from a message, or TokenError."""
        if msg.backbone_id != self.backbone_id:
            raise TokenError(
                f"tokens refused: backbone_id {msg.backbone_id!r} from System 2 but the checkpoint "
                f"expects {self.backbone_id!r}; run System 2 with the same checkpoint"
            )
        if msg.dim != self.dim:
            raise TokenError(
                f"tokens refused: dim {msg.dim} from System 2 but the checkpoint's action head "
                f"takes {self.dim} (cross_attention_dim)"
            )
        if msg.num_tokens != self.num_tokens:
            raise TokenError(
                f"tokens refused: num_tokens {msg.num_tokens} from System 2 but the checkpoint "
                f"takes {self.num_tokens} (backbone max_tokens)"
            )
        wire = WIRE_DTYPES.get(msg.dtype)
        if wire is None:
            raise TokenError(
                f"tokens refused: unknown dtype {msg.dtype}; known: "
                f"{DTYPE_FLOAT16} (float16), {DTYPE_FLOAT32} (float32)"
            )
        expected = self.num_tokens * self.dim * wire.itemsize
        if len(msg.data) != expected:
            raise TokenError(
                f"tokens refused: data has {len(msg.data)} bytes, expected num_tokens * dim * "
                f"itemsize = {self.num_tokens} * {self.dim} * {wire.itemsize} = {expected}"
            )
        if len(msg.attention_mask) != self.num_tokens:
            raise TokenError(
                f"tokens refused: attention_mask has {len(msg.attention_mask)} entries, "
                f"expected num_tokens = {self.num_tokens}"
            )
        tokens = np.frombuffer(msg.data, dtype=wire).reshape(self.num_tokens, self.dim)  # (L, C)
        tokens = tokens.astype(np.float32)  # (L, C), a copy: the message buffer is not kept
        if not np.isfinite(tokens).all():
            raise TokenError("tokens refused: data contains NaN or infinite values")
        mask = np.frombuffer(msg.attention_mask, dtype=np.uint8) != 0  # (L,)
        if not mask.any():
            raise TokenError("tokens refused: attention_mask marks no real token")
        return tokens, mask
