"""Co-training over several datasets: one policy, several robots, mixture weights.

A mixture file names the datasets, the embodiment each was recorded with, and a weight::

    # gr00t-train --mixture FILE --out CKPT ...
    datasets:
      - {dataset: artifacts/data/g1_tabletop, embodiment: config/unitree_g1.yaml, weight: 1.0}
      - {dataset: artifacts/data/apollo_tabletop, embodiment: config/apptronik_apollo.yaml}

Relative paths are read from the current directory, as on the command line. Each training
batch draws its samples from the datasets in proportion to their weights (a multinomial draw
per batch), whatever their sizes; within a dataset, frames are drawn as in a one-dataset run
(:class:`~gr00t_policy.train.data.TrainingData`).

Within a dataset, two optional keys choose and weigh its trajectories (episodes)::

      - dataset: artifacts/data/g1_holds
        embodiment: config/unitree_g1.yaml
        episodes: "0:80"              # or [0, 4, 9]: train on these only (default: all)
        episode_weights: {4: 3.0, 9: 0.5}   # or a JSON/YAML file holding such a mapping

``episodes`` is a list of episode indices or a ``"start:stop[:step]"`` slice; only those
episodes are loaded, and the normalization statistics come from them. An episode's weight
(default 1) multiplies the chance of drawing each of its frames, so weight 2 counts as if it
had been recorded twice and 0 leaves it out. Each sample carries its own robot's
embodiment slot, so the action head's per-embodiment encoders and decoder learn each robot
while the backbone and the DiT are shared. The checkpoint records every embodiment and its
normalization statistics, so one checkpoint drives each robot by its tag. Several datasets
may be one robot's (its recordings and pseudo-labelled video of it, say): they share its
slot, and its statistics are computed over all of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch
import yaml

from gr00t_policy.embodiment.schema_errors import yaml_string_number
from gr00t_policy.train.config import TrainConfig
from gr00t_policy.train.data import TrainingData


KEYS = ("dataset", "embodiment", "weight", "episodes", "episode_weights")


@dataclass(frozen=True)
class MixtureEntry:
    """One dataset of a mixture: where it is, the robot it was recorded with, its weight,
    and optionally which of its episodes to train on and how much each weighs."""

    dataset: str
    embodiment: str
    weight: float = 1.0
    episodes: str | tuple[int, ...] | None = None  # a "start:stop[:step]" slice or indices
    episode_weights: Mapping[int, float] | None = None  # dataset episode index -> weight

    def select(self, num_episodes: int) -> tuple[list[int], list[float]]:
        """The dataset episode indices to load and their weights; ValueError naming the
        entry's key when an index is out of range or nothing is left to train on."""
        where = f"dataset {self.dataset}"
        chosen = choose_episodes(self.episodes, num_episodes, where)
        weights = dict(self.episode_weights or {})
        outside = sorted(i for i in weights if not 0 <= i < num_episodes)
        if outside:
            raise ValueError(f"{where}: episode_weights names episodes {outside[:10]} out of "
                             f"range; it has {num_episodes} episodes (0 to {num_episodes - 1})")
        stray = sorted(set(weights) - set(chosen))
        if stray:
            raise ValueError(f"{where}: episode_weights names episodes {stray[:10]} that are "
                             "not among the chosen `episodes`; weigh only episodes it trains on")
        kept = [(i, float(weights.get(i, 1.0))) for i in chosen]
        kept = [(i, w) for i, w in kept if w > 0]  # weight 0: not loaded, not in the statistics
        if not kept:
            raise ValueError(f"{where}: no episode left to train on (episodes "
                             f"{self.episodes!r}, episode_weights all 0?)")
        return [i for i, _ in kept], [w for _, w in kept]


