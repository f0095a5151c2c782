"""docs/PARAMETERS.md is generated from the nodes' specs: the committed file must be current."""

from __future__ import annotations

from pathlib import Path

from gr00t_common.params import Spec
from gr00t_common.params_doc import COMMAND, NODES, markdown_table, render

REPO = Path(__file__).resolve().parents[3]
DOC = REPO / "docs" / "PARAMETERS.md"


def test_committed_doc_is_current():
    expected = render(REPO)
    committed = DOC.read_text() if DOC.is_file() else ""
    assert committed == expected, (
        f"{DOC.relative_to(REPO)} is out of date with the parameter specs; regenerate it from "
        f"the repository root with `{COMMAND}` and commit it")


def test_every_node_has_a_table_with_every_parameter():
    doc = render(REPO)
    for name, _, _ in NODES:
        assert f"\n## {name}\n" in doc
    for needle in ("| `control_rate_hz` | double | unset: from the embodiment YAML | in [1, 2000] |",
                   "| `device` | string | `cpu` | cpu, cuda or cuda:N (N: a GPU index) | yes |",
                   "| `joint_state_decimation` | integer | `4` | >= 1 | yes |"):
        assert needle in doc


def test_table_escapes_pipes():
    table = markdown_table([Spec("mode", "string", "a", "a | b", choices=("a", "b"))])
    assert table.splitlines()[-1] == "| `mode` | string | `a` | one of a, b | yes | a \\| b |"
