"""Action head runners: the interface System 1 calls at its control rate.

    runner = make_runner("onnxruntime", checkpoint_dir, embodiment_slot=0, num_steps=4)
    runner.set_conditioning(tokens (L, C) float32, mask (L,) bool)   # once per token message
    actions = runner.sample(state (S_max,) float32, noise (H, A_max) float32)  # (H, A_max)
    actions = runner.sample_guided(state, noise, target (H, A_max), weights (H, A_max), beta)
    actions = runner.sample_prefix(state, noise, prefix (H, A_max), rows)  # rows 0..rows-1 given

All runners take and return normalized, zero-padded numpy arrays (the caller owns
normalization and padding), bind their buffers once at construction and keep the
conditioning's keys/values between `sample` calls.

- `TorchRunner`: eager torch on the CPU; on CUDA the Euler loop is captured in a CUDA graph.
- `OnnxRuntimeRunner`: the exported graphs (see `gr00t_policy.export`) on the CPU
  (the default backend); inputs and outputs are numpy buffers bound once with IOBinding.
- `TensorRTRunner` (`gr00t_policy.tensorrt_runner`): FP16 TensorRT engines built from the
  same ONNX graphs, cached on disk keyed by GPU name, TensorRT version and ONNX sha256.
  `tensorrt` is imported lazily.

`sample_guided` (real-time chunking's inpainting, `flow_matching.guided_euler_integrate`)
runs on torch always and on onnxruntime / TensorRT when the runner was built with
`guidance=True`, which adds the exported guided graph (`gr00t_policy.export_guided`).
`sample_prefix` (real-time chunking by prefix conditioning,
`flow_matching.prefix_euler_integrate`) likewise with `prefix=True`
(`gr00t_policy.export_prefix`); it is meant for heads trained so
(`ActionHeadConfig.prefix_rows`).
"""

from __future__ import annotations

import abc
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gr00t_policy.action_head import Conditioning, FlowMatchingActionHead
from gr00t_policy.action_head_config import ActionHeadConfig
from gr00t_policy.backend_names import BACKENDS
from gr00t_policy.devices import backend_device_problem
from gr00t_policy.export import ExportedActionHead
from gr00t_policy.export_guided import cached_guided
from gr00t_policy.export_prefix import cached_prefix
from gr00t_policy.export_cache import (
    cached_export, checkpoint_content_hash, head_content_hash, cache_root)

logger = logging.getLogger(__name__)

# onnxruntime intra-op threads. At batch 1 the nano graph is too small to split: a second
# thread was no faster, and slower under load, where it fights the other processes for the
# cores (bench/action_head_latency.py, docs/BENCHMARKS.md). One thread also leaves a core to
# ROS and System 2.
DEFAULT_ORT_THREADS = 1


class GuidanceUnsupported(ValueError):
    """A runner built without the guided graph was asked for guided sampling."""


class PrefixUnsupported(ValueError):
    """A runner built without the prefix graph was asked for prefix-conditioned sampling."""


