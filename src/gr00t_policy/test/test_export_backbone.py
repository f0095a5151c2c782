"""System 2's backbone on onnxruntime: the same tokens as torch, one export per backbone, and
the backend chosen where it can run."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from gr00t_policy.backbone import BackboneRunner, EagleBackbone
from gr00t_policy.export_backbone import AUTO_ONNX_MAX_PARAMS, resolve_backend
from gr00t_policy.prompt import build_nano_tokenizer
from gr00t_policy.testing.backbones import tiny_backbone

torch.set_num_threads(1)

INSTRUCTIONS = ("touch the red cube with your left hand", "raise your right hand")


def _runner(cfg, backend, cache, seed=0, **kw) -> BackboneRunner:
    torch.manual_seed(seed)
    return BackboneRunner.from_modules(EagleBackbone(cfg), build_nano_tokenizer(), "test",
                                       backend=backend, cache_dir=cache, **kw)


def _images(n, seed):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, size=(70, 90, 3), dtype=np.uint8) for _ in range(n)]


@pytest.mark.parametrize("views", [1, 2])
def test_onnxruntime_tokens_match_torch(tmp_path, views):
    cfg = tiny_backbone(num_views=views)
    ref = _runner(cfg, "torch", tmp_path)
    ort = _runner(cfg, "onnxruntime", tmp_path)
    assert (ref.backend, ort.backend) == ("torch", "onnxruntime")
    for i, text in enumerate(INSTRUCTIONS):
        images = _images(views, seed=i)
        t_ref, m_ref = ref.encode(images, text)
        t_ort, m_ort = ort.encode(images, text)
        assert t_ort.dtype == np.float32 and m_ort.dtype == np.bool_
        assert t_ort.shape == t_ref.shape == (cfg.max_tokens, cfg.output_dim)
        np.testing.assert_array_equal(m_ort, m_ref)
        np.testing.assert_allclose(t_ort, t_ref, atol=1e-4, rtol=0)
        assert np.abs(t_ort).max() > 1e-3  # not all padding


def test_the_export_is_made_once_per_weights(tmp_path, monkeypatch):
    import gr00t_policy.export_backbone as eb

    calls = []
    real = eb.export_backbone
    monkeypatch.setattr(eb, "export_backbone", lambda b, out: calls.append(out) or real(b, out))
    cfg = tiny_backbone()
    _runner(cfg, "onnxruntime", tmp_path, seed=0)
    _runner(cfg, "onnxruntime", tmp_path, seed=0)
    assert len(calls) == 1
    other = _runner(cfg, "onnxruntime", tmp_path, seed=1)  # other weights: its own export
    assert len(calls) == 2
    exports = sorted(p.name for p in (tmp_path / "onnx").iterdir())
    assert len(exports) == 2 and all("-backbone-v1-s56-l48" in n for n in exports)
    torch.manual_seed(1)
    ref = BackboneRunner.from_modules(EagleBackbone(cfg), build_nano_tokenizer(), "test")
    images = _images(1, seed=5)
    np.testing.assert_allclose(other.encode(images, INSTRUCTIONS[0])[0],
                               ref.encode(images, INSTRUCTIONS[0])[0], atol=1e-4, rtol=0)


def test_instruction_states_reach_the_graph(tmp_path):
    """With a pretrained LM reading the instruction (nano-smollm2), its states are a graph
    input: the LM runs once per instruction in torch, the graph per frame."""
    from gr00t_policy.language.instruction import CHECKPOINT_SUBDIR, load_instruction_encoder
    from gr00t_policy.testing.language import write_tiny_language_model

    sha, width = "ab" * 32, 64
    write_tiny_language_model(tmp_path / "lm" / CHECKPOINT_SUBDIR, sha256=sha, layers=2,
                              width=width)
    cfg = tiny_backbone(instruction_encoder="tiny", instruction_encoder_sha256=sha,
                  instruction_encoder_layers=2, instruction_encoder_dim=width)
    encoder = load_instruction_encoder(cfg, tmp_path / "lm")
    ref = _runner(cfg, "torch", tmp_path, instruction_encoder=encoder)
    ort = _runner(cfg, "onnxruntime", tmp_path, instruction_encoder=encoder)
    images = _images(1, seed=3)
    out = {}
    for text in INSTRUCTIONS:
        t_ref, m_ref = ref.encode(images, text)
        t_ort, m_ort = ort.encode(images, text)
        np.testing.assert_array_equal(m_ort, m_ref)
        np.testing.assert_allclose(t_ort, t_ref, atol=1e-4, rtol=0)
        out[text] = t_ort
    # the instruction changes the tokens through the states, not only through the ids
    assert np.abs(out[INSTRUCTIONS[0]] - out[INSTRUCTIONS[1]]).max() > 1e-3


def test_auto_uses_onnxruntime_only_where_it_applies():
    small, large = 6_500_000, AUTO_ONNX_MAX_PARAMS + 1
    assert resolve_backend("auto", "cpu", "float32", small) == "onnxruntime"
    assert resolve_backend("auto", "cuda", "float32", small) == "torch"
    assert resolve_backend("auto", "cpu", "bfloat16", small) == "torch"
    assert resolve_backend("auto", "cpu", "float32", large) == "torch"
    assert resolve_backend("torch", "cpu", "float32", small) == "torch"
    with pytest.raises(ValueError, match="use backend 'torch' there"):
        resolve_backend("onnxruntime", "cuda", "float32", small)
    with pytest.raises(ValueError, match=r"use one of \['auto', 'torch', 'onnxruntime'\]"):
        resolve_backend("tensorrt", "cpu", "float32", small)


def test_a_graph_of_other_inputs_is_refused(tmp_path):
    from gr00t_policy.export_backbone import ExportedBackbone, OnnxBackbone

    runner = _runner(tiny_backbone(), "onnxruntime", tmp_path)
    exported = runner._onnx.exported
    lying = dataclasses.replace(exported, instruction_dim=8)
    with pytest.raises(ValueError, match="delete it to have it exported again"):
        OnnxBackbone(lying)
    assert ExportedBackbone.load(exported.graph.parent) == exported
