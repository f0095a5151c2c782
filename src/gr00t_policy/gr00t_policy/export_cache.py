"""Where exported action heads and TensorRT engines are cached, and the content hashes that
key them, so that a changed weight never reuses a stale export and an unchanged one never
re-exports.

    exported = cached_export(head, checkpoint_content_hash(ckpt), cache_dir, slot=0, num_steps=4,
                             num_tokens=64)
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch

from gr00t_policy.action_head import FlowMatchingActionHead
from gr00t_policy.export import ExportedActionHead, export_action_head

logger = logging.getLogger(__name__)

DEFAULT_CACHE_DIR = Path("~/.cache/gr00t_ros").expanduser()


def file_sha256(path: str | Path) -> str:
    """sha256 hex of a file (and of its external-data file `<name>.data` if present)."""
    digest = hashlib.sha256()
    path = Path(path)
    for part in (path, path.with_name(path.name + ".data")):
        if part.is_file():
            with part.open("rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    digest.update(chunk)
    return digest.hexdigest()


def tensorrt_engine_path(cache_dir: Path, onnx_path: Path, gpu_name: str, trt_version: str) -> Path:
    """Cache file of the engine built from `onnx_path` for this GPU and TensorRT version."""
    gpu = re.sub(r"[^A-Za-z0-9]+", "_", gpu_name).strip("_")
    return Path(cache_dir) / "tensorrt" / f"{gpu}-trt{trt_version}-{file_sha256(onnx_path)[:16]}.engine"


def head_content_hash(head: FlowMatchingActionHead) -> str:
    """sha256 hex over the head's config JSON and tensors (`module_content_hash`)."""
    return module_content_hash(head.config.to_dict(), head)


def module_content_hash(config: dict[str, Any], module: torch.nn.Module) -> str:
    """sha256 hex over a config dict (as sorted JSON) and a module's tensors (sorted key,
    dtype, shape, bytes): what an export of the module depends on."""
    digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode())
    for key, tensor in sorted(module.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{key}|{t.dtype}|{tuple(t.shape)}".encode())
        digest.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()


def checkpoint_content_hash(checkpoint_dir: str | Path) -> str:
    """sha256 hex over a checkpoint's config.json and *.safetensors files (sorted by name).

    A safetensors header is JSON whose key order is not stable between two saves of the
    same tensors, so it is hashed in canonical form (sorted keys), then the data section
    byte for byte: byte-identical weights give the same hash, and the export cache hits.
    """
    checkpoint_dir = Path(checkpoint_dir)
    files = [checkpoint_dir / "config.json", *sorted(checkpoint_dir.glob("*.safetensors"))]
    digest = hashlib.sha256()
    for path in files:
        if not path.is_file():
            raise FileNotFoundError(f"{path} missing: {checkpoint_dir} is not a gr00t_ros checkpoint")
        digest.update(path.name.encode())
        with path.open("rb") as f:
            if path.suffix == ".safetensors":
                header_len = int.from_bytes(f.read(8), "little")
                if not 0 < header_len <= path.stat().st_size - 8:
                    raise ValueError(f"{path} is not a safetensors file (its header claims "
                                     f"{header_len} bytes; the file has {path.stat().st_size}); "
                                     "copy the checkpoint again")
                try:
                    header = json.loads(f.read(header_len))
                except ValueError as exc:
                    raise ValueError(f"{path} has an unreadable safetensors header ({exc}); "
                                     "copy the checkpoint again") from None
                digest.update(json.dumps(header, sort_keys=True).encode())
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def cached_export(
    head: FlowMatchingActionHead | None,
    key: str,
    cache_dir: Path,
    *,
    slot: int,
    num_steps: int,
    num_tokens: int,
    load_head: Any = None,
) -> ExportedActionHead:
    """The export for `key` under `cache_dir/onnx/`, exporting it (atomically) if missing.

    `head` may be None when `load_head()` can produce it; it is only called on a cache miss.
    """
    out_dir = Path(cache_dir) / "onnx" / f"{key[:16]}-slot{slot}-k{num_steps}-l{num_tokens}"
    try:
        return ExportedActionHead.load(out_dir)
    except FileNotFoundError:
        pass

    def write(tmp: Path) -> None:
        export_action_head(head if head is not None else load_head(), tmp, slot=slot,
                           num_steps=num_steps, num_tokens=num_tokens)

    export_once(out_dir, write)
    return ExportedActionHead.load(out_dir)


def export_once(out_dir: Path, write: Any) -> Path:
    """Make the export directory `out_dir` by `write(tmp)` into a scratch directory beside it,
    then one rename, so a reader never finds half an export; when another process renamed
    its export in first, that one is kept."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=out_dir.name + ".tmp", dir=out_dir.parent))
    try:
        write(tmp)
        try:
            tmp.rename(out_dir)
        except OSError:  # another process won the race; use its export
            logger.info("export %s appeared concurrently; using it", out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out_dir
