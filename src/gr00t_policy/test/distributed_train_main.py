"""What test_train_distributed.py starts under torchrun: the tiny policy's training run of
test_train.py (same dataset writer, configs and settings), one process per rank.

    torchrun --standalone --nproc-per-node 2 distributed_train_main.py DATASET OUT [RANK:STEP]

With RANK:STEP, that rank alone sends itself SIGTERM while step STEP runs (a stop request
all ranks must agree on).
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_train_distributed import SETTINGS  # noqa: E402
from test_train import tiny_embodiment, tiny_policy_config  # noqa: E402

from gr00t_policy.train import TrainingData, train  # noqa: E402


def stop_on(rank: int, step: int) -> None:
    if int(os.environ["RANK"]) != rank:
        return
    original, calls = TrainingData.sample, [0]

    def sample(self, *args, **kwargs):
        if calls[0] == step:
            os.kill(os.getpid(), signal.SIGTERM)
        calls[0] += 1
        return original(self, *args, **kwargs)

    TrainingData.sample = sample


if __name__ == "__main__":
    dataset, out = sys.argv[1:3]
    if len(sys.argv) > 3:
        stop_on(*map(int, sys.argv[3].split(":")))
    train(dataset, out, policy_config=tiny_policy_config(), embodiment=tiny_embodiment(),
          cfg=SETTINGS, progress=False)
