"""Action head runners: one interface, same actions from torch and onnxruntime."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from gr00t_policy.action_head import FlowMatchingActionHead
from gr00t_policy.action_head_config import ACTION_HEAD_PRESETS
from gr00t_policy.backends import (
    BACKENDS,
    ActionHeadRunner,
    OnnxRuntimeRunner,
    TorchRunner,
    make_runner,
)
from gr00t_policy.checkpoint import make_random_checkpoint
from gr00t_policy.export_cache import checkpoint_content_hash

NANO = ACTION_HEAD_PRESETS["nano"]
TOKENS = 64

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs an NVIDIA GPU with CUDA")
needs_tensorrt = pytest.mark.skipif(
    importlib.util.find_spec("tensorrt") is None or not torch.cuda.is_available(),
    reason="needs TensorRT and an NVIDIA GPU",
)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def ort_runner(head, cache_dir) -> ActionHeadRunner:
    torch.set_num_threads(1)
    return make_runner("onnxruntime", head, embodiment_slot=2, num_steps=4, num_tokens=TOKENS,
                       cache_dir=cache_dir)


def inputs(seed: int):
    rng = np.random.default_rng(seed)
    tokens = rng.standard_normal((TOKENS, NANO.cross_attention_dim)).astype(np.float32)
    mask = np.ones(TOKENS, np.bool_)
    mask[:20] = False
    state = rng.standard_normal(NANO.max_state_dim).astype(np.float32)
    noise = rng.standard_normal((NANO.action_horizon, NANO.max_action_dim)).astype(np.float32)
    return tokens, mask, state, noise


def test_onnxruntime_refuses_a_cuda_device_instead_of_ignoring_it(head) -> None:
    # It runs on the CPU whatever device says: a full-size head there is ~0.8 s a chunk.
    with pytest.raises(ValueError, match=r"device 'cuda' is not used by backend 'onnxruntime'"
                                         r".*-p backend:=torch"):
        make_runner("onnxruntime", head, embodiment_slot=1, num_tokens=TOKENS, device="cuda")


def test_an_export_cache_that_cannot_be_written_is_named_before_the_export(head, tmp_path):
    """A cache directory that cannot be created (under /proc, or under a file) failed deep
    in the export with a bare "[Errno 2] ... '/proc/gr00t_cache'" naming no setting."""
    from gr00t_policy.export import CacheDirError

    (tmp_path / "file").write_text("")
    for bad in (Path("/proc/gr00t_cache"), tmp_path / "file" / "cache"):
        with pytest.raises(CacheDirError, match=rf"export cache directory {bad} cannot be "
                                                r"created \(\w+Error: .*\)\. Fix: "
                                                r".*-p cache_dir:=DIR.*free space"):
            make_runner("onnxruntime", head, embodiment_slot=0, num_tokens=TOKENS,
                        cache_dir=bad)
    # The torch backend exports nothing: the cache is not its business.
    make_runner("torch", head, embodiment_slot=0, num_tokens=TOKENS, cache_dir=bad)


def test_a_read_only_export_cache_serves_the_exports_it_holds(head, tmp_path, monkeypatch):
    """A cache that cannot be written (mounted read-only, a full disk) still serves the
    exports already in it; one it lacks is named with the directory and the fix."""
    import errno
    import tempfile

    from gr00t_policy.export import CacheDirError

    cache = tmp_path / "cache"
    make_runner("onnxruntime", head, embodiment_slot=0, num_tokens=TOKENS, cache_dir=cache)

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkdtemp", read_only)
    make_runner("onnxruntime", head, embodiment_slot=0, num_tokens=TOKENS, cache_dir=cache)
    with pytest.raises(CacheDirError, match=r"cannot be written \(OSError: .*Read-only file "
                                            r"system\)\. Fix: .*-p cache_dir:=DIR"):
        make_runner("onnxruntime", head, embodiment_slot=1, num_tokens=TOKENS, cache_dir=cache)


def test_unknown_backend_lists_the_known_ones(head) -> None:
    with pytest.raises(ValueError, match="known backends.*onnxruntime"):
        make_runner("tflite", head, embodiment_slot=0, num_tokens=TOKENS)
    with pytest.raises(ValueError, match="embodiment_slot"):
        make_runner("torch", head, embodiment_slot=7, num_tokens=TOKENS)
    with pytest.raises(ValueError, match="num_tokens"):
        make_runner("torch", head, embodiment_slot=0)
    assert BACKENDS == ("torch", "onnxruntime", "tensorrt")


def test_runner_attributes(ort_runner) -> None:
    assert isinstance(ort_runner, OnnxRuntimeRunner)
    assert ort_runner.name == "onnxruntime"
    assert (ort_runner.horizon, ort_runner.max_state_dim, ort_runner.max_action_dim) == (16, 64, 32)
    assert (ort_runner.num_tokens, ort_runner.token_dim) == (TOKENS, 128)
    assert (ort_runner.embodiment_slot, ort_runner.num_steps) == (2, 4)


def test_torch_and_onnxruntime_give_the_same_actions(head, ort_runner) -> None:
    torch_runner = make_runner("torch", head, embodiment_slot=2, num_steps=4, num_tokens=TOKENS)
    assert isinstance(torch_runner, TorchRunner) and torch_runner.name == "torch"
    tokens, mask, state, noise = inputs(0)
    for runner in (torch_runner, ort_runner):
        runner.set_conditioning(tokens, mask)
    a_torch = torch_runner.sample(state, noise)
    a_ort = ort_runner.sample(state, noise)
    assert a_torch.shape == a_ort.shape == (16, 32) and a_ort.dtype == np.float32
    assert np.abs(a_torch - a_ort).max() < 1e-4
    # the same as the head itself
    with torch.no_grad():
        ref = head.sample(torch.from_numpy(tokens)[None], torch.from_numpy(mask)[None],
                          torch.from_numpy(state).view(1, 1, -1), torch.tensor([2]),
                          torch.from_numpy(noise)[None], 4)[0].numpy()
    assert np.abs(ref - a_ort).max() < 1e-4

    # new conditioning reaches the bound buffers; new noise gives new actions
    tokens2, mask2, state2, noise2 = inputs(1)
    for runner in (torch_runner, ort_runner):
        runner.set_conditioning(tokens2, mask2)
    b_torch, b_ort = torch_runner.sample(state, noise), ort_runner.sample(state, noise)
    assert np.abs(b_torch - b_ort).max() < 1e-4
    assert np.abs(b_ort - a_ort).max() > 1e-3
    c_ort = ort_runner.sample(state2, noise2)
    assert np.abs(c_ort - torch_runner.sample(state2, noise2)).max() < 1e-4
    assert np.abs(c_ort - b_ort).max() > 1e-3
    # sample returns a fresh array, not the bound output buffer
    c_ort[:] = 0
    assert np.abs(ort_runner.sample(state2, noise2)).max() > 0


def test_runner_validates_inputs(head, ort_runner) -> None:
    fresh = make_runner("torch", head, embodiment_slot=0, num_tokens=TOKENS)
    tokens, mask, state, noise = inputs(2)
    with pytest.raises(RuntimeError, match="set_conditioning"):
        fresh.sample(state, noise)
    with pytest.raises(ValueError, match="tokens has shape"):
        ort_runner.set_conditioning(tokens[:10], mask)
    with pytest.raises(ValueError, match="mask has dtype"):
        ort_runner.set_conditioning(tokens, mask.astype(np.float32))
    with pytest.raises(ValueError, match="no real token"):
        ort_runner.set_conditioning(tokens, np.zeros(TOKENS, np.bool_))
    ort_runner.set_conditioning(tokens, mask)
    with pytest.raises(ValueError, match="state has shape"):
        ort_runner.sample(state[:31], noise)
    with pytest.raises(ValueError, match="noise has shape"):
        ort_runner.sample(state, noise[:, :7])
    # float64 input is accepted and cast
    out = ort_runner.sample(state.astype(np.float64), noise)
    assert np.abs(out - ort_runner.sample(state, noise)).max() == 0


def test_export_is_cached_by_content_slot_steps_tokens(head, ort_runner, cache_dir) -> None:
    exports = sorted((cache_dir / "onnx").iterdir())
    assert len(exports) == 1 and exports[0].name.endswith("-slot2-k4-l64")
    mtime = (exports[0] / "denoise.onnx").stat().st_mtime_ns
    again = make_runner("onnxruntime", head, embodiment_slot=2, num_steps=4, num_tokens=TOKENS,
                        cache_dir=cache_dir)
    assert isinstance(again, OnnxRuntimeRunner)
    assert sorted((cache_dir / "onnx").iterdir()) == exports  # reused, not re-exported
    assert (exports[0] / "denoise.onnx").stat().st_mtime_ns == mtime


def torch_and_onnxruntime_on(ckpt: Path, cache: Path) -> tuple[ActionHeadRunner, np.ndarray,
                                                                 np.ndarray]:
    """Both runners of a checkpoint directory on the same random inputs: (the torch runner,
    its actions, onnxruntime's)."""
    t_runner = make_runner("torch", ckpt, embodiment_slot=0, num_steps=4)
    o_runner = make_runner("onnxruntime", ckpt, embodiment_slot=0, num_steps=4, cache_dir=cache)
    assert t_runner.num_tokens == o_runner.num_tokens
    rng = np.random.default_rng(0)
    tokens = rng.standard_normal((t_runner.num_tokens, t_runner.token_dim)).astype(np.float32)
    mask = np.ones(t_runner.num_tokens, np.bool_)
    state = rng.standard_normal(t_runner.max_state_dim).astype(np.float32)
    noise = rng.standard_normal((t_runner.horizon, t_runner.max_action_dim)).astype(np.float32)
    for runner in (t_runner, o_runner):
        runner.set_conditioning(tokens, mask)
    return t_runner, t_runner.sample(state, noise), o_runner.sample(state, noise)


def test_checkpoint_directory(tmp_path) -> None:
    ckpt = make_random_checkpoint(tmp_path / "ckpt", "nano", seed=0)
    _, a_torch, a_ort = torch_and_onnxruntime_on(ckpt, tmp_path / "cache")
    assert np.abs(a_torch - a_ort).max() < 1e-4


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_a_half_precision_checkpoint_runs_in_float32_on_every_backend(tmp_path, dtype) -> None:
    # The weights may be stored in half precision (as GR00T's are); each runner computes in
    # float32 from the same rounded weights, so torch and onnxruntime agree as in float32.
    from safetensors.torch import load_file, save_file

    ckpt = make_random_checkpoint(tmp_path / "ckpt", "nano", seed=0)
    weights = ckpt / "model.safetensors"
    save_file({k: v.to(dtype) if v.is_floating_point() else v
               for k, v in load_file(str(weights)).items()}, str(weights))
    t_runner, a_torch, a_ort = torch_and_onnxruntime_on(ckpt, tmp_path / "cache")
    assert {p.dtype for p in t_runner.head.parameters()} == {torch.float32}
    assert a_torch.dtype == np.float32 and np.isfinite(a_torch).all()
    assert np.abs(a_torch - a_ort).max() < 1e-4


def test_checkpoint_hash_is_stable_across_saves_of_the_same_weights(tmp_path) -> None:
    # safetensors writes its JSON header in no stable order; the export cache must still hit.
    a = make_random_checkpoint(tmp_path / "a", "nano", seed=0)
    b = make_random_checkpoint(tmp_path / "b", "nano", seed=0)
    c = make_random_checkpoint(tmp_path / "c", "nano", seed=1)
    assert checkpoint_content_hash(a) == checkpoint_content_hash(b)
    assert checkpoint_content_hash(a) != checkpoint_content_hash(c)


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None
                    and torch.cuda.is_available(), reason="this machine runs TensorRT")
