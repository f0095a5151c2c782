"""LeRobot v2 writer / reader: values round-trip, meta files are consistent, errors name the fix.

Videos: the default codec (h264-lossless, libx264rgb qp 0) must decode bit-exactly; the lossy
``h264`` (yuv420p) codec within a small mean error on smooth frames.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from gr00t_policy.dataset import (
    ACTION,
    STATE,
    DatasetError,
    LeRobotDataset,
    LeRobotWriter,
    read_video,
    write_video,
)

STATE_KEYS = [("waist", ["w0", "w1"]), ("arm", ["a0", "a1", "a2"])]
ACTION_KEYS = [("arm", ["a0", "a1", "a2"])]
SIZE = (24, 32)  # (H, W)


def _frames(rng: np.random.Generator, length: int) -> np.ndarray:
    """Smooth moving gradients plus noise: (T, H, W, 3) uint8."""
    h, w = SIZE
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 6, yy * 8, (xx + yy) * 3], axis=-1).astype(np.float64)
    out = [base + 5 * t + rng.normal(0, 3, base.shape) for t in range(length)]
    return np.clip(out, 0, 255).astype(np.uint8)


def _episodes(n: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    eps = []
    for i in range(n):
        length = int(rng.integers(3, 9))
        eps.append({
            "states": rng.normal(size=(length, 5)).astype(np.float32),
            "actions": rng.normal(size=(length, 3)).astype(np.float32),
            "frames": {"head": _frames(rng, length)},
            "task": ["raise your left hand", "touch the red cube with your right hand"][i % 2],
        })
    return eps


def _write(root, eps, **kw) -> None:
    with LeRobotWriter(root, fps=20, state_keys=STATE_KEYS, action_keys=ACTION_KEYS,
                       cameras=["head"], image_shape=SIZE, **kw) as w:
        for ep in eps:
            w.add_episode(ep["states"], ep["actions"], ep["frames"], ep["task"])


def test_round_trip_values_and_frames(tmp_path):
    eps = _episodes(3)
    _write(tmp_path / "ds", eps)
    ds = LeRobotDataset(tmp_path / "ds")
    assert ds.num_episodes == 3
    for i, ep in enumerate(eps):
        back = ds.episode(i)
        np.testing.assert_array_equal(back.states, ep["states"])
        np.testing.assert_array_equal(back.actions, ep["actions"])
        np.testing.assert_array_equal(back.frames["head"], ep["frames"]["head"])  # lossless
        assert back.task == ep["task"]
        np.testing.assert_allclose(back.timestamps, np.arange(len(ep["states"])) / 20.0, atol=1e-6)


def test_meta_files_consistent(tmp_path):
    eps = _episodes(4)
    root = tmp_path / "ds"
    _write(root, eps, chunks_size=3)
    info = json.loads((root / "meta" / "info.json").read_text())
    lengths = [len(e["states"]) for e in eps]
    assert info["codebase_version"] == "v2.0"
    assert info["total_episodes"] == 4 and info["total_frames"] == sum(lengths)
    assert info["total_tasks"] == 2 and info["total_videos"] == 4 and info["total_chunks"] == 2
    assert info["fps"] == 20 and info["splits"] == {"train": "0:4"}
    assert info["features"][STATE]["shape"] == [5]
    assert info["features"][STATE]["names"] == ["w0", "w1", "a0", "a1", "a2"]
    assert info["features"]["observation.images.head"]["shape"] == [24, 32, 3]
    # episode 3 lands in chunk 1
    assert (root / "data/chunk-001/episode_000003.parquet").is_file()
    assert (root / "videos/chunk-001/observation.images.head/episode_000003.mp4").is_file()

    episodes = [json.loads(x) for x in (root / "meta/episodes.jsonl").read_text().splitlines()]
    assert [e["length"] for e in episodes] == lengths
    assert [e["episode_index"] for e in episodes] == [0, 1, 2, 3]
    tasks = [json.loads(x) for x in (root / "meta/tasks.jsonl").read_text().splitlines()]
    assert tasks == [{"task_index": 0, "task": eps[0]["task"]}, {"task_index": 1, "task": eps[1]["task"]}]

    modality = json.loads((root / "meta/modality.json").read_text())
    assert modality["state"] == {"waist": {"start": 0, "end": 2}, "arm": {"start": 2, "end": 5}}
    assert modality["action"] == {"arm": {"start": 0, "end": 3}}
    assert modality["video"] == {"head": {"original_key": "observation.images.head"}}
    assert "human.action.task_description" in modality["annotation"]

    # global index runs over episodes; task columns match tasks.jsonl
    table = pq.read_table(root / "data/chunk-000/episode_000002.parquet").to_pydict()
    start = sum(lengths[:2])
    assert table["index"] == list(range(start, start + lengths[2]))
    assert table["episode_index"] == [2] * lengths[2]
    assert table["task_index"] == [0] * lengths[2]
    assert table["annotation.human.action.task_description"] == [0] * lengths[2]

    stats = json.loads((root / "meta/stats.json").read_text())
    all_states = np.concatenate([e["states"] for e in eps]).astype(np.float64)
    np.testing.assert_allclose(stats[STATE]["mean"], all_states.mean(0), rtol=1e-6)
    np.testing.assert_allclose(stats[STATE]["max"], all_states.max(0), rtol=1e-6)
    np.testing.assert_allclose(stats[ACTION]["q99"],
                               np.quantile(np.concatenate([e["actions"] for e in eps]), 0.99, axis=0),
                               rtol=1e-6)
    assert LeRobotDataset(root).key_ranges("state") == [("waist", 0, 2), ("arm", 2, 5)]


def test_append_continues_indices_and_stats(tmp_path):
    eps = _episodes(3, seed=1)
    root = tmp_path / "ds"
    _write(root, eps[:2])
    _write(root, eps[2:], append=True)
    ds = LeRobotDataset(root)
    assert ds.num_episodes == 3
    np.testing.assert_array_equal(ds.episode(2, load_video=False).states, eps[2]["states"])
    table = pq.read_table(root / "data/chunk-000/episode_000002.parquet").to_pydict()
    assert table["index"][0] == len(eps[0]["states"]) + len(eps[1]["states"])
    stats = json.loads((root / "meta/stats.json").read_text())
    assert stats[STATE]["min"] == pytest.approx(
        np.concatenate([e["states"] for e in eps]).min(0).tolist(), rel=1e-6)
    with pytest.raises(DatasetError, match="append=True"):
        _write(root, eps[:1])


def test_overwrite_replaces_the_old_dataset_only_when_the_new_one_is_complete(tmp_path):
    root = tmp_path / "ds"
    old, new = _episodes(3, seed=2), _episodes(2, seed=3)
    _write(root, old)
    # Fails at the second episode (wrong frame size): the old dataset is untouched.
    broken = [new[0], {**new[1], "frames": {"head": new[1]["frames"]["head"][:, :10]}}]
    with pytest.raises(DatasetError, match="frames"):
        _write(root, broken, overwrite=True)
    ds = LeRobotDataset(root)
    assert ds.num_episodes == 3
    np.testing.assert_array_equal(ds.episode(2).states, old[2]["states"])
    np.testing.assert_array_equal(ds.episode(2).frames["head"], old[2]["frames"]["head"])
    assert sorted(p.name for p in root.iterdir()) == ["data", "meta", "videos"]
    # A failure in the middle of the swap (after the old folders moved aside): put back.
    real_rename, calls = Path.rename, []

    def rename_failing_once_new_data_moves(self, target):
        calls.append(self.name)
        if self.parent.name == ".partial" and self.name == "data":
            raise OSError(28, "No space left on device")
        return real_rename(self, target)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Path, "rename", rename_failing_once_new_data_moves)
        with pytest.raises(OSError, match="No space"):
            _write(root, new, overwrite=True)
    # The swap had begun: the old folders aside, the new videos in, then the new data failed.
    assert calls[:5] == ["meta", "data", "videos", "videos", "data"]
    ds = LeRobotDataset(root)
    assert ds.num_episodes == 3
    np.testing.assert_array_equal(ds.episode(2).frames["head"], old[2]["frames"]["head"])
    assert sorted(p.name for p in root.iterdir()) == ["data", "meta", "videos"]
    _write(root, new, overwrite=True)
    ds = LeRobotDataset(root)
    assert ds.num_episodes == 2
    np.testing.assert_array_equal(ds.episode(1).frames["head"], new[1]["frames"]["head"])
    assert not (root / "data/chunk-000/episode_000002.parquet").exists()
    assert sorted(p.name for p in root.iterdir()) == ["data", "meta", "videos"]


def test_lossy_codec_close(tmp_path):
    h, w = 32, 32
    yy, xx = np.mgrid[0:h, 0:w]
    frames = np.stack([np.stack([xx * 4 + t, yy * 4, 128 + 0 * xx], -1) for t in range(6)]).astype(np.uint8)
    path = tmp_path / "v.mp4"
    write_video(path, frames, 20, codec="h264")
    back = read_video(path)
    assert back.shape == frames.shape
    err = np.abs(back.astype(np.int16) - frames.astype(np.int16))
    assert err.mean() < 3.0, err.mean()


def _no_header(*args, **kwargs):
    """imageio_ffmpeg.read_frames as when ffmpeg printed no header in time."""
    raise OSError("Could not load meta information\n=== stderr ===\n")
    yield


def test_read_video_retries_a_header_timeout_and_names_an_unreadable_file(tmp_path, monkeypatch):
    import imageio_ffmpeg

    from gr00t_policy.dataset import video

    frames = np.zeros((3, 16, 16, 3), np.uint8)
    path = tmp_path / "v.mp4"
    write_video(path, frames, 20)
    real = imageio_ffmpeg.read_frames
    calls = []

    def stalled_once(*args, **kwargs):  # the first read times out, as on a stalled machine
        calls.append(args[0])
        return (_no_header if len(calls) == 1 else real)(*args, **kwargs)

    monkeypatch.setattr(video, "HEADER_WAIT_S", 0.0)  # every failure reads as the timeout
    monkeypatch.setattr(imageio_ffmpeg, "read_frames", stalled_once)
    assert read_video(path).shape == frames.shape
    assert calls == [str(path)] * 2
    # A read that times out every time is reported after READ_ATTEMPTS tries.
    calls.clear()
    monkeypatch.setattr(imageio_ffmpeg, "read_frames",
                        lambda *a, **k: (calls.append(a[0]), _no_header())[1])
    with pytest.raises(DatasetError, match="no stream header within 10 s in 3 attempts"):
        read_video(path)
    assert len(calls) == video.READ_ATTEMPTS == 3
    monkeypatch.undo()
    # An unreadable file fails at once (no 10-s wait: not retried), with ffmpeg's own words.
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video" * 100)
    with pytest.raises(DatasetError, match="bad.mp4: ffmpeg could not read it .*[Ii]nvalid data"):
        read_video(bad)


def test_bad_inputs_raise_named_errors(tmp_path):
    ep = _episodes(1)[0]
    w = LeRobotWriter(tmp_path / "ds", fps=20, state_keys=STATE_KEYS, action_keys=ACTION_KEYS,
                      cameras=["head"], image_shape=SIZE)
    with pytest.raises(DatasetError, match="states must be"):
        w.add_episode(ep["states"][:, :4], ep["actions"], ep["frames"], ep["task"])
    with pytest.raises(DatasetError, match="frames must hold cameras"):
        w.add_episode(ep["states"], ep["actions"], {"wrist": ep["frames"]["head"]}, ep["task"])
    with pytest.raises(DatasetError, match="frames\\['head'\\] must be uint8"):
        w.add_episode(ep["states"], ep["actions"], {"head": ep["frames"]["head"][:-1]}, ep["task"])
    with pytest.raises(DatasetError, match="no episodes"):
        w.finalize()
    with pytest.raises(DatasetError, match="unknown video codec"):
        write_video(tmp_path / "x.mp4", ep["frames"]["head"], 20, codec="vp8")
    with pytest.raises(DatasetError, match="missing"):
        LeRobotDataset(tmp_path / "nothing")


def test_modality_ranges_checked(tmp_path):
    root = tmp_path / "ds"
    _write(root, _episodes(1))
    path = root / "meta/modality.json"
    modality = json.loads(path.read_text())
    modality["state"]["arm"]["end"] = 4
    path.write_text(json.dumps(modality))
    with pytest.raises(DatasetError, match="cover 4 dims"):
        LeRobotDataset(root)


def test_an_episode_without_rows_is_named_with_the_fix(tmp_path):
    """An episode of 0 rows (a recording stopped at once) failed reading its vectors:
    "cannot reshape array of size 0", naming neither the episode nor the fix."""
    root = tmp_path / "ds"
    _write(root, _episodes(3))
    path = root / "data/chunk-000/episode_000001.parquet"
    pq.write_table(pq.read_table(path).slice(0, 0), path)
    _edit_json_lines(root / "meta/episodes.jsonl", 1, lambda row: row.update(length=0))
    ds = LeRobotDataset(root)
    ds.episode(0)
    with pytest.raises(DatasetError, match=r"episode_000001.parquet: episode 1 has no rows.*"
                                           r"Fix: .*record it again.*--mixture.*episodes"):
        ds.episode(1, load_video=False)


def _edit_json_lines(path: Path, line: int, edit) -> None:
    rows = [json.loads(text) for text in path.read_text().splitlines()]
    edit(rows[line])
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def _edit_json(path: Path, edit) -> None:
    obj = json.loads(path.read_text())
    edit(obj)
    path.write_text(json.dumps(obj, indent=2))


def _cut(path: Path, keep: int) -> None:
    """The file cut short after ``keep`` characters, as an interrupted copy leaves it."""
    path.write_text(path.read_text()[:keep])


# id -> (meta file, what is done to it, what the error must say): each error names the file,
# what is wrong (and where) and the fix.
DAMAGED_META = {
    "info_cut": ("info.json", lambda p: _cut(p, 100),
                 r"meta/info.json: not valid JSON at line \d+ column \d+ .*cut short.*Fix: copy"),
    "modality_cut": ("modality.json", lambda p: _cut(p, 60),
                     r"meta/modality.json: not valid JSON at line 5 column \d+ .*Fix:"),
    "tasks_cut": ("tasks.jsonl", lambda p: _cut(p, len(p.read_text()) - 10),
                  r"meta/tasks.jsonl: not valid JSON at line 2 column \d+ .*Fix:"),
    "episodes_cut": ("episodes.jsonl", lambda p: p.write_text(p.read_text() + '{"episode_'),
                     r"meta/episodes.jsonl: not valid JSON at line 4 column \d+ .*Fix:"),
    "stats_list": ("stats.json", lambda p: p.write_text("[1, 2]"),
                   r"meta/stats.json holds a JSON list, not an object .*Fix:"),
    "task_missing": ("tasks.jsonl", lambda p: p.write_text('{"task_index": 0}\n'),
                     r"meta/tasks.jsonl line 1: \"task\" is None, not a str .*Fix: correct"),
    "modality_no_state": ("modality.json", lambda p: _edit_json(p, lambda m: m.pop("state")),
                          r"meta/modality.json: no \"state\" entry \(its entries: \['action', "
                          r"'annotation', 'video'\]\).*Fix: write that entry, or remove the "
                          r"file and pass the embodiment YAML"),
    "range_no_end": ("modality.json",
                     lambda p: _edit_json(p, lambda m: m["action"]["arm"].pop("end")),
                     r"meta/modality.json: action.arm is \{'start': 0\}; it must be .*Fix:"),
    "video_list": ("modality.json", lambda p: _edit_json(p, lambda m: m.update(video=["head"])),
                   r"meta/modality.json: \"video\" is \['head'\]; it must map each camera.*Fix:"),
    "state_no_shape": ("info.json",
                       lambda p: _edit_json(p, lambda i: i["features"][STATE].pop("shape")),
                       r"meta/info.json: features\['observation.state'\] has no \"shape\"; it "
                       r"needs \"shape\": \[n\] .*Fix:"),
    "action_shape_float": ("info.json", lambda p: _edit_json(
                               p, lambda i: i["features"][ACTION].update(shape=[3.5])),
                           r"features\['action'\] has \"shape\": \[3.5\]"),
    "fps_text": ("info.json", lambda p: _edit_json(p, lambda i: i.update(fps="twenty")),
                 r"meta/info.json: \"fps\" is 'twenty'; it must be a number > 0.*Fix: write"),
    "fps_zero": ("info.json", lambda p: _edit_json(p, lambda i: i.update(fps=0)),
                 r"\"fps\" is 0;"),
    "no_chunks_size": ("info.json", lambda p: _edit_json(p, lambda i: i.pop("chunks_size")),
                       r"meta/info.json: \"chunks_size\" is None; it must be a whole number "
                       r">= 1.*Fix:"),
}


@pytest.mark.parametrize("name, damage, match", DAMAGED_META.values(), ids=DAMAGED_META)
def test_a_damaged_meta_file_is_named_with_what_is_wrong_and_the_fix(tmp_path, name, damage,
                                                                     match):
    from gr00t_policy.dataset.cli import main as dataset_main

    root = tmp_path / "ds"
    _write(root, _episodes(3))
    damage(root / "meta" / name)
    with pytest.raises(DatasetError, match=match):
        LeRobotDataset(root)
    # gr00t-dataset info says the same, without a traceback.
    with pytest.raises(SystemExit, match=match):
        dataset_main(["info", str(root)])


def test_a_camera_without_a_frame_size_is_named(tmp_path):
    root = tmp_path / "ds"
    _write(root, _episodes(1))
    _edit_json(root / "meta/info.json",
               lambda i: i["features"]["observation.images.head"].update(shape=[24]))
    with pytest.raises(DatasetError, match=r"features\['observation.images.head'\] has "
                                           r"\"shape\": \[24\]; it needs \"shape\": "
                                           r"\[height, width, 3\]"):
        LeRobotDataset(root).image_shape("head")


def test_a_file_where_the_dataset_goes_is_refused_before_anything_is_written(tmp_path):
    (tmp_path / "afile").write_text("not a dataset")
    for root in (tmp_path / "afile", tmp_path / "afile" / "ds"):
        with pytest.raises(DatasetError, match=re.escape(f"{tmp_path / 'afile'} is a file, "
                                                         "not a directory. Fix: choose a path")):
            LeRobotWriter(root, fps=20, state_keys=STATE_KEYS, action_keys=ACTION_KEYS,
                          cameras=["head"], image_shape=SIZE)
    assert (tmp_path / "afile").read_text() == "not a dataset"


class _FramesThatFail:
    """Array-like frames (as from_bag.DecodedFrames) whose third frame cannot be decoded."""

    dtype = np.dtype(np.uint8)

    def __init__(self, frames: np.ndarray) -> None:
        self.frames, self.shape = frames, frames.shape

    def __iter__(self):
        for k, frame in enumerate(self.frames):
            if k == 2:
                raise ValueError("a damaged frame")
            yield frame


def test_an_episode_whose_frames_fail_midway_leaves_nothing_behind(tmp_path):
    eps = _episodes(2)
    _write(tmp_path / "ds", eps[:1])
    before = sorted(p.relative_to(tmp_path) for p in (tmp_path / "ds").rglob("*"))
    bad = dict(eps[1], task="a task only the failed episode had")
    bad["frames"] = {"head": _FramesThatFail(bad["frames"]["head"])}
    with LeRobotWriter(tmp_path / "ds", fps=20, state_keys=STATE_KEYS, action_keys=ACTION_KEYS,
                       cameras=["head"], image_shape=SIZE, append=True) as w:
        with pytest.raises(ValueError, match="damaged"):
            w.add_episode(bad["states"], bad["actions"], bad["frames"], bad["task"])
        assert w.num_episodes == 1
    assert sorted(p.relative_to(tmp_path) for p in (tmp_path / "ds").rglob("*")) == before
    ds = LeRobotDataset(tmp_path / "ds")
    assert ds.num_episodes == 1 and list(ds.tasks.values()) == [eps[0]["task"]]


def _files(root: Path) -> dict[Path, bytes | None]:
    """Every file (with its bytes) and folder under ``root``."""
    return {p.relative_to(root): p.read_bytes() if p.is_file() else None
            for p in sorted(root.rglob("*"))}


def test_an_append_that_fails_leaves_the_dataset_as_it_was(tmp_path, monkeypatch):
    """Appending writes in place: a failure after episodes were written, or half way through
    finalize's rewrite of meta/ (here the statistics), removes the new episodes' files and
    puts meta/ back, so meta/ lists no episode that is gone and no file is left unlisted."""
    from gr00t_policy.dataset import writer

    eps = _episodes(4, seed=4)
    root = tmp_path / "ds"
    _write(root, eps[:1])
    before = _files(root)
    with pytest.raises(RuntimeError, match="interrupted"):
        with LeRobotWriter(root, fps=20, state_keys=STATE_KEYS, action_keys=ACTION_KEYS,
                           cameras=["head"], image_shape=SIZE, append=True) as w:
            w.add_episode(eps[1]["states"], eps[1]["actions"], eps[1]["frames"], eps[1]["task"])
            raise RuntimeError("interrupted")
    assert _files(root) == before

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as mp:
        mp.setattr(writer, "compute_statistics", full_disk)
        with pytest.raises(OSError, match="No space"):
            _write(root, eps[1:], append=True, chunks_size=2)  # chunk-001 made, then removed
    assert _files(root) == before
    _write(root, eps[1:], append=True)
    assert LeRobotDataset(root).num_episodes == 4
    assert sorted(p.name for p in root.iterdir()) == ["data", "meta", "videos"]


def test_a_failed_write_into_a_new_folder_removes_it(tmp_path):
    """A folder the writer made goes whole, with those it made above it; a folder that was
    there before is left as it was (empty)."""
    ep = _episodes(1)[0]
    (tmp_path / "empty").mkdir()
    for root in (tmp_path / "runs" / "day1" / "ds", tmp_path / "empty"):
        with pytest.raises(RuntimeError, match="interrupted"):
            with LeRobotWriter(root, fps=20, state_keys=STATE_KEYS, action_keys=ACTION_KEYS,
                               cameras=["head"], image_shape=SIZE) as w:
                w.add_episode(ep["states"], ep["actions"], ep["frames"], ep["task"])
                raise RuntimeError("interrupted")
    assert [p.name for p in tmp_path.iterdir()] == ["empty"]
    assert list((tmp_path / "empty").iterdir()) == []


def _killed_at(step: int, write) -> bool:
    """Run ``write()`` in a forked child that dies (``os._exit``, no clean-up: a kill) at its
    ``step``-th rename; True if it got that far, False if it finished first."""
    import os

    pid = os.fork()
    if pid == 0:  # the child
        try:
            real, calls = os.rename, [0]

            def rename(src, dst, **kwargs):
                calls[0] += 1
                if calls[0] == step:
                    os._exit(9)
                return real(src, dst, **kwargs)

            os.rename = rename
            write()
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 9


@pytest.mark.parametrize("mode", ["append", "overwrite"])
def test_a_writer_killed_at_any_rename_leaves_the_old_dataset_or_the_new_one(tmp_path, mode):
    """A kill (no exception, no clean-up) at each rename of finalize: the next open finds the
    old dataset whole or the new one whole, never a mix, and nothing left beside them. Once
    an append's new meta/ is committed, the appended episodes are kept."""
    old, new = _episodes(2, seed=5), _episodes(3, seed=6)  # told apart by their number
    want_new = old + new if mode == "append" else new
    outcomes = []
    for step in range(1, 12):
        root = tmp_path / f"ds{step}"
        _write(root, old)
        if not _killed_at(step, lambda: _write(root, new, **{mode: True})):
            break
        ds = LeRobotDataset(root)  # settles what the kill left
        got = [ds.episode(i, load_video=False).states for i in range(ds.num_episodes)]
        assert ds.num_episodes in (len(old), len(want_new)), step
        expect = old if ds.num_episodes == len(old) else want_new
        for states, ep in zip(got, expect):
            np.testing.assert_array_equal(states, ep["states"])
        np.testing.assert_array_equal(ds.episode(ds.num_episodes - 1).frames["head"],
                                      expect[-1]["frames"]["head"])
        stats = json.loads((root / "meta/stats.json").read_text())
        assert stats[STATE]["max"] == pytest.approx(
            np.concatenate([e["states"] for e in expect]).max(0).tolist(), rel=1e-6)
        assert sorted(p.name for p in root.iterdir()) == ["data", "meta", "videos"], step
        outcomes.append("new" if expect is want_new else "old")
        _write(root, new, append=True)  # and the dataset takes the next write
        assert LeRobotDataset(root).num_episodes == len(expect) + len(new)
    # Every rename was a kill point. Append: its commit (killed before it: the old dataset),
    # then the two of the swap. Overwrite: three folders aside, three in; the new dataset was
    # complete before the first, so the swap is finished.
    assert outcomes == (["old", "new", "new"] if mode == "append" else ["new"] * 6)


