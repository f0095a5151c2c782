"""Ctrl-C or SIGTERM during training: finish the step, save where it stands, exit.

A run longer than a session (or a job a cluster pre-empts with SIGTERM) used to lose
everything since its last ``--save-every`` save. With a stop request the loop finishes the
step it is in, writes the same checkpoint and ``train_state.pt`` an intermediate save writes
(:mod:`gr00t_policy.train.state`), and returns; the same command plus ``--resume`` carries
on from that step as if never stopped. A second signal while it saves is refused with a
line saying so: cutting the save short would lose the step's state (``kill -9`` still
ends the process, at the cost of the steps since the last save).

Under torchrun every rank must stop at the same step (each takes part in every step's
gradient exchange), so the ranks agree once per step: a stop requested on any rank stops
them all (one all-reduce of one number per step; nothing for a single process). Ctrl-C on
torchrun reaches its agent, which passes the signal to every rank and kills them after its
shutdown timeout (30 s by default): the save must fit in it. With ``--max-restarts`` above 0
torchrun would restart the ranks without ``--resume`` after a signal to a rank alone; stop
such a run through the agent.

The save writes the weights and train_log.json, then train_state.pt with its step; a save
cut between the two is caught by ``--resume``, which then goes on from the weights with a
fresh optimizer, as for a checkpoint without train_state.pt (:mod:`gr00t_policy.train.state`).
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import Any

import torch

from gr00t_policy.train.distributed import DataParallel

logger = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    """Turns SIGINT/SIGTERM into a request the loop reads after each step (a context
    manager: the handlers are installed inside the ``with`` block only, and only from the
    main thread; elsewhere no signal stops the loop early)."""

    def __init__(self, group: DataParallel | None = None) -> None:
        self.group = group or DataParallel()
        self.signal_name: str | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> "StopRequest":
        if threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, previous in self._previous.items():
            if previous is not None:  # None: a handler from outside Python, not restorable
                signal.signal(sig, previous)
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.signal_name is None:
            self.signal_name = name
            logger.warning("%s: finishing this step, then saving a checkpoint (--resume goes "
                           "on from it; in the last step, the final one)", name)
        else:
            logger.warning("%s: already stopping (saving the step's state; kill -9 would "
                           "lose the steps since the last save)", name)

    def requested(self) -> bool:
        """Whether to stop after this step: on any rank (all ranks call it every step)."""
        local = self.signal_name is not None
        if self.group.world_size == 1:
            return local
        flag = torch.tensor([1.0 if local else 0.0])
        return bool(self.group.sum(flag).item() > 0)