def test_tensorrt_where_it_cannot_run_is_refused_before_the_export(head, tmp_path) -> None:
    # The export alone takes seconds for nano, minutes with the guided graph or at full size:
    # a backend that cannot run must say so first, naming the parameter that picks another.
    with pytest.raises(RuntimeError, match=r"backend 'tensorrt'.*-p backend:=onnxruntime"):
        make_runner("tensorrt", head, embodiment_slot=1, num_tokens=TOKENS, cache_dir=tmp_path,
                    guidance=True)
    assert list(tmp_path.iterdir()) == []  # nothing exported


@pytest.mark.gpu
@needs_cuda
def test_torch_cuda_graph_runner_matches_cpu(head) -> None:
    cpu = make_runner("torch", head, embodiment_slot=1, num_tokens=TOKENS)
    tokens, mask, state, noise = inputs(5)
    cpu.set_conditioning(tokens, mask)
    expected = cpu.sample(state, noise)
    gpu_head = FlowMatchingActionHead(NANO)
    gpu_head.load_state_dict(head.state_dict())
    gpu = make_runner("torch", gpu_head, embodiment_slot=1, num_tokens=TOKENS, device="cuda")
    gpu.set_conditioning(tokens, mask)
    assert np.abs(gpu.sample(state, noise) - expected).max() < 1e-3
    # replay with new inputs (graph captured already)
    tokens2, mask2, state2, noise2 = inputs(6)
    cpu.set_conditioning(tokens2, mask2)
    gpu.set_conditioning(tokens2, mask2)
    assert np.abs(gpu.sample(state2, noise2) - cpu.sample(state2, noise2)).max() < 1e-3