def test_an_older_writers_half_rewritten_meta_is_put_back(tmp_path):
    """Writers before the swap rewrote meta/ in place beside a copy (.old-meta); a kill left
    both. Opening the dataset puts the copy back."""
    import shutil

    root = tmp_path / "ds"
    old = _episodes(2, seed=7)
    _write(root, old)
    shutil.copytree(root / "meta", root / ".old-meta")
    (root / "meta/episodes.jsonl").write_text("")  # half rewritten
    (root / "meta/stats.json").unlink()
    ds = LeRobotDataset(root)
    assert ds.num_episodes == 2
    np.testing.assert_array_equal(ds.episode(1, load_video=False).states, old[1]["states"])
    assert sorted(p.name for p in root.iterdir()) == ["data", "meta", "videos"]


def test_a_live_writers_change_is_left_be_and_a_second_writer_is_refused(tmp_path):
    """Opening a dataset while another writer appends to it (a training job reading while
    from-bag appends) must not take the new meta/ it is writing for a kill's leftover."""
    root = tmp_path / "ds"
    old = _episodes(2, seed=8)
    _write(root, old)
    with LeRobotWriter(root, fps=20, state_keys=STATE_KEYS, action_keys=ACTION_KEYS,
                       cameras=["head"], image_shape=SIZE, append=True) as w:
        w.add_episode(old[0]["states"], old[0]["actions"], old[0]["frames"], old[0]["task"])
        (root / ".meta-writing").mkdir()  # as replace_meta has it while it writes
        assert LeRobotDataset(root).num_episodes == 2  # reads the old meta/, touches nothing
        assert (root / ".meta-writing").is_dir()
        with pytest.raises(DatasetError, match="being written by another process"):
            _write(root, old, append=True)
        (root / ".meta-writing").rmdir()
    assert LeRobotDataset(root).num_episodes == 3
    _write(root, old, append=True)  # the lock went with the writer
    assert LeRobotDataset(root).num_episodes == 5


