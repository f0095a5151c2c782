"""The export cache's key: the weights and the code and versions that export them."""

from __future__ import annotations

import fcntl
import json
import os
import re
import time
from pathlib import Path

import pytest
import torch

import gr00t_policy.export_cache as export_cache
from gr00t_policy.action_head_config import ActionHeadConfig
from gr00t_policy.export import ExportedActionHead
from gr00t_policy.export_backbone import ExportedBackbone
from gr00t_policy.export_cache import ACTION_HEAD_EXPORTERS, cached_export, source_files


@pytest.fixture
def exports(monkeypatch) -> list[Path]:
    """Stands in for export_action_head (a real export takes a minute): writes export.json
    only, and records where."""
    made: list[Path] = []

    def fake(head, out_dir, *, slot, num_steps, num_tokens):
        made.append(Path(out_dir))
        return ExportedActionHead(Path(out_dir) / "conditioning.onnx",
                                  Path(out_dir) / "denoise.onnx", ActionHeadConfig(), slot,
                                  num_steps, num_tokens).write_meta(out_dir)

    monkeypatch.setattr(export_cache, "export_action_head", fake)
    return made


def test_an_export_is_not_reused_by_another_exporter(exports, tmp_path, monkeypatch):
    # Keyed on the checkpoint's content only, a graph exported by other code (or another torch)
    # was reused after an upgrade: 0.44 apart in normalized actions from the torch runner.
    args = dict(slot=0, num_steps=4, num_tokens=64, load_head=lambda: None)
    cached_export(None, "a" * 64, tmp_path, **args)
    cached_export(None, "a" * 64, tmp_path, **args)
    assert len(exports) == 1  # the same weights and exporter: reused
    monkeypatch.setattr(torch, "__version__", "9.9.9")
    cached_export(None, "a" * 64, tmp_path, **args)
    assert len(exports) == 2
    assert len(list((tmp_path / "onnx").iterdir())) == 2


def test_an_export_cut_short_on_disk_names_the_directory_to_delete(exports, tmp_path):
    # A power cut soon after an export can keep the directory and lose its files' contents:
    # every later start then failed with a bare "Expecting value: line 1 column 1 (char 0)".
    args = dict(slot=0, num_steps=4, num_tokens=64, load_head=lambda: None)
    out_dir = cached_export(None, "a" * 64, tmp_path, **args).denoise.parent
    (out_dir / "export.json").write_text("")
    with pytest.raises(ValueError, match=f"unreadable.*delete {re.escape(str(out_dir))}"):
        cached_export(None, "a" * 64, tmp_path, **args)


def test_an_export_is_on_disk_before_it_is_published(exports, tmp_path, monkeypatch):
    # ... which the rename alone does not ensure: the files and the scratch directory are
    # flushed before it, the cache directory after it.
    synced: list[str] = []
    fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        synced.append(Path(os.readlink(f"/proc/self/fd/{fd}")).name)
        fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    args = dict(slot=0, num_steps=4, num_tokens=64, load_head=lambda: None)
    out_dir = cached_export(None, "a" * 64, tmp_path, **args).denoise.parent
    scratch = [i for i, name in enumerate(synced) if name.startswith(out_dir.name + ".tmp")]
    assert scratch and synced.index("export.json") < scratch[0]
    assert synced.index("onnx") > scratch[0]


def test_scratch_directories_of_killed_exports_are_removed(exports, tmp_path):
    # A killed export (an operator stopping a slow first start) left its scratch directory for
    # ever: gigabytes each at full size. One being written (locked by its exporter) stays, and
    # so does one just made (its exporter locks it the moment after).
    onnx = tmp_path / "onnx"
    onnx.mkdir()
    abandoned, busy, young = (onnx / f"{key}-xdeadbeef-slot0-k4-l64.tmp{key}"
                              for key in ("0123", "4567", "89ab"))
    for d in (abandoned, busy, young):
        d.mkdir()
        (d / "denoise.onnx").write_bytes(b"half a graph")
    an_hour_ago = time.time() - 3600
    for d in (abandoned, busy):
        os.utime(d, (an_hour_ago, an_hour_ago))
    fd = os.open(busy, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        cached_export(None, "a" * 64, tmp_path, slot=0, num_steps=4, num_tokens=64,
                      load_head=lambda: None)
    finally:
        os.close(fd)
    assert not abandoned.exists()
    assert busy.exists() and young.exists()
    assert len(exports) == 1 and not exports[0].exists()  # its own scratch renamed in place


def test_the_exporter_id_covers_the_source_of_the_exported_modules(tmp_path, monkeypatch):
    # The reviewer changed flow_matching.time_bucket: the graph changed, the key did not.
    names = {p.name for p in source_files(ACTION_HEAD_EXPORTERS)}
    assert {"action_head.py", "flow_matching.py", "export.py", "export_guided.py",
            "export_prefix.py"} <= names
    # Transitive module-level imports, not a function's lazy ones; edits change the id.
    pkg = tmp_path / "fakepkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "graph.py").write_text("from fakepkg.blocks import Block\n")
    (pkg / "blocks.py").write_text("import fakepkg.maths\nclass Block: pass\n")
    (pkg / "maths.py").write_text("BUCKETS = 1000\n")
    (pkg / "wiring.py").write_text("def run():\n    import fakepkg.unrelated\n")
    (pkg / "unrelated.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert [p.name for p in source_files(["fakepkg.graph"])] == [
        "blocks.py", "graph.py", "maths.py"]
    assert [p.name for p in source_files(["fakepkg.wiring"])] == ["wiring.py"]
    before = export_cache.exporter_id("f/1", ["fakepkg.graph"])
    (pkg / "maths.py").write_text("BUCKETS = 10\n")
    assert export_cache.exporter_id("f/1", ["fakepkg.graph"]) != before
    assert export_cache.exporter_id("f/2", ["fakepkg.graph"]) != \
        export_cache.exporter_id("f/1", ["fakepkg.graph"])


@pytest.mark.parametrize("kind", ["action_head", "backbone"])
def test_an_export_json_of_another_format_is_refused(tmp_path, kind):
    cls = ExportedActionHead if kind == "action_head" else ExportedBackbone
    (tmp_path / "backbone.onnx").write_bytes(b"")
    (tmp_path / "export.json").write_text(json.dumps({"format": f"gr00t_ros/{kind}_onnx/0"}))
    with pytest.raises(ValueError, match=rf"export\.json: format 'gr00t_ros/{kind}_onnx/0' is "
                                         rf"not .*Fix: delete"):
        cls.load(tmp_path)
