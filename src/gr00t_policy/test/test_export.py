"""ONNX export of the nano action head: static shapes, slot baking, parity with torch."""

from __future__ import annotations

import logging

import numpy as np
import onnx
import pytest
import torch

from gr00t_policy.action_head_config import ACTION_HEAD_PRESETS
from gr00t_policy.export import (
    ExportedActionHead,
    check_parity,
    example_inputs,
    export_action_head,
    single_slot_head,
)

NANO = ACTION_HEAD_PRESETS["nano"]
SLOT, STEPS, TOKENS = 1, 4, 64

logger = logging.getLogger(__name__)


@pytest.fixture(scope="module")
def exported(head, tmp_path_factory) -> ExportedActionHead:
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("export")
    return export_action_head(head, out, slot=SLOT, num_steps=STEPS, num_tokens=TOKENS)


def test_graphs_have_static_shapes_and_named_io(exported: ExportedActionHead) -> None:
    def shapes(values):
        return {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim] for v in values}

    cond = onnx.load(str(exported.conditioning))
    den = onnx.load(str(exported.denoise))
    kv = list(exported.kv_shape)
    assert kv == [2, 1, NANO.num_heads, TOKENS, NANO.head_dim]
    assert shapes(cond.graph.input) == {"tokens": [1, TOKENS, 128], "mask": [1, TOKENS]}
    assert shapes(cond.graph.output) == {"keys": kv, "values": kv, "bias": [1, 1, 1, TOKENS]}
    assert shapes(den.graph.input) == {
        "state": [1, 1, 64], "noise": [1, 16, 32], "keys": kv, "values": kv,
        "bias": [1, 1, 1, TOKENS],
    }
    assert shapes(den.graph.output) == {"actions": [1, 16, 32]}
    assert cond.graph.input[1].type.tensor_type.elem_type == onnx.TensorProto.BOOL


def test_only_the_slot_weights_are_baked_in(head, exported: ExportedActionHead) -> None:
    den = onnx.load(str(exported.denoise))
    n_params = sum(int(np.prod(init.dims)) for init in den.graph.initializer)
    full = sum(p.numel() for p in head.parameters())
    one_slot = sum(p.numel() for p in single_slot_head(head, SLOT).parameters())
    assert one_slot < full
    # the DiT/position weights are needed once, embodiment weights for one slot only
    # (the conditioning K/V projections live in conditioning.onnx instead)
    assert n_params <= one_slot
    with pytest.raises(ValueError, match="slot 9"):
        single_slot_head(head, 9)


def test_onnxruntime_matches_torch(head, exported: ExportedActionHead) -> None:
    diff = check_parity(head, exported, seed=3)
    logger.info("onnxruntime vs torch max abs difference: %.3g", diff)
    assert diff < 1e-4


def test_exported_slot_is_the_requested_one(head, exported: ExportedActionHead) -> None:
    import onnxruntime as ort

    ex = example_inputs(NANO, TOKENS, seed=4)
    cond = ort.InferenceSession(str(exported.conditioning), providers=["CPUExecutionProvider"])
    den = ort.InferenceSession(str(exported.denoise), providers=["CPUExecutionProvider"])
    keys, values, bias = cond.run(None, {"tokens": ex["tokens"], "mask": ex["mask"]})
    (actions,) = den.run(None, {"state": ex["state"], "noise": ex["noise"], "keys": keys,
                                "values": values, "bias": bias})
    with torch.no_grad():
        args = [torch.from_numpy(ex[k]) for k in ("tokens", "mask", "state")]
        noise = torch.from_numpy(ex["noise"])
        slot1 = head.sample(*args, torch.tensor([1]), noise, STEPS).numpy()
        slot0 = head.sample(*args, torch.tensor([0]), noise, STEPS).numpy()
    assert np.abs(actions - slot1).max() < 1e-4
    assert np.abs(actions - slot0).max() > 1e-2
    assert bias[0, 0, 0, : TOKENS // 4].max() < -1e4 and np.all(bias[0, 0, 0, TOKENS // 4 :] == 0)


def test_export_metadata_round_trip(exported: ExportedActionHead) -> None:
    loaded = ExportedActionHead.load(exported.denoise.parent)
    assert loaded == exported
    with pytest.raises(FileNotFoundError, match="export.json"):
        ExportedActionHead.load(exported.denoise.parent / "nope")


def test_external_data_export_runs_and_hashes_its_weights(head, tmp_path) -> None:
    """The layout the 2 B head needs (> 2 GB protobuf limit), exercised on nano."""
    from gr00t_policy.export_cache import file_sha256

    exported = export_action_head(head, tmp_path / "ext", slot=0, num_steps=2, num_tokens=16,
                                  external_data=True)
    data_files = sorted(p.name for p in (tmp_path / "ext").iterdir() if p.suffix == ".data")
    assert data_files == ["conditioning.onnx.data", "denoise.onnx.data"]
    assert exported.denoise.stat().st_size < 1_000_000  # weights are outside the graph
    assert check_parity(head, exported, seed=1) < 1e-4
    before = file_sha256(exported.denoise)
    data = tmp_path / "ext" / "denoise.onnx.data"
    data.write_bytes(data.read_bytes()[:-4] + b"\0\0\0\1")
    assert file_sha256(exported.denoise) != before  # an engine cache key sees weight changes
