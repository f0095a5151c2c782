"""Checkpoints in our directory format, their tensor IO, and ``backbone_id``.

Our format (DESIGN.md "Checkpoint directory")::

    CKPT/config.json                   {"format": "gr00t_ros/1", "preset", "backbone",
                                        "action_head", "backbone_id", "embodiments"}
    CKPT/model.safetensors             keys backbone.* and action_head.*; its header's metadata
                                   records the action head config it was saved with (and,
                                   from gr00t-train, the run and step of the weights)
    CKPT/tokenizer.json, tokenizer_config.json, ...
    CKPT/experiment_cfg/metadata.json  Isaac-GR00T statistics per embodiment tag

An official GR00T N1 checkpoint (NVIDIA's layout, ``gr00t_policy.official``) shares our key
names; ``gr00t-policy convert`` (``gr00t_policy.convert``) writes it once in this format.

Loading builds the model on the meta device and assigns the stored tensors, so nothing is
initialised twice and only the requested parts are built.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import torch

from gr00t_policy.atomic_write import staged
from gr00t_policy.backbone_config import BackboneConfig
from gr00t_policy.checkpoint_config import (  # defined there, torch-free; importable from here
    CONFIG_FILE,
    FORMAT,
    CheckpointError,
    check_config,
    check_embodiments,
)
from gr00t_policy.normalization import metadata_entry
from gr00t_policy.policy import PARTS, GR00TPolicy, build_policy, check_parts
from gr00t_policy.policy_config import PolicyConfig, get_preset

logger = logging.getLogger(__name__)

WEIGHTS_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"
# Written by `gr00t-policy convert` beside an official checkpoint's conversion: where it came
# from and whether its embodiment slot was ever trained ("slot_trained").
PROVENANCE_FILE = "converted_from.json"
METADATA_FILE = Path("experiment_cfg") / "metadata.json"

# The default embodiment of make_random_checkpoint: a Unitree G1 upper body with hands
# (arms 2 x 7, three-finger hands 2 x 7, waist 3 = 31 joints), 20 Hz actions.
DEFAULT_G1_KEYS: tuple[tuple[str, int, str], ...] = (
    ("left_arm", 7, "min_max"),
    ("right_arm", 7, "min_max"),
    ("left_hand", 7, "min_max"),
    ("right_hand", 7, "min_max"),
    ("waist", 3, "min_max"),
)
DEFAULT_EMBODIMENTS: dict[str, dict[str, Any]] = {
    "unitree_g1": {
        "slot": 0,
        "action_dt": 0.05,
        "state_dim": 31,
        "action_dim": 31,
        "state_keys": [[k, m] for k, _, m in DEFAULT_G1_KEYS],
        "action_keys": [[k, m] for k, _, m in DEFAULT_G1_KEYS],
        "state_key_dims": {k: d for k, d, _ in DEFAULT_G1_KEYS},
        "action_key_dims": {k: d for k, d, _ in DEFAULT_G1_KEYS},
    }
}


@dataclass
class LoadedCheckpoint:
    """What :func:`load_checkpoint` returns.

    Attributes:
        config: the policy config stored with the weights.
        policy: the model, with only the requested parts built (others None), in eval mode.
        tokenizer: the checkpoint's tokenizer (None when the backbone was not requested).
        metadata: experiment_cfg/metadata.json ({} if absent).
        backbone_id: identity of the backbone weights ("" if unknown).
        embodiments: {tag: {"slot", "action_dt", "state_dim", "action_dim", ...}}.
        preset: name of the preset the config came from, if any.
        path: the checkpoint directory.
        skipped_keys: stored tensors deliberately not loaded (official layout only).
    """

    config: PolicyConfig
    policy: GR00TPolicy
    tokenizer: Any | None
    metadata: dict[str, Any]
    backbone_id: str
    embodiments: dict[str, dict[str, Any]]
    preset: str | None = None
    path: Path | None = None
    skipped_keys: list[str] = field(default_factory=list)


# The safetensors metadata entry holding the action head config the weights were saved with
# (JSON). Several of its fields shape no tensor (num_heads with head_dim at the same product,
# num_timestep_buckets, action_horizon, prefix_rows): edited in config.json afterwards they
# would load and silently change the actions, so loading compares them with this record.
HEAD_RECORD = "action_head_config"
# Fields config.json may change after training: what the head computes from given inputs does
# not depend on them (the default number of Euler steps; how training samples t).
UNRECORDED_HEAD_FIELDS = ("num_inference_steps", "noise_beta_alpha", "noise_beta_beta",
                          "noise_s")


# backbone_id ----------------------------------------------------------------------------------


def compute_backbone_id(config: BackboneConfig, state_dict: Mapping[str, torch.Tensor]) -> str:
    """sha256 (first 16 hex chars) over the backbone config JSON and its tensors.

    The config is hashed as JSON with sorted keys; then, for every tensor in sorted key
    order: key, dtype, shape and raw bytes. ``state_dict`` may be a whole policy's (only
    ``backbone.*`` keys are used, the prefix stripped) or the backbone module's own.
    """
    if not isinstance(config, BackboneConfig):
        raise ValueError(f"compute_backbone_id needs a BackboneConfig, got {type(config).__name__}")
    if any(k.startswith("backbone.") for k in state_dict):
        tensors = {k[len("backbone."):]: v for k, v in state_dict.items() if k.startswith("backbone.")}
    else:
        tensors = dict(state_dict)
    if not tensors:
        raise ValueError("compute_backbone_id: the state dict holds no backbone tensors")
    h = hashlib.sha256()
    h.update(json.dumps(config.to_dict(), sort_keys=True).encode())
    for key in sorted(tensors):
        t = tensors[key].detach()
        if t.is_meta:
            raise ValueError(f"compute_backbone_id: tensor {key!r} is on the meta device (no data)")
        h.update(b"\0" + key.encode() + b"\0")
        h.update(str(t.dtype).removeprefix("torch.").encode() + b"\0")
        h.update(json.dumps(list(t.shape)).encode() + b"\0")
        raw = t.cpu().contiguous().reshape(-1).view(torch.uint8).numpy()  # (bytes,)
        h.update(memoryview(raw))
    return h.hexdigest()[:16]


# Tensor IO ------------------------------------------------------------------------------------


LFS_POINTER = b"version https://git-lfs"


def _refuse_lfs_pointer(path: Path, head: bytes, what: str = "the file") -> None:
    """CheckpointError when a file's first bytes are a Git LFS pointer's: a clone without
    `git lfs pull` leaves those in place of the file."""
    if head.startswith(LFS_POINTER):
        raise CheckpointError(f"{path} is a Git LFS pointer, not {what}: run `git lfs pull` "
                              "in its repository (or download the file itself)")


def read_json_file(path: Path) -> Any:
    """The JSON in ``path``; CheckpointError naming the file (and a Git LFS pointer) if it
    does not parse."""
    raw = path.read_bytes()
    _refuse_lfs_pointer(path, raw)
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path} is not valid JSON: {exc}") from exc


@contextlib.contextmanager
def open_safetensors(path: Path, device: str = "cpu"):
    """safetensors' safe_open, its errors as a CheckpointError naming the file (a Git LFS
    pointer left by a clone without `git lfs pull` says so)."""
    from safetensors import SafetensorError, safe_open

    try:
        with open(path, "rb") as f:
            head = f.read(len(LFS_POINTER))
    except OSError as exc:
        raise CheckpointError(f"cannot read {path}: {exc}") from exc
    _refuse_lfs_pointer(path, head, "the weights")
    try:
        handle = safe_open(str(path), framework="pt", device=str(device))
    except (SafetensorError, OSError) as exc:
        damaged = any(w in str(exc) for w in ("header", "deserializ", "incomplete", "buffer"))
        raise CheckpointError(
            f"{path} is not a readable safetensors file ({exc})" + (
                "; is it complete (a download cut short is)?" if damaged else "")) from exc
    with handle as opened:
        yield opened


def weight_files(ckpt_dir: Path) -> dict[str, Path]:
    """{key: file} from model.safetensors or a sharded model.safetensors.index.json."""
    index = ckpt_dir / INDEX_FILE
    single = ckpt_dir / WEIGHTS_FILE
    if index.is_file():
        data = read_json_file(index)
        weight_map = data.get("weight_map") if isinstance(data, dict) else None
        if not isinstance(weight_map, dict):
            raise CheckpointError(f"{index} has no 'weight_map' dict")
        files = {k: ckpt_dir / f for k, f in weight_map.items()}
        for f in sorted(set(files.values())):
            if not f.is_file():
                raise CheckpointError(f"{index} names shard {f.name}, which is missing")
        return files
    if single.is_file():
        with open_safetensors(single) as f:
            return {k: single for k in f.keys()}
    raise CheckpointError(f"{ckpt_dir} holds neither {WEIGHTS_FILE} nor {INDEX_FILE}")


def stored_shapes(files: Mapping[str, Path]) -> dict[str, tuple[int, ...]]:
    """{key: shape} of the stored tensors, read from the safetensors headers only."""
    shapes: dict[str, tuple[int, ...]] = {}
    by_file: dict[Path, list[str]] = {}
    for k, f in files.items():
        by_file.setdefault(f, []).append(k)
    for f, keys in by_file.items():
        with open_safetensors(f) as handle:
            for k in keys:
                shapes[k] = tuple(handle.get_slice(k).get_shape())
    return shapes


def check_head_record(files: Mapping[str, Path], head: Any, where: str) -> None:
    """CheckpointError naming each field where ``head`` (config.json's ActionHeadConfig)
    differs from the config recorded with the weights (`HEAD_RECORD`, written by
    save_checkpoint), `UNRECORDED_HEAD_FIELDS` aside. Weights without the record (saved
    before it was written, or by another tool) are not compared."""
    for path in sorted(set(files.values())):
        with open_safetensors(path) as handle:
            record = (handle.metadata() or {}).get(HEAD_RECORD)
        if record is None:
            continue
        try:
            recorded = json.loads(record)
        except json.JSONDecodeError:
            recorded = None
        if not isinstance(recorded, dict):
            raise CheckpointError(f"{path}: metadata {HEAD_RECORD} is not a JSON object; the "
                                  "file is damaged: restore it from a copy")
        current = head.to_dict()
        compared = [k for k in sorted(recorded)
                    if k in current and k not in UNRECORDED_HEAD_FIELDS]
        differ = [f"{k} is {current[k]!r} in config.json but {recorded[k]!r} in the record"
                  for k in compared if recorded[k] != current[k]]
        if differ:
            raise CheckpointError(
                f"{where}: config.json's action_head is not the one the weights were saved with "
                f"({path.name} metadata {HEAD_RECORD}): {'; '.join(differ)}. The weights were "
                "trained with the record's values; a field that shapes no tensor (num_heads "
                "with head_dim, num_timestep_buckets, action_horizon, prefix_rows) would load "
                "and change every action. Fix: restore config.json's action_head as training "
                "wrote it (the record holds it); a head of other settings is trained, not "
                "edited")
        return


def weights_metadata(ckpt_dir: str | Path) -> dict[str, str]:
    """The safetensors metadata recorded with a checkpoint's weights (`save_checkpoint`'s
    ``records`` among them); CheckpointError when its shards record different values."""
    merged: dict[str, str] = {}
    for path in sorted(set(weight_files(Path(ckpt_dir)).values())):
        with open_safetensors(path) as handle:
            for key, value in (handle.metadata() or {}).items():
                if merged.setdefault(key, value) != value:
                    raise CheckpointError(
                        f"{ckpt_dir}: its weight files record different {key!r} ({merged[key]!r}, "
                        f"{value!r} in {path.name}): shards of several saves; restore them "
                        "from one save")
    return merged


def check_shapes(
    expected: Mapping[str, tuple[int, ...]], stored: Mapping[str, tuple[int, ...]], where: str
) -> None:
    """CheckpointError naming the key and both shapes on the first missing or mis-shaped tensor."""
    for key, shape in expected.items():
        if key not in stored:
            raise CheckpointError(
                f"{where}: missing key {key!r} (config expects shape {list(shape)})"
            )
        if tuple(stored[key]) != tuple(shape):
            raise CheckpointError(
                f"{where}: key {key!r} has shape {list(stored[key])} in the checkpoint but the "
                f"config expects {list(shape)}"
            )


def read_tensors(
    files: Mapping[str, Path], keys: Iterable[str], device: str, dtype: torch.dtype | None
) -> dict[str, torch.Tensor]:
    """The tensors ``keys`` on ``device``; floating ones cast to ``dtype`` unless it is None."""
    by_file: dict[Path, list[str]] = {}
    for k in keys:
        by_file.setdefault(files[k], []).append(k)
    out: dict[str, torch.Tensor] = {}
    for f, ks in by_file.items():
        with open_safetensors(f, device) as handle:
            for k in ks:
                t = handle.get_tensor(k)
                out[k] = t.to(dtype) if dtype is not None and t.is_floating_point() else t
    return out


def materialize_policy(
    config: PolicyConfig,
    parts: tuple[str, ...],
    files: Mapping[str, Path],
    device: str,
    dtype: torch.dtype | None,
    where: str,
) -> GR00TPolicy:
    """Build ``parts`` on the meta device, check shapes and dtypes (floating where the model
    is), assign the stored tensors."""
    policy = build_policy(config, "meta", parts=parts)
    expected = {k: tuple(v.shape) for k, v in policy.state_dict().items()}
    check_shapes(expected, stored_shapes({k: files[k] for k in expected if k in files}), where)
    tensors = read_tensors(files, expected.keys(), device, dtype)
    floating = {k: v.is_floating_point() for k, v in policy.state_dict().items()}
    integral = [(k, t.dtype) for k, t in tensors.items()
                if floating[k] and not t.is_floating_point()]
    if integral:
        key, found = integral[0]
        raise CheckpointError(
            f"{where}: tensor {key!r} is stored as {str(found).removeprefix('torch.')} "
            f"({len(integral)} tensor(s) not floating point), but the model's weights are "
            "floating point (float32, float16 or bfloat16). Fix: the file is damaged or was "
            "written by another tool; restore it from a copy, or save the checkpoint again "
            "with gr00t_ros")
    broken = [k for k, t in tensors.items()
              if t.is_floating_point() and not bool(torch.isfinite(t).all())]
    if broken:
        raise CheckpointError(
            f"{where}: {len(broken)} tensor(s) hold NaN or inf, e.g. {broken[:3]}: every "
            "action would be NaN. Fix: the file is damaged or training diverged; restore it "
            "from a copy, or take an earlier checkpoint")
    policy.load_state_dict(tensors, strict=True, assign=True)
    if policy.backbone is not None:
        policy.backbone.reset_nonpersistent_buffers(device)
    left = [n for n, t in [*policy.named_parameters(), *policy.named_buffers()] if t.is_meta]
    if left:
        raise CheckpointError(f"{where}: tensors left without data after loading: {left[:5]}")
    return policy.eval()


# Our format -----------------------------------------------------------------------------------


# The order save_checkpoint's files replace the old ones in, after the tokenizer files. The
# weights go first and config.json last: config.json is what makes a directory a checkpoint
# (read_checkpoint_config) and what the weights are checked against, so a loader that reads a
# new config.json finds the new weights, statistics and tokenizer beside it, never old weights
# of another shape. A save killed between the renames leaves the new weights under the old
# config.json: within a training run (one model config) that loads and resumes; where a
# checkpoint of another preset was being saved over it, the loader names the key whose shape
# differs.
_REPLACE_ORDER = (WEIGHTS_FILE, str(METADATA_FILE), CONFIG_FILE)


def save_checkpoint(
    policy: GR00TPolicy,
    out_dir: str | Path,
    *,
    tokenizer,
    metadata: Mapping[str, Any],
    embodiments: Mapping[str, Mapping[str, Any]],
    preset: str | None = None,
    records: Mapping[str, str] | None = None,
) -> Path:
    """Write ``policy`` (both parts) in our checkpoint format; returns the directory.

    Every file is written to a scratch directory inside ``out_dir`` first, then each replaces
    its namesake atomically, config.json last (`_REPLACE_ORDER`): a save killed at any point
    leaves each file whole, and a config.json that is new means everything it describes is.

    Args:
        policy: a GR00TPolicy with backbone and action head.
        out_dir: directory to write (created; a checkpoint there is replaced).
        tokenizer: the tokenizer the backbone was trained with (``save_pretrained``).
        metadata: Isaac-GR00T metadata.json dict with an entry for every embodiment tag.
        embodiments: {tag: {"slot", "action_dt", "state_dim", "action_dim", ...}}.
        preset: optional name of the preset the config came from.
        records: more entries of the weights' safetensors metadata, renamed in with the
            weights themselves (gr00t-train records which run and step they are of:
            `gr00t_policy.train.state`); read back with `weights_metadata`.
    """
    from safetensors.torch import save_file

    if policy.backbone is None or policy.action_head is None:
        raise CheckpointError(f"save_checkpoint needs both parts; policy has {list(policy.parts)}")
    config = policy.config
    emb = check_embodiments(embodiments, config)
    missing = [tag for tag in emb if tag not in metadata]
    if missing:
        raise CheckpointError(
            f"metadata has no statistics for embodiment(s) {missing}; tags there: {sorted(metadata)}"
        )
    out = Path(out_dir)
    state = {k: v.detach().cpu().contiguous() for k, v in policy.state_dict().items()}
    backbone_id = compute_backbone_id(config.backbone, state)
    cfg = {
        "format": FORMAT,
        "preset": preset,
        **config.to_dict(),
        "backbone_id": backbone_id,
        "embodiments": emb,
    }
    with staged(out, last=_REPLACE_ORDER) as tmp:
        save_file(state, str(tmp / WEIGHTS_FILE), metadata={
            **(records or {}), "format": "pt", "gr00t_ros": FORMAT,
            HEAD_RECORD: json.dumps(config.action_head.to_dict(), sort_keys=True)})
        tokenizer.save_pretrained(str(tmp))
        (tmp / METADATA_FILE.parent).mkdir()
        (tmp / METADATA_FILE).write_text(json.dumps(dict(metadata), indent=2, sort_keys=True))
        (tmp / CONFIG_FILE).write_text(json.dumps(cfg, indent=2, sort_keys=True))
    logger.info("saved checkpoint %s (backbone_id %s)", out, backbone_id)
    return out


def read_checkpoint_config(ckpt_dir: str | Path) -> dict[str, Any]:
    """Parse and check ``config.json`` of one of our checkpoints."""
    path = Path(ckpt_dir) / CONFIG_FILE
    if not path.is_file():
        raise CheckpointError(f"{ckpt_dir} is not a gr00t_ros checkpoint: no {CONFIG_FILE}")
    data = read_json_file(path)
    if not isinstance(data, dict):
        raise CheckpointError(f"{path} must hold a JSON object")
    if data.get("format") == FORMAT:
        check_config(data, path)  # every reader gets a checked file or the key named
        return data
    from gr00t_policy.official import is_official_config  # official imports this module

    if is_official_config(data):
        raise CheckpointError(
            f"{ckpt_dir} is an official GR00T checkpoint (model_type "
            f"{data.get('model_type')!r}), not in gr00t_ros's format: convert it once with "
            f"`gr00t-policy convert {ckpt_dir} OUT_DIR --embodiment YOUR_ROBOT.yaml` and use "
            "OUT_DIR (README, 'Running an official GR00T N1 checkpoint')"
        )
    raise CheckpointError(
        f"{path}: format {data.get('format')!r} is not {FORMAT!r} (an official GR00T N1 "
        "checkpoint converts with `gr00t-policy convert`; "
        "gr00t_policy.official.load_official_gr00t_n1 loads one in memory)"
    )


def load_checkpoint(
    ckpt_dir: str | Path,
    *,
    parts: Iterable[str] = PARTS,
    device: str = "cpu",
) -> LoadedCheckpoint:
    """Load a checkpoint in our format, building only ``parts``.

    Raises CheckpointError naming the key and both shapes if a tensor does not match the
    stored config, naming the key if one is missing or unexpected, or naming the fields where
    the action head config differs from the one recorded with the weights.
    """
    ckpt_dir = Path(ckpt_dir)
    parts = check_parts(parts)
    data = read_checkpoint_config(ckpt_dir)
    config = PolicyConfig.from_dict(data)  # checked by read_checkpoint_config
    files = weight_files(ckpt_dir)
    prefixes = tuple(f"{p}." for p in parts)
    policy = materialize_policy(config, parts, files, device, None, str(ckpt_dir))
    # after the shapes: an edited size is named by the tensor it misfits
    check_head_record(files, config.action_head, str(ckpt_dir))
    expected = set(policy.state_dict())
    foreign = tuple(f"{p}." for p in PARTS)
    unexpected = sorted(
        k for k in files
        if k not in expected and (k.startswith(prefixes) or not k.startswith(foreign))
    )
    if unexpected:
        raise CheckpointError(f"{ckpt_dir}: unexpected key(s) {unexpected[:5]} for this config")
    tokenizer = None
    if "backbone" in parts:
        from gr00t_policy.prompt import PromptBuilder, load_tokenizer

        tokenizer = load_tokenizer(ckpt_dir)
        policy.backbone.bind_prompt(PromptBuilder(tokenizer, config.backbone))
    meta_path = ckpt_dir / METADATA_FILE
    metadata = read_json_file(meta_path) if meta_path.is_file() else {}
    return LoadedCheckpoint(
        config=config,
        policy=policy,
        tokenizer=tokenizer,
        metadata=metadata,
        backbone_id=str(data.get("backbone_id", "")),
        embodiments=dict(data.get("embodiments", {})),
        preset=data.get("preset"),
        path=ckpt_dir,
    )


def _random_stats(rng: np.random.Generator, dim: int,
                  limits: np.ndarray | None = None) -> dict[str, list[float]]:
    """Plausible statistics of `dim` joints; within `limits` ((dim, 2) lower, upper) if given:
    at least the middle half of each range, as demonstrations would cover."""
    if limits is None:
        low = rng.uniform(-2.5, -0.5, dim)
        high = low + rng.uniform(1.0, 4.0, dim)
    else:
        lower, upper = limits[:, 0], limits[:, 1]
        width = upper - lower
        low = lower + rng.uniform(0.0, 0.25, dim) * width
        high = upper - rng.uniform(0.0, 0.25, dim) * width
    span = high - low
    return {
        "min": low.tolist(),
        "max": high.tolist(),
        "mean": (low + 0.5 * span).tolist(),
        "std": (0.25 * span).tolist(),
        "q01": (low + 0.01 * span).tolist(),
        "q99": (high - 0.01 * span).tolist(),
    }


def _key_limits(entry: Mapping[str, Any], modality: str, tag: str,
                limits: Mapping[str, tuple[float, float]]) -> list[np.ndarray]:
    """(d, 2) position limits of each key's joints (the entry's ``<modality>_joints``)."""
    joints = entry.get(f"{modality}_joints")
    if not joints:
        raise CheckpointError(f"embodiment {tag!r}: statistics within limits need the entry's "
                              f"{modality}_joints")
    missing = [j for j in joints if j not in limits]
    if missing:
        raise CheckpointError(f"embodiment {tag!r}: no limits given for {missing}")
    rows = np.array([limits[j] for j in joints], dtype=np.float64).reshape(-1, 2)  # (S, 2)
    out, start = [], 0
    for _, d in _key_dims(entry, modality):
        out.append(rows[start:start + d])
        start += d
    return out


def _key_dims(entry: Mapping[str, Any], modality: str) -> list[tuple[str, int]]:
    """(key, dim) of an embodiment's state/action keys; one key "<modality>" if none given."""
    total = int(entry[f"{modality}_dim"])
    keys = entry.get(f"{modality}_keys")
    if not keys:
        return [(modality, total)]
    dims = entry.get(f"{modality}_key_dims", {})
    out = []
    for item in keys:
        key = item[0]
        if key not in dims:
            raise CheckpointError(
                f"embodiment {modality}_keys names {key!r} but {modality}_key_dims has no "
                f"width for it; widths given: {sorted(dims)}"
            )
        out.append((key, int(dims[key])))
    if sum(d for _, d in out) != total:
        raise CheckpointError(
            f"embodiment {modality}_key_dims sum to {sum(d for _, d in out)} but "
            f"{modality}_dim is {total}"
        )
    return out


