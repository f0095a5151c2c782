"""What test_train_distributed.py starts under torchrun: the tiny policy's training run of
test_train.py (same dataset writer, configs and settings), one process per rank.

    torchrun --standalone --nproc-per-node 2 distributed_train_main.py DATASET OUT
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_train_distributed import SETTINGS  # noqa: E402
from test_train import tiny_embodiment, tiny_policy_config  # noqa: E402

from gr00t_policy.train import train  # noqa: E402

if __name__ == "__main__":
    dataset, out = sys.argv[1:3]
    train(dataset, out, policy_config=tiny_policy_config(), embodiment=tiny_embodiment(),
          cfg=SETTINGS, progress=False)
