"""One-time conversion of an official GR00T N1 checkpoint into our checkpoint format.

    gr00t-policy convert OFFICIAL_DIR OUT_DIR --embodiment config/my_robot.yaml \
        [--tag new_embodiment] [--eagle-dir Isaac-GR00T/gr00t/model/backbone/eagle2_hg_model]

reads what NVIDIA publishes (``config.json``, ``model.safetensors`` or the sharded
``model.safetensors.index.json``, ``experiment_cfg/metadata.json``) plus the Eagle-2
tokenizer and config, which live in the Isaac-GR00T source tree rather than in the
checkpoint, and writes a directory `load_checkpoint`, the nodes and
``gr00t-train --init-from`` take. Nothing is downloaded.

The embodiment's normalization statistics come from the official metadata entry of
``--tag`` (default: the YAML's tag), its action-head slot from Isaac-GR00T's projector
index of that tag (gr1 -> 24, new_embodiment -> 31; ``--slot`` overrides), and the YAML's
``slot`` must name that slot. The converted checkpoint carries that one embodiment, keyed by
the YAML's tag. Every check that can fail runs before the weights are read.
"""

from __future__ import annotations

import copy
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from gr00t_policy.checkpoint import (
    METADATA_FILE,
    PROVENANCE_FILE,
    CheckpointError,
    materialize_policy,
    save_checkpoint,
    weight_files,
)
from gr00t_policy.official import (
    EAGLE_CONFIG_FILE,
    PROJECTOR_INDEX,
    check_official_tensors,
    policy_config_from_official,
    read_json,
    read_official_config,
    slot_trained,
)
from gr00t_policy.policy import PARTS
from gr00t_policy.policy_config import PolicyConfig, get_preset

logger = logging.getLogger(__name__)

EAGLE_HINT = ("they ship with the Isaac-GR00T source (github.com/NVIDIA/Isaac-GR00T, the GR00T N1 "
              "release), in gr00t/model/backbone/eagle2_hg_model/: pass that directory as "
              "--eagle-dir")
# Eagle-2's tokenizer as Isaac-GR00T stores it (a GPT-2 style byte-level BPE), or a single
# tokenizer.json; added_tokens.json and special_tokens_map.json complete the former.
SLOW_TOKENIZER_FILES = ("vocab.json", "merges.txt", "tokenizer_config.json")
FAST_TOKENIZER_FILE = "tokenizer.json"


@dataclass
class ConversionReport:
    """What `convert_official` did.

    Attributes:
        out_dir: the converted checkpoint.
        config: its model config.
        preset: the preset it equals (None if its sizes differ from ``base``).
        official_tag: the official metadata tag the statistics came from.
        slot: the action-head slot of the embodiment.
        tokenizer_dir: where the tokenizer was read.
        eagle_config: True if the backbone sizes came from an Eagle config.json.
        skipped_keys: stored tensors not converted (we never build them).
    """

    out_dir: Path
    config: PolicyConfig
    preset: str | None
    official_tag: str
    slot: int
    tokenizer_dir: Path
    eagle_config: bool
    skipped_keys: list[str] = field(default_factory=list)


# Tokenizer ------------------------------------------------------------------------------------


def find_tokenizer_dir(candidates: list[Path]) -> Path:
    """The first directory holding tokenizer.json or all of SLOW_TOKENIZER_FILES.

    Raises CheckpointError naming, per directory, the files that are missing and where they
    come from.
    """
    missing: list[str] = []
    for d in candidates:
        if (d / FAST_TOKENIZER_FILE).is_file():
            return d
        absent = [f for f in SLOW_TOKENIZER_FILES if not (d / f).is_file()]
        if not absent:
            return d
        missing.append(f"{d}: no {FAST_TOKENIZER_FILE} and no {', '.join(absent)}")
    raise CheckpointError("the Eagle-2 tokenizer is missing (" + "; ".join(missing) + "): "
                          + EAGLE_HINT)


def load_eagle_tokenizer(directory: Path):
    """The Eagle-2 tokenizer of ``directory`` as a fast tokenizer (local files only)."""
    from transformers import GPT2TokenizerFast, PreTrainedTokenizerFast

    if (directory / FAST_TOKENIZER_FILE).is_file():
        return PreTrainedTokenizerFast.from_pretrained(str(directory), local_files_only=True)
    # GPT2TokenizerFast builds the byte-level BPE from vocab.json + merges.txt and reads the
    # added and special tokens from tokenizer_config.json.
    return GPT2TokenizerFast.from_pretrained(str(directory), local_files_only=True)


# Embodiment -----------------------------------------------------------------------------------


def official_slot(tag: str, override: int | None, num_embodiments: int) -> int:
    """The action-head slot of an official tag (``override`` wins)."""
    slot = override if override is not None else PROJECTOR_INDEX.get(tag)
    if slot is None:
        raise CheckpointError(
            f"official tag {tag!r} has no slot in GR00T N1's projector index {PROJECTOR_INDEX}: "
            "pass --slot N with the embodiment id your fine-tune was trained with")
    if not 0 <= slot < num_embodiments:
        raise CheckpointError(f"slot {slot} is outside the action head's {num_embodiments} "
                              "embodiment slots")
    return slot


