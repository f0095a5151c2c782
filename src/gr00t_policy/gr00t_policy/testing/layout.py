"""The official GR00T-N1-2B layout fixture, instantiated at any size.

The fixture (``data/gr00t_n1_2b_layout.json``) lists every tensor of the official
checkpoint as a key pattern and a shape over named sizes (``vision_hidden_size``,
``dit_inner_dim``, ...), with the Isaac-GR00T source of each fact. It was written from the
public source, not from our model, so comparing it with `gr00t_policy.official` is not
circular.

    layout = load_layout()
    sizes = resolve_sizes(layout)                     # the published sizes
    sizes = resolve_sizes(layout, TINY_SIZES)         # a tiny model in the same layout
    shapes = layout_shapes(layout, sizes)             # {key: shape}
"""

from __future__ import annotations

import ast
import json
import operator
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

LAYOUT_FILE = Path(__file__).resolve().parent / "data" / "gr00t_n1_2b_layout.json"

# A model small enough to write, convert and run on a CPU in a few seconds, in the official
# layout's own size names. Derived sizes (patches, head widths, ...) follow from these.
TINY_SIZES: dict[str, int] = {
    "vision_hidden_size": 32,
    "vision_intermediate_size": 64,
    "vision_num_layers": 2,
    "vision_num_heads": 2,
    "vision_patch_size": 14,
    "image_size": 56,
    "llm_hidden_size": 64,
    "llm_intermediate_size": 128,
    "llm_num_attention_heads": 4,
    "llm_num_key_value_heads": 2,
    "llm_num_hidden_layers": 4,
    "vocab_size": 512,
    "select_layer": 2,
    "backbone_output_dim": 32,
    "dit_num_attention_heads": 2,
    "dit_attention_head_dim": 16,
    "dit_num_layers": 2,
    "dit_output_dim": 48,
    "timestep_channels": 256,
    "input_embedding_dim": 32,
    "hidden_size": 48,
    "max_state_dim": 40,
    "action_dim": 32,
    "action_horizon": 4,
    "max_num_embodiments": 32,
    "max_seq_len": 32,
}

_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.FloorDiv: operator.floordiv}


def evaluate(expr: str | int, names: Mapping[str, int]) -> int:
    """An integer expression of the fixture: ints, size names, + - * // and parentheses."""
    if isinstance(expr, int):
        return expr

    def walk(node: ast.AST) -> int:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.Name):
            if node.id not in names:
                raise KeyError(f"layout expression {expr!r} names unknown size {node.id!r}")
            return names[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            return _BINARY[type(node.op)](walk(node.left), walk(node.right))
        raise ValueError(f"layout expression {expr!r}: {ast.dump(node)} is not allowed")

    return int(walk(ast.parse(str(expr), mode="eval")))


@lru_cache(maxsize=1)
def _read(path: str) -> str:
    return Path(path).read_text()


def load_layout(path: str | Path = LAYOUT_FILE) -> dict[str, Any]:
    """The fixture as a dict (a fresh copy each call)."""
    return json.loads(_read(str(path)))


def resolve_sizes(layout: Mapping[str, Any], overrides: Mapping[str, int] | None = None
                  ) -> dict[str, int]:
    """Every named size: the fixture's value (or ``overrides``'), derived ones evaluated.

    Raises ValueError naming a size of ``overrides`` the fixture does not define, or one
    that is derived (set its inputs instead), and naming a violated constraint.
    """
    specs = layout["sizes"]
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(specs))
    if unknown:
        raise ValueError(f"unknown layout size(s) {unknown}; known: {sorted(specs)}")
    derived = sorted(k for k in overrides if "expr" in specs[k])
    if derived:
        raise ValueError(f"layout size(s) {derived} are derived; set their inputs instead")
    sizes: dict[str, int] = {}
    pending = dict(specs)
    while pending:
        progressed = False
        for name, spec in list(pending.items()):
            if "value" in spec:
                sizes[name] = int(overrides.get(name, spec["value"]))
            else:
                try:
                    sizes[name] = evaluate(spec["expr"], sizes)
                except KeyError:
                    continue
            del pending[name]
            progressed = True
        if not progressed:
            raise ValueError(f"layout sizes {sorted(pending)} depend on each other in a cycle")
    for rule in layout.get("constraints", []):
        values = {n: sizes[n] for n in rule["equal"]}
        if len(set(values.values())) != 1:
            raise ValueError(f"layout sizes must be equal ({rule['where']}): {values}")
    return sizes


def layout_shapes(layout: Mapping[str, Any], sizes: Mapping[str, int]) -> dict[str, tuple[int, ...]]:
    """{key: shape} of every tensor of the fixture at ``sizes`` (see `resolve_sizes`)."""
    shapes: dict[str, tuple[int, ...]] = {}
    for entry in layout["tensors"]:
        shape = tuple(evaluate(d, sizes) for d in entry["shape"])
        loops = entry.get("for", {})
        if not loops:
            shapes[entry["key"]] = shape
            continue
        (var, count_name), = loops.items()
        for i in range(sizes[count_name]):
            shapes[entry["key"].replace("{" + var + "}", str(i))] = shape
    return shapes