class ActionHeadRunner(abc.ABC):
    """One embodiment slot's action head behind numpy in / numpy out.

    Attributes:
        name: backend name ("torch", "onnxruntime", "tensorrt").
        horizon: H, actions per chunk.
        max_state_dim: S_max, the padded state width `sample` takes.
        max_action_dim: A_max, the padded action width `sample` returns.
        num_tokens: L, the static number of backbone tokens `set_conditioning` takes.
        token_dim: C, the width of one backbone token.
        embodiment_slot: the slot whose weights this runner uses.
        num_steps: K Euler steps per chunk.
        supports_guidance: whether `sample_guided` can guide (see the module docstring).
        supports_prefix: whether `sample_prefix` can condition on given rows.
    """

    name: str = "abstract"
    supports_guidance: bool = False
    supports_prefix: bool = False

    def __init__(self, cfg: ActionHeadConfig, *, num_tokens: int, embodiment_slot: int,
                 num_steps: int) -> None:
        """The static shapes every backend checks its inputs against: the head's config
        (horizon, padded state/action widths, token width) and what this runner serves."""
        self.horizon = cfg.action_horizon
        self.max_state_dim = cfg.max_state_dim
        self.max_action_dim = cfg.max_action_dim
        self.num_tokens = num_tokens
        self.token_dim = cfg.cross_attention_dim
        self.embodiment_slot = embodiment_slot
        self.num_steps = num_steps
        self._has_conditioning = False

    # -- the interface -------------------------------------------------------------------------

    def set_conditioning(self, tokens: np.ndarray, mask: np.ndarray) -> None:
        """Store backbone tokens (L, C) float32 and mask (L,) bool (True = real token)."""
        tokens = self._checked("tokens", tokens, (self.num_tokens, self.token_dim), np.float32)
        mask = np.asarray(mask)
        if mask.shape != (self.num_tokens,):
            raise ValueError(f"mask has shape {mask.shape}, expected ({self.num_tokens},)")
        if mask.dtype != np.bool_:
            raise ValueError(f"mask has dtype {mask.dtype}, expected bool (True = real token)")
        if not mask.any():
            raise ValueError("mask marks no real token: the conditioning is all padding")
        self._set_conditioning(tokens, mask)
        self._has_conditioning = True

    def sample(self, state: np.ndarray, noise: np.ndarray) -> np.ndarray:
        """One action chunk (H, A_max) float32 from padded state (S_max,) and noise (H, A_max)."""
        return self._sample(*self._checked_call(state, noise))

    def sample_guided(self, state: np.ndarray, noise: np.ndarray, target: np.ndarray,
                      weights: np.ndarray, beta: float) -> np.ndarray:
        """`sample` with every Euler step guided towards `target` (H, A_max) float32 where
        `weights` (H, A_max) float32 (>= 0) are non-zero, the guidance clipped at `beta`.
        All-zero weights or beta 0 is `sample` exactly. Raises GuidanceUnsupported when this
        runner was built without the guided graph."""
        state, noise = self._checked_call(state, noise)
        shape = (self.horizon, self.max_action_dim)
        target = self._checked("target", target, shape, np.float32)
        weights = self._checked("weights", weights, shape, np.float32)
        if not (np.isfinite(beta) and beta >= 0.0):
            raise ValueError(f"beta (the guidance clip) must be finite and >= 0, got {beta}")
        if not (np.isfinite(weights).all() and (weights >= 0.0).all()):
            raise ValueError("weights must be finite and >= 0")
        if not np.isfinite(target).all():
            raise ValueError("target has non-finite entries")
        if beta == 0.0 or not weights.any():
            return self._sample(state, noise)
        if not self.supports_guidance:
            raise GuidanceUnsupported(
                f"this {self.name} runner was built without the guided graph: build it with "
                "make_runner(..., guidance=True) (System 1 does for chunk_mode rtc)")
        return self._sample_guided(state, noise, target, weights, float(beta))

    def _sample_guided(self, state: np.ndarray, noise: np.ndarray, target: np.ndarray,
                       weights: np.ndarray, beta: float) -> np.ndarray:
        """Backend part of `sample_guided` (inputs validated, guidance not zero)."""
        raise GuidanceUnsupported(f"the {self.name} backend has no guided sampling")

    def sample_prefix(self, state: np.ndarray, noise: np.ndarray, prefix: np.ndarray,
                      rows: int) -> np.ndarray:
        """`sample` with rows 0 .. rows-1 given as `prefix` (H, A_max) float32 (normalized,
        padded): the chunk is planned on from them, and carries them unchanged. rows 0 is
        `sample` exactly. Raises PrefixUnsupported when this runner was built without the
        prefix graph."""
        state, noise = self._checked_call(state, noise)
        prefix = self._checked("prefix", prefix, (self.horizon, self.max_action_dim), np.float32)
        if isinstance(rows, bool) or not isinstance(rows, (int, np.integer)) \
                or not 0 <= rows <= self.horizon:
            raise ValueError(f"rows must be an int in [0, {self.horizon}], got {rows!r}")
        if not np.isfinite(prefix[:rows]).all():
            raise ValueError("prefix has non-finite entries in its given rows")
        if rows == 0:
            return self._sample(state, noise)
        if not self.supports_prefix:
            raise PrefixUnsupported(
                f"this {self.name} runner was built without the prefix graph: build it with "
                "make_runner(..., prefix=True) (System 1 does for rtc_method prefix)")
        given = np.zeros(self.horizon, np.bool_)
        given[:rows] = True
        return self._sample_prefix(state, noise, prefix, given)

    def _sample_prefix(self, state: np.ndarray, noise: np.ndarray, prefix: np.ndarray,
                       given: np.ndarray) -> np.ndarray:
        """Backend part of `sample_prefix` (inputs validated, given (H,) bool not all False)."""
        raise PrefixUnsupported(f"the {self.name} backend has no prefix-conditioned sampling")

    @abc.abstractmethod
    def _set_conditioning(self, tokens: np.ndarray, mask: np.ndarray) -> None:
        """Backend part of `set_conditioning` (inputs already validated)."""

    @abc.abstractmethod
    def _sample(self, state: np.ndarray, noise: np.ndarray) -> np.ndarray:
        """Backend part of `sample` (inputs already validated); returns a fresh array."""

    # -- helpers -------------------------------------------------------------------------------

    def _checked_call(self, state: np.ndarray, noise: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """What every sampling call checks first: conditioning set, state (S_max,) and noise
        (H, A_max) float32 (converted from another float dtype)."""
        if not self._has_conditioning:
            raise RuntimeError(f"{self.name} runner: call set_conditioning() before sample()")
        state = self._checked("state", state, (self.max_state_dim,), np.float32)
        noise = self._checked("noise", noise, (self.horizon, self.max_action_dim), np.float32)
        return state, noise

    @staticmethod
    def _checked(name: str, array: np.ndarray, shape: tuple[int, ...], dtype: type) -> np.ndarray:
        array = np.asarray(array)
        if array.shape != shape:
            raise ValueError(f"{name} has shape {array.shape}, expected {shape} (zero-pad it)")
        if array.dtype != dtype:
            if not np.issubdtype(array.dtype, np.floating):
                raise ValueError(f"{name} has dtype {array.dtype}, expected {np.dtype(dtype)}")
            array = array.astype(dtype)
        return array

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(slot={self.embodiment_slot}, steps={self.num_steps}, "
            f"tokens={self.num_tokens}x{self.token_dim}, horizon={self.horizon})"
        )


# ---------------------------------------------------------------------------------------------
# torch
# ---------------------------------------------------------------------------------------------


class TorchRunner(ActionHeadRunner):
    """Eager torch; on CUDA the whole Euler loop is replayed from a captured CUDA graph.

    Runs in float32 whatever the weights were stored in (a checkpoint saved in bfloat16 or
    float16 is cast once, here), as the onnxruntime export does: the inputs and the bound
    buffers are float32, and a half-precision head on the CPU is both slower and not what
    the other backends compute. TensorRT is the backend for reduced precision."""

    name = "torch"
    supports_guidance = True
    supports_prefix = True

    def __init__(
        self,
        head: FlowMatchingActionHead,
        *,
        embodiment_slot: int,
        num_steps: int,
        num_tokens: int,
        device: str | torch.device = "cpu",
    ) -> None:
        cfg = head.config
        _check_slot(embodiment_slot, cfg.num_embodiments)
        super().__init__(cfg, num_tokens=num_tokens, embodiment_slot=embodiment_slot,
                         num_steps=num_steps)
        self.device = torch.device(device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device {device!r} asked for but torch sees no CUDA device")
        self.head = head.to(device=self.device, dtype=torch.float32).eval()
        dev = self.device
        # Static buffers, bound once: inputs are copied in, the graph/loop reads them.
        self._tokens = torch.zeros(1, num_tokens, cfg.cross_attention_dim, device=dev)
        self._mask = torch.zeros(1, num_tokens, dtype=torch.bool, device=dev)
        self._state = torch.zeros(1, 1, cfg.max_state_dim, device=dev)
        self._noise = torch.zeros(1, cfg.action_horizon, cfg.max_action_dim, device=dev)
        self._slot = torch.full((1,), embodiment_slot, dtype=torch.long, device=dev)
        self._cond: Conditioning | None = None
        self._out: torch.Tensor | None = None
        self._graph: Any = None  # torch.cuda.CUDAGraph once captured

    @torch.inference_mode()
    def _set_conditioning(self, tokens: np.ndarray, mask: np.ndarray) -> None:
        self._tokens.copy_(torch.from_numpy(tokens).unsqueeze(0))
        self._mask.copy_(torch.from_numpy(mask).unsqueeze(0))
        cond = self.head.encode_conditioning(self._tokens, self._mask)
        if self._cond is None:
            self._cond = cond  # these tensors become the static K/V the CUDA graph reads
        else:
            for static, new in zip(self._cond, cond):
                static.copy_(new)

    def _run_loop(self) -> torch.Tensor:
        if self._cond is None:
            raise RuntimeError("torch runner: call set_conditioning() before sample()")
        return self.head.sample_from_conditioning(
            self._cond, self._state, self._slot, self._noise, self.num_steps
        )  # (1, H, A_max)

    @torch.inference_mode()
    def _sample(self, state: np.ndarray, noise: np.ndarray) -> np.ndarray:
        self._state.copy_(torch.from_numpy(state).view(1, 1, -1))
        self._noise.copy_(torch.from_numpy(noise).unsqueeze(0))
        if self.device.type != "cuda":
            return self._run_loop()[0].numpy().copy()
        if self._graph is None:
            self._capture()
        self._graph.replay()
        return self._out[0].cpu().numpy()

    def _sample_guided(self, state: np.ndarray, noise: np.ndarray, target: np.ndarray,
                       weights: np.ndarray, beta: float) -> np.ndarray:
        # Eager, also on CUDA: the vector-Jacobian products need autograd, which neither
        # inference_mode nor the captured graph allow.
        if self._cond is None:
            raise RuntimeError("torch runner: call set_conditioning() before sample()")
        dev = self.device
        with torch.no_grad():
            self._state.copy_(torch.from_numpy(state).view(1, 1, -1))
            self._noise.copy_(torch.from_numpy(noise).unsqueeze(0))
        cond = Conditioning(*(c.clone() for c in self._cond))  # out of inference mode
        out = self.head.sample_guided_from_conditioning(
            cond, self._state.clone(), self._slot, self._noise.clone(),
            torch.from_numpy(target).unsqueeze(0).to(dev),
            torch.from_numpy(weights).unsqueeze(0).to(dev), beta, self.num_steps)  # (1, H, A_max)
        return out[0].detach().cpu().numpy().copy()

    @torch.inference_mode()
    def _sample_prefix(self, state: np.ndarray, noise: np.ndarray, prefix: np.ndarray,
                       given: np.ndarray) -> np.ndarray:
        # Eager, also on CUDA (the captured graph is the plain loop).
        if self._cond is None:
            raise RuntimeError("torch runner: call set_conditioning() before sample()")
        dev = self.device
        self._state.copy_(torch.from_numpy(state).view(1, 1, -1))
        self._noise.copy_(torch.from_numpy(noise).unsqueeze(0))
        out = self.head.sample_prefix_from_conditioning(
            self._cond, self._state, self._slot, self._noise,
            torch.from_numpy(prefix).unsqueeze(0).to(dev),
            torch.from_numpy(given).unsqueeze(0).to(dev), self.num_steps)  # (1, H, A_max)
        return out[0].cpu().numpy().copy()

    def _capture(self) -> None:
        """Warm up on a side stream, then capture the Euler loop into a CUDA graph."""
        side = torch.cuda.Stream(self.device)
        side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(side):
            for _ in range(3):
                self._run_loop()
        torch.cuda.current_stream(self.device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self._out = self._run_loop()
        self._graph = graph
        logger.info("captured the %d-step action head loop in a CUDA graph", self.num_steps)


# ---------------------------------------------------------------------------------------------
# onnxruntime
# ---------------------------------------------------------------------------------------------


def cpu_session_options(num_threads: int, spin: bool = True) -> Any:
    """onnxruntime options for one graph called at a time on the CPU: `num_threads` intra-op
    threads, sequential, every graph optimization; `spin=False` keeps idle threads from
    spin-waiting (System 2's backbone, on cores it shares)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = num_threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if not spin:
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return opts


def cpu_session(path: Path, options: Any) -> Any:
    """An onnxruntime session of the graph at `path` on the CPU provider. A graph that does not
    load is named with the directory to delete: a cached export cut short on disk (a crash
    soon after it was written) is made again on first use."""
    import onnxruntime as ort

    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime's own types (Fail, InvalidProtobuf, ...)
        raise RuntimeError(f"onnxruntime could not load {path} ({exc}). Fix: delete "
                           f"{path.parent}; a cached export is made again on first use") from exc


class OnnxRuntimeRunner(ActionHeadRunner):
    """The exported conditioning + denoise graphs on onnxruntime's CPU provider.

    All inputs and outputs are numpy buffers bound once with IOBinding; the conditioning
    graph writes keys/values/bias straight into the buffers the denoise graph reads.
    """

    name = "onnxruntime"

    def __init__(
        self,
        exported: ExportedActionHead,
        *,
        num_threads: int = DEFAULT_ORT_THREADS,
        guided: Path | None = None,
        prefix: Path | None = None,
    ) -> None:
        import onnxruntime as ort

        super().__init__(exported.config, num_tokens=exported.num_tokens,
                         embodiment_slot=exported.slot, num_steps=exported.num_steps)
        if num_threads < 1:
            raise ValueError(f"num_threads must be >= 1, got {num_threads}")
        self.num_threads = num_threads
        opts = cpu_session_options(num_threads)
        self._cond_sess = cpu_session(exported.conditioning, opts)
        self._den_sess = cpu_session(exported.denoise, opts)

        kv_shape = exported.kv_shape
        self._buffers = {
            "tokens": np.zeros((1, self.num_tokens, self.token_dim), np.float32),
            "mask": np.zeros((1, self.num_tokens), np.bool_),
            "keys": np.zeros(kv_shape, np.float32),
            "values": np.zeros(kv_shape, np.float32),
            "bias": np.zeros((1, 1, 1, self.num_tokens), np.float32),
            "state": np.zeros((1, 1, self.max_state_dim), np.float32),
            "noise": np.zeros((1, self.horizon, self.max_action_dim), np.float32),
            "actions": np.zeros((1, self.horizon, self.max_action_dim), np.float32),
            "target": np.zeros((1, self.horizon, self.max_action_dim), np.float32),
            "weights": np.zeros((1, self.horizon, self.max_action_dim), np.float32),
            "beta": np.zeros((1,), np.float32),
            "prefix": np.zeros((1, self.horizon, self.max_action_dim), np.float32),
            "given": np.zeros((1, self.horizon), np.bool_),
        }
        # OrtValues over the numpy buffers share their memory (CPU), so copying into the numpy
        # arrays is all a call has to do.
        self._ort_values = {k: ort.OrtValue.ortvalue_from_numpy(v) for k, v in self._buffers.items()}
        self._cond_binding = self._bind(self._cond_sess, ("tokens", "mask"), ("keys", "values", "bias"))
        self._den_binding = self._bind(
            self._den_sess, ("state", "noise", "keys", "values", "bias"), ("actions",)
        )
        self._guided_binding = None
        if guided is not None:
            self._guided_sess = cpu_session(guided, opts)
            self._guided_binding = self._bind(
                self._guided_sess, ("state", "noise", "keys", "values", "bias", "target",
                                    "weights", "beta"), ("actions",))
            self.supports_guidance = True
        self._prefix_binding = None
        if prefix is not None:
            self._prefix_sess = cpu_session(prefix, opts)
            self._prefix_binding = self._bind(
                self._prefix_sess, ("state", "noise", "keys", "values", "bias", "prefix",
                                    "given"), ("actions",))
            self.supports_prefix = True

    def _bind(self, session: Any, inputs: tuple[str, ...], outputs: tuple[str, ...]) -> Any:
        names_in = [i.name for i in session.get_inputs()]
        names_out = [o.name for o in session.get_outputs()]
        if sorted(names_in) != sorted(inputs) or sorted(names_out) != sorted(outputs):
            raise ValueError(
                f"ONNX graph has inputs {names_in} / outputs {names_out}, expected {list(inputs)}"
                f" / {list(outputs)}: re-export it with gr00t_policy.export"
            )
        binding = session.io_binding()
        for name in inputs:
            binding.bind_ortvalue_input(name, self._ort_values[name])
        for name in outputs:
            binding.bind_ortvalue_output(name, self._ort_values[name])
        return binding

    def _set_conditioning(self, tokens: np.ndarray, mask: np.ndarray) -> None:
        np.copyto(self._buffers["tokens"][0], tokens)
        np.copyto(self._buffers["mask"][0], mask)
        self._cond_sess.run_with_iobinding(self._cond_binding)

    def _run(self, session: Any, binding: Any, **inputs: Any) -> np.ndarray:
        """Copy `inputs` (by buffer name, batch dimensions left out) into the bound buffers,
        run `session`, return a copy of its actions (H, A_max)."""
        for name, value in inputs.items():
            buffer = self._buffers[name]
            np.copyto(buffer, np.reshape(value, buffer.shape))
        session.run_with_iobinding(binding)
        return self._buffers["actions"][0].copy()

    def _sample(self, state: np.ndarray, noise: np.ndarray) -> np.ndarray:
        return self._run(self._den_sess, self._den_binding, state=state, noise=noise)

    def _sample_guided(self, state: np.ndarray, noise: np.ndarray, target: np.ndarray,
                       weights: np.ndarray, beta: float) -> np.ndarray:
        return self._run(self._guided_sess, self._guided_binding, state=state, noise=noise,
                         target=target, weights=weights, beta=beta)

    def _sample_prefix(self, state: np.ndarray, noise: np.ndarray, prefix: np.ndarray,
                       given: np.ndarray) -> np.ndarray:
        return self._run(self._prefix_sess, self._prefix_binding, state=state, noise=noise,
                         prefix=prefix, given=given)


# ---------------------------------------------------------------------------------------------
# factory
# ---------------------------------------------------------------------------------------------

def _check_slot(slot: int, num_embodiments: int) -> None:
    if not isinstance(slot, int) or not 0 <= slot < num_embodiments:
        raise ValueError(
            f"embodiment_slot {slot!r} out of range [0, {num_embodiments}) "
            "(ActionHeadConfig.num_embodiments)"
        )


def _checkpoint_num_tokens(checkpoint_dir: Path) -> int:
    config = json.loads((checkpoint_dir / "config.json").read_text())
    try:
        return int(config["backbone"]["max_tokens"])
    except (KeyError, TypeError) as exc:
        raise ValueError(
            f"{checkpoint_dir}/config.json has no backbone.max_tokens; pass num_tokens="
        ) from exc


def _load_head(checkpoint_dir: Path, device: str) -> FlowMatchingActionHead:
    from gr00t_policy.checkpoint import load_checkpoint  # lazy: heavy, and written separately

    loaded = load_checkpoint(checkpoint_dir, parts=("action_head",), device=device)
    return loaded.policy.action_head


def make_runner(
    backend: str,
    head_or_checkpoint: FlowMatchingActionHead | str | Path,
    *,
    embodiment_slot: int,
    num_steps: int | None = None,
    num_tokens: int | None = None,
    cache_dir: str | Path | None = None,
    device: str = "cpu",
    num_threads: int = DEFAULT_ORT_THREADS,
    guidance: bool = False,
    prefix: bool = False,
) -> ActionHeadRunner:
    """Build the runner `backend` for one embodiment slot.

    Args:
        backend: one of BACKENDS ("torch", "onnxruntime", "tensorrt").
        head_or_checkpoint: an in-memory `FlowMatchingActionHead` or a checkpoint directory
            (its action head is loaded with `gr00t_policy.checkpoint.load_checkpoint`).
        embodiment_slot: the slot whose weights to run.
        num_steps: Euler steps; default `ActionHeadConfig.num_inference_steps`.
        num_tokens: backbone tokens L; default the checkpoint's `backbone.max_tokens`
            (required with an in-memory head).
        cache_dir: where ONNX exports (onnx/<hash>-slot-k-l/) and TensorRT engines go;
            default ~/.cache/gr00t_ros. Keyed by content hash, exporter (code and
            versions, `export_cache.exporter_id`), slot, steps and tokens.
        device: torch backend device ("cpu", "cuda", "cuda:1"); tensorrt uses "cuda" when
            this is "cpu".
        num_threads: onnxruntime intra-op threads.
        guidance: also load the guided graph (exported on first use, cached beside the
            others), so that `sample_guided` guides on onnxruntime and TensorRT; torch
            always can.
        prefix: likewise the prefix graph, for `sample_prefix`.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown action head backend {backend!r}; known backends: {list(BACKENDS)}")
    problem = backend_device_problem(backend, device)
    if problem is not None:
        raise ValueError(f"device {device!r} {problem}")

    if isinstance(head_or_checkpoint, FlowMatchingActionHead):
        head: FlowMatchingActionHead | None = head_or_checkpoint
        if num_tokens is None:
            raise ValueError("num_tokens is required with an in-memory action head")
        cfg = head.config
        key_fn = lambda: head_content_hash(head_or_checkpoint)  # noqa: E731
        load_fn = None
    else:
        ckpt_dir = Path(head_or_checkpoint).expanduser()
        if not (ckpt_dir / "config.json").is_file():
            raise ValueError(f"{ckpt_dir} is not a checkpoint directory (no config.json)")
        cfg = ActionHeadConfig.from_dict(json.loads((ckpt_dir / "config.json").read_text())["action_head"])
        from gr00t_policy.checkpoint import check_head_record, weight_files  # lazy, as _load_head

        # before a cached export (keyed on config.json too) can be used without loading
        check_head_record(weight_files(ckpt_dir), cfg, str(ckpt_dir))
        if num_tokens is None:
            num_tokens = _checkpoint_num_tokens(ckpt_dir)
        head = None
        key_fn = lambda: checkpoint_content_hash(ckpt_dir)  # noqa: E731
        load_fn = lambda: _load_head(ckpt_dir, "cpu")  # noqa: E731
    _check_slot(embodiment_slot, cfg.num_embodiments)
    steps = cfg.num_inference_steps if num_steps is None else num_steps
    if steps < 1:
        raise ValueError(f"num_steps must be >= 1, got {steps}")

    if backend == "torch":
        if head is None:
            head = _load_head(ckpt_dir, device)
        return TorchRunner(head, embodiment_slot=embodiment_slot, num_steps=steps,
                           num_tokens=num_tokens, device=device)
    if backend == "tensorrt":
        from gr00t_policy.tensorrt_runner import tensorrt_problem

        problem = tensorrt_problem()  # before the export: it takes seconds to minutes
        if problem is not None:
            raise RuntimeError(problem)
    cache = cache_root(cache_dir)  # before the export: CacheDirError names it
    exported = cached_export(head, key_fn(), cache, slot=embodiment_slot, num_steps=steps,
                             num_tokens=num_tokens, load_head=load_fn)
    guided = cached_guided(exported, head, load_fn) if guidance else None
    prefixed = cached_prefix(exported, head, load_fn) if prefix else None
    if backend == "onnxruntime":
        return OnnxRuntimeRunner(exported, num_threads=num_threads, guided=guided,
                                 prefix=prefixed)
    from gr00t_policy.tensorrt_runner import TensorRTRunner

    return TensorRTRunner(exported, cache_dir=cache, device="cuda" if device == "cpu" else device,
                          guided=guided, prefix=prefixed)
