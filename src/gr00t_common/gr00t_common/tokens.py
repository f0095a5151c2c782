"""The EmbeddingTokens wire format, both sides of /gr00t/embedding_tokens.

System 2 packs with `pack_tokens`; System 1 checks and unpacks with `TokenDecoder`. ``data``
holds num_tokens * dim little-endian elements of the wire dtype, row-major (L, C);
``attention_mask`` one byte per token (1 = real, 0 = padding). The dtype codes are the
message's own constants. Decoding takes any object with the message's fields, so it is
tested without DDS.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gr00t_msgs.msg import EmbeddingTokens

# Wire dtype name (System 2's token_dtype parameter) -> (numpy little-endian dtype, code).
WIRE_DTYPES: dict[str, tuple[np.dtype, int]] = {
    "float16": (np.dtype("<f2"), EmbeddingTokens.DTYPE_FLOAT16),
    "float32": (np.dtype("<f4"), EmbeddingTokens.DTYPE_FLOAT32),
}
_BY_CODE: dict[int, tuple[str, np.dtype]] = {code: (name, dt) for name, (dt, code) in WIRE_DTYPES.items()}


class TokenError(ValueError):
    """Tokens that break the System 2 -> System 1 contract (shape, dtype, values, backbone)."""


def pack_tokens(tokens: np.ndarray, mask: np.ndarray, wire_dtype: str) -> tuple[bytes, bytes, int]:
    """(L, C) float tokens + (L,) bool mask -> (data bytes, mask bytes, dtype code).

    Raises TokenError when a value is not finite in the wire dtype (NaN from the model, or
    beyond float16's range of +-65504), since System 1 cannot use such tokens.
    """
    if wire_dtype not in WIRE_DTYPES:
        raise ValueError(f"wire_dtype must be one of {sorted(WIRE_DTYPES)}, got {wire_dtype!r}")
    if tokens.ndim != 2 or mask.shape != (tokens.shape[0],):
        raise TokenError(f"tokens must be (L, C) and mask (L,), got {tokens.shape} and {mask.shape}")
    np_dtype, code = WIRE_DTYPES[wire_dtype]
    with np.errstate(over="ignore"):  # overflow to inf is detected just below
        wire = np.ascontiguousarray(tokens, dtype=np_dtype)  # (L, C)
    if not np.isfinite(wire).all():
        bad = int((~np.isfinite(wire)).sum())
        raise TokenError(f"{bad} of {wire.size} token values are not finite in {wire_dtype}")
    return wire.tobytes(), np.asarray(mask, dtype=np.uint8).tobytes(), code


class TokenDecoder:
    """Checks and decodes EmbeddingTokens for one checkpoint (System 1's side).

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
                f"expects {self.backbone_id!r}; run System 2 with the same checkpoint")
        if msg.dim != self.dim:
            raise TokenError(
                f"tokens refused: dim {msg.dim} from System 2 but the checkpoint's action head "
                f"takes {self.dim} (cross_attention_dim)")
        if msg.num_tokens != self.num_tokens:
            raise TokenError(
                f"tokens refused: num_tokens {msg.num_tokens} from System 2 but the checkpoint "
                f"takes {self.num_tokens} (backbone max_tokens)")
        if msg.dtype not in _BY_CODE:
            known = ", ".join(f"{code} ({name})" for code, (name, _) in sorted(_BY_CODE.items()))
            raise TokenError(f"tokens refused: unknown dtype {msg.dtype}; known: {known}")
        wire = _BY_CODE[msg.dtype][1]
        expected = self.num_tokens * self.dim * wire.itemsize
        if len(msg.data) != expected:
            raise TokenError(
                f"tokens refused: data has {len(msg.data)} bytes, expected num_tokens * dim * "
                f"itemsize = {self.num_tokens} * {self.dim} * {wire.itemsize} = {expected}")
        if len(msg.attention_mask) != self.num_tokens:
            raise TokenError(
                f"tokens refused: attention_mask has {len(msg.attention_mask)} entries, "
                f"expected num_tokens = {self.num_tokens}")
        tokens = np.frombuffer(msg.data, dtype=wire).reshape(self.num_tokens, self.dim)  # (L, C)
        tokens = tokens.astype(np.float32)  # (L, C), a copy: the message buffer is not kept
        if not np.isfinite(tokens).all():
            raise TokenError("tokens refused: data contains NaN or infinite values")
        mask = np.frombuffer(msg.attention_mask, dtype=np.uint8) != 0  # (L,)
        if not mask.any():
            raise TokenError("tokens refused: attention_mask marks no real token")
        return tokens, mask
