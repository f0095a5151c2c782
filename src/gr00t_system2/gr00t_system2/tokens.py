"""Token matrix <-> EmbeddingTokens byte fields (no rclpy; only the message's constants).

``data`` holds num_tokens * dim little-endian elements of the wire dtype, row-major;
``attention_mask`` one byte per token (1 = real, 0 = padding).
"""

from __future__ import annotations

import numpy as np
from gr00t_msgs.msg import EmbeddingTokens

# Wire dtype name -> (numpy little-endian dtype, EmbeddingTokens.DTYPE_* value).
WIRE_DTYPES: dict[str, tuple[str, int]] = {
    "float16": ("<f2", EmbeddingTokens.DTYPE_FLOAT16),
    "float32": ("<f4", EmbeddingTokens.DTYPE_FLOAT32),
}


class TokenError(ValueError):
    """Tokens that must not be published (wrong shape or non-finite values)."""


def pack_tokens(tokens: np.ndarray, mask: np.ndarray, wire_dtype: str) -> tuple[bytes, bytes, int]:
    """(L, C) float tokens + (L,) bool mask -> (data bytes, mask bytes, DTYPE_* code).

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


def unpack_tokens(data: bytes, mask: bytes, num_tokens: int, dim: int, dtype_code: int) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of `pack_tokens`: float32 (num_tokens, dim) and bool (num_tokens,)."""
    by_code = {code: np_dtype for np_dtype, code in WIRE_DTYPES.values()}
    if dtype_code not in by_code:
        raise ValueError(f"dtype code {dtype_code} is not one of {sorted(by_code)}")
    np_dtype = np.dtype(by_code[dtype_code])
    expected = num_tokens * dim * np_dtype.itemsize
    if len(data) != expected or len(mask) != num_tokens:
        raise TokenError(
            f"data has {len(data)} bytes (expected {expected}) and mask {len(mask)} "
            f"(expected {num_tokens})"
        )
    tokens = np.frombuffer(bytes(data), dtype=np_dtype).reshape(num_tokens, dim).astype(np.float32)
    return tokens, np.frombuffer(bytes(mask), dtype=np.uint8).astype(bool)
