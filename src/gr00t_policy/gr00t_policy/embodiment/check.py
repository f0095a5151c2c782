"""``gr00t-bringup check CONFIG.yaml [...]``: validate embodiment files and say what is wrong.

The bringup package wires :func:`check_main` as a subcommand; it is ROS-free so it also runs as
``python -m gr00t_policy.embodiment.check``.

It refuses what System 1 would refuse at configure, without a ROS graph: the file
(``load_embodiment``, which checks the built-in decoders' ``params`` too), a decoder plugin
registered under a built-in's name, and the ``params`` of each controller whose type is a
plugin, against its class's PARAMS (:func:`plugin_issues`: this imports the plugin, and with
it rclpy, only for a file that uses one). A type that is neither built in nor installed here
is an unknown decoder type, refused like System 1 refuses it: check where the plugins are.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from gr00t_policy.embodiment.decoder_types import (BUILTIN_DECODER_TYPES, DecoderSpecError,
                                                   clash_message, decoder_params,
                                                   plugin_clashes, plugin_params)
from gr00t_policy.embodiment.errors import ConfigIssue, EmbodimentConfigError, line_of
from gr00t_policy.embodiment.load import find_embodiment, load_embodiment
from gr00t_policy.embodiment.yaml_lines import read_yaml


def unbraked_warning(emb) -> str:
    """The line for an embodiment with command joints that have no acceleration limit."""
    names = emb.unbraked_joints
    return (f"{len(names)} commanded joint(s) have no acceleration limit ({', '.join(names[:6])}"
            f"{' ...' if len(names) > 6 else ''}): System 1 limits their position and velocity "
            "only, so a command may go from rest to full speed in one tick. Fix: give each an "
            "`acceleration` (rad/s^2 or m/s^2)")


def plugin_issues(emb) -> list[ConfigIssue]:
    """The problems System 1 would find with the controllers whose type is a plugin: one that
    does not load, or ``params`` its class's PARAMS refuse (the same check, `decoder_params`)."""
    issues = []
    for i, ctl in enumerate(emb.controllers):
        if ctl.type in BUILTIN_DECODER_TYPES:  # load_embodiment checked these
            continue
        try:
            decoder_params(f"decoder {ctl.type}", plugin_params(ctl.type), ctl.params)
        except DecoderSpecError as exc:
            issues.append(ConfigIssue(f"controllers[{i}].params", exc.message, exc.fix))
    return issues


def _parser(default_dirs: Sequence[Path]) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="gr00t-bringup check",
        description="Validate embodiment YAML files (joint groups, keys, cameras, controllers "
                    "and their decoders' params, rates, staleness) as System 1 would at "
                    "configure, without a ROS graph. Prints one OK line per valid file; errors "
                    "go to stderr.")
    p.add_argument("configs", nargs="+", metavar="CONFIG",
                   help="a path to an embodiment YAML file, or a bare name (e.g. unitree_g1) "
                        "looked up in the --config-dir directories")
    p.add_argument("--config-dir", action="append", default=None, metavar="DIR",
                   help="directory searched for bare names; repeatable (default: "
                        f"{', '.join(str(d) for d in default_dirs)})")
    return p


def check_main(argv: Sequence[str] | None = None,
               default_dirs: Sequence[Path] = (Path("config"),)) -> int:
    """Validate each config; return 0 when all are valid, 1 otherwise (2 for bad arguments).
    Bare names are looked up in ``--config-dir``, else in ``default_dirs``."""
    args = _parser(default_dirs).parse_args(argv)
    search_dirs = [Path(d) for d in args.config_dir] if args.config_dir else list(default_dirs)
    failed = 0
    clashes = plugin_clashes()
    if clashes:  # an installation problem: System 1 would refuse every file
        failed += 1
        print(f"FAIL {clash_message(clashes)}", file=sys.stderr)
    for item in args.configs:
        try:
            path = find_embodiment(item, search_dirs)
            emb = load_embodiment(path)
            issues = plugin_issues(emb)
            if issues:
                _, lines = read_yaml(path)
                raise EmbodimentConfigError(str(path), [
                    ConfigIssue(i.path, i.message, i.fix, line_of(lines, i.path))
                    for i in issues])
        except EmbodimentConfigError as exc:
            failed += 1
            print(f"FAIL {exc}", file=sys.stderr)
            continue
        print(f"OK {path}: {emb.name} ({emb.action_dim} driven joints, "
              f"{len(emb.controllers)} controllers)")
        if emb.unbraked_joints:
            print(f"WARN {path}: {unbraked_warning(emb)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(check_main())
