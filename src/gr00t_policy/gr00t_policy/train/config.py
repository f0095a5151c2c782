"""What a training run is given: :class:`TrainConfig` (what shapes the weights) and
:class:`RunOptions` (where from, where to, how to run). Imports no torch.

Every field documents itself in its metadata; ``gr00t-train``'s flags are derived from the
fields (:mod:`gr00t_policy.dataclass_cli`), so each is reachable from the command line.
"""

from __future__ import annotations

import math
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, Mapping

from gr00t_policy.dataclass_cli import CLI, HELP, FieldError

DEFAULT_EMBODIMENT = "config/unitree_g1.yaml"
PRECISIONS = ("auto", "bf16", "fp32")
WEIGHT_SUFFIX = "_weight"  # train_log.json: an auxiliary loss's weight is "<name>_weight"
MAY_CHANGE_ON_RESUME = "may_change_on_resume"  # field metadata: --resume accepts another value


def _doc(help_text: str, default: Any = MISSING, **meta: Any) -> Any:
    """A dataclass field with its help text (and other flag metadata)."""
    return field(default=default, metadata={HELP: help_text, **meta})


def aux_weight_key(name: str) -> str:
    """``goal`` -> ``goal_weight``: the auxiliary loss's key in train_log.json's train_config."""
    return name + WEIGHT_SUFFIX


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation and sampling settings; a run resumes only with the same ones (except
    those marked may_change_on_resume). Raises FieldError (a ValueError) naming a bad field."""

    steps: int = _doc("optimizer steps", 5000)
    batch_size: int = _doc("samples per step", 32)
    lr: float = _doc("peak learning rate (after warmup)", 3e-4)
    weight_decay: float = _doc("AdamW weight decay", 1e-5)
    betas: tuple[float, float] = _doc("AdamW betas", (0.95, 0.999))
    warmup_ratio: float = _doc("fraction of --steps with a linear warmup from 0", 0.05)
    grad_clip: float = _doc("max global gradient norm (0: no clipping)", 1.0)
    seed: int = _doc("seeds model init, sampling, augmentation, noise and flow times", 0)
    # Why start_prob: in an episode's first frames the state is the rest pose (or the
    # first, cube-independent lift) whatever the instruction, so only the image and the words
    # say where the arm goes; later frames can be fitted by continuing the motion the state
    # already shows. The checkpoint trained with uniform frames went to the wrong cube in 6
    # of 8 failed touches on its own training scenes (bench/policy_loop.py --collect-tasks).
    start_prob: float = _doc(
        "probability that a sample's frame is drawn from its episode's first --start-frames "
        "frames instead of uniformly from the whole episode (0: uniform)", 0.0)
    start_frames: int = _doc("that window, in frames", 16)
    # Auxiliary losses are plug-ins (gr00t_policy.train.auxiliary); each has its own flag
    # --<name>-weight and its own "<name>_weight" key in train_log.json, here where this
    # field stands (to_dict), so logs written before the plug-ins read the same.
    aux_weights: tuple[tuple[str, float], ...] = field(default=(), metadata={
        HELP: "weight of each auxiliary loss by name (0 or absent: off), given as a mapping "
              "{'goal': 1.0} or (name, weight) pairs and kept as pairs sorted by name; set "
              "with --<name>-weight", CLI: False})
    # Why stale images: the System 2 tokens are older than the state at run time (up to a
    # System 2 period by design, more on 2 cores, where System 1's real-time priority slows
    # System 2: docs/BENCHMARKS.md, "Policy"); the default 4 frames at 20 fps cover 200 ms.
    stale_prob: float = _doc("probability that a sample's image is older than its state", 0.5)
    max_stale_frames: int = _doc("the image is then 1..max_stale_frames frames older", 4)
    augment: bool = _doc("random shift and colour jitter on the images", True)
    # Why small: the camera is fixed to the torso, so where a cube appears is where it is,
    # and a cube is ~10 px wide at 112 px.
    shift_px: int = _doc("largest random translation, pixels at the backbone's image size", 2)
    jitter: float = _doc("largest relative brightness / contrast change", 0.1)
    # Why prefixes: a chunk planned under inference delay arrives with its first rows already
    # executed from the previous chunk; a head trained to take those rows as given plans the
    # rest from where they lead (real-time chunking by prefix conditioning; System 1's
    # chunk_mode rtc with rtc_method prefix; docs/plans/prefix_conditioning.md).
    prefix_prob: float = _doc(
        "probability that a sample's first rows are given to the head as clean actions and "
        "left out of the loss (0: plain flow matching)", 0.0)
    prefix_max_rows: int = _doc("those rows number 1..prefix_max_rows (the most inference "
                                "delay, in chunk rows, the head will plan under)", 8)
    prefix_shift: float = _doc(
        "std of an offset (normalized units) added to such a sample's given rows and, "
        "fading out, the rows after them, the state unchanged, so that the head learns to "
        "continue from given rows that disagree with its state (gr00t_policy.train.prefix)",
        0.0)
    # The CLI sets it from --precision: bfloat16 only where the CPU computes it natively
    # (gr00t_policy.train.cli.native_bf16); emulated it is ~30x slower (docs/BENCHMARKS.md).
    bf16: bool = _doc("bfloat16 autocast for the forward pass (fp32 master weights); "
                      "set with --precision", True, cli=False)
    log_every: int = _doc("steps between logged (averaged) losses", 50,
                          may_change_on_resume=True)
    save_every: int = _doc("steps between intermediate checkpoints (0: only at the end)", 1000,
                           may_change_on_resume=True)

    def __post_init__(self) -> None:
        pairs = self.aux_weights.items() if isinstance(self.aux_weights, Mapping) else self.aux_weights
        try:
            weights = sorted((str(k), float(w)) for k, w in pairs)
        except (TypeError, ValueError) as err:
            raise FieldError("aux_weights", "TrainConfig.aux_weights must map loss names to "
                             f"weights, got {self.aux_weights!r}") from err
        object.__setattr__(self, "aux_weights", tuple(weights))
        for name, weight in weights:
            if not name.isidentifier() or [n for n, _ in weights].count(name) > 1:
                raise FieldError("aux_weights", f"TrainConfig.aux_weights: bad or repeated loss "
                                 f"name {name!r}", key=name)
            if not (math.isfinite(weight) and weight >= 0):
                raise FieldError("aux_weights", f"TrainConfig.{aux_weight_key(name)} must be "
                                 f">= 0, got {weight}", key=name)
        for name in ("steps", "batch_size", "start_frames", "log_every"):
            self._check(name, getattr(self, name) >= 1, ">= 1")
        for name in ("seed", "max_stale_frames", "shift_px", "save_every"):
            self._check(name, getattr(self, name) >= 0, ">= 0")
        self._check("prefix_max_rows", self.prefix_max_rows >= 1, ">= 1")
        self._check("prefix_shift", math.isfinite(self.prefix_shift) and self.prefix_shift >= 0,
                    ">= 0")
        for name in ("stale_prob", "start_prob", "prefix_prob"):
            self._check(name, 0.0 <= getattr(self, name) <= 1.0, "in [0, 1]")
        for name in ("weight_decay", "grad_clip"):
            self._check(name, getattr(self, name) >= 0, ">= 0")
        for name in ("augment", "bf16"):
            self._check(name, isinstance(getattr(self, name), bool), "True or False")
        self._check("lr", self.lr > 0, "> 0")
        self._check("warmup_ratio", 0.0 <= self.warmup_ratio < 1.0, "in [0, 1)")
        self._check("jitter", 0.0 <= self.jitter < 1.0, "in [0, 1)")
        self._check("betas", len(self.betas) == 2 and all(0.0 <= b < 1.0 for b in self.betas),
                    "two numbers in [0, 1)")

    def _check(self, name: str, ok: bool, rule: str) -> None:
        if not ok:
            raise FieldError(name, f"TrainConfig.{name} must be {rule}, got {getattr(self, name)!r}")

    def aux_weight(self, name: str) -> float:
        """The weight of auxiliary loss ``name`` (0 where it is not set: off)."""
        return dict(self.aux_weights).get(name, 0.0)

    def to_dict(self) -> dict[str, Any]:
        """train_log.json's "train_config": a key per field in field order, the auxiliary
        weights as "<name>_weight" keys where ``aux_weights`` stands."""
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name == "aux_weights":
                out.update((aux_weight_key(k), w) for k, w in self.aux_weights)
            else:
                value = getattr(self, f.name)
                out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    def resume_differences(self, saved: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
        """(key, saved, now) for each setting of a saved "train_config" (:meth:`to_dict`, of
        this or an older version) that differs from this config's, sorted by key; settings
        that may change on resume are skipped. A setting absent from ``saved`` (added after
        the run was saved) counts as its default (each new setting's default keeps the old
        behaviour); an auxiliary weight absent from either side counts as 0 (off)."""
        names = {f.name for f in fields(self)}
        free = {f.name for f in fields(self) if f.metadata.get(MAY_CHANGE_ON_RESUME)}
        default = TrainConfig().to_dict()
        want = self.to_dict()
        aux = {k for k in [*want, *saved] if k.endswith(WEIGHT_SUFFIX) and k not in names}
        differ = []
        for key in sorted((set(want) - aux - free) | aux):
            then = saved.get(key, default.get(key, 0.0))
            now = want.get(key, 0.0)
            if key == "betas":
                then, now = tuple(then), tuple(now)
            if then != now:
                differ.append((key, then, now))
        return differ


@dataclass(frozen=True)
class RunOptions:
    """Where a run reads and writes and how it runs; none of it changes the weights."""

    out: str = _doc("checkpoint directory to write")
    dataset: str | None = _doc("LeRobot v2 dataset directory (gr00t-collect output); or "
                               "--mixture", None)
    mixture: str | None = _doc(
        "YAML file of several datasets, each with its embodiment YAML and a weight "
        "(gr00t_policy.train.mixture): one checkpoint for several robots; instead of "
        "--dataset and --embodiment", None, metavar="FILE")
    preset: str = _doc("policy size preset", "nano")
    embodiment: str | None = _doc(f"embodiment YAML (default: {DEFAULT_EMBODIMENT})", None)
    threads: int | None = _doc("torch CPU threads (default: torch's)", None)
    precision: str = _doc(
        "forward pass: bfloat16 autocast or plain float32 (auto: bf16 where the CPU has native "
        "bfloat16, avx512_bf16/amx_bf16; elsewhere it is emulated and ~30x slower)", "auto",
        choices=PRECISIONS)
    progress: bool = _doc("progress bar", True)
    resume: bool = _doc("continue the run whose intermediate checkpoint is in --out "
                        "(same options)", False)
    overwrite: bool = _doc("replace the checkpoint or run already in --out (without this or "
                           "--resume, gr00t-train refuses an --out that holds one)", False)
    init_from: str | None = _doc(
        "fine-tune: start from this checkpoint's weights (same --preset); optimizer and "
        "schedule start afresh, statistics are --dataset's", None, metavar="CKPT")
    overwrite_slot: tuple[str, ...] | None = _doc(
        "with --init-from: the checkpoint's robots (tags) this run's robots replace in their "
        "embodiment slots; without it, a slot the checkpoint gives another robot is refused",
        None, metavar="TAG")
    instructions: str | None = _doc(
        "YAML/JSON file of other phrasings per task of --dataset (gr00t_policy.phrasings, e.g. "
        "config/instructions/training_phrasings.yaml); each sample reads its episode's "
        "instruction or one of them, uniformly (paraphrase augmentation)", None, metavar="FILE")
    token_stats_samples: int = _doc(
        "frames of --dataset System 2's encoder runs over after training, to record the range "
        "of its tokens in config.json (token_stats: System 1 refuses tokens far outside it); "
        "0 skips it", 100)

    def __post_init__(self) -> None:
        if (self.dataset is None) == (self.mixture is None):
            raise FieldError("dataset", "give --dataset DIR or --mixture FILE (one of them)")
        if self.mixture is not None and self.embodiment is not None:
            raise FieldError("embodiment", "--mixture names each dataset's embodiment; drop "
                             "--embodiment")
        if self.resume and self.overwrite:
            raise FieldError("overwrite", "--resume continues the run in --out and --overwrite "
                             "replaces it: pass one of them")
        if self.overwrite_slot and self.init_from is None:
            raise FieldError("overwrite_slot", "--overwrite-slot replaces robots of the "
                             "--init-from checkpoint: pass --init-from CKPT, or drop it")
        if self.threads is not None and self.threads < 1:
            raise FieldError("threads", f"RunOptions.threads must be >= 1, got {self.threads}")
        if self.token_stats_samples < 0:
            raise FieldError("token_stats_samples", "RunOptions.token_stats_samples must be "
                             f">= 0, got {self.token_stats_samples}")
        if self.precision not in PRECISIONS:
            raise FieldError("precision", f"RunOptions.precision must be one of {PRECISIONS}, "
                             f"got {self.precision!r}")
