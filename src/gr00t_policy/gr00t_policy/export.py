"""ONNX export of the action head for one embodiment slot (static shapes, batch 1).

Two graphs per (action head, slot, num_steps, num_tokens):

- `conditioning.onnx`: tokens (1, L, C) float32, mask (1, L) bool
  -> keys, values (N_cross, 1, heads, L, head_dim) float32, bias (1, 1, 1, L) float32.
  Run once per System 2 message.
- `denoise.onnx`: state (1, 1, S_max), noise (1, H, A_max), keys, values, bias
  -> actions (1, H, A_max): the whole K-step Euler loop unrolled, the slot's weights baked in
  (only that slot's slices of the embodiment-specific weights are in the graph).

Exporter: `torch.onnx.export(dynamo=True, opset_version=18)` (torch.export + onnxscript). It is
the exporter torch maintains, it exported every DiT variant we tried with outputs matching
torch (test_export.py checks the parity), and it writes external data for the 2 B-size head
(> 2 GB) without special handling. The legacy TorchScript exporter is deprecated in torch 2.x.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import fcntl
import json
import logging
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from gr00t_policy.action_head import CategorySpecificLinear, Conditioning, FlowMatchingActionHead
from gr00t_policy.action_head_config import ActionHeadConfig
from gr00t_policy.atomic_write import fsync_path

logger = logging.getLogger(__name__)

OPSET = 18
CONDITIONING_INPUTS = ("tokens", "mask")
CONDITIONING_OUTPUTS = ("keys", "values", "bias")
DENOISE_INPUTS = ("state", "noise", "keys", "values", "bias")
DENOISE_OUTPUTS = ("actions",)
META_FILE = "export.json"
# export.json's layout and the graphs' inputs and outputs; part of the export cache's key.
FORMAT = "gr00t_ros/action_head_onnx/1"
# An unlocked scratch directory older than this was left by an export that was killed (an
# export locks the directory it creates at once: `scratch_dir`).
ABANDONED_SCRATCH_AGE_S = 60.0


@dataclass(frozen=True)
class ExportedActionHead:
    """Paths and static shapes of an exported action head."""

    conditioning: Path
    denoise: Path
    config: ActionHeadConfig
    slot: int
    num_steps: int
    num_tokens: int

    @property
    def kv_shape(self) -> tuple[int, int, int, int, int]:
        """(N_cross, 1, heads, L, head_dim) of the keys and values."""
        cfg = self.config
        return (cfg.num_cross_attention_blocks, 1, cfg.num_heads, self.num_tokens, cfg.head_dim)

    def write_meta(self, out_dir: Path) -> Path:
        """Write `export.json` next to the graphs (config, slot, steps, tokens)."""
        path = Path(out_dir) / META_FILE
        meta = {
            "format": FORMAT,
            "config": self.config.to_dict(),
            "slot": self.slot,
            "num_steps": self.num_steps,
            "num_tokens": self.num_tokens,
            "opset": OPSET,
        }
        path.write_text(json.dumps(meta, indent=2, sort_keys=True))
        return path

    @classmethod
    def load(cls, out_dir: str | Path) -> "ExportedActionHead":
        """Read an export directory written by `export_action_head`.

        Raises FileNotFoundError when it has no export.json, ValueError when its format is not
        `FORMAT` (written by another version of gr00t_ros, or not an action head export)."""
        out_dir = Path(out_dir)
        meta_path = out_dir / META_FILE
        if not meta_path.is_file():
            raise FileNotFoundError(f"{meta_path} missing: not an action head export directory")
        meta = read_export_meta(meta_path)
        found = meta.get("format") if isinstance(meta, dict) else None
        if found != FORMAT:
            raise ValueError(f"{meta_path}: format {found!r} is not {FORMAT!r}: written by "
                             "another version of gr00t_ros, or not an action head export. Fix: "
                             f"delete {out_dir} (a cached export is made again) or export again "
                             "with `gr00t-policy export-onnx`")
        return cls(
            conditioning=out_dir / "conditioning.onnx",
            denoise=out_dir / "denoise.onnx",
            config=ActionHeadConfig.from_dict(meta["config"]),
            slot=int(meta["slot"]),
            num_steps=int(meta["num_steps"]),
            num_tokens=int(meta["num_tokens"]),
        )


def read_export_meta(meta_path: Path) -> Any:
    """An export directory's export.json, parsed. ValueError naming the directory to delete
    when it does not parse: an export cut short on disk (a crash or power loss soon after it
    was written) must not fail every later start with a bare JSON error."""
    try:
        return json.loads(meta_path.read_text())
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise ValueError(f"{meta_path} is unreadable ({exc}): the export was cut short. Fix: "
                         f"delete {meta_path.parent}; a cached export is made again on first "
                         "use") from None


class CacheDirError(OSError):
    """The export cache directory cannot be created or written; the message names the
    directory, the OS error and the fix (the nodes add their `cache_dir` parameter)."""


def cache_dir_error(path: Path, what: str, exc: OSError) -> CacheDirError:
    """The CacheDirError of a cache directory `path` that could not be `what` ("created",
    "written")."""
    return CacheDirError(
        f"the export cache directory {path} cannot be {what} ({type(exc).__name__}: {exc}). "
        "Fix: name a directory this user can create and write (the nodes' -p cache_dir:=DIR), "
        "or free space on its disk / fix its permissions")


@contextlib.contextmanager
def scratch_dir(parent: Path, prefix: str, sweep: str) -> Iterator[Path]:
    """A new directory `prefix`* in `parent` to write an export into before moving it in
    place, locked (flock) while this process lives, removed on leaving (what was moved out of
    it stays). First the directories matching `sweep` that a killed export left in `parent`
    (unlocked, older than ABANDONED_SCRATCH_AGE_S) are removed: at full size each holds
    gigabytes, and an operator who stops a slow first start again and again fills the disk."""
    for old in parent.glob(sweep):
        _remove_if_abandoned(old)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    except OSError as exc:  # read-only, full, no permission: the first write an export makes
        raise cache_dir_error(parent, "written", exc) from exc
    fd = os.open(tmp, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # released by the kernel however this process ends
        except OSError as exc:  # a file system without locks (NFS without lockd): export anyway
            logger.warning("could not lock %s (%s): another process may take it for an "
                           "abandoned export", tmp, exc)
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        os.close(fd)


def _remove_if_abandoned(path: Path) -> None:
    try:
        if not path.is_dir() or time.time() - path.stat().st_mtime < ABANDONED_SCRATCH_AGE_S:
            return
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # gone meanwhile
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # held: an export in progress (or no locks here: cannot tell, keep it)
        return
    finally:
        os.close(fd)
    logger.info("removing %s, left by an export that was killed", path)
    shutil.rmtree(path, ignore_errors=True)


def single_slot_head(head: FlowMatchingActionHead, slot: int) -> FlowMatchingActionHead:
    """A copy of `head` with num_embodiments = 1 holding only embodiment `slot`'s weights."""
    cfg = head.config
    if not 0 <= slot < cfg.num_embodiments:
        raise ValueError(
            f"slot {slot} out of range [0, {cfg.num_embodiments}) (ActionHeadConfig.num_embodiments)"
        )
    small = copy.deepcopy(head).cpu().float().eval()
    small.config = dataclasses.replace(cfg, num_embodiments=1)
    for module in small.modules():
        if isinstance(module, CategorySpecificLinear):
            module.W = nn.Parameter(module.W.data[slot : slot + 1].clone())  # (1, in, out)
            module.b = nn.Parameter(module.b.data[slot : slot + 1].clone())  # (1, out)
    return small


