"""The EmbeddingTokens wire format: System 2 packs, System 1 decodes, the contract checked
field by field."""

from types import SimpleNamespace

import math

import numpy as np
import pytest

from gr00t_common.tokens import TokenDecoder, TokenError, pack_tokens
from gr00t_msgs.msg import EmbeddingTokens

DTYPE_FLOAT16, DTYPE_FLOAT32 = EmbeddingTokens.DTYPE_FLOAT16, EmbeddingTokens.DTYPE_FLOAT32

L, C = 4, 3


def msg(**kw):
    tokens = np.arange(L * C, dtype=np.float32).reshape(L, C)
    base = dict(backbone_id="abc", num_tokens=L, dim=C, dtype=DTYPE_FLOAT16,
                data=tokens.astype("<f2").tobytes(), attention_mask=bytes([0, 1, 1, 1]))
    base.update(kw)
    return SimpleNamespace(**base)


def test_float16_and_float32_decode():
    dec = TokenDecoder("abc", L, C)
    tokens, mask = dec.decode(msg())
    assert tokens.dtype == np.float32 and tokens.shape == (L, C)
    assert tokens[3, 2] == 11.0
    assert mask.tolist() == [False, True, True, True]
    f32 = np.full((L, C), 0.5, "<f4").tobytes()
    tokens, _ = dec.decode(msg(dtype=DTYPE_FLOAT32, data=f32))
    assert (tokens == 0.5).all()


@pytest.mark.parametrize("field,value,needles", [
    ("backbone_id", "zzz", ["'zzz'", "'abc'"]),
    ("dim", 5, ["dim 5", "takes 3"]),
    ("num_tokens", 9, ["num_tokens 9", "takes 4"]),
    ("dtype", 7, ["unknown dtype 7"]),
    ("data", b"\x00" * 5, ["5 bytes", "= 24"]),
    ("attention_mask", bytes([1, 1]), ["2 entries"]),
    ("attention_mask", bytes(4), ["no real token"]),
])
def test_contract_violations_are_refused_with_both_values(field, value, needles):
    with pytest.raises(TokenError) as info:
        TokenDecoder("abc", L, C).decode(msg(**{field: value}))
    for needle in needles:
        assert needle in str(info.value)


def test_non_finite_tokens_are_refused():
    bad = np.full((L, C), np.nan, "<f2").tobytes()
    with pytest.raises(TokenError, match="NaN"):
        TokenDecoder("abc", L, C).decode(msg(data=bad))


def test_a_checkpoint_without_backbone_id_is_refused():
    # Both sides empty would match anything: System 1 must not start that way.
    with pytest.raises(ValueError, match="no backbone_id"):
        TokenDecoder("", L, C)


def test_what_system2_packs_system1_decodes_in_both_dtypes():
    rng = np.random.default_rng(0)
    tokens = rng.standard_normal((6, 4)).astype(np.float32)
    mask = np.array([0, 0, 1, 1, 1, 1], bool)
    data, mbytes, code = pack_tokens(tokens, mask, "float16")
    assert len(data) == 6 * 4 * 2 and code == DTYPE_FLOAT16 and mbytes == bytes([0, 0, 1, 1, 1, 1])
    msg = EmbeddingTokens(num_tokens=6, dim=4, dtype=code, data=data, attention_mask=mbytes,
                          backbone_id="0123456789abcdef")
    back, back_mask = TokenDecoder("0123456789abcdef", 6, 4).decode(msg)
    np.testing.assert_allclose(back, tokens, atol=2e-3)
    assert (back_mask == mask).all()
    data, _, code = pack_tokens(tokens, mask, "float32")
    assert code == DTYPE_FLOAT32
    assert np.frombuffer(data[:4], "<f4")[0] == tokens[0, 0]  # little-endian, row-major
    f32 = TokenDecoder("abc", 6, 4).decode(SimpleNamespace(
        backbone_id="abc", num_tokens=6, dim=4, dtype=code, data=data, attention_mask=mbytes))[0]
    assert np.array_equal(f32, tokens)


def test_tokens_not_finite_on_the_wire_are_not_packed():
    tokens = np.ones((6, 4), np.float32)
    mask = np.ones(6, bool)
    with pytest.raises(TokenError, match="not finite in float16"):
        pack_tokens(tokens * 1e5, mask, "float16")
    bad = tokens.copy()
    bad[1, 1] = math.nan
    with pytest.raises(TokenError, match="1 of 24"):
        pack_tokens(bad, mask, "float32")
    with pytest.raises(ValueError, match="wire_dtype"):
        pack_tokens(tokens, mask, "bfloat16")
