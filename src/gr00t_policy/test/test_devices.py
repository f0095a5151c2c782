"""gr00t_policy.devices: the device forms the nodes take, and the check on this machine."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from gr00t_policy.devices import device_problem


@pytest.mark.parametrize("device", ["gpu", "CUDA", "cuda:", "cuda:x", "cuda0", "mps", ""])
def test_names_torch_has_no_device_for_are_refused_listing_the_forms(device):
    assert device_problem(device) == ("is not a torch device: pass cpu, cuda or cuda:N "
                                      "(N: a GPU index)")


def test_cpu_is_always_there():
    assert device_problem("cpu") is None


def test_cuda_without_cuda_is_refused_with_the_fix(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for device in ("cuda", "cuda:0", "cuda:3"):
        problem = device_problem(device)
        assert problem.startswith("asks for CUDA, but "), problem
        assert problem.endswith("pass -p device:=cpu, or run the node where torch sees a GPU")


def test_a_gpu_index_must_be_one_torch_sees(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert device_problem("cuda") is None and device_problem("cuda:1") is None
    assert device_problem("cuda:2") == ("names GPU 2, but torch sees 2 (cuda:0, cuda:1): pass "
                                        "one of those")


def test_importing_it_does_not_import_torch():
    # The nodes' parameter specs import the forms; torch only comes with a CUDA check.
    code = ("import sys, gr00t_policy.devices as d; d.device_problem('cpu'); "
            "sys.exit('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