class ConditioningGraph(nn.Module):
    """tokens (1, L, C), mask (1, L) bool -> keys, values, bias (the exported boundary)."""

    def __init__(self, head: FlowMatchingActionHead) -> None:
        super().__init__()
        self.head = head

    def forward(
        self, tokens: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        cond = self.head.encode_conditioning(tokens, mask)
        return cond.keys, cond.values, cond.bias


class SlotLoopGraph(nn.Module):
    """Base of the exported K-step loops (denoise, guided, prefix): a single_slot_head and
    the number of Euler steps unrolled."""

    def __init__(self, head: FlowMatchingActionHead, num_steps: int) -> None:
        super().__init__()
        if head.config.num_embodiments != 1:
            raise ValueError(f"{type(self).__name__} expects a single_slot_head(...) "
                             "(num_embodiments 1)")
        self.head = head
        self.num_steps = num_steps


class DenoiseGraph(SlotLoopGraph):
    """The K-step Euler loop for one slot: (state, noise, keys, values, bias) -> actions."""

    def forward(
        self,
        state: torch.Tensor,
        noise: torch.Tensor,
        keys: torch.Tensor,
        values: torch.Tensor,
        bias: torch.Tensor,
    ) -> torch.Tensor:
        slot = torch.zeros(1, dtype=torch.long, device=state.device)  # (1,)
        cond = Conditioning(keys, values, bias)
        return self.head.sample_from_conditioning(cond, state, slot, noise, self.num_steps)


def example_inputs(
    cfg: ActionHeadConfig, num_tokens: int, seed: int = 0
) -> dict[str, np.ndarray]:
    """Random batch-1 inputs in the exported graphs' shapes (last 1/4 of tokens padded)."""
    rng = np.random.default_rng(seed)
    mask = np.ones((1, num_tokens), dtype=np.bool_)
    mask[:, : num_tokens // 4] = False  # left padding, as the backbone produces
    return {
        "tokens": rng.standard_normal((1, num_tokens, cfg.cross_attention_dim)).astype(np.float32),
        "mask": mask,
        "state": rng.standard_normal((1, 1, cfg.max_state_dim)).astype(np.float32),
        "noise": rng.standard_normal((1, cfg.action_horizon, cfg.max_action_dim)).astype(np.float32),
    }


def onnx_program(module: nn.Module, args: tuple, inputs, outputs) -> Any:
    """`module` (or a traced graph) on example `args` as an ONNX program, this package's
    exporter settings (module docstring)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # exporter deprecation chatter
        return torch.onnx.export(module, args, dynamo=True, opset_version=OPSET,
                                 input_names=list(inputs), output_names=list(outputs),
                                 optimize=True, verbose=False)


def _export(
    module: nn.Module, args: tuple, path: Path, inputs, outputs, external_data: bool | None
) -> None:
    onnx_program(module, args, inputs, outputs).save(str(path), external_data=external_data)


def save_beside(program: Any, path: Path) -> None:
    """Save an exported ONNX `program` as `path` in an existing export directory, so that a
    reader that finds the file finds it whole: saved under its final name in a scratch
    directory (an external-data file, for a head over 2 GB, is referenced by that name), then
    moved in, the graph last."""
    with scratch_dir(path.parent, prefix=f".{path.stem}-", sweep=".*-*") as tmp:
        program.save(str(tmp / path.name), external_data=None)
        data = tmp / f"{path.name}.data"
        # Synced before the renames publish them: a power cut can keep a rename and lose
        # the contents (ext4 writes data late), leaving a complete-looking empty export.
        for written in (data, tmp / path.name):
            if written.is_file():
                fsync_path(written)
        if data.is_file():
            data.replace(path.with_name(data.name))
        (tmp / path.name).replace(path)
        fsync_path(path.parent)


def cached_beside(path: Path, export: Any, head: FlowMatchingActionHead | None,
                  load_head: Any = None) -> Path:
    """An extra graph of an export directory (guided.onnx, prefix.onnx) at `path`, written by
    `export(head)` on first use. `head` may be None when `load_head()` can produce it (called
    only when the graph is missing)."""
    if path.is_file():
        return path
    export(head if head is not None else load_head())
    return path


def export_action_head(
    head: FlowMatchingActionHead,
    out_dir: str | Path,
    *,
    slot: int,
    num_steps: int,
    num_tokens: int,
    external_data: bool | None = None,
) -> ExportedActionHead:
    """Export `conditioning.onnx` and `denoise.onnx` (+ `export.json`) into `out_dir`.

    Args:
        head: the action head (any device/dtype; exported in float32 on the CPU).
        out_dir: directory to write (created).
        slot: embodiment slot whose weights are baked into denoise.onnx.
        num_steps: K Euler steps unrolled in denoise.onnx.
        num_tokens: L, the static number of backbone tokens.
        external_data: store weights in `<graph>.onnx.data` files; None = only when a graph's
            weights exceed 2 GB (the gr00t-n1-2b head), as protobuf requires.
    """
    cfg = head.config
    if num_steps < 1:
        raise ValueError(f"num_steps must be >= 1, got {num_steps}")
    if num_tokens < 1:
        raise ValueError(f"num_tokens must be >= 1, got {num_tokens}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    small = single_slot_head(head, slot)
    ex = {k: torch.from_numpy(v) for k, v in example_inputs(cfg, num_tokens).items()}
    cond_graph = ConditioningGraph(small).eval()
    denoise_graph = DenoiseGraph(small, num_steps).eval()
    with torch.no_grad():
        keys, values, bias = cond_graph(ex["tokens"], ex["mask"])
        paths = ExportedActionHead(
            conditioning=out_dir / "conditioning.onnx",
            denoise=out_dir / "denoise.onnx",
            config=cfg,
            slot=slot,
            num_steps=num_steps,
            num_tokens=num_tokens,
        )
        logger.info("exporting %s (slot %d, %d steps, %d tokens)", out_dir, slot, num_steps,
                    num_tokens)
        _export(cond_graph, (ex["tokens"], ex["mask"]), paths.conditioning,
                CONDITIONING_INPUTS, CONDITIONING_OUTPUTS, external_data)
        _export(denoise_graph, (ex["state"], ex["noise"], keys, values, bias), paths.denoise,
                DENOISE_INPUTS, DENOISE_OUTPUTS, external_data)
    paths.write_meta(out_dir)
    return paths


def check_parity(
    head: FlowMatchingActionHead,
    exported: ExportedActionHead,
    *,
    seed: int = 0,
    num_threads: int = 1,
) -> float:
    """Max abs difference of onnxruntime's actions (and keys/values) vs torch on random inputs.

    Runs both graphs with onnxruntime on the CPU and `head.sample` (float32, CPU) on the same
    tokens, mask, state and noise.
    """
    import onnxruntime as ort

    cfg = exported.config
    ex = example_inputs(cfg, exported.num_tokens, seed)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = num_threads
    cond_sess = ort.InferenceSession(str(exported.conditioning), opts,
                                     providers=["CPUExecutionProvider"])
    den_sess = ort.InferenceSession(str(exported.denoise), opts,
                                    providers=["CPUExecutionProvider"])
    keys, values, bias = cond_sess.run(None, {"tokens": ex["tokens"], "mask": ex["mask"]})
    (actions,) = den_sess.run(None, {"state": ex["state"], "noise": ex["noise"],
                                     "keys": keys, "values": values, "bias": bias})
    ref = head
    if any(p.dtype != torch.float32 or p.device.type != "cpu" for p in head.parameters()):
        ref = copy.deepcopy(head).float().cpu()
    with torch.no_grad():
        slot = torch.tensor([exported.slot])
        cond = ref.encode_conditioning(torch.from_numpy(ex["tokens"]), torch.from_numpy(ex["mask"]))
        ref_actions = ref.sample_from_conditioning(
            cond, torch.from_numpy(ex["state"]), slot, torch.from_numpy(ex["noise"]),
            exported.num_steps,
        )
    diffs = [
        np.abs(actions - ref_actions.numpy()).max(),
        np.abs(keys - cond.keys.numpy()).max(),
        np.abs(values - cond.values.numpy()).max(),
    ]
    return float(max(diffs))
