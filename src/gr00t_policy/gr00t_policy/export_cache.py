"""Where exported action heads and TensorRT engines are cached, and the content hashes that
key them, so that a changed weight never reuses a stale export and an unchanged one never
re-exports.

    exported = cached_export(head, checkpoint_content_hash(ckpt), cache_dir, slot=0, num_steps=4,
                             num_tokens=64)

An export depends on the code that builds the graph as much as on the weights: a cache
directory's name holds both the weights' hash and `exporter_id` (the export format, the torch,
onnx and onnxscript versions, and the source of the modules the graph is traced from), so an
upgrade of gr00t_ros or of the exporter exports again instead of running a stale graph.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from gr00t_policy.action_head import FlowMatchingActionHead
from gr00t_policy.atomic_write import fsync_path
from gr00t_policy.export import (FORMAT, ExportedActionHead, cache_dir_error,
                                 export_action_head, scratch_dir)

logger = logging.getLogger(__name__)

DEFAULT_CACHE_DIR = Path("~/.cache/gr00t_ros").expanduser()


def cache_root(cache_dir: str | Path | None) -> Path:
    """The export cache directory `cache_dir` (None: DEFAULT_CACHE_DIR; `~` expanded), created
    if missing; CacheDirError where it cannot be (under /proc, under a file, no permission).
    Asked before a runner that exports into it is built: such a directory otherwise failed
    deep inside the export with a bare OS error naming no setting ("[Errno 2] No such file or
    directory: '/proc/gr00t_cache'"). Whether it can be written is found where an export is
    written (`export.scratch_dir`): a read-only cache, or a full disk, that already holds the
    exports a node needs still serves them."""
    path = Path(cache_dir).expanduser() if cache_dir is not None else DEFAULT_CACHE_DIR
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise cache_dir_error(path, "created", exc) from exc
    return path


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


# The modules whose code an action head export traces (with every gr00t_policy module they
# import: `source_files`): the graphs, the head and its flow-matching loop.
ACTION_HEAD_EXPORTERS = ("gr00t_policy.export", "gr00t_policy.export_guided",
                         "gr00t_policy.export_prefix")
# What else an export depends on: the exporter's packages.
EXPORTER_PACKAGES = ("torch", "onnx", "onnxscript")


def _module_imports(tree: ast.AST) -> list[str]:
    """What a module's own statements import (not its functions' lazy imports: those wire
    the runtime together, the graph is traced from the modules' classes and functions)."""
    names: list[str] = []
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if isinstance(node, ast.Import):
            names.extend(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module)
            names.extend(f"{node.module}.{a.name}" for a in node.names)
        else:
            names.extend(_module_imports(node))
    return names


def source_files(modules: Iterable[str]) -> list[Path]:
    """The source files of ``modules`` and of every module of their packages they import at
    module level, directly or through each other (read without importing them), sorted."""
    modules = list(modules)
    roots: dict[str, Path] = {}
    for package in {m.split(".")[0] for m in modules}:
        spec = importlib.util.find_spec(package)
        if spec is None or spec.origin is None:
            raise ModuleNotFoundError(f"package {package!r} not found")
        roots[package] = Path(spec.origin).parent
    found: dict[str, Path] = {}
    todo = list(modules)
    while todo:
        name = todo.pop()
        package, *rest = name.split(".")
        if name in found or package not in roots:
            continue
        base = roots[package].joinpath(*rest)
        path = next((p for p in (base.with_suffix(".py"), base / "__init__.py") if p.is_file()),
                    None)
        if path is None:  # `from package.module import name`: a name, not a module
            continue
        found[name] = path
        todo.extend(_module_imports(ast.parse(path.read_bytes(), str(path))))
    return sorted(found.values())


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def exporter_id(export_format: str, modules: Iterable[str] = ACTION_HEAD_EXPORTERS) -> str:
    """sha256 hex of what an export depends on besides the weights: ``export_format``, the
    versions of `EXPORTER_PACKAGES` (torch's as imported) and the bytes of
    `source_files(modules)`."""
    digest = hashlib.sha256(json.dumps({
        "format": export_format, "torch": torch.__version__,
        **{name: _version(name) for name in EXPORTER_PACKAGES if name != "torch"},
    }, sort_keys=True).encode())
    for path in source_files(modules):
        digest.update(f"\0{path.parent.name}/{path.name}\0".encode())
        digest.update(path.read_bytes())
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
    """The export for `key` (the weights' content hash) under `cache_dir/onnx/`, exporting it
    (atomically) if missing; the directory's name adds `exporter_id`, so other exporting code
    or exporter versions never reuse it.

    `head` may be None when `load_head()` can produce it; it is only called on a cache miss.
    """
    out_dir = Path(cache_dir) / "onnx" / (f"{key[:16]}-x{exporter_id(FORMAT)[:8]}-slot{slot}"
                                          f"-k{num_steps}-l{num_tokens}")
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
    its export in first, that one is kept. Scratch directories left by killed exports are
    removed (`export.scratch_dir`)."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with scratch_dir(out_dir.parent, prefix=out_dir.name + ".tmp", sweep="*.tmp*") as tmp:
        write(tmp)
        for written in [*(p for p in tmp.rglob("*") if p.is_file()), tmp]:
            fsync_path(written)  # before the rename publishes them (export.save_beside)
        try:
            tmp.rename(out_dir)
            fsync_path(out_dir.parent)
        except OSError:  # another process won the race; use its export
            logger.info("export %s appeared concurrently; using it", out_dir)
    return out_dir
