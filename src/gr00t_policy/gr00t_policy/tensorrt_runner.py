"""The TensorRT action head runner: FP16 engines built from the exported ONNX graphs.

Engines are cached on disk keyed by GPU name, TensorRT version and ONNX sha256
(`gr00t_policy.export_cache.tensorrt_engine_path`). `tensorrt` is imported when a runner is
built, never at module import. Built by `gr00t_policy.backends.make_runner("tensorrt", ...)`.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gr00t_policy.backends import ActionHeadRunner
from gr00t_policy.atomic_write import fsync_path
from gr00t_policy.export import ExportedActionHead
from gr00t_policy.export_cache import DEFAULT_CACHE_DIR, tensorrt_engine_path

logger = logging.getLogger(__name__)


def tensorrt_problem() -> str | None:
    """What keeps the tensorrt backend from running here, ending in the fix; None when
    nothing does. Cheap (imports no TensorRT): `make_runner` asks before it exports the ONNX
    graphs the engines are built from, which takes seconds to minutes."""
    if importlib.util.find_spec("tensorrt") is None:
        why = "the `tensorrt` Python package is not installed"
    elif not torch.cuda.is_available():
        why = "torch sees no CUDA device (no NVIDIA GPU or driver, or a CPU build of torch)"
    else:
        return None
    return (f"backend 'tensorrt' needs TensorRT and an NVIDIA GPU, but {why}: pass "
            "-p backend:=onnxruntime (the CPU) or backend:=torch with device:=cuda, or run "
            "where TensorRT is installed (docker/Dockerfile's image)")


class TensorRTRunner(ActionHeadRunner):
    """FP16 TensorRT engines of the exported graphs; buffers are torch CUDA tensors bound once."""

    name = "tensorrt"

    def __init__(
        self,
        exported: ExportedActionHead,
        *,
        cache_dir: str | Path | None = None,
        device: str | torch.device = "cuda",
        guided: Path | None = None,
        prefix: Path | None = None,
    ) -> None:
        problem = tensorrt_problem()
        if problem is not None:
            raise RuntimeError(problem)
        import tensorrt as trt
        super().__init__(exported.config, num_tokens=exported.num_tokens,
                         embodiment_slot=exported.slot, num_steps=exported.num_steps)
        self.device = torch.device(device)
        cache = Path(cache_dir) if cache_dir is not None else DEFAULT_CACHE_DIR
        self._trt_logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(self._trt_logger)
        gpu_name = torch.cuda.get_device_name(self.device)
        self._buffers: dict[str, torch.Tensor] = {}
        self._engines: list[Any] = []  # the contexts need their engines alive
        self._cond_ctx = self._load(trt, exported.conditioning, cache, gpu_name)
        self._den_ctx = self._load(trt, exported.denoise, cache, gpu_name)
        # The guided graph shares state/noise/keys/values/bias/actions with the others.
        self._guided_ctx = (None if guided is None
                            else self._load(trt, guided, cache, gpu_name))
        self.supports_guidance = guided is not None
        self._prefix_ctx = (None if prefix is None
                            else self._load(trt, prefix, cache, gpu_name))
        self.supports_prefix = prefix is not None
        self._stream = torch.cuda.Stream(self.device)

    def _load(self, trt: Any, onnx_path: Path, cache: Path, gpu_name: str) -> Any:
        engine_path = tensorrt_engine_path(cache, onnx_path, gpu_name, trt.__version__)
        if not engine_path.is_file():
            self._build(trt, onnx_path, engine_path)
        engine = self._runtime.deserialize_cuda_engine(engine_path.read_bytes())
        if engine is None:
            raise RuntimeError(f"TensorRT could not deserialize {engine_path}; delete it to rebuild")
        self._engines.append(engine)
        context = engine.create_execution_context()
        for i in range(engine.num_io_tensors):
            name = engine.get_tensor_name(i)
            if name not in self._buffers:  # keys/values/bias are shared by both engines
                shape = tuple(engine.get_tensor_shape(name))
                dtype = torch.from_numpy(np.zeros(0, trt.nptype(engine.get_tensor_dtype(name)))).dtype
                self._buffers[name] = torch.zeros(shape, dtype=dtype, device=self.device)
            context.set_tensor_address(name, self._buffers[name].data_ptr())
        return context

    def _build(self, trt: Any, onnx_path: Path, engine_path: Path) -> None:
        logger.info("building FP16 TensorRT engine %s from %s", engine_path, onnx_path)
        builder = trt.Builder(self._trt_logger)
        major = int(trt.__version__.split(".")[0])
        # TensorRT >= 10 networks are always explicit-batch; 8.x needs the flag.
        flags = 0 if major >= 10 else 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
        network = builder.create_network(flags)
        parser = trt.OnnxParser(network, self._trt_logger)
        if not parser.parse_from_file(str(onnx_path)):
            errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise RuntimeError(f"TensorRT could not parse {onnx_path}: {errors}")
        config = builder.create_builder_config()
        config.set_flag(trt.BuilderFlag.FP16)
        serialized = builder.build_serialized_network(network, config)
        if serialized is None:
            raise RuntimeError(f"TensorRT failed to build an engine from {onnx_path}")
        engine_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = engine_path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(bytes(serialized))
        fsync_path(tmp)
        tmp.replace(engine_path)
        fsync_path(engine_path.parent)

    def _execute(self, context: Any) -> None:
        if not context.execute_async_v3(self._stream.cuda_stream):
            raise RuntimeError("TensorRT execute_async_v3 failed")

    def _set_conditioning(self, tokens: np.ndarray, mask: np.ndarray) -> None:
        with torch.cuda.stream(self._stream):
            self._buffers["tokens"].copy_(torch.from_numpy(tokens).unsqueeze(0))
            self._buffers["mask"].copy_(torch.from_numpy(mask).unsqueeze(0))
            self._execute(self._cond_ctx)
        self._stream.synchronize()

    def _run(self, context: Any, **inputs: Any) -> np.ndarray:
        """Copy `inputs` (by buffer name, batch dimensions left out) into the bound buffers on
        the runner's stream, execute `context`, return its actions (H, A_max) float32."""
        b = self._buffers
        with torch.cuda.stream(self._stream):
            for name, value in inputs.items():
                b[name].copy_(torch.as_tensor(np.reshape(value, tuple(b[name].shape))))
            self._execute(context)
            out = b["actions"][0].float().cpu()
        return out.numpy()

    def _sample(self, state: np.ndarray, noise: np.ndarray) -> np.ndarray:
        return self._run(self._den_ctx, state=state, noise=noise)

    def _sample_guided(self, state: np.ndarray, noise: np.ndarray, target: np.ndarray,
                       weights: np.ndarray, beta: float) -> np.ndarray:
        return self._run(self._guided_ctx, state=state, noise=noise, target=target,
                         weights=weights, beta=beta)

    def _sample_prefix(self, state: np.ndarray, noise: np.ndarray, prefix: np.ndarray,
                       given: np.ndarray) -> np.ndarray:
        return self._run(self._prefix_ctx, state=state, noise=noise, prefix=prefix, given=given)
