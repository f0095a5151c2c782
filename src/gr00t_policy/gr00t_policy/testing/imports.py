"""Which modules a source file imports, read statically (ast): the check behind the
package-boundary tests (gr00t_policy imports no ROS, System 1 and System 2 never import
each other, bringup imports no simulator)."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path


def imported_modules(path: Path) -> set[str]:
    """Top-level names of every module `path` imports: import statements anywhere in the
    file, and importlib.import_module / __import__ calls with a literal name."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif (isinstance(node, ast.Call)
              and getattr(node.func, "id", getattr(node.func, "attr", None))
              in ("import_module", "__import__")
              and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)):
            names.add(node.args[0].value)
    return {n.split(".")[0] for n in names}


def offenders(files: Iterable[Path], forbidden: Iterable[str], root: Path) -> dict[str, list[str]]:
    """{file relative to root: sorted forbidden top-level modules it imports}, files that
    import none left out. A forbidden name ending in "*" matches by prefix."""
    exact = {f for f in forbidden if not f.endswith("*")}
    prefixes = tuple(f[:-1] for f in forbidden if f.endswith("*"))
    out = {}
    for f in files:
        bad = sorted(m for m in imported_modules(f) if m in exact or (prefixes and m.startswith(prefixes)))
        if bad:
            out[str(Path(f).relative_to(root))] = bad
    return out
