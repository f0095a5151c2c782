"""The gr00t-policy CLI: info, make-random-checkpoint, export-onnx."""

from __future__ import annotations

import json
import re

import pytest
import torch

from gr00t_policy import cli

torch.set_num_threads(1)


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_info_full_preset_table(capsys):
    code, out, _ = _run(capsys, "info", "--preset", "gr00t-n1-2b")
    assert code == 0
    assert re.search(r"DiT\s+537,803,776", out)
    assert re.search(r"backbone total\s+1,335,279,856", out)
    total = int(re.search(r"\n\s+total\s+([\d,]+)", out).group(1).replace(",", ""))
    assert 2.15e9 <= total <= 2.25e9
    assert "tokens: 128 x 1536" in out


def test_info_json(capsys):
    code, out, _ = _run(capsys, "info", "--preset", "gr00t-n1-2b", "--json")
    assert code == 0
    report = json.loads(out)
    p = report["parameters"]
    assert p["dit"] == 537_803_776
    assert 2.15e9 <= p["total"] <= 2.25e9
    assert p["total"] == p["backbone_total"] + p["action_head_total"]
    assert p["vision"] + p["projector"] + p["language_model"] + p["backbone_linear"] == p["backbone_total"]


def test_info_unknown_preset_suggests(capsys):
    code, _, err = _run(capsys, "info", "--preset", "nanoo")
    assert code == 2
    assert "did you mean 'nano'" in err


def test_info_needs_a_source(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["info"])
    assert exc.value.code == 2


def test_random_checkpoint_then_info(capsys, tmp_path):
    code, out, _ = _run(capsys, "make-random-checkpoint", str(tmp_path / "ck"), "--seed", "3")
    assert code == 0
    stored = json.loads((tmp_path / "ck" / "config.json").read_text())
    assert stored["backbone_id"] in out
    code, out, _ = _run(capsys, "info", "--checkpoint", str(tmp_path / "ck"), "--json")
    assert code == 0
    report = json.loads(out)
    assert report["backbone_id"] == stored["backbone_id"]
    assert report["embodiments"]["unitree_g1"]["state_dim"] == 31
    assert report["parameters"]["total"] == 7_952_576
    assert report["tokens"] == {"max_tokens": 64, "dim": 128, "image_tokens_per_view": 16,
                                "num_views": 1}


def test_info_prints_the_slot_count(capsys, tmp_path):
    # README: a fine-tune's slot must be below the checkpoint's slot count, read from `info`.
    code, _, _ = _run(capsys, "make-random-checkpoint", str(tmp_path / "ck"), "--seed", "3")
    assert code == 0
    stored = json.loads((tmp_path / "ck" / "config.json").read_text())
    code, out, _ = _run(capsys, "info", "--checkpoint", str(tmp_path / "ck"))
    assert code == 0
    assert f"embodiment slots: {stored['action_head']['num_embodiments']}\n" in out


def test_info_not_a_checkpoint(capsys, tmp_path):
    code, _, err = _run(capsys, "info", "--checkpoint", str(tmp_path))
    assert code == 2 and "no config.json" in err


@pytest.mark.slow
def test_export_onnx_reports_parity(capsys, tmp_path):
    assert _run(capsys, "make-random-checkpoint", str(tmp_path / "ck"))[0] == 0
    code, out, err = _run(capsys, "export-onnx", str(tmp_path / "ck"), str(tmp_path / "onnx"),
                          "--steps", "2")
    assert code == 0, err
    diff = float(re.search(r"parity max abs difference vs torch: (\S+)", out).group(1))
    assert diff < 1e-4
    assert (tmp_path / "onnx" / "conditioning.onnx").is_file()
    assert (tmp_path / "onnx" / "denoise.onnx").is_file()
    meta = json.loads((tmp_path / "onnx" / "export.json").read_text())
    assert meta["num_steps"] == 2 and meta["num_tokens"] == 64 and meta["slot"] == 0
