"""docs/EMBODIMENT.md, the key reference, generated from the schema.

    python -m gr00t_policy.embodiment.reference > docs/EMBODIMENT.md

One table per YAML mapping (the top level, then depth first each nested model the first
time it is reached), one row per key: type, default, allowed values and description, all
read from the pydantic models, so the reference cannot drift from what the parser accepts.
A test compares the committed file with :func:`render`.
"""

from __future__ import annotations

import inspect

import sys
import types
from collections import abc
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from gr00t_policy.embodiment import validate
from gr00t_policy.embodiment.config import EmbodimentConfig
from gr00t_policy.embodiment.errors import REFERENCE_DOC
from gr00t_policy.embodiment.schema import PATTERN_RULES, yaml_keys

DOC_PATH = REFERENCE_DOC
COMMAND = f"python -m gr00t_policy.embodiment.reference > {DOC_PATH}"


def _parts(tp: Any) -> tuple[Any, list[Any]]:
    """The bare type and the metadata of its ``Annotated`` layers."""
    meta: list[Any] = []
    while hasattr(tp, "__metadata__"):
        meta.extend(tp.__metadata__)
        tp = tp.__origin__
    return tp, meta


def _constraints(meta: list[Any]) -> dict[str, Any]:
    """The constraints among ``meta``: pattern, min_length, ge, le, gt, allow_inf_nan."""
    flat: list[Any] = []
    for m in meta:  # Field(...) inside Annotated keeps its constraints in its own metadata
        flat.extend(m.metadata if isinstance(m, FieldInfo) else [m])
    out: dict[str, Any] = {}
    for m in flat:
        for name in ("pattern", "min_length", "ge", "le", "gt", "allow_inf_nan"):
            if getattr(m, name, None) is not None:
                out[name] = getattr(m, name)
    return out


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


class _Table:
    """The rows of one model's table and the nested models its keys lead to (by key path)."""

    def __init__(self) -> None:
        self.children: dict[type[BaseModel], list[str]] = {}

    def type_text(self, tp: Any, path: str, field_meta: list[Any] | None = None
                  ) -> tuple[str, list[str]]:
        """(type in words, allowed values) for a value of type ``tp`` at key path ``path``;
        ``field_meta`` are the constraints pydantic moved from the field's type to the field."""
        tp, meta = _parts(tp)
        c = _constraints(meta + list(field_meta or ()))
        allowed: list[str] = []
        if c.get("pattern"):
            allowed.append(PATTERN_RULES.get(c["pattern"], f"pattern `{c['pattern']}`"))
        if "ge" in c or "le" in c:
            allowed.append(f"{c.get('ge', '')}..{c.get('le', '')}")
        if "gt" in c:
            allowed.append(f"> {c['gt']:g}")
        if c.get("allow_inf_nan") is False:
            allowed.append("finite")
        origin, args = get_origin(tp), get_args(tp)
        if origin in (Union, types.UnionType) and type(None) in args:
            inner, inner_allowed = self.type_text(
                next(a for a in args if a is not type(None)), path, field_meta)
            return f"{inner} or `null`", allowed + inner_allowed
        if _is_model(tp):
            self.children.setdefault(tp, []).append(path)
            return f"mapping (`{path}` below)", allowed
        if origin is Literal:
            return "string", [", ".join(f"`{a}`" for a in args)]
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            item, item_allowed = self.type_text(args[0], path + "[]")
            if c.get("min_length"):
                allowed.append(f"at least {c['min_length']} entry")
            return f"list; each entry: {item}", allowed + item_allowed
        if origin is tuple:
            items = [self.type_text(a, path) for a in args]
            return f"[{', '.join(t for t, _ in items)}]", allowed + items[0][1]
        if origin in (dict, abc.Mapping):
            key_t, key_allowed = self.type_text(args[0], path)
            value_t, value_allowed = self.type_text(args[1], path + ".<name>")
            if c.get("min_length"):
                allowed.append(f"at least {c['min_length']} entry")
            if key_t == "any" and value_t == "any":
                return "mapping", allowed
            keys = f" ({'; '.join(key_allowed)})" if key_allowed else ""
            return f"mapping from {key_t}{keys} to {value_t}", allowed + value_allowed
        if tp is Any:
            return "any", allowed
        word = {str: "string", int: "integer", float: "number", bool: "`true` or `false`"}
        if c.get("min_length") and tp is str:
            allowed.insert(0, "non-empty")
        return word.get(tp, getattr(tp, "__name__", str(tp))), allowed

    def rows(self, model: type[BaseModel], prefix: str) -> list[str]:
        lines = ["| key | type | required / default | allowed values | description |",
                 "|---|---|---|---|---|"]
        for name, field in yaml_keys(model).items():
            type_text, allowed = self.type_text(field.annotation, prefix + name, field.metadata)
            extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
            if "choices_doc" in extra:
                allowed = [extra["choices_doc"]]
            lines.append("| " + " | ".join(_cell(x) for x in (
                f"`{name}`", type_text, _default(field), "; ".join(allowed),
                field.description or "")) + " |")
        return lines


def _default(field: FieldInfo) -> str:
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    if "default_doc" in extra:
        return f"optional, default {extra['default_doc']}"
    if field.default is PydanticUndefined and field.default_factory is None:
        return "required"
    value = field.default
    if value is None:
        return "optional, default `null`"
    if isinstance(value, bool):
        return f"optional, default `{str(value).lower()}`"
    return f"optional, default `{value}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _first_paragraph(doc: str) -> str:
    """A docstring's first paragraph on one line (a summary may wrap)."""
    paragraph = inspect.cleandoc(doc).split("\n\n")[0]
    return " ".join(line.strip() for line in paragraph.splitlines())


def _tables(model: type[BaseModel], paths: list[str], seen: set[type[BaseModel]]) -> list[str]:
    """This model's table, then (depth first) those of the models its keys lead to."""
    table = _Table()
    if paths:
        title = ", ".join(f"`{p}`" for p in paths)
        lines = [f"## {title}", "", _first_paragraph(model.__doc__ or ""), ""]
        rows = table.rows(model, paths[0] + ".")
    else:
        lines = ["## Top level", ""]
        rows = table.rows(model, "")
    lines += rows + [""]
    for child, child_paths in table.children.items():
        if child not in seen:
            seen.add(child)
            lines += _tables(child, child_paths, seen)
    return lines


def render() -> str:
    """The text of docs/EMBODIMENT.md."""
    out = [
        "# Embodiment YAML: every key",
        "",
        f"<!-- Generated from the schema in src/gr00t_policy/gr00t_policy/embodiment/; do not "
        f"edit by hand. Regenerate with: {COMMAND} -->",
        "",
        "One file `config/<name>.yaml` describes one robot; `gr00t-bringup check "
        "config/<name>.yaml` validates it and names the key path, line, bad value and fix of "
        "every problem, all at once. The shipped `config/unitree_g1.yaml` and "
        "`config/fourier_gr1.yaml` are worked examples whose comments say where their values "
        "come from. In key paths, `<name>` stands for a mapping key you choose and `[]` for "
        "any entry of a list.",
        "",
    ]
    out += _tables(EmbodimentConfig, [], {EmbodimentConfig})
    out += ["## Checks across keys", ""] + [f"- {check}" for check in validate.CHECKS] + [""]
    return "\n".join(out)


def main() -> int:
    sys.stdout.write(render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