def embodiment_metadata(metadata: dict[str, Any], official_tag: str, emb: Any,
                        config: PolicyConfig) -> dict[str, Any]:
    """{emb.tag: the official tag's statistics}, checked against the YAML's keys and sizes."""
    from gr00t_policy.embodiment import check_statistics
    from gr00t_policy.normalization import NormalizationError
    from gr00t_policy.processor import Processor

    if official_tag not in metadata:
        raise CheckpointError(f"{METADATA_FILE} has no statistics for tag {official_tag!r}; it "
                              f"holds {sorted(metadata)}: pass one of them as --tag")
    entry = copy.deepcopy(metadata[official_tag])
    entry["embodiment_tag"] = emb.tag
    out = {emb.tag: entry}
    head = config.action_head
    try:
        proc = Processor.from_metadata(
            out, emb.tag, state_keys=[(k.key, k.mode) for k in emb.state_keys],
            action_keys=[(k.key, k.mode) for k in emb.action_keys],
            max_state_dim=head.max_state_dim, max_action_dim=head.max_action_dim)
        # as the nodes will check it (PolicyBundle.open): each key as wide as its joints
        check_statistics(emb, proc.normalizer, whose=f"tag {official_tag!r}'s")
    except (NormalizationError, ValueError) as exc:
        raise CheckpointError(f"official tag {official_tag!r} does not fit {emb.source}: {exc}"
                              ) from exc
    for modality, keys in (("state", emb.state_keys), ("action", emb.action_keys)):
        _check_keys(entry, official_tag, modality, keys)
    _check_rate(entry, official_tag, emb)
    recorded = sorted(((entry.get("modalities") or {}).get("video") or {}))
    mine = [c.name for c in emb.cameras]
    if recorded and sorted(mine) != recorded:
        logger.warning("%s names its cameras %s but tag %r was trained on video keys %s: check "
                       "that each YAML camera is the one the fine-tune saw in that place (the "
                       "views are fed in the YAML's order, which must be the data config's "
                       "video_keys order)", emb.source, mine, official_tag, recorded)
    return out


def _check_rate(entry: dict[str, Any], tag: str, emb: Any) -> None:
    """The YAML's action_dt against the rate the tag's data was recorded at (its videos' fps
    in metadata.json modalities, the LeRobot dataset's fps): a chunk's rows are one frame
    apart, so another action_dt plays every chunk faster or slower than it was learnt."""
    videos = ((entry.get("modalities") or {}).get("video") or {}).values()
    rates = {float(v["fps"]) for v in videos if isinstance(v, dict) and v.get("fps")}
    if len(rates) != 1:
        return  # not recorded, or cameras at several rates: nothing to compare
    fps = rates.pop()
    if fps > 0 and abs(emb.action_dt * fps - 1.0) > 0.01:
        ratio = emb.action_dt * fps
        pace = (f"{ratio:.2f} times as slow" if ratio > 1 else f"{1.0 / ratio:.2f} times as fast")
        raise CheckpointError(
            f"{emb.source}: action_dt is {emb.action_dt:g} s but tag {tag!r} was recorded at "
            f"{fps:g} fps (metadata.json modalities.video), so each chunk row is "
            f"{1.0 / fps:.4g} s apart: its chunks would play back {pace} as learnt. Fix: set "
            f"action_dt: {1.0 / fps:.6g} in the YAML")


def _check_keys(entry: dict[str, Any], tag: str, modality: str, keys: Any) -> None:
    """Each YAML key against the tag's modalities: absolute positions (relative actions would
    be commanded as positions), no rotation encoding. (Their statistics' widths and values:
    `check_statistics`.)"""
    described = (entry.get("modalities") or {}).get(modality) or {}
    for key in keys:
        meta = described.get(key.key) or {}
        if meta.get("absolute") is False:
            raise CheckpointError(
                f"{modality} key {key.key!r}: tag {tag!r} was trained on relative (delta) "
                "values (metadata.json modalities: \"absolute\": false); this runtime commands "
                "absolute joint positions, so its chunks would be sent as positions. Use a "
                "checkpoint trained on absolute targets")
        if meta.get("rotation_type"):
            raise CheckpointError(
                f"{modality} key {key.key!r}: tag {tag!r} encodes it as a rotation "
                f"({meta['rotation_type']!r}); this runtime reads and commands joint positions "
                "only")


# Conversion -----------------------------------------------------------------------------------