def make_random_checkpoint(
    out_dir: str | Path,
    preset: str = "nano",
    *,
    seed: int = 0,
    embodiments: Mapping[str, Mapping[str, Any]] | None = None,
    limits: Mapping[str, Mapping[str, tuple[float, float]]] | None = None,
) -> Path:
    """Write a randomly initialised checkpoint (real model, nano tokenizer, plausible stats).

    Args:
        out_dir: directory to write.
        preset: policy preset name ("nano" by default).
        seed: seeds the weights and the statistics (same seed, same bytes).
        embodiments: {tag: {"slot", "action_dt", "state_dim", "action_dim", and optionally
            "state_keys"/"action_keys": [[key, mode], ...] with "state_key_dims"/
            "action_key_dims": {key: width}}}; default one Unitree G1 upper body
            ("unitree_g1", slot 0, 31 state / 31 action dims, action_dt 0.05).
        limits: {tag: {joint: (lower, upper)}}: that tag's statistics are drawn within its
            joints' position limits (its entry must record "state_joints" and
            "action_joints"), as `PolicyBundle.open` expects of a robot's; other tags get
            ranges of about -2.5..3.5.
    """
    from gr00t_policy.prompt import build_nano_tokenizer

    config = get_preset(preset)
    emb = check_embodiments(embodiments or DEFAULT_EMBODIMENTS, config)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        policy = build_policy(config, "cpu")
    rng = np.random.default_rng(seed)
    metadata = {}
    for tag, entry in emb.items():
        stats = {}
        for modality in ("state", "action"):
            dims = _key_dims(entry, modality)
            bounds = (_key_limits(entry, modality, tag, limits[tag])
                      if limits and tag in limits else [None] * len(dims))
            stats[modality] = {k: _random_stats(rng, d, b) for (k, d), b in zip(dims, bounds)}
        state, action = stats["state"], stats["action"]
        metadata[tag] = metadata_entry(tag, state, action)
    return save_checkpoint(
        policy, out_dir, tokenizer=build_nano_tokenizer(config.backbone), metadata=metadata,
        embodiments=emb, preset=preset,
    )
