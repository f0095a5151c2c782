"""Data-parallel training under ``torchrun``, giving what one process gives at the same batch.

    torchrun --standalone --nproc-per-node 2 -m gr00t_policy.train --dataset D --out O ...

``torchrun`` starts one process per worker and tells each its rank through the environment
(``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``/``MASTER_PORT``); :meth:`DataParallel.from_environment`
joins them into one process group (gloo: the trainer runs on the CPU) and a plain
``gr00t-train`` gets a one-process :class:`DataParallel` that does nothing.

How the result stays one process's: every rank draws the same global batch (the same seeded
generators, so the same frames, augmentation, flow noise and flow times) and keeps its own
contiguous share of the rows (:meth:`DataParallel.shard`); DistributedDataParallel averages
the gradients. The flow-matching loss is a sum over the valid action entries divided by their
count, and the shares hold different counts (chunks that run past an episode's end are
masked), so each rank scales its loss by ``world_size * its count / the global count``
(:meth:`DataParallel.flow_scale`): the averaged gradient is then the global loss's gradient.
The auxiliary losses weigh every sample alike and need no scaling. Only rank 0 logs and
writes the checkpoint. Each rank decodes the whole dataset (memory grows with the ranks).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Mapping

import torch
import torch.distributed as dist

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DataParallel:
    """This process's place among the training processes (rank 0 of 1 without torchrun)."""

    rank: int = 0
    world_size: int = 1

    @classmethod
    def from_environment(cls) -> "DataParallel":
        """Join torchrun's process group when ``WORLD_SIZE`` > 1; else one process."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        if not dist.is_initialized():
            dist.init_process_group(backend="gloo")
        group = cls(dist.get_rank(), dist.get_world_size())
        logger.info("data parallel: rank %d of %d (gloo)", group.rank, group.world_size)
        return group

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that logs and writes files."""
        return self.rank == 0

    def check_batch_size(self, batch_size: int) -> None:
        if batch_size % self.world_size:
            raise ValueError(f"--batch-size {batch_size} must be a multiple of the "
                             f"{self.world_size} processes torchrun started (the global batch "
                             f"is split evenly)")

    def shard(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """This rank's contiguous share of the rows of a global batch (all tensors (B, ...))."""
        if self.world_size == 1:
            return dict(batch)
        size = next(iter(batch.values())).shape[0] // self.world_size
        rows = slice(self.rank * size, (self.rank + 1) * size)
        return {name: t[rows] for name, t in batch.items()}

    def flow_scale(self, global_mask: torch.Tensor, local_mask: torch.Tensor) -> float:
        """The factor on this rank's flow-matching loss that makes the averaged gradient the
        global loss's: world_size * valid entries here / valid entries in the global batch
        (exactly 1.0 for one process)."""
        if self.world_size == 1:
            return 1.0
        return self.world_size * float(local_mask.sum()) / max(float(global_mask.sum()), 1.0)

    def wrap(self, module: torch.nn.Module) -> torch.nn.Module:
        """DistributedDataParallel around ``module`` when there are several processes."""
        if self.world_size == 1:
            return module
        # Unused parameters exist (e.g. the backbone's parts no loss reaches for a batch).
        return torch.nn.parallel.DistributedDataParallel(module, find_unused_parameters=True)

    def sum(self, value: torch.Tensor) -> torch.Tensor:
        """The sum of a detached tensor over the processes (for logging)."""
        if self.world_size == 1:
            return value
        total = value.detach().clone()
        dist.all_reduce(total, op=dist.ReduceOp.SUM)
        return total

    def barrier(self) -> None:
        if self.world_size > 1:
            dist.barrier()

    def close(self) -> None:
        if self.world_size > 1 and dist.is_initialized():
            dist.destroy_process_group()
