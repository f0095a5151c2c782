"""launch/humanoid.launch.py: launch/launch_ros are not installable here, so check it statically.

It must compile, declare its eight arguments each with a description, build its nodes from
gr00t_bringup.graph.build_graph (so it starts exactly what `gr00t-bringup run` starts), and
configure then activate the lifecycle nodes the standard launch_ros way.
"""

from __future__ import annotations

import ast
import py_compile
from pathlib import Path

LAUNCH = Path(__file__).resolve().parents[3] / "launch" / "humanoid.launch.py"
EXPECTED = {"embodiment", "checkpoint", "backend", "sim", "namespace", "use_sim_time"}
# Launch arguments that reach build_graph under another name.
PASSED_AS = {"system1_params": "system1_parameters", "system2_params": "system2_parameters"}


def tree() -> ast.Module:
    return ast.parse(LAUNCH.read_text(), filename=str(LAUNCH))


def calls(mod: ast.Module, name: str) -> list[ast.Call]:
    return [n for n in ast.walk(mod) if isinstance(n, ast.Call)
            and getattr(n.func, "id", getattr(n.func, "attr", None)) == name]


def test_compiles(tmp_path: Path) -> None:
    py_compile.compile(str(LAUNCH), cfile=str(tmp_path / "launch.pyc"), doraise=True)


def test_declares_the_eight_arguments_each_with_a_description() -> None:
    mod = tree()
    (assign,) = [n for n in mod.body if isinstance(n, ast.Assign)
                 and any(getattr(t, "id", None) == "ARGUMENTS" for t in n.targets)]
    arguments = ast.literal_eval(assign.value)
    assert {a[0] for a in arguments} == EXPECTED | set(PASSED_AS)
    for name, default, description in arguments:
        assert isinstance(default, str), name
        assert len(description.split()) >= 4, f"{name} needs a real description"
    (declare,) = calls(mod, "DeclareLaunchArgument")
    assert {k.arg for k in declare.keywords} >= {"default_value", "description"}


def test_nodes_come_from_build_graph_with_every_argument() -> None:
    mod = tree()
    (call,) = calls(mod, "build_graph")
    assert {k.arg for k in call.keywords} == EXPECTED | set(PASSED_AS.values())
    # One set of arguments per node, given to Node or, for lifecycle nodes, LifecycleNode.
    (kwargs,) = [c for c in calls(mod, "dict") if any(k.arg == "package" for k in c.keywords)]
    assert {k.arg for k in kwargs.keywords} >= {"package", "executable", "name", "namespace",
                                                "parameters", "remappings", "additional_env",
                                                "prefix"}
    for cls in ("Node", "LifecycleNode"):
        (node,) = calls(mod, cls)
        assert [k.arg for k in node.keywords] == [None], f"{cls} takes the same **kwargs"
    assert any(isinstance(n, ast.Attribute) and n.attr == "lifecycle" for n in ast.walk(mod)), \
        "the graph's NodeSpec.lifecycle must pick LifecycleNode"
    assert calls(mod, "OpaqueFunction")
    assert any(isinstance(n, ast.FunctionDef) and n.name == "generate_launch_description"
               for n in mod.body)


def test_lifecycle_nodes_are_configured_then_activated_once_configured() -> None:
    mod = tree()
    names = {n.attr for n in ast.walk(mod) if isinstance(n, ast.Attribute)}
    assert {"TRANSITION_CONFIGURE", "TRANSITION_ACTIVATE"} <= names
    assert calls(mod, "ChangeState") and calls(mod, "matches_action")
    handlers = calls(mod, "OnStateTransition")
    keywords = [{k.arg: k.value for k in h.keywords} for h in handlers]
    # Activation follows configuring -> inactive only: a later deactivate (active ->
    # inactive) must not be undone by the launch file.
    activate = [k for k in keywords if isinstance(k.get("goal_state"), ast.Constant)
                and k["goal_state"].value == "inactive"]
    assert activate and all(isinstance(k.get("start_state"), ast.Constant)
                            and k["start_state"].value == "configuring" for k in activate)
    # A failed configure is not ignored: the launch shuts down, as the runner stops.
    assert any(isinstance(k.get("goal_state"), ast.Constant)
               and k["goal_state"].value == "unconfigured" for k in keywords)
    assert calls(mod, "Shutdown")
