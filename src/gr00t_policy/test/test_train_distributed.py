"""gr00t-train under torchrun: two processes (gloo, CPU) train the weights one process trains
at the same global batch, and write one checkpoint."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from gr00t_policy.train import TrainConfig, train
from gr00t_policy.train.distributed import DataParallel

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # the tiny dataset and policy of test_train.py
from test_train import tiny_embodiment, tiny_policy_config, write_tiny_dataset  # noqa: E402
# bfloat16 would round the two runs apart; the goal and scene losses take the auxiliary path.
SETTINGS = TrainConfig(steps=4, batch_size=6, lr=3e-3, seed=3, bf16=False, log_every=1,
                       save_every=0, aux_weights={"goal": 1.0, "scene": 0.5})


def test_shares_and_flow_scale_recombine_to_the_global_batch():
    batch = {"x": torch.arange(12.0).view(6, 2), "action_mask": torch.ones(6, 4)}
    batch["action_mask"][4:, 2:] = 0  # the last rows ran past an episode's end
    shares = [DataParallel(rank, 2).shard(batch) for rank in range(2)]
    assert torch.equal(torch.cat([s["x"] for s in shares]), batch["x"])
    scales = [DataParallel(r, 2).flow_scale(batch["action_mask"], s["action_mask"])
              for r, s in enumerate(shares)]
    assert scales == pytest.approx([2 * 12 / 20, 2 * 8 / 20])  # 12 + 8 valid of 20
    assert DataParallel().flow_scale(batch["action_mask"], batch["action_mask"]) == 1.0
    with pytest.raises(ValueError, match="batch-size 5 must be a multiple of the 2"):
        DataParallel(0, 2).check_batch_size(5)


@pytest.mark.slow
def test_two_torchrun_processes_match_one_process(tmp_path):
    from safetensors.torch import load_file

    goal_dataset = tmp_path / "tiny_goals"
    write_tiny_dataset(goal_dataset, goals=True)  # episodes of 10-15 frames: masked chunk ends
    one, two = tmp_path / "one", tmp_path / "two"
    train(goal_dataset, one, policy_config=tiny_policy_config(), embodiment=tiny_embodiment(),
          cfg=SETTINGS, progress=False)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(
        [str(HERE), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
         str(HERE / "distributed_train_main.py"), str(goal_dataset), str(two)],
        env=env, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    logs = [json.loads((d / "train_log.json").read_text()) for d in (one, two)]
    for key in ("losses", "goal_losses", "scene_losses"):
        np.testing.assert_allclose(logs[1][key], logs[0][key], rtol=1e-4, atol=1e-6, err_msg=key)
    a, b = (load_file(str(d / "model.safetensors")) for d in (one, two))
    assert a.keys() == b.keys()
    worst = max(float((a[k] - b[k]).abs().max()) for k in a)
    assert worst < 1e-4, worst  # after 4 AdamW steps of lr 3e-3
    assert len(set(logs[0]["losses"])) == SETTINGS.steps  # it trained: every step differs


@pytest.mark.slow
def test_a_signal_to_one_rank_stops_both_at_the_same_step(tmp_path):
    dataset, out = tmp_path / "tiny", tmp_path / "stopped"
    write_tiny_dataset(dataset, goals=True)  # SETTINGS train the goal head
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(
        [str(HERE), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
         str(HERE / "distributed_train_main.py"), str(dataset), str(out), "1:1"],
        env=env, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    log = json.loads((out / "train_log.json").read_text())
    assert log["step"] == 2 and len(log["losses"]) == 2  # rank 1's signal came in step 1
    assert (out / "train_state.pt").is_file()  # what --resume needs
