"""gr00t-train's command line: every setting reachable, the README's flags kept, bad values
refused naming their flag; and how a run through it ends (`main`: tiny runs of
test_train.py's policy and dataset, a few steps each)."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import pytest

from gr00t_policy.dataset import DatasetError
from gr00t_policy.train import main, native_bf16
from gr00t_policy.train.auxiliary import registered
from gr00t_policy.train.cli import build_parser, parse_args
from gr00t_policy.train.config import RunOptions, TrainConfig

REPO = Path(__file__).resolve().parents[3]
REQUIRED = ["--dataset", "D", "--out", "O"]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # test_train.py's tiny policy and data
from test_train import tiny_embodiment, tiny_policy_config, write_tiny_dataset  # noqa: E402


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("ds") / "tiny"
    write_tiny_dataset(root)
    return root


@pytest.fixture
def tiny_run(tmp_path, monkeypatch, tiny_dataset):
    """gr00t-train's arguments for a tiny run (test_train.py's policy as preset "tiny", its
    embodiment as a YAML file) of `dataset` into `out`, then `extra`."""
    import yaml

    from gr00t_policy.policy_config import POLICY_PRESETS

    monkeypatch.setitem(POLICY_PRESETS, "tiny", tiny_policy_config())
    emb = tmp_path / "tiny.yaml"
    emb.write_text(yaml.safe_dump(tiny_embodiment().to_dict(), sort_keys=False))

    def argv(out, *extra, dataset=tiny_dataset):
        return ["--dataset", str(dataset), "--embodiment", str(emb), "--preset", "tiny",
                "--out", str(out), "--batch-size", "4", "--threads", "1", "--no-progress",
                "--seed", "3", "--token-stats-samples", "0", *extra]
    return argv


def test_cli_rejects_missing_embodiment(tmp_path):
    with pytest.raises(SystemExit, match="not found"):
        main(["--dataset", str(tmp_path / "ds"), "--out", str(tmp_path / "x"), "--steps", "1",
              "--embodiment", str(tmp_path / "nope.yaml")])


def test_a_damaged_dataset_ends_the_run_naming_its_file_without_a_traceback(tmp_path):
    meta = tmp_path / "ds" / "meta"
    meta.mkdir(parents=True)
    (meta / "info.json").write_text('{"codebase_version": "v2.0",\n "fps": 20,\n "feat')
    with pytest.raises(SystemExit, match=r"^\S+/ds/meta/info.json: not valid JSON at line 3 "
                                         r"column \d+ .*Fix:") as exit_info:
        main(["--dataset", str(tmp_path / "ds"), "--out", str(tmp_path / "x"), "--steps", "1",
              "--embodiment", str(REPO / "config/unitree_g1.yaml")])
    assert isinstance(exit_info.value.__cause__, DatasetError)
    assert not (tmp_path / "x").exists()


def test_a_bad_embodiment_or_dataset_is_one_message_naming_it(tmp_path):
    """Both used to end in a traceback; now one message naming the file and the fix."""
    bad = tmp_path / "bad.yaml"
    bad.write_text((REPO / "config" / "unitree_g1.yaml").read_text().replace(
        "action_dt:", "action_dt: -1\nretired_key:", 1))
    with pytest.raises(SystemExit) as info:
        main(["--dataset", str(tmp_path / "ds"), "--out", str(tmp_path / "x"), "--steps", "1",
              "--embodiment", str(bad)])
    message = str(info.value.code)
    assert message.startswith(f"{bad}: ") and "problems in embodiment config" in message
    assert "Fix: " in message, message
    with pytest.raises(SystemExit) as info:
        main(["--dataset", str(tmp_path / "no_data"), "--out", str(tmp_path / "y"), "--steps",
              "1", "--embodiment", str(REPO / "config" / "unitree_g1.yaml")])
    message = str(info.value.code)
    assert f"missing {tmp_path / 'no_data' / 'meta' / 'info.json'}" in message, message
    assert not (tmp_path / "y").exists()


def test_native_bf16_reads_the_cpu_flags():
    zen2 = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma f16c\n"
    zen4 = "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16 avx512_vnni\n"
    sapphire = "processor\t: 0\nflags\t\t: avx2 avx512f amx_bf16 amx_tile\n"
    assert not native_bf16(zen2)
    assert native_bf16(zen4) and native_bf16(sapphire)
    assert not native_bf16("")  # no flags line (not x86 Linux): float32


# A value other than the default for every field, and the flags that set it.
EVERY_FIELD = {
    "steps": ["--steps", "7"], "batch_size": ["--batch-size", "3"], "lr": ["--lr", "0.002"],
    "weight_decay": ["--weight-decay", "0.01"], "betas": ["--betas", "0.9", "0.99"],
    "warmup_ratio": ["--warmup-ratio", "0.2"], "grad_clip": ["--grad-clip", "0.5"],
    "seed": ["--seed", "4"], "start_prob": ["--start-prob", "0.3"],
    "start_frames": ["--start-frames", "8"],
    "aux_weights": ["--goal-weight", "0.5", "--scene-weight", "0.25"],
    "stale_prob": ["--stale-prob", "0.1"], "max_stale_frames": ["--max-stale-frames", "2"],
    "augment": ["--no-augment"], "shift_px": ["--shift-px", "3"], "jitter": ["--jitter", "0.2"],
    "prefix_prob": ["--prefix-prob", "0.5"], "prefix_max_rows": ["--prefix-max-rows", "4"],
    "prefix_shift": ["--prefix-shift", "0.05"],
    "bf16": ["--precision", "fp32"], "log_every": ["--log-every", "5"],
    "save_every": ["--save-every", "0"],
    "dataset": [], "out": [], "preset": ["--preset", "gr00t-n1-2b"],
    "mixture": [],  # excludes --dataset and --embodiment: test_train_mixture.py
    "embodiment": ["--embodiment", "e.yaml"], "threads": ["--threads", "2"],
    "precision": [], "progress": ["--no-progress"], "resume": ["--resume"],
    "overwrite": [],  # excludes --resume: test_an_out_that_holds_a_run_is_refused_...
    "init_from": ["--init-from", "C"], "overwrite_slot": ["--overwrite-slot", "robot_a"],
    "token_stats_samples": ["--token-stats-samples", "0"],
    "instructions": ["--instructions", "P.yaml"],
}


def test_every_field_has_a_flag():
    """Each TrainConfig and RunOptions field is set from the command line (flags derived
    from the fields; the fields without their own flag name the option that sets them)."""
    names = [f.name for cls in (TrainConfig, RunOptions) for f in dataclasses.fields(cls)]
    assert sorted(names) == sorted(EVERY_FIELD), "a field was added: give it a line here"
    run, cfg = parse_args(REQUIRED + [a for flags in EVERY_FIELD.values() for a in flags])
    default_cfg, default_run = TrainConfig(), RunOptions(dataset="D", out="O")
    unchanged = [f.name for f in dataclasses.fields(TrainConfig)
                 if getattr(cfg, f.name) == getattr(default_cfg, f.name)]
    unchanged += [f.name for f in dataclasses.fields(RunOptions)
                  if getattr(run, f.name) == getattr(default_run, f.name)
                  and f.name not in ("dataset", "out", "mixture", "overwrite")]
    assert not unchanged, unchanged
    assert cfg.betas == (0.9, 0.99) and dict(cfg.aux_weights) == {"goal": 0.5, "scene": 0.25}
    assert cfg.bf16 is False and run.precision == "fp32" and run.progress is False
    # every field documents its flag
    helps = {a.dest: a.help for a in build_parser()._actions}
    for f in dataclasses.fields(TrainConfig) + dataclasses.fields(RunOptions):
        assert f.metadata["help"], f.name
        if f.name in helps:
            assert helps[f.name].startswith(f.metadata["help"]), f.name


def test_readme_command_and_defaults():
    """The README's training command gives the settings the committed checkpoint was
    trained with (its train_log.json), and no flag gives the dataclass defaults."""
    run, cfg = parse_args(["--mixture", "config/mixtures/g1_shoved_apollo.yaml", "--out", "O"]
                          + "--preset nano --steps 4000 --lr 5e-5 --seed 4 --threads 2 "
                          "--goal-weight 1.0 --scene-weight 1.0".split())
    assert run.threads == 2 and run.preset == "nano" and run.progress and not run.resume
    assert dict(cfg.aux_weights) == {"goal": 1.0, "scene": 1.0}
    log_path = REPO / "checkpoints" / "nano" / "train_log.json"
    if log_path.is_file():
        saved = json.loads(log_path.read_text())["train_config"]
        # log_every may differ on resume (skipped by resume_differences); bf16 follows the
        # CPU (--precision auto: the checkpoint's machine had avx512_bf16, not every one does).
        assert [d for d in cfg.resume_differences(saved) if d[0] != "bf16"] == []
        assert cfg.bf16 == native_bf16()
        # The log's layout is unchanged: settings added since appear, the others in order.
        assert [k for k in cfg.to_dict() if k in saved] == list(saved)
    run, cfg = parse_args(REQUIRED + ["--precision", "bf16"])
    assert cfg == TrainConfig(aux_weights={"goal": 0.0, "scene": 0.0})
    assert run == RunOptions(dataset="D", out="O", precision="bf16")
    _, auto = parse_args(REQUIRED)
    assert auto.bf16 == native_bf16()


@pytest.mark.parametrize("argv, flag", [
    (["--lr", "-1"], "--lr"),
    (["--steps", "0"], "--steps"),
    (["--start-prob", "1.5"], "--start-prob"),
    (["--betas", "0.9", "1.5"], "--betas"),
    (["--log-every", "0"], "--log-every"),
    (["--goal-weight", "-1"], "--goal-weight"),
    (["--scene-weight", "nan"], "--scene-weight"),
    (["--threads", "0"], "--threads"),
    (["--precision", "fp16"], "--precision"),
    (["--steps", "many"], "--steps"),
    (["--overwrite-slot", "robot_a"], "--overwrite-slot"),  # without --init-from
])
def test_a_bad_value_names_its_flag(argv, flag, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_args(REQUIRED + argv)
    assert exit_info.value.code == 2
    assert f"argument {flag}" in capsys.readouterr().err


def test_every_registered_aux_loss_has_a_weight_flag():
    flags = {s for a in build_parser()._actions for s in a.option_strings}
    losses = registered()
    assert {"goal", "scene"} <= {loss.name for loss in losses}
    for loss in losses:
        assert f"--{loss.name}-weight" in flags


@pytest.mark.parametrize("signal_name, code", [("SIGINT", 130), ("SIGTERM", 143), (None, 1)])
def test_a_stopped_run_exits_with_the_signal_status_and_says_how_to_go_on(
        monkeypatch, capsys, tmp_path, signal_name, code):
    import gr00t_policy.train.loop as loop

    def stopped(*args, **kwargs):  # what train returns when a signal stopped it at step 7
        return loop.TrainResult(losses=[0.5] * 7, checkpoint=tmp_path, seconds_per_step=0.1,
                                stopped_at=7, stopped_by=signal_name)

    monkeypatch.setattr(loop, "train", stopped)
    assert main([*REQUIRED, "--steps", "20"]) == code
    out = capsys.readouterr().out
    assert f"at step 7 of 20: {tmp_path} holds it" in out and "--resume" in out


@pytest.mark.parametrize("held", ["config.json", "model.safetensors", "train_log.json",
                                  "train_state.pt"])
def test_an_out_that_holds_a_run_is_refused_unless_resume_or_overwrite(tmp_path, held):
    """The first save of a fresh run used to replace a checkpoint in --out without a word.
    Refused before anything loads (the dataset and embodiment here do not exist), naming the
    directory, what is there and both ways on; the files are left as they were."""
    out = tmp_path / "ckpt"
    out.mkdir()
    (out / held).write_bytes(b"trained")
    argv = ["--dataset", str(tmp_path / "no_data"), "--out", str(out),
            "--embodiment", str(tmp_path / "no.yaml")]
    with pytest.raises(SystemExit) as info:
        main(argv)
    message = str(info.value.code)
    assert str(out) in message and held in message, message
    assert "--resume" in message and "--overwrite" in message, message
    assert (out / held).read_bytes() == b"trained"
    # With either flag the check passes and the run goes on to its next check.
    for flag in ("--resume", "--overwrite"):
        with pytest.raises(SystemExit, match="no.yaml not found"):
            main([*argv, flag])
    assert parse_args(REQUIRED + ["--overwrite"])[0].overwrite


def test_resume_and_overwrite_exclude_each_other(capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_args(REQUIRED + ["--resume", "--overwrite"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --overwrite" in err and "pass one of them" in err


def test_weights_that_diverge_end_the_run_in_one_line(tiny_run, tmp_path, monkeypatch):
    """NaN weights before a save stop the run naming the step and the fix, no traceback;
    the last checkpoint (step 2) is kept."""
    import torch

    import gr00t_policy.train.loop as loop

    original = loop._update

    def update(loss, optim, sched, params, grad_clip):
        original(loss, optim, sched, params, grad_clip)
        if sched.last_epoch == 4:
            with torch.no_grad():
                params[0].fill_(float("nan"))

    monkeypatch.setattr(loop, "_update", update)
    with pytest.raises(SystemExit) as info:
        main(tiny_run(tmp_path / "out", "--steps", "6", "--save-every", "2"))
    message = str(info.value.code)
    assert message.startswith("weights became NaN or inf at step 4 ") and "\n" not in message
    assert "lower --lr" in message
    assert json.loads((tmp_path / "out" / "train_log.json").read_text())["step"] == 2


def test_token_statistics_read_a_dataset_without_modality_json_through_the_embodiment(
        tiny_run, tiny_dataset, tmp_path):
    """A dataset written by the lerobot library has no meta/modality.json: training reads
    its layout from --embodiment, but the token statistics opened it without, and the run
    ended (after saving) with status 1, "missing meta/modality.json ... pass --embodiment"."""
    import shutil

    dataset = tmp_path / "lerobot"
    shutil.copytree(tiny_dataset, dataset)
    (dataset / "meta" / "modality.json").unlink()
    argv = tiny_run(tmp_path / "out", "--steps", "1", "--save-every", "0", dataset=dataset)
    argv[argv.index("--token-stats-samples") + 1] = "3"
    assert main(argv) == 0
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert config["token_stats"]["samples"] == 3


@pytest.mark.parametrize("writer", ["torch.save", "safetensors"])
def test_a_full_disk_ends_the_run_in_one_line_keeping_the_last_checkpoint(
        tiny_run, tmp_path, monkeypatch, writer):
    """A full disk at a save ended the run with a library's traceback (torch.save's
    "basic_ios::clear: iostream error" says nothing of space): now one line naming the file,
    the error and the free space; the checkpoint of the save before stays."""
    import safetensors.torch
    import torch

    from gr00t_policy.checkpoint import load_checkpoint, weights_metadata

    module, name, error = {
        "torch.save": (torch, "save", RuntimeError("basic_ios::clear: iostream error")),
        "safetensors": (safetensors.torch, "save_file", safetensors.SafetensorError(
            "Error while serializing: I/O error: No space left on device (os error 28)")),
    }[writer]
    original, calls = getattr(module, name), {"n": 0}

    def full(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:  # the first save goes through
            raise error
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, full)
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as info:
        main(tiny_run(out, "--steps", "6", "--save-every", "2"))
    message = str(info.value.code)
    path = out / "train_state.pt" if writer == "torch.save" else out
    assert message.startswith(f"could not write {path}: {error}; free space on /"), message
    assert message.endswith(" MB (disk full?)") and "\n" not in message, message
    assert weights_metadata(out)["train_step"] == "2"
    load_checkpoint(out)
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]
