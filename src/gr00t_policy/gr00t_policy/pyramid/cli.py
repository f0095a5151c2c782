"""``gr00t-pyramid``: the models that let the policy learn from video without actions.

    # a latent action model on every episode's video (its labels are not read)
    gr00t-pyramid lam --dataset artifacts/data/g1_holds --out artifacts/pyramid/lam
    # an inverse-dynamics model on the first 80 labelled episodes, checked on 80 others
    gr00t-pyramid idm --dataset artifacts/data/g1_holds --episodes 0:80 --check 80:160 \\
        --out artifacts/pyramid/idm
    # the other 720 episodes, pseudo-labelled by it, as a dataset gr00t-train reads
    gr00t-pyramid label --idm artifacts/pyramid/idm --dataset artifacts/data/g1_holds \\
        --episodes 80:800 --out artifacts/data/g1_pseudo
    # ... or labelled with latent actions, as a robot of its own (with its embodiment.yaml)
    gr00t-pyramid latent --lam artifacts/pyramid/lam --dataset artifacts/data/g1_holds \\
        --episodes 80:800 --out artifacts/data/g1_latent

``lam`` and ``idm`` print their figures as JSON (and write them to ``figures.json`` in
``--out``): the forward model's error with each pair's own latent action, another pair's,
none, and copying the frame, and how much of the recorded motion of the ``--check``
episodes a small network from the latent action and the state recovers (the labels are read for that figure
only); the pseudo-labels' error against the recorded labels on ``--check`` episodes.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from gr00t_policy.cli_errors import describe

logger = logging.getLogger("gr00t-pyramid")


def _common(p: argparse.ArgumentParser, model: bool = True) -> None:
    p.add_argument("--dataset", required=True, help="LeRobot v2 dataset directory")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--episodes", default=None,
                   help="episodes to use: \"start:stop[:step]\" (default: all)")
    p.add_argument("--camera", default=None, help="camera to read (default: the first)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's choice)")
    if model:
        p.add_argument("--check", default=None,
                       help="episodes to measure on, not trained on (\"start:stop\")")
        p.add_argument("--steps", type=int, default=3000)
        p.add_argument("--batch-size", type=int, default=64)
        p.add_argument("--lr", type=float, default=1e-3)
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--image-size", type=int, default=64)
        p.add_argument("--gap", type=int, default=5,
                       help="frames between the two frames of a pair (default 5: 0.25 s at 20 fps)")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gr00t-pyramid", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    _common(sub.add_parser("lam", help="train a latent action model on video"))
    _common(sub.add_parser("idm", help="train an inverse-dynamics model on labelled episodes"))
    label = sub.add_parser("label", help="write episodes again with an IDM's pseudo-labels")
    _common(label, model=False)
    label.add_argument("--idm", required=True, help="directory `gr00t-pyramid idm` wrote")
    label.add_argument("--overwrite", action="store_true")
    latent = sub.add_parser("latent", help="write episodes as the latent robot's, labelled "
                            "with a latent action model (and its embodiment.yaml)")
    _common(latent, model=False)
    latent.add_argument("--lam", required=True, help="directory `gr00t-pyramid lam` wrote")
    latent.add_argument("--name", default="latent_actions",
                        help="the latent robot's name and tag (default latent_actions)")
    latent.add_argument("--slot", type=int, default=3,
                        help="its embodiment slot in the policy (default 3; the G1 is 0, the "
                             "GR-1 1, the Apollo 2; the embodiment schema's range)")
    latent.add_argument("--overwrite", action="store_true")
    return p


def _episodes(ds, spec: str | None, flag: str) -> list[int]:
    from gr00t_policy.train.mixture import choose_episodes

    chosen = choose_episodes(spec, ds.num_episodes, flag)
    if not chosen:
        raise ValueError(f"{flag} {spec!r} chooses no episode of the {ds.num_episodes}")
    return chosen


def _run(args: argparse.Namespace) -> dict:
    from gr00t_policy.dataset import LeRobotDataset
    from gr00t_policy.pyramid import clips as clip_io

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    ds = LeRobotDataset(args.dataset)
    camera = args.camera or ds.cameras[0]
    if camera not in ds.cameras:  # before anything is written (label --overwrite deletes)
        raise ValueError(f"camera {camera!r} is not in {ds.root} (it has {ds.cameras}); pass "
                         "--camera with one of those")
    chosen = _episodes(ds, args.episodes, "--episodes")
    # What a model trained here reads (label and latent check a dataset against it).
    source = {"dataset": str(Path(args.dataset).resolve()), "camera": camera,
              "episodes": args.episodes or f"0:{ds.num_episodes}", "fps": ds.fps,
              "state_names": ds.state_names, "action_names": ds.action_names}
    if args.command == "label":
        return _label(args, ds, camera, chosen, source)
    if args.command == "latent":
        return _latent(args, ds, camera, chosen, source)
    check = _episodes(ds, args.check, "--check") if args.check else []
    overlap = sorted(set(check) & set(chosen))
    if overlap:
        raise ValueError(f"--check episodes {overlap[:5]}... are also trained on; measure on "
                         "others")
    # The latent action model never reads labels; they are loaded for its motion figure only.
    train_clips = clip_io.load_clips(ds, camera, args.image_size, chosen,
                                     labels=args.command == "idm" or bool(check))
    check_clips = clip_io.load_clips(ds, camera, args.image_size, check) if check else None
    fit = {"steps": args.steps, "batch": args.batch_size, "lr": args.lr, "seed": args.seed}
    if args.command == "lam":
        from gr00t_policy.pyramid import latent_actions as lam

        cfg = lam.LatentActionConfig(image_size=args.image_size, gap=args.gap)
        model, log = lam.train_latent_actions(train_clips, cfg, **fit)
        figures = {"train": lam.forward_errors(model, train_clips, 2048, args.seed + 1)}
        if check_clips is not None:
            figures["check"] = lam.forward_errors(model, check_clips, 2048, args.seed + 2)
            # The labels are read for this figure only: training never sees them.
            figures["motion_probe"] = lam.motion_probe(model, train_clips, check_clips, 4096,
                                                       args.seed + 3)
        lam.save_latent_actions(args.out, model, {"source": source, "fit": fit, "log": log})
    else:
        from gr00t_policy.pyramid import inverse_dynamics as idm

        cfg = idm.InverseDynamicsConfig(state_dim=len(ds.state_names),
                                        action_dim=len(ds.action_names),
                                        image_size=args.image_size, gap=args.gap)
        model, log = idm.train_inverse_dynamics(train_clips, cfg, **fit)
        figures = {"train": idm.label_errors(model, train_clips)}
        if check_clips is not None:
            figures["check"] = idm.label_errors(model, check_clips)
        idm.save_inverse_dynamics(args.out, model, {"source": source, "fit": fit, "log": log})
    figures["seconds"] = log[-1]["s"] if log else 0.0
    (Path(args.out) / "figures.json").write_text(json.dumps(figures, indent=2))
    return figures


def _label(args, ds, camera: str, chosen: list[int], source: dict) -> dict:
    from gr00t_policy.pyramid.inverse_dynamics import label_episode, load_inverse_dynamics
    from gr00t_policy.pyramid.relabel import relabel
    from gr00t_policy.train.data import resize_frames

    model = load_inverse_dynamics(args.idm)
    dims = (len(ds.state_names), len(ds.action_names))
    if (model.cfg.state_dim, model.cfg.action_dim) != dims:
        raise ValueError(f"--idm {args.idm} labels {model.cfg.state_dim} state and "
                         f"{model.cfg.action_dim} action dims, {args.dataset} has {dims}; "
                         "train the IDM on a dataset of this robot")
    _check_like_training(model, ds, camera, f"--idm {args.idm}", joints=True)

    def labeller(frames):
        return label_episode(model, resize_frames(frames[camera], model.cfg.image_size))

    out = relabel(ds, args.out, chosen, labeller,
                  {"model": str(Path(args.idm).resolve()), "kind": "inverse_dynamics"},
                  overwrite=args.overwrite)
    return {"dataset": str(out), "episodes": len(chosen)}


def _check_like_training(model, ds, camera: str, flag: str, joints: bool) -> None:
    """ValueError unless `camera` is the one `model` was trained on (the dataset's first
    camera is the default: another view would be labelled as if it were that one), and `ds`
    has the frame rate (a pair is `gap` frames apart: another rate is another time between
    them) and, with `joints`, the state and action joints, in order, of the data it was
    trained on: an IDM of as many joints of another robot, or in another order, would write
    its joints' labels under these names. A model saved before these were recorded is not
    checked."""
    trained = getattr(model, "description", {}).get("source", {})
    if trained.get("camera", camera) != camera:
        raise ValueError(
            f"{flag} was trained on camera {trained['camera']!r}: camera {camera!r} here, "
            f"{trained['camera']!r} in its training data. Fix: pass --camera "
            f"{trained['camera']} (the dataset's first camera is the default), or train the "
            "model on this camera's video")
    here = {"fps": ds.fps, "state_names": ds.state_names, "action_names": ds.action_names}
    compared = ("fps", "state_names", "action_names") if joints else ("fps",)
    for key in compared:
        if key in trained and trained[key] != here[key]:
            differ = (f"{here[key]:g} fps here, {trained[key]:g}" if key == "fps" else
                      f"{key.split('_')[0]} joints {here[key]} here, {trained[key]}")
            raise ValueError(
                f"{flag} was trained on {trained.get('dataset')}, unlike {ds.root}: {differ} "
                "in its training data. Fix: train the model on this robot's "
                "episodes, recorded at this frame rate (gr00t-pyramid idm / lam --dataset), "
                "or label a dataset like the one it was trained on")


# The flag each top-level key of the latent robot's embodiment.yaml comes from (its
# controller's topic is named after --name, its camera's topic after the camera).
_YAML_FLAGS = {"name": "--name", "tag": "--name", "slot": "--slot", "controllers": "--name",
               "cameras": "--camera"}


def _latent_yaml(args, ds, camera: str, dim: int) -> str:
    """The latent robot's embodiment.yaml, checked by the embodiment schema before anything
    is written; a value it refuses is named by the flag it came from."""
    import yaml

    from gr00t_policy.embodiment import EmbodimentConfigError, parse_embodiment
    from gr00t_policy.pyramid import latent_embodiment as latent

    text = latent.embodiment_yaml(
        name=args.name, slot=args.slot, dim=dim, camera=camera, action_dt=1.0 / ds.fps,
        source=f"{args.dataset} (camera {camera})")
    try:
        parse_embodiment(yaml.safe_load(text), "embodiment.yaml")
    except EmbodimentConfigError as exc:
        values = {"--name": args.name, "--slot": args.slot, "--camera": camera}
        problems = []
        for issue in exc.issues:
            flag = _YAML_FLAGS.get(re.split(r"[.\[]", issue.path, maxsplit=1)[0])
            given = f"{flag} {values[flag]!r}" if flag else f"--dataset {args.dataset}"
            if flag == "--camera" and args.camera is None:
                given = f"camera {camera!r} (the dataset's first; --camera picks another)"
            problems.append(f"{given} makes an invalid embodiment.yaml for the latent robot: "
                            f"{issue.format()}")
        raise ValueError("\n".join(problems)) from None
    return text


def _latent(args, ds, camera: str, chosen: list[int], source: dict) -> dict:
    from gr00t_policy.pyramid import latent_embodiment as latent
    from gr00t_policy.pyramid.latent_actions import load_latent_actions
    from gr00t_policy.pyramid.relabel import relabel
    from gr00t_policy.train.data import resize_frames

    model = load_latent_actions(args.lam)
    _check_like_training(model, ds, camera, f"--lam {args.lam}", joints=False)
    text = _latent_yaml(args, ds, camera, model.cfg.latent_dim)  # before anything is written
    keys = [(latent.KEY, latent.joint_names(model.cfg.latent_dim))]

    def labeller(frames):
        return latent.latent_labels(model, resize_frames(frames[camera], model.cfg.image_size))

    out = relabel(ds, args.out, chosen, labeller,
                  {"model": str(Path(args.lam).resolve()), "kind": "latent_actions"},
                  overwrite=args.overwrite, layout=(keys, keys, args.name))
    yaml_path = out / "embodiment.yaml"
    yaml_path.write_text(text)  # what gr00t-train will read: validated above
    return {"dataset": str(out), "episodes": len(chosen), "embodiment": str(yaml_path)}


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    args = parser().parse_args(argv)
    try:
        figures = _run(args)
    except (ValueError, OSError) as exc:
        print(describe(exc, f"gr00t-pyramid {args.command}: "), file=sys.stderr)
        return 2
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