def _whole(root: Path, episodes: list[dict]) -> None:
    """``root`` reads as exactly ``episodes``, every file there, nothing left beside it."""
    ds = LeRobotDataset(root)
    assert ds.num_episodes == len(episodes)
    for i, ep in enumerate(episodes):
        got = ds.episode(i)
        np.testing.assert_array_equal(got.states, ep["states"])
        np.testing.assert_array_equal(got.frames["head"], ep["frames"]["head"])
    assert sorted(p.name for p in root.iterdir()) == ["data", "meta", "videos"]


def test_an_exception_after_the_new_dataset_is_in_never_undoes_it(tmp_path, monkeypatch):
    """A Ctrl-C (or an I/O error) once the change is committed: in an overwrite's clean-up
    (removing the old folders, seconds for a large dataset), in an append's fsync right after
    its commit. The new dataset stays, whole."""
    import shutil

    from gr00t_policy.dataset import swap

    old, new = _episodes(2, seed=9), _episodes(3, seed=10)
    root = tmp_path / "over"
    _write(root, old)
    real_rmtree = shutil.rmtree

    def interrupted_cleanup(path, *args, **kwargs):
        if Path(path) == root / ".old":
            real_rmtree(Path(path) / "data")  # part of the old dataset gone, then Ctrl-C
            raise KeyboardInterrupt
        return real_rmtree(path, *args, **kwargs)

    with monkeypatch.context() as mp:
        mp.setattr(swap.shutil, "rmtree", interrupted_cleanup)
        with pytest.raises(KeyboardInterrupt):
            _write(root, new, overwrite=True)
    _whole(root, new)

    root = tmp_path / "append"
    _write(root, old)
    real_fsync = swap.fsync_path

    def interrupted_fsync(path):
        if Path(path) == root and (root / ".meta-new").exists():
            raise KeyboardInterrupt
        return real_fsync(path)

    with monkeypatch.context() as mp:
        mp.setattr(swap, "fsync_path", interrupted_fsync)
        with pytest.raises(KeyboardInterrupt):
            _write(root, new, append=True)
    _whole(root, old + new)


