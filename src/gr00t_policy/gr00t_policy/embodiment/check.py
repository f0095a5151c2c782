"""``gr00t-bringup check CONFIG.yaml [...]``: validate embodiment files and say what is wrong.

The bringup package wires :func:`check_main` as a subcommand; it is ROS-free so it also runs as
``python -m gr00t_policy.embodiment.check``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from gr00t_policy.embodiment.decoder_types import clash_message, plugin_clashes
from gr00t_policy.embodiment.errors import EmbodimentConfigError
from gr00t_policy.embodiment.load import find_embodiment, load_embodiment


def unbraked_warning(emb) -> str:
    """The line for an embodiment with command joints that have no acceleration limit."""
    names = emb.unbraked_joints
    return (f"{len(names)} commanded joint(s) have no acceleration limit ({', '.join(names[:6])}"
            f"{' ...' if len(names) > 6 else ''}): System 1 limits their position and velocity "
            "only, so a command may go from rest to full speed in one tick. Fix: give each an "
            "`acceleration` (rad/s^2 or m/s^2)")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="gr00t-bringup check",
        description="Validate embodiment YAML files (joint groups, keys, cameras, controllers, "
                    "rates, staleness). Prints one OK line per valid file; errors go to stderr.")
    p.add_argument("configs", nargs="+", metavar="CONFIG",
                   help="a path to an embodiment YAML file, or a bare name (e.g. unitree_g1) "
                        "looked up in the --config-dir directories")
    p.add_argument("--config-dir", action="append", default=None, metavar="DIR",
                   help="directory searched for bare names; repeatable (default: ./config)")
    return p


def check_main(argv: Sequence[str] | None = None) -> int:
    """Validate each config; return 0 when all are valid, 1 otherwise (2 for bad arguments)."""
    args = _parser().parse_args(argv)
    search_dirs = [Path(d) for d in (args.config_dir or ["config"])]
    failed = 0
    clashes = plugin_clashes()
    if clashes:  # an installation problem: System 1 would refuse every file
        failed += 1
        print(f"FAIL {clash_message(clashes)}", file=sys.stderr)
    for item in args.configs:
        try:
            path = find_embodiment(item, search_dirs)
            emb = load_embodiment(path)
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