def read_mixture(path: str | Path) -> list[MixtureEntry]:
    """The entries of a mixture file; ValueError naming the entry, the key and the fix."""
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"--mixture {path}: cannot read it ({exc})") from exc
    entries = doc.get("datasets") if isinstance(doc, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"--mixture {path}: expected `datasets:` with a list of "
                         "{dataset: DIR, embodiment: YAML, weight: W} entries")
    out: list[MixtureEntry] = []
    for i, entry in enumerate(entries):
        where = f"--mixture {path}: datasets[{i}]"
        if not isinstance(entry, dict):
            raise ValueError(f"{where}: expected a mapping {{dataset: DIR, embodiment: YAML}}")
        unknown = sorted(set(entry) - set(KEYS))
        if unknown:
            raise ValueError(f"{where}: unknown keys {unknown}; the keys are "
                             f"{', '.join(KEYS)}")
        for key in ("dataset", "embodiment"):
            if not isinstance(entry.get(key), str) or not entry[key]:
                raise ValueError(f"{where}.{key}: missing; give the {key} path")
        weight = entry.get("weight", 1.0)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not (
                np.isfinite(weight) and weight > 0):
            raise ValueError(f"{where}.weight: {weight!r} is not a positive number"
                             f"{_string_number(weight)}")
        episodes = _episodes(entry.get("episodes"), f"{where}.episodes")
        episode_weights = _episode_weights(entry.get("episode_weights"),
                                           f"{where}.episode_weights")
        out.append(MixtureEntry(entry["dataset"], entry["embodiment"], float(weight),
                                episodes, episode_weights))
    return out


def check_paths(entries: Sequence[MixtureEntry], path: str | Path) -> None:
    """ValueError naming the entry, the key and the directory relative paths are read from,
    for the first dataset directory or embodiment file of mixture file `path` that is not
    there (before anything is loaded: the loaders' own messages name neither)."""
    for i, entry in enumerate(entries):
        for key, value, kind, there in (
                ("embodiment", entry.embodiment, "file", Path(entry.embodiment).is_file()),
                ("dataset", entry.dataset, "directory", Path(entry.dataset).is_dir())):
            if not there:
                raise ValueError(
                    f"--mixture {path}: datasets[{i}].{key}: {value} is not a {kind}. Relative "
                    f"paths are read from the current directory ({Path.cwd()}), not from the "
                    "mixture file's, and an embodiment is a YAML path, not a bare name. Fix: "
                    "run from the directory the paths are written for (the committed mixtures': "
                    "the repository), or write them from there or absolute")


def choose_episodes(spec: str | Sequence[int] | None, num_episodes: int, where: str
                    ) -> list[int]:
    """The episode indices `spec` names (a "start:stop[:step]" slice, a list, or None for
    all) in a dataset of `num_episodes`; ValueError naming `where` when one is out of range."""
    if spec is None:
        return list(range(num_episodes))
    if isinstance(spec, str):
        cut = _slice(spec, where)
        if cut.stop is not None and cut.stop > num_episodes:
            raise ValueError(f"{where}: episodes {spec!r} ends past the dataset's "
                             f"{num_episodes} episodes; end it at {num_episodes} or before")
        return list(range(num_episodes))[cut]
    bad = [i for i in spec if not 0 <= i < num_episodes]
    if bad:
        raise ValueError(f"{where}: episodes {bad} out of range; it has {num_episodes} "
                         f"episodes (0 to {num_episodes - 1})")
    return list(spec)


def _slice(text: str, where: str) -> slice:
    parts = text.split(":")
    try:
        if not 2 <= len(parts) <= 3:
            raise ValueError
        bounds = [int(p) if p.strip() else None for p in parts]
    except ValueError:
        raise ValueError(f"{where}: episodes {text!r} is not a \"start:stop[:step]\" slice "
                         "(e.g. \"0:80\" or \"::10\")") from None
    if len(bounds) == 3 and bounds[2] is not None and bounds[2] <= 0:
        raise ValueError(f"{where}: episodes {text!r}: the step must be positive")
    return slice(*bounds)