def test_a_rollback_killed_half_way_is_finished_not_taken_for_a_swap(tmp_path):
    """An overwrite whose swap raised is undone (the old folders back); a kill in the middle
    of that leaves .old-undo, which the next open finishes: the old dataset, whole."""
    from gr00t_policy.dataset import swap

    old, new = _episodes(2, seed=11), _episodes(3, seed=12)
    root = tmp_path / "ds"
    _write(root, old)
    _write(root / ".partial", new)  # a complete new dataset beside it
    (root / ".old").mkdir()
    for sub in ("meta", "data", "videos"):  # the swap moved every old folder aside,
        (root / sub).rename(root / ".old" / sub)
    (root / ".partial" / "videos").rename(root / "videos")  # and the new videos in: raised
    (root / ".old").rename(root / ".old-undo")  # discard began to undo it, and was killed
    (root / ".old-undo" / "meta").rename(root / "meta")
    assert swap.settle(root) == ["finished rolling back an overwrite's swap (.old-undo/)"]
    _whole(root, old)


def test_an_older_writers_copy_cut_short_is_not_put_back(tmp_path):
    import shutil

    root = tmp_path / "ds"
    old = _episodes(2, seed=13)
    _write(root, old)
    shutil.copytree(root / "meta", root / ".old-meta")
    (root / ".old-meta" / "tasks.jsonl").unlink()  # killed while copying: meta/ untouched
    _whole(root, old)