def convert_official(
    official_dir: str | Path,
    out_dir: str | Path,
    embodiment: Any,
    *,
    tag: str | None = None,
    slot: int | None = None,
    eagle_dir: str | Path | None = None,
    base: str = "gr00t-n1-2b",
    overwrite: bool = False,
) -> ConversionReport:
    """Convert an official GR00T N1 directory into our checkpoint format.

    Args:
        official_dir: the official checkpoint (config.json, weights, experiment_cfg/).
        out_dir: where to write ours (must not exist or be empty unless ``overwrite``).
        embodiment: the robot (`gr00t_policy.embodiment.EmbodimentConfig`).
        tag: the official metadata tag whose statistics and slot to use (default the
            embodiment's tag).
        slot: the action-head slot of ``tag`` when Isaac-GR00T's index does not know it.
        eagle_dir: Isaac-GR00T's eagle2_hg_model directory (tokenizer + Eagle config.json);
            the official directory is searched for the tokenizer too.
        base: preset for the fields the official files do not decide (token budget,
            default Euler steps).
        overwrite: allow writing into a non-empty ``out_dir``.

    Raises CheckpointError (a ValueError) naming the file, key, field or value at fault.
    """
    src, out = Path(official_dir), Path(out_dir)
    if out.resolve() == src.resolve():
        raise CheckpointError(f"OUT_DIR {out} is the official directory; choose another")
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise CheckpointError(f"{out} exists and is not empty (pass --force to overwrite)")
    official = read_official_config(src)
    files = weight_files(src)
    eagle = Path(eagle_dir) if eagle_dir is not None else None
    eagle_cfg = None
    if eagle is not None and (eagle / EAGLE_CONFIG_FILE).is_file():
        eagle_cfg = read_json(eagle / EAGLE_CONFIG_FILE, "the Eagle-2 config")
    else:
        logger.warning("no Eagle config.json (--eagle-dir): the backbone's head counts, norms and "
                       "rotary base are taken from preset %r, unchecked", base)
    config = policy_config_from_official(official, eagle_cfg, files, base=get_preset(base),
                                         where=str(src / "config.json"))
    config = config.with_views(len(embodiment.cameras))
    skipped = check_official_tensors(files, config, PARTS, str(src), strict=True)

    tok_dir = find_tokenizer_dir([d for d in (eagle, src) if d is not None])
    tokenizer = load_eagle_tokenizer(tok_dir)
    from gr00t_policy.prompt import PromptBuilder

    try:
        PromptBuilder(tokenizer, config.backbone)
    except ValueError as exc:
        raise CheckpointError(f"the tokenizer in {tok_dir} does not fit the model: {exc}") from exc

    official_tag = tag or embodiment.tag
    meta = read_json(src / METADATA_FILE, "normalization statistics per embodiment tag")
    the_slot = official_slot(official_tag, slot, config.action_head.num_embodiments)
    if embodiment.slot != the_slot:
        raise CheckpointError(
            f"{embodiment.source}: slot is {embodiment.slot} but the official checkpoint keeps "
            f"tag {official_tag!r} in slot {the_slot}: set `slot: {the_slot}` in the YAML")
    metadata = embodiment_metadata(meta, official_tag, embodiment, config)
    other = [k.key for k in embodiment.state_keys if k.mode != "sin_cos"]
    if official_tag == "gr1" and other:
        logger.warning("Isaac-GR00T's gr1 data configs feed the state as [sin, cos] of the joint "
                       "angles, but %s normalizes state keys %s otherwise: the pre-trained gr1 "
                       "weights would see another state encoding. Fix: `normalization: "
                       "sin_cos` for every state key", embodiment.source, other)

    logger.info("reading %d tensors from %s as float32", len(files) - len(skipped), src)
    policy = materialize_policy(config, PARTS, files, "cpu", torch.float32, str(src))
    trained = slot_trained(policy.state_dict(), the_slot)
    if not trained:
        logger.warning(
            "slot %d (tag %r) of %s was never trained (its embodiment-specific biases are all "
            "exactly zero, as Isaac-GR00T initialises them): the converted checkpoint can start "
            "a fine-tune (gr00t-train --init-from) but System 1 refuses to drive a robot with "
            "it", the_slot, official_tag, src)
    preset = base if config == get_preset(base) else None
    save_checkpoint(policy, out, tokenizer=tokenizer, metadata=metadata,
                    embodiments={embodiment.tag: embodiment.checkpoint_entry()}, preset=preset)
    (out / PROVENANCE_FILE).write_text(json.dumps({
        "source": str(src.resolve()),
        "official_tag": official_tag,
        "slot": the_slot,
        "slot_trained": trained,
        "tokenizer_dir": str(tok_dir.resolve()),
        "eagle_config": eagle_cfg is not None,
        "skipped_keys": skipped,
        "official_config": official,
    }, indent=2, sort_keys=True))
    del policy
    from gr00t_policy.runtime.bundle import PolicyBundle

    PolicyBundle.open(out, embodiment)  # what the nodes will check, checked now
    logger.info("converted %s -> %s (tag %r from %r, slot %d)", src, out, embodiment.tag,
                official_tag, the_slot)
    return ConversionReport(out_dir=out, config=config, preset=preset, official_tag=official_tag,
                            slot=the_slot, tokenizer_dir=tok_dir, eagle_config=eagle_cfg is not None,
                            skipped_keys=skipped)
