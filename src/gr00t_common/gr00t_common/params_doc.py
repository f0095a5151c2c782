"""docs/PARAMETERS.md, generated from the nodes' parameter specs.

    python -m gr00t_common.params_doc > docs/PARAMETERS.md     # from the repository root

One table per node (name, type, default, range / choices, read-only, description), read
from each node's `SPECS` (for the lifecycle nodes also `gr00t_common.lifecycle.SPECS`,
`autostart`). A development command: it imports the node packages (and the
bench's baseline node by its path under the repository root), which depend on this package,
not the other way round; nothing in gr00t_common imports them otherwise.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
from collections.abc import Iterable
from pathlib import Path

from gr00t_common.params import Spec

COMMAND = "python -m gr00t_common.params_doc > docs/PARAMETERS.md"

# (node name, what it is, where its SPECS live: a module, a file under the repository root, or
# a tuple of those, whose specs are listed in that order)
LIFECYCLE = "gr00t_common.lifecycle"
NODES = (
    ("gr00t_system2", "System 2: camera images and the instruction in, embedding tokens out",
     ("gr00t_system2.params", LIFECYCLE)),
    ("gr00t_system1", "System 1: joint states and tokens in, controller commands out",
     ("gr00t_system1.params", LIFECYCLE)),
    ("gr00t_sim", "The MuJoCo tabletop simulator (the robot of the embodiment's "
     "`simulator:` section)", "gr00t_sim.params"),
    ("gr00t_expert", "The scripted expert commanding the simulator (gr00t_sim.expert_node)",
     "gr00t_sim.expert_params"),
    ("gr00t_record", "gr00t-record: an embodiment's topics into one rosbag2 MCAP bag per "
     "episode", "gr00t_record.params"),
    ("gr00t_baseline", "The synchronous baseline of bench/graph_vs_baseline.py (benchmarks only)",
     "bench/baseline_node.py"),
)

HEADER = f"""# Node parameters

Generated from the nodes' parameter specs; do not edit it by hand. After changing a spec,
regenerate it from the repository root with

    {COMMAND}

(`src/gr00t_common/test/test_params_doc.py` fails while it is out of date).

Pass a parameter as `--ros-args -p name:=value`; `gr00t-bringup run` and the launch file set
those that the embodiment YAML and their own arguments decide (`gr00t_bringup/graph.py`).
`ros2 param describe` shows the same type, description, range and constraints. Read-only
parameters are fixed once the node has started. System 1 and System 2 are lifecycle nodes:
they declare `autostart` at start and the others when they configure (so `ros2 param list`
shows those once configured). A range `[a, b]` includes both ends, `> 0` excludes 0.
"unset: from the embodiment YAML" means the parameter is declared without a value
and the node takes the YAML's; pass it to override. Every node also has rclpy's own
`use_sim_time`; System 1 and System 2 refuse to change it once started (their timers and
stamps keep the clock they started with): pass it at start. A parameter a node does not
have (a misspelt or retired name) is an error naming it and the nearest real one, not
silently ignored as rclpy would; so a parameter file's `/**:` section may hold only
parameters that every node reading it has.
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(specs: Iterable[Spec]) -> str:
    """One Markdown table row per spec, with its header."""
    rows = ["| name | type | default | range / choices | read-only | description |",
            "|---|---|---|---|---|---|"]
    for s in specs:
        rows.append("| " + " | ".join(_cell(c) for c in (
            f"`{s.name}`", s.type_text, s.default_text, s.allowed or "-",
            "yes" if s.read_only else "no", s.description)) + " |")
    return "\n".join(rows) + "\n"


def load_specs(where: str, root: Path) -> tuple[Spec, ...]:
    """`SPECS` of a module name, or of a Python file under `root`."""
    if where.endswith(".py"):
        path = root / where
        spec = importlib.util.spec_from_file_location(f"_params_doc_{path.stem}", path)
        if spec is None or spec.loader is None or not path.is_file():
            raise FileNotFoundError(f"{path} not found; run from the repository root or pass "
                                    "--root")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    else:
        module = importlib.import_module(where)
    return tuple(module.SPECS)


def _source(where: str) -> str:
    return where if where.endswith(".py") else (
        f"src/{where.split('.')[0]}/{where.replace('.', '/')}.py")


def render(root: Path) -> str:
    """The whole of docs/PARAMETERS.md."""
    parts = [HEADER]
    for name, what, where in NODES:
        places = (where,) if isinstance(where, str) else where
        specs = [s for place in places for s in load_specs(place, root)]
        sources = ", ".join(f"`{_source(place)}`" for place in places)
        parts.append(f"## {name}\n\n{what}. Specs: {sources}.\n\n" + markdown_table(specs))
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path,
                    default=Path(os.environ.get("GR00T_ROS_ROOT", ".")),
                    help="the repository root (default: $GR00T_ROS_ROOT, else .)")
    args = ap.parse_args(argv)
    sys.stdout.write(render(args.root))
    return 0


if __name__ == "__main__":
    sys.exit(main())