def test_an_append_keeps_the_files_others_put_in_meta(tmp_path):
    root = tmp_path / "ds"
    eps = _episodes(3, seed=14)
    _write(root, eps[:2])
    (root / "meta" / "collect.json").write_text('{"seed": 7}')  # gr00t-collect's provenance
    _write(root, eps[2:], append=True)
    assert json.loads((root / "meta" / "collect.json").read_text()) == {"seed": 7}
    _whole(root, eps)


def test_a_filesystem_without_directory_locks_is_written_unguarded(tmp_path, monkeypatch,
                                                                    caplog):
    """NFS refuses an exclusive flock on a descriptor not open for writing (EBADF): writers
    go on, with a warning; readers read and leave leftovers to the next writer."""
    import errno
    import fcntl

    from gr00t_policy.dataset import swap

    def no_flock(fd, op):
        raise OSError(errno.EBADF, "Bad file descriptor")

    root = tmp_path / "ds"
    eps = _episodes(3, seed=15)
    monkeypatch.setattr(fcntl, "flock", no_flock)
    _write(root, eps[:2])
    (root / ".meta-writing").mkdir()  # a leftover (or a live writer's: unknown)
    assert LeRobotDataset(root).num_episodes == 2 and (root / ".meta-writing").is_dir()
    assert swap.settle(root) == []
    _write(root, eps[2:], append=True)  # a writer settles it
    assert "cannot lock" in caplog.text
    _whole(root, eps)


