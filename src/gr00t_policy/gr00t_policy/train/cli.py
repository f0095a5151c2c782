"""``gr00t-train``: train the policy on a LeRobot v2 dataset and write a gr00t_ros checkpoint.

    gr00t-train --dataset D --out O [--preset nano] [--steps N] [--batch-size B] ...

Every flag comes from a field: :class:`~gr00t_policy.train.config.RunOptions` (where from,
where to, how to run), :class:`~gr00t_policy.train.config.TrainConfig` (what shapes the
weights) and one ``--<name>-weight`` per registered auxiliary loss
(:mod:`gr00t_policy.train.auxiliary`); ``--precision`` sets ``TrainConfig.bf16``. A bad value
is refused naming its flag. Under ``torchrun`` the processes train one model together
(:mod:`gr00t_policy.train.distributed`); ``--batch-size`` is then the global batch.
Ctrl-C or SIGTERM saves the step reached and exits with 130 / 143; ``--resume`` goes on
(:mod:`gr00t_policy.train.stop`). An ``--out`` that already holds a checkpoint or a run is
refused before anything loads, unless ``--resume`` continues it or ``--overwrite`` replaces it.
A bad input (the embodiment YAML, the dataset, the mixture file, a checkpoint, ``--out``) ends
the run with one line naming it and the fix, and exit status 1; so do a loss or weights that
became NaN (before they are saved) and a save that cannot write (a full disk: the file, the
error and the free space); the last checkpoint stays.
"""

from __future__ import annotations

import argparse
import logging
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from gr00t_policy import dataclass_cli
from gr00t_policy.cli_errors import describe
from gr00t_policy.train.auxiliary import registered
from gr00t_policy.train.config import DEFAULT_EMBODIMENT, RunOptions, TrainConfig, aux_weight_key

logger = logging.getLogger(__name__)


def _default_embodiment() -> Path:
    here = Path(DEFAULT_EMBODIMENT)
    if here.is_file():
        return here
    repo = Path(__file__).resolve().parents[4] / DEFAULT_EMBODIMENT
    return repo if repo.is_file() else here


def native_bf16(cpuinfo: str | None = None) -> bool:
    """Whether this x86 CPU computes bfloat16 natively (the avx512_bf16 or amx_bf16 flag).

    ``cpuinfo`` is /proc/cpuinfo's text (read when None); False where it cannot be read.
    """
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return False
    flags = next((line.split(":", 1)[1].split() for line in cpuinfo.splitlines()
                  if line.startswith("flags")), [])
    return "avx512_bf16" in flags or "amx_bf16" in flags


@dataclass(frozen=True)
class _Flags:
    """{field: flag} of each dataclass, and {aux loss name: flag}."""

    run: dict[str, str]
    train: dict[str, str]
    aux: dict[str, str]


def _parser() -> tuple[argparse.ArgumentParser, _Flags]:
    p = argparse.ArgumentParser(
        prog="gr00t-train",
        description="Train the policy (backbone + action head jointly, flow matching) on a "
        "LeRobot v2 dataset and write a gr00t_ros checkpoint.",
    )
    run = dataclass_cli.add_arguments(p.add_argument_group("run"), RunOptions)
    train = dataclass_cli.add_arguments(p.add_argument_group("training settings"), TrainConfig)
    group = p.add_argument_group("auxiliary losses (gr00t_policy.train.auxiliary)")
    aux = {}
    for loss in registered():
        aux[loss.name] = dataclass_cli.flag_name(aux_weight_key(loss.name))
        group.add_argument(aux[loss.name], dest=aux_weight_key(loss.name), type=float,
                           default=0.0, metavar="W", help=f"{loss.help} (default: 0)")
    return p, _Flags(run, train, aux)


def build_parser() -> argparse.ArgumentParser:
    """gr00t-train's argument parser."""
    return _parser()[0]


