"""The torch devices a node's `device` parameter may name, and whether this machine has one.

System 1 and System 2 take the same forms (their specs match DEVICE_PATTERN, before anything
loads) and check the device on their machine with `device_problem` when they configure, so
`device:=gpu` or `device:=cuda` without a GPU is refused naming the parameter, not later as
an unreadable checkpoint or a pinned-memory error. `gr00t-bringup graph` checks the forms
only: the node may run on another machine. Importing this module does not import torch.
"""

from __future__ import annotations

import re

DEVICE_PATTERN = r"cpu|cuda(:[0-9]+)?"
DEVICE_FORMS = "cpu, cuda or cuda:N (N: a GPU index)"


def device_problem(device: str) -> str | None:
    """What keeps torch from computing on `device` here, ending in the fix (a node
    parameter's: `-p device:=cpu`); None when nothing does. Imports torch only for a CUDA
    device."""
    match = re.fullmatch(DEVICE_PATTERN, device)
    if match is None:
        return f"is not a torch device: pass {DEVICE_FORMS}"
    if device == "cpu":
        return None
    import torch

    if not torch.cuda.is_available():
        why = (f"this torch ({torch.__version__}) is built without CUDA"
               if torch.version.cuda is None else
               "torch sees no CUDA device (no GPU or driver, or CUDA_VISIBLE_DEVICES hides them)")
        return (f"asks for CUDA, but {why}: pass -p device:=cpu, or run the node where torch "
                "sees a GPU")
    count = torch.cuda.device_count()
    index = int(match.group(1)[1:]) if match.group(1) else 0
    if index >= count:
        names = ", ".join(f"cuda:{i}" for i in range(count))
        return f"names GPU {index}, but torch sees {count} ({names}): pass one of those"
    return None


def backend_device_problem(backend: str, device: str) -> str | None:
    """Why the action head backend `backend` cannot honour `device`, ending in the fix (System
    1's parameters); None when it can. onnxruntime runs on the CPU only: it would ignore a CUDA
    device, and a head sized for a GPU (GR00T N1's: ~0.8 s a chunk there) would run far below
    the control rate without a word. Imports nothing."""
    if backend == "onnxruntime" and device != "cpu":
        return ("is not used by backend 'onnxruntime', which runs on the CPU: pass -p "
                f"backend:=torch (or tensorrt) to run the action head on {device}, or -p "
                "device:=cpu")
    return None