def test_a_swap_that_fails_after_the_commit_says_not_to_write_again(tmp_path, monkeypatch):
    """The append is committed; the error says so (a rerun would add the episodes twice), and
    the next open finishes the swap."""
    from gr00t_policy.dataset import swap

    root = tmp_path / "ds"
    eps = _episodes(3, seed=16)
    _write(root, eps[:2])

    def no_swap(root):
        raise PermissionError(13, "Permission denied")

    with monkeypatch.context() as mp:
        mp.setattr(swap, "_swap_in_meta", no_swap)
        with pytest.raises(swap.CommittedButNotSwapped, match="Do not write them again"):
            _write(root, eps[2:], append=True)
    _whole(root, eps)


def test_a_reader_never_mixes_the_meta_before_and_after_an_append(tmp_path, monkeypatch):
    """meta/ is read file by file; an append's swap (a rename) can land between two reads.
    The reader then reads it again, so what it returns is the old dataset or the new one,
    never info.json of one with episodes.jsonl of the other."""
    import shutil

    from gr00t_policy.dataset import formats

    eps = _episodes(3, seed=4)
    root, grown = tmp_path / "ds", tmp_path / "grown"
    _write(root, eps[:2])
    shutil.copytree(root, grown)
    _write(grown, eps[2:], append=True)
    for new in ("data/chunk-000/episode_000002.parquet",
                "videos/chunk-000/observation.images.head/episode_000002.mp4"):
        shutil.copy(grown / new, root / new)  # an append's episode files go in first
    read_jsonl, swaps = formats._read_jsonl, []

    def swapped_after_info(path, *args, **kwargs):
        if not swaps:  # the append commits and swaps its meta/ in between two reads
            (root / "meta").rename(root / ".meta-replaced")
            (grown / "meta").rename(root / "meta")
            shutil.rmtree(root / ".meta-replaced")
            swaps.append(path)
        return read_jsonl(path, *args, **kwargs)

    monkeypatch.setattr(formats, "_read_jsonl", swapped_after_info)
    ds = LeRobotDataset(root)
    assert swaps, "the swap did not happen during the read"
    assert ds.info["total_episodes"] == ds.num_episodes == 3
    np.testing.assert_array_equal(ds.episode(2).states, eps[2]["states"])


