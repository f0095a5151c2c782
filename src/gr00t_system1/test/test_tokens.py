"""TokenDecoder: the System 2 -> System 1 contract, checked field by field."""

from types import SimpleNamespace

import numpy as np
import pytest

from gr00t_system1.tokens import DTYPE_FLOAT16, DTYPE_FLOAT32, TokenDecoder, TokenError

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
