"""bench/chunk_mode_table.py reads a row stored in --out only when it was made with the
arguments the table asks for (no gr00t-eval is run here)."""

import argparse
import importlib.util
import json
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[3] / "bench" / "chunk_mode_table.py"


@pytest.fixture
def table(monkeypatch):
    spec = importlib.util.spec_from_file_location("chunk_mode_table", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    def no_run(*args, **kwargs):
        raise AssertionError(f"gr00t-eval was run: {args}")

    monkeypatch.setattr(module.subprocess, "call", no_run)
    return module


def stored(out: Path, name: str, **fields) -> None:
    r = {"episodes": 24, "seed": 100000, "chunk_mode": "rtc", "inference_delay_ms": 200.0,
         "system1_parameters": {"chunk_mode": "rtc", "rtc_method": "blend"},
         "checkpoint": str(tmp_ckpt(out))}
    r.update(fields)
    (out / f"{name}.json").write_text(json.dumps(r))


def tmp_ckpt(out: Path) -> Path:
    return (out / "ckpt").resolve()


def ask(out: Path, **kw) -> argparse.Namespace:
    return argparse.Namespace(**{"episodes": 24, "seed": 100000, "rerun": False,
                                 "checkpoint": str(tmp_ckpt(out)), **kw})


def test_a_stored_row_of_the_same_arguments_is_read(table, tmp_path: Path) -> None:
    stored(tmp_path, "rtc_blend_200")
    r = table.run_row(tmp_path, "rtc_blend", 200, ask(tmp_path))
    assert r is not None and r["seed"] == 100000


@pytest.mark.parametrize("fields, asked, named", [
    ({"episodes": 8}, {}, "episodes 8 (asked: 24)"),
    ({"seed": 100048}, {}, "seed 100048"),
    ({"checkpoint": "/elsewhere/nano"}, {}, "checkpoint '/elsewhere/nano'"),
    ({}, {"episodes": 96}, "episodes 24 (asked: 96)"),
    ({"system1_parameters": {"chunk_mode": "rtc"}}, {}, "rtc_method None (asked: 'blend')"),
    ({"complete": False}, {}, "complete False (asked: True)"),  # a run cut short
    ({}, {"tasks": "either"}, "asked: ['touch the red cube'"),
])
def test_a_stored_row_of_other_arguments_is_not_reported_as_this_one(
        table, tmp_path: Path, capsys, fields, asked, named) -> None:
    stored(tmp_path, "rtc_blend_200", **fields)
    assert table.run_row(tmp_path, "rtc_blend", 200, ask(tmp_path, **asked)) is None
    err = capsys.readouterr().err
    assert named in err and "--rerun" in err


def test_a_row_without_smoothness_figures_is_printed_not_a_crash(table) -> None:
    """A row in which System 1 never planned has no figure at a chunk switch (None in the
    JSON): the table says n/a and goes on to the next row."""
    r = {"overall": {"episodes": 2, "successes_at_end": 0, "success_rate_at_end": 0.0,
                     "successes_any_time": 0, "success_rate_any_time": 0.0},
         "smoothness": {"arms": {"rms_jerk": None, "max_accel_at_switch": None,
                                 "reversals_per_s": 0.0}},
         "rates": {"system1_command_hz": 119.5, "system1_replans_hz": 0.0}}
    assert table.row_line("rtc", 300, r) == (
        "| rtc | 300 | **0/2** (0%) | 0/2 (0%) | n/a | n/a | n/a / n/a | 0.0 | 119.5 | 0.0 |")
    # a stored row of before the 95th percentiles reads as n/a there too; figures print
    r["smoothness"]["arms"].update(p95_accel_at_switch=12.34, p95_accel_elsewhere=5.0)
    assert "| n/a | 12.3 / 5.0 | 0.0 |" in table.row_line("rtc", 300, r)
