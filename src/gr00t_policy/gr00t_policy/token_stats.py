"""What a checkpoint's System 2 produces, recorded so System 1 can refuse what it cannot.

Tokens are finite numbers whatever goes wrong upstream (another model, a bad camera driver, a
scaling bug), and an action head conditioned on tokens far outside anything it was trained on
plans anything. So the checkpoint records, over real camera frames and instructions of its
dataset, the range of two figures per token message (real tokens only, padding excluded):

- ``rms``: the root mean square of the values;
- ``abs_max``: the largest absolute value.

`TokenRange` accepts a message whose rms lies within [min / tolerance, max * tolerance] of the
recorded range and whose abs_max is at most abs_max * tolerance. The statistics live in the
checkpoint's config.json under ``token_stats``; `gr00t-train` writes them, and
``gr00t-policy token-stats CKPT --dataset D`` adds them to an existing checkpoint.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gr00t_policy.atomic_write import write_text_atomically

STATS_KEY = "token_stats"


def message_figures(tokens: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """(rms, abs_max) of the real tokens of one message: tokens (L, C), mask (L,) bool."""
    real = np.asarray(tokens, dtype=np.float64)[np.asarray(mask, dtype=bool)]  # (R, C)
    if real.size == 0:
        return 0.0, 0.0
    return float(np.sqrt(np.mean(real * real))), float(np.max(np.abs(real)))


@dataclass(frozen=True)
class TokenStats:
    """The recorded range: rms min / max, abs_max max, and how many messages were seen."""

    rms_min: float
    rms_max: float
    abs_max: float
    samples: int

    def __post_init__(self) -> None:
        values = (self.rms_min, self.rms_max, self.abs_max)
        if not all(math.isfinite(v) and v >= 0 for v in values) or self.rms_min > self.rms_max:
            raise ValueError(f"token statistics must be finite, >= 0 and rms_min <= rms_max; "
                             f"got {asdict(self)}")
        if self.samples < 1:
            raise ValueError(f"token statistics need at least one sample, got {self.samples}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TokenStats":
        """From config.json's ``token_stats``; ValueError naming the key when it is not an
        object of four numbers."""
        try:
            values = (float(data["rms_min"]), float(data["rms_max"]), float(data["abs_max"]),
                      int(data["samples"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"config.json {STATS_KEY} must be an object of the numbers "
                             f"rms_min, rms_max, abs_max and samples; got {data!r}") from exc
        return cls(*values)


def measure(figures: Iterable[tuple[float, float]]) -> TokenStats:
    """TokenStats over (rms, abs_max) pairs, one per message."""
    pairs = np.asarray(list(figures), dtype=np.float64).reshape(-1, 2)  # (N, 2)
    if pairs.shape[0] == 0:
        raise ValueError("no token messages to take statistics over")
    return TokenStats(float(pairs[:, 0].min()), float(pairs[:, 0].max()),
                      float(pairs[:, 1].max()), int(pairs.shape[0]))


class TokenRange:
    """Accepts token messages like those the checkpoint's System 2 produced.

    Args:
        stats: the recorded range.
        tolerance: how far beyond it a message may go, as a factor (> 1).
    """

    def __init__(self, stats: TokenStats, tolerance: float) -> None:
        if not (math.isfinite(tolerance) and tolerance >= 1.0):
            raise ValueError(f"token range tolerance must be a factor >= 1, got {tolerance}")
        self.stats, self.tolerance = stats, float(tolerance)

    @classmethod
    def from_config(cls, config: Mapping[str, Any], tolerance: float) -> "TokenRange | None":
        """From a parsed config.json; None when the checkpoint records no statistics."""
        data = config.get(STATS_KEY)
        return None if data is None else cls(TokenStats.from_dict(data), tolerance)

    def problem(self, tokens: np.ndarray, mask: np.ndarray) -> str | None:
        """None for a plausible message, else what is wrong with it and the fix."""
        rms, peak = message_figures(tokens, mask)
        s, k = self.stats, self.tolerance
        if s.rms_min / k <= rms <= s.rms_max * k and peak <= s.abs_max * k:
            return None
        return (f"tokens refused: rms {rms:.4g} and largest |value| {peak:.4g}, but this "
                f"checkpoint's System 2 produced rms {s.rms_min:.4g}..{s.rms_max:.4g} and "
                f"|values| up to {s.abs_max:.4g} over {s.samples} messages (tolerance x{k:g}); "
                "run System 2 with the same checkpoint and check its camera images")


def dataset_samples(dataset_dir: str | Path, cameras: Sequence[str], *, count: int,
                    seed: int = 0, embodiment: Any = None
                    ) -> Iterator[tuple[list[np.ndarray], str]]:
    """Up to `count` (camera images in checkpoint order, instruction) pairs from a LeRobot
    dataset, spread evenly over its episodes and frames. `embodiment` (an EmbodimentConfig)
    gives the key layout of a dataset without meta/modality.json (one the lerobot library
    wrote), as training reads it."""
    from gr00t_policy.dataset import LeRobotDataset

    ds = LeRobotDataset(dataset_dir, embodiment=embodiment)
    missing = [c for c in cameras if c not in ds.cameras]
    if missing:
        raise ValueError(f"dataset {dataset_dir} has no camera(s) {missing} (it has {ds.cameras})")
    rng = np.random.default_rng(seed)
    per_episode = max(1, math.ceil(count / ds.num_episodes))
    produced = 0
    for i in rng.permutation(ds.num_episodes):
        ep = ds.episode(int(i), load_video=False)
        views = [ds.frames(int(i), cam) for cam in cameras]  # each (T, H, W, 3)
        for t in np.linspace(0, ep.length - 1, per_episode).astype(int):
            yield [v[t] for v in views], ep.task
            produced += 1
            if produced >= count:
                return


def write_stats(checkpoint_dir: str | Path, stats: TokenStats) -> None:
    """Record `stats` in a checkpoint's config.json (the rest of the file is kept)."""
    path = Path(checkpoint_dir) / "config.json"
    config = json.loads(path.read_text())
    config[STATS_KEY] = stats.to_dict()
    # Replaced whole: a kill while writing must not cut off the checkpoint's only config.json.
    write_text_atomically(path, json.dumps(config, indent=2, sort_keys=True))


def record(checkpoint_dir: str | Path, dataset_dir: str | Path, cameras: Sequence[str], *,
           count: int = 200, seed: int = 0, embodiment: Any = None) -> TokenStats:
    """Run the checkpoint's System 2 encoder (the deployed code path) over `count` frames of
    a dataset (its `cameras`, in checkpoint order; `embodiment`: see `dataset_samples`) and
    record the statistics in the checkpoint's config.json."""
    return record_sources(checkpoint_dir, [(dataset_dir, cameras, embodiment)], count=count,
                          seed=seed)


def record_sources(checkpoint_dir: str | Path,
                   sources: Sequence[tuple[str | Path, Sequence[str], Any]], *,
                   count: int = 200, seed: int = 0) -> TokenStats:
    """`record` over several datasets, `count` frames of each (dataset, its cameras, its
    embodiment or None): the range of a checkpoint that drives several robots covers every
    robot's images."""
    from gr00t_policy.backbone import BackboneRunner

    encoder = BackboneRunner(checkpoint_dir)
    figures = (message_figures(*encoder.encode(images, text))
               for dataset_dir, cameras, emb in sources
               for images, text in dataset_samples(dataset_dir, cameras, count=count, seed=seed,
                                                   embodiment=emb))
    stats = measure(figures)
    write_stats(checkpoint_dir, stats)
    return stats

