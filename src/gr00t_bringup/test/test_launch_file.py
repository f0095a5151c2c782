"""launch/humanoid.launch.py: launch/launch_ros are not installable here, so check it statically.

It must compile, declare the six arguments each with a description, and build its nodes from
gr00t_bringup.graph.build_graph (so it starts exactly what `gr00t-bringup run` starts).
"""

from __future__ import annotations

import ast
import py_compile
from pathlib import Path

LAUNCH = Path(__file__).resolve().parents[3] / "launch" / "humanoid.launch.py"
EXPECTED = {"embodiment", "checkpoint", "backend", "sim", "namespace", "use_sim_time"}


def tree() -> ast.Module:
    return ast.parse(LAUNCH.read_text(), filename=str(LAUNCH))


def calls(mod: ast.Module, name: str) -> list[ast.Call]:
    return [n for n in ast.walk(mod) if isinstance(n, ast.Call)
            and getattr(n.func, "id", getattr(n.func, "attr", None)) == name]


def test_compiles(tmp_path: Path) -> None:
    py_compile.compile(str(LAUNCH), cfile=str(tmp_path / "launch.pyc"), doraise=True)


def test_declares_the_six_arguments_each_with_a_description() -> None:
    mod = tree()
    (assign,) = [n for n in mod.body if isinstance(n, ast.Assign)
                 and any(getattr(t, "id", None) == "ARGUMENTS" for t in n.targets)]
    arguments = ast.literal_eval(assign.value)
    assert {a[0] for a in arguments} == EXPECTED
    for name, default, description in arguments:
        assert isinstance(default, str), name
        assert len(description.split()) >= 4, f"{name} needs a real description"
    (declare,) = calls(mod, "DeclareLaunchArgument")
    assert {k.arg for k in declare.keywords} >= {"default_value", "description"}


def test_nodes_come_from_build_graph_with_every_argument() -> None:
    mod = tree()
    (call,) = calls(mod, "build_graph")
    assert {k.arg for k in call.keywords} == EXPECTED
    (node,) = calls(mod, "Node")
    assert {k.arg for k in node.keywords} >= {"package", "executable", "name", "namespace",
                                              "parameters", "remappings", "additional_env",
                                              "prefix"}
    assert calls(mod, "OpaqueFunction")
    assert any(isinstance(n, ast.FunctionDef) and n.name == "generate_launch_description"
               for n in mod.body)