def _episodes(value: Any, where: str) -> str | tuple[int, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        _slice(value, where)  # checked now; applied once the dataset's size is known
        return value
    if isinstance(value, list) and not value:
        raise ValueError(f"{where}: an empty list chooses no episode; leave the key out to "
                         "train on all")
    if (isinstance(value, list) and all(
            isinstance(i, int) and not isinstance(i, bool) for i in value)):
        if len(set(value)) != len(value):
            raise ValueError(f"{where}: {value!r} repeats an episode; to weigh one more, "
                             "use episode_weights")
        return tuple(value)
    raise ValueError(f"{where}: {value!r} is neither a list of episode indices nor a "
                     "\"start:stop[:step]\" slice")


def _string_number(value: Any) -> str:
    """Why a weight written as a number with an exponent is a string, and how to write it
    (`yaml_string_number`: "1e3" is a string in YAML 1.1); "" for any other value."""
    string_number = yaml_string_number(value)
    if string_number is None:
        return ""
    why, written = string_number
    return f": {why}. Fix: write it as {written}, unquoted"


def _episode_weights(value: Any, where: str) -> dict[int, float] | None:
    if value is None:
        return None
    if isinstance(value, str):  # a file of its own, e.g. written by a quality filter
        file = Path(value)
        try:
            value = yaml.safe_load(file.read_text())  # JSON is YAML too
        except (OSError, yaml.YAMLError) as exc:
            raise ValueError(f"{where}: cannot read {file} ({exc})") from exc
        where = f"{where} ({file})"
    if not isinstance(value, dict) or not value:
        raise ValueError(f"{where}: expected a mapping {{episode index: weight}}")
    out: dict[int, float] = {}
    for k, w in value.items():
        if isinstance(k, int) and not isinstance(k, bool):
            index = k
        elif isinstance(k, str) and k.strip().isdigit():  # JSON keys are strings
            index = int(k)
        else:
            raise ValueError(f"{where}: key {k!r} is not an episode index")
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not (
                np.isfinite(w) and w >= 0):
            raise ValueError(f"{where}: episode {index}: weight {w!r} is not a number >= 0"
                             f"{_string_number(w)}")
        out[index] = float(w)
    return out


class MixtureData:
    """Several :class:`TrainingData` sources sampled as one, in proportion to their weights."""

    def __init__(self, sources: Sequence[TrainingData], weights: Sequence[float], pad_id: int):
        if len(sources) != len(weights) or not sources:
            raise ValueError("MixtureData: one weight per source, at least one source")
        widths = [{name: t.shape[1] for name, t in s.targets.items()} for s in sources]
        if any(w != widths[0] for w in widths):
            raise ValueError(f"MixtureData: the datasets carry different auxiliary targets "
                             f"(name: width per dataset: {widths})")
        self.sources = list(sources)
        p = np.asarray(weights, dtype=np.float64)
        self.p = p / p.sum()
        self.pad_id = int(pad_id)
        # What build_head reads: each target's width, the same in every source.
        self.targets = sources[0].targets
        # Every phrasing once (two datasets of one robot share their tasks' phrasings).
        self.texts = list(dict.fromkeys(t for s in sources for t in s.texts))

    @property
    def num_frames(self) -> int:
        return sum(s.num_frames for s in self.sources)

    def sample(self, rng: np.random.Generator, batch_size: int, cfg: TrainConfig,
               generator: torch.Generator) -> dict[str, torch.Tensor]:
        """A batch whose samples come from the sources in proportion to their weights."""
        if len(self.sources) == 1:  # no extra draw: a one-dataset run repeats bitwise
            return self.sources[0].sample(rng, batch_size, cfg, generator)
        counts = rng.multinomial(batch_size, self.p)
        parts = [s.sample(rng, int(n), cfg, generator)
                 for s, n in zip(self.sources, counts) if n > 0]
        return merge_batches(parts, self.pad_id)


def merge_batches(parts: Sequence[dict[str, torch.Tensor]], pad_id: int) -> dict[str, Any]:
    """Concatenate batches along the batch axis. The prompt columns (``input_ids``,
    ``attention_mask``, ``instruction_states``) are left-padded to the longest first: left
    padding is masked and does not shift the language model's positions."""
    width = max(p["input_ids"].shape[1] for p in parts)
    out: dict[str, Any] = {}
    for key in parts[0]:
        values = []
        for p in parts:
            v = p[key]
            short = width - v.shape[1] if key in ("input_ids", "attention_mask",
                                                   "instruction_states") else 0
            if short:
                fill = pad_id if key == "input_ids" else 0
                pad = torch.full((v.shape[0], short, *v.shape[2:]), fill, dtype=v.dtype)
                v = torch.cat([pad, v], dim=1)
            values.append(v)
        out[key] = torch.cat(values)
    return out