@pytest.mark.gpu
@pytest.mark.tensorrt
@needs_tensorrt
def test_tensorrt_fp16_engine_matches_torch(head, tmp_path) -> None:
    ref = make_runner("torch", head, embodiment_slot=1, num_tokens=TOKENS)
    trt_runner = make_runner("tensorrt", head, embodiment_slot=1, num_tokens=TOKENS,
                             cache_dir=tmp_path)
    assert trt_runner.name == "tensorrt"
    tokens, mask, state, noise = inputs(7)
    for runner in (ref, trt_runner):
        runner.set_conditioning(tokens, mask)
    assert np.abs(trt_runner.sample(state, noise) - ref.sample(state, noise)).max() < 5e-2
    engines = list((tmp_path / "tensorrt").glob("*.engine"))
    assert len(engines) == 2  # conditioning + denoise, keyed by GPU, TRT version, ONNX sha256


def test_a_graph_cut_short_on_disk_names_the_directory_to_delete(ort_runner, cache_dir,
                                                                 tmp_path) -> None:
    # A power cut soon after the first export can leave its graphs empty: onnxruntime's "No
    # graph was found in the protobuf" then failed every start without saying what to do.
    import shutil

    from gr00t_policy.export import ExportedActionHead

    source = next(p for p in (cache_dir / "onnx").iterdir() if p.name.endswith("slot2-k4-l64"))
    copy = shutil.copytree(source, tmp_path / source.name)
    (copy / "denoise.onnx").write_bytes(b"")
    with pytest.raises(RuntimeError, match=f"denoise.onnx.*delete {copy}"):
        OnnxRuntimeRunner(ExportedActionHead.load(copy))


def test_a_corrupt_weights_file_is_named_not_a_memory_error(tmp_path):
    from gr00t_policy.export_cache import checkpoint_content_hash

    ckpt = make_random_checkpoint(tmp_path / "ckpt")
    (ckpt / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="model.safetensors is not a safetensors file"):
        checkpoint_content_hash(ckpt)