def parse_args(argv: Sequence[str] | None = None) -> tuple[RunOptions, TrainConfig]:
    """The run options and training settings a command line asks for; a bad value exits
    (argparse's error, status 2) naming its flag."""
    parser, flags = _parser()
    args = parser.parse_args(argv)
    run = dataclass_cli.build(parser, RunOptions, args, flags.run)
    cfg = dataclass_cli.build(
        parser, TrainConfig, args, flags.train,
        {("aux_weights", name): flag for name, flag in flags.aux.items()},
        aux_weights={name: getattr(args, aux_weight_key(name)) for name in flags.aux},
        bf16=native_bf16() if run.precision == "auto" else run.precision == "bf16",
    )
    return run, cfg


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status. A bad input exits (SystemExit, status 1) with
    its message: every error the run raises for what it was given (ValueError: the
    embodiment, dataset, mixture, checkpoint or --out; OSError: a file it cannot read, or
    `SaveError`: one a save cannot write; FloatingPointError: training diverged) names the
    input and the fix; one a library raised comes with its traceback."""
    run, cfg = parse_args(argv)
    try:
        return _main(run, cfg)
    except (ValueError, OSError, FloatingPointError) as exc:  # a library's: with its traceback
        raise SystemExit(describe(exc)) from exc


def _main(run: RunOptions, cfg: TrainConfig) -> int:
    import numpy as np
    import torch

    from gr00t_policy.embodiment import load_embodiment
    from gr00t_policy.policy_config import get_preset
    from gr00t_policy.train.distributed import DataParallel
    from gr00t_policy.train.loop import train
    from gr00t_policy.train.state import check_out_dir

    # Before anything slow: a run that would replace a checkpoint unasked never starts.
    check_out_dir(Path(run.out), resume=run.resume, overwrite=run.overwrite)
    group = DataParallel.from_environment()  # torchrun's processes, or this one alone
    logging.basicConfig(level=logging.INFO if group.is_main else logging.WARNING,
                        format="%(asctime)s %(name)s: %(message)s")
    if run.threads is not None:
        torch.set_num_threads(run.threads)
    logger.info("forward pass in %s (--precision %s)", "bfloat16" if cfg.bf16 else "float32",
                run.precision)
    if run.mixture is not None:
        from gr00t_policy.train.mixture import check_paths, read_mixture

        entries = read_mixture(run.mixture)
        check_paths(entries, run.mixture)
        mixture = [(e, load_embodiment(e.embodiment)) for e in entries]
        sources = [(e.dataset, emb) for e, emb in mixture]
        dataset, embodiment = None, None
    else:
        emb_path = Path(run.embodiment) if run.embodiment else _default_embodiment()
        if not emb_path.is_file():
            raise SystemExit(f"embodiment YAML {emb_path} not found; pass --embodiment PATH")
        embodiment, dataset, mixture = load_embodiment(emb_path), run.dataset, None
        sources = [(run.dataset, embodiment)]
    result = train(
        dataset, run.out, policy_config=get_preset(run.preset),
        embodiment=embodiment, cfg=cfg, preset=run.preset,
        progress=run.progress, resume=run.resume, init_from=run.init_from, group=group,
        instructions=run.instructions, mixture=mixture, overwrite=run.overwrite,
        overwrite_slot=run.overwrite_slot or (),
    )
    group.close()
    if not group.is_main:
        return 0
    if result.stopped_at is not None:
        print(f"stopped by {result.stopped_by or 'another rank'} at step {result.stopped_at} "
              f"of {cfg.steps}: {result.checkpoint} holds it; the same command with --resume "
              "goes on")
        return 128 + signal.Signals[result.stopped_by].value if result.stopped_by else 1
    if run.token_stats_samples:
        from gr00t_policy.token_stats import record_sources

        # every robot's camera images: System 1 refuses tokens outside the recorded range
        # with each dataset's embodiment: one without meta/modality.json reads its layout there
        stats = record_sources(result.checkpoint,
                               [(d, [c.name for c in emb.cameras], emb) for d, emb in sources],
                               count=run.token_stats_samples, seed=cfg.seed)
        logger.info("token statistics over %d messages: rms %.4g..%.4g, |value| <= %.4g",
                    stats.samples, stats.rms_min, stats.rms_max, stats.abs_max)
    print(f"checkpoint: {result.checkpoint}  final loss (mean of last {cfg.log_every}): "
          f"{np.mean(result.losses[-cfg.log_every:]):.4f}  {result.seconds_per_step:.3f} s/step")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
