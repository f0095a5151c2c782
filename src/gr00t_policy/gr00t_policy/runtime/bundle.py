"""A checkpoint opened for one embodiment: what a runtime needs, checked once, in one place.

    bundle = PolicyBundle.open(checkpoint_dir, embodiment)   # JSON files + weights' headers
    runner = bundle.action_runner("onnxruntime", num_steps=4) # System 1's action head
    planner = bundle.planner(runner, seed=None)               # normalize, pad, sample, unpad
    encoder = bundle.backbone_runner()                        # System 2's encoder

Opening reads the small JSON files and the weights' headers only; the weights load when a
runner is built, which refuses any NaN or inf among them (checking them here would read the
whole file, the backbone too where System 1 loads only the action head). Every mismatch between the checkpoint and the embodiment (slot, sizes, vector
layout, cameras, missing statistics, a key's statistics of another width than its joints or
far outside their limits), and an action head config other than the one recorded with the
weights, is found by `open`, before anything slow, and raised as a `BundleError` (or the
embodiment check's `EmbodimentConfigError`, or a `CheckpointError` for a malformed
config.json; all are ValueErrors) naming what differs.
Importing this module does not import torch (`check_fits` serves the launch-time checks).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from gr00t_policy.checkpoint_config import (CONFIG_FILE, CheckpointError,
                                           check_embodiment_entries, head_sizes)
from gr00t_policy.embodiment import EmbodimentConfig, check_against_checkpoint, check_statistics
from gr00t_policy.normalization import NormalizationError
from gr00t_policy.policy_config import PolicyConfig
from gr00t_policy.processor import Processor
from gr00t_policy.token_stats import TokenRange, TokenStats


class BundleError(ValueError):
    """A checkpoint that cannot serve an embodiment (missing statistics, other vector sizes)."""


def check_fits(config: Mapping[str, Any], emb: EmbodimentConfig,
               where: str | Path = CONFIG_FILE) -> bool:
    """Check `emb` against a checkpoint's parsed config.json (sizes, slot, recorded layout).

    Returns False, checking nothing, when the config does not carry our action head sizes
    (not our format); raises EmbodimentConfigError naming both values on any mismatch, and
    CheckpointError naming `where` (the file) and the key when a value read here is malformed.
    """
    sizes = head_sizes(config, where)
    if sizes is None:
        return False
    embodiments = config.get("embodiments")
    if embodiments is not None:
        try:  # only the keys present: launch tests write partial files
            embodiments = check_embodiment_entries(embodiments, sizes, complete=False)
        except CheckpointError as exc:
            raise CheckpointError(f"{where}: {exc}") from exc
    backbone = config.get("backbone")
    views = backbone.get("num_views") if isinstance(backbone, Mapping) else None
    check_against_checkpoint(emb, **sizes, embodiments=embodiments,
                             num_views=views if isinstance(views, int) and views > 0 else None)
    return True


@dataclass(frozen=True)
class PolicyBundle:
    """One checkpoint + one embodiment, checked against each other.

    Attributes:
        path: the checkpoint directory.
        embodiment: the robot.
        config: the checkpoint's model config.
        backbone_id: identity of the checkpoint's backbone (System 2 publishes it with its
            tokens; System 1 refuses tokens from another).
        processor: the embodiment's normalization and padding.
        token_stats: what the checkpoint's System 2 produced (None: not recorded).
        untrained_slot: a conversion of an official checkpoint whose slot for this
            embodiment was never trained (`gr00t-policy convert` records it): fine for
            starting a fine-tune, refused by `action_runner` (it would drive the robot with
            untrained weights).
    """

    path: Path
    embodiment: EmbodimentConfig
    config: PolicyConfig
    backbone_id: str
    processor: Processor
    token_stats: TokenStats | None = None
    untrained_slot: bool = False

    @classmethod
    def open(cls, checkpoint_dir: str | Path, embodiment: EmbodimentConfig) -> "PolicyBundle":
        from gr00t_policy.checkpoint import (  # torch: lazy
            METADATA_FILE, PROVENANCE_FILE, check_head_record, read_checkpoint_config,
            read_json_file, weight_files)

        path = Path(checkpoint_dir).expanduser()
        data = read_checkpoint_config(path)  # its structure checked: CheckpointError
        check_fits(data, embodiment, path / CONFIG_FILE)
        config = PolicyConfig.from_dict(data)
        # the weights' headers only: their action head config, where recorded
        check_head_record(weight_files(path), config.action_head, str(path))
        meta_path = path / METADATA_FILE
        if not meta_path.is_file():
            raise BundleError(f"{meta_path} is missing: the checkpoint has no normalization "
                              "statistics")
        head = config.action_head
        try:
            processor = Processor.from_metadata(
                read_json_file(meta_path), embodiment.tag,
                state_keys=[(k.key, k.mode) for k in embodiment.state_keys],
                action_keys=[(k.key, k.mode) for k in embodiment.action_keys],
                max_state_dim=head.max_state_dim, max_action_dim=head.max_action_dim)
            check_statistics(embodiment, processor.normalizer)  # each key as wide as its joints
        except NormalizationError as exc:
            raise BundleError(f"{meta_path}: {exc}") from exc
        try:
            token_range = TokenRange.from_config(data, tolerance=1.0)
        except ValueError as exc:
            raise BundleError(f"{path / 'config.json'}: {exc}") from exc
        provenance = path / PROVENANCE_FILE
        untrained = provenance.is_file() and read_json_file(provenance).get("slot_trained") is False
        return cls(path=path, embodiment=embodiment, config=config,
                   backbone_id=str(data.get("backbone_id", "")), processor=processor,
                   token_stats=None if token_range is None else token_range.stats,
                   untrained_slot=untrained)

    @property
    def num_tokens(self) -> int:
        """L: tokens per System 2 message (the backbone's max_tokens)."""
        return self.config.backbone.max_tokens

    @property
    def token_dim(self) -> int:
        """C: width of one token (the action head's cross_attention_dim)."""
        return self.config.action_head.cross_attention_dim

    def token_range(self, tolerance: float) -> TokenRange | None:
        """The check System 1 runs on each token message; None when no statistics exist."""
        return None if self.token_stats is None else TokenRange(self.token_stats, tolerance)

    def action_runner(self, backend: str, *, num_steps: int | None = None, device: str = "cpu",
                      cache_dir: str | Path | None = None, num_threads: int = 1,
                      guidance: bool = False, prefix: bool = False) -> Any:
        """The action head of this embodiment's slot on `backend` (see `make_runner`;
        `guidance`, `prefix`: guided or prefix-conditioned sampling, for real-time
        chunking)."""
        from gr00t_policy.backends import make_runner

        if self.untrained_slot:
            raise BundleError(
                f"{self.path} was converted from an official checkpoint whose slot "
                f"{self.embodiment.slot} ({self.embodiment.tag}) was never trained (its "
                "embodiment-specific weights are as initialised; converted_from.json "
                "slot_trained false): it would drive the robot with untrained weights. Fix: "
                f"fine-tune it on your robot's demonstrations first (gr00t-train --init-from "
                f"{self.path} ...), or convert a checkpoint fine-tuned for this embodiment")
        return make_runner(backend, self.path, embodiment_slot=self.embodiment.slot,
                           num_steps=num_steps, device=device, cache_dir=cache_dir,
                           num_threads=num_threads, guidance=guidance, prefix=prefix)

    def planner(self, runner: Any, *, seed: int | None = None, noise_scale: float = 1.0,
                sampling: Any = None) -> Any:
        """A `Planner` over `runner` with this embodiment's processor and action_dt
        (`sampling`: see `Planner`)."""
        from gr00t_policy.runtime.planner import Planner

        return Planner(runner, self.processor, action_dt=self.embodiment.action_dt, seed=seed,
                       noise_scale=noise_scale, sampling=sampling)

    def backbone_runner(self, *, device: str = "cpu", dtype: str = "float32",
                        backend: str = "torch", cache_dir: str | Path | None = None) -> Any:
        """System 2's encoder (images + instruction -> tokens) from this checkpoint; backend
        as System 2's parameter (torch, onnxruntime or auto)."""
        from gr00t_policy.backbone import BackboneRunner

        return BackboneRunner(self.path, device=device, dtype=dtype, backend=backend,
                              cache_dir=cache_dir)