def test_a_reader_gives_up_on_a_meta_replaced_at_every_read(tmp_path, monkeypatch):
    import shutil

    from gr00t_policy.dataset import formats

    root = tmp_path / "ds"
    _write(root, _episodes(2, seed=5))
    read_jsonl = formats._read_jsonl

    def always_swapped(path, *args, **kwargs):
        (root / "meta").rename(root / ".meta-replaced")
        shutil.copytree(root / ".meta-replaced", root / "meta")
        shutil.rmtree(root / ".meta-replaced")
        return read_jsonl(path, *args, **kwargs)

    monkeypatch.setattr(formats, "_read_jsonl", always_swapped)
    with pytest.raises(DatasetError, match="replaced while it was read, 3 times"):
        LeRobotDataset(root)


def _snapshot(root: Path) -> dict:
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("version", ["v2.1", "v3.0"])
def test_an_append_to_another_lerobot_version_is_refused_naming_it(tmp_path, version):
    """finalize rewrites meta/ as v2.0's: a v2.1 dataset came out relabelled v2.0 with a
    stale episodes_stats.jsonl, a v3.0 one failed at finalize with a raw FileNotFoundError
    after every episode was encoded. Both are refused at open, nothing touched."""
    from gr00t_policy.dataset.writer import gr00t_modality
    from gr00t_policy.testing.lerobot import write_v21, write_v30

    write = write_v21 if version == "v2.1" else write_v30
    names = [n for _, joints in STATE_KEYS for n in joints]
    root = write(tmp_path / version, [(e["states"], e["actions"], e["frames"]["head"], e["task"])
                                      for e in _episodes(2, seed=15)],
                 state_names=names, action_names=ACTION_KEYS[0][1], camera="head")
    # Everything else as this writer writes it: only the version differs.
    (root / "meta" / "modality.json").write_text(json.dumps(
        gr00t_modality(STATE_KEYS, ACTION_KEYS, ["head"])))
    before = _snapshot(root)
    with pytest.raises(DatasetError, match=rf"cannot append to .*: it is a LeRobot {version} "
                                           r"dataset \(meta/info.json codebase_version\).*"
                                           r"v2.0.*Fix: .*another --out.*--mixture"):
        _write(root, _episodes(1, seed=16), append=True)
    assert _snapshot(root) == before


def test_an_append_to_a_dataset_with_another_modality_json_is_refused_naming_it(tmp_path):
    """A GR00T dataset whose instruction annotation is human.task_description (the reader
    takes it): finalize wrote its own modality.json over it, and the old episodes' task
    column was no longer the one it names."""
    root = tmp_path / "ds"
    _write(root, _episodes(2, seed=17))
    path = root / "meta" / "modality.json"
    modality = json.loads(path.read_text())
    modality["annotation"] = {"human.task_description": {"original_key": "task_index"}}
    path.write_text(json.dumps(modality))
    before = _snapshot(root)
    with pytest.raises(DatasetError, match=r"cannot append to .*: its meta/modality.json is not "
                                           r"the one this writer writes \(annotation: "
                                           r"human.task_description there, "
                                           r"human.action.task_description here\).*Fix: "):
        _write(root, _episodes(1, seed=18), append=True)
    assert _snapshot(root) == before
    assert LeRobotDataset(root).num_episodes == 2
