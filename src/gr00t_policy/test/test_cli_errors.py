"""The tools' error lines: ours one line, a library's with the traceback that locates it."""

from __future__ import annotations

import types

import numpy as np
import pytest

from gr00t_policy.cli_errors import describe, raised_here
from gr00t_policy.dataset.cli import main as dataset_main
from gr00t_policy.dataset.layout import DatasetError, read_json


def _caught(fn):
    try:
        fn()
    except (ValueError, OSError) as exc:
        return exc
    raise AssertionError("nothing raised")


def _as_ours(fn):
    """``fn`` as if defined in a module of gr00t_policy."""
    return types.FunctionType(fn.__code__, {**fn.__globals__, "__name__": "gr00t_policy.x",
                                            "__spec__": None})


def _broadcast():
    return np.zeros(3) + np.zeros(4)


def _open(path):
    return open(path)


def test_our_errors_are_one_line_a_librarys_keeps_its_traceback(tmp_path):
    (tmp_path / "info.json").write_text("{")
    ours = _caught(lambda: read_json(tmp_path / "info.json"))  # a raise in gr00t_policy
    assert isinstance(ours, DatasetError) and raised_here(ours)
    assert describe(ours, "tool: ") == f"tool: {ours}" and "\n" not in describe(ours)
    for fn in (_broadcast, _as_ours(_broadcast)):  # numpy raised it, even called from ours
        theirs = _caught(fn)
        assert not raised_here(theirs)
        text = describe(theirs, "tool: ")
        assert text.startswith("Traceback (most recent call last):")
        assert "in _broadcast" in text and text.endswith(f"\ntool: {theirs}")
    missing = _caught(lambda: _as_ours(_open)(tmp_path / "nope"))  # a file ours opens
    assert raised_here(missing) and describe(missing) == str(missing)
    assert str(tmp_path / "nope") in str(missing)
    assert not raised_here(_caught(lambda: _open(tmp_path / "nope")))  # not in our code


def test_a_tool_prints_a_librarys_error_with_its_traceback(tmp_path, monkeypatch, capsys):
    from gr00t_policy.dataset import cli

    def broken(args):
        return np.zeros(3) + np.zeros(4)

    monkeypatch.setattr(cli, "_info", broken)
    with pytest.raises(SystemExit) as stop:
        dataset_main(["info", str(tmp_path)])
    message = str(stop.value.code)
    assert "Traceback" in message and "in broken" in message
    assert message.splitlines()[-1].startswith("gr00t-dataset info: operands could not be")
    with pytest.raises(SystemExit) as stop:  # ours: the line alone
        monkeypatch.undo()
        dataset_main(["info", str(tmp_path)])
    assert "Traceback" not in str(stop.value.code) and "info.json" in str(stop.value.code)
