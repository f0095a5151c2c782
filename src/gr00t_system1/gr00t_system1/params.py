"""System 1 node parameters: declared with types and descriptions, read and validated.

Parameters whose default comes from the embodiment YAML (control_rate_hz, the staleness
limits, start_enabled) are declared without a value; unset means "use the YAML's value".
Numbers accept ints or doubles (`-p control_rate_hz:=120` works). A bad value raises
`ParameterError` naming the parameter, the value and what is allowed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, ParameterType
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.node import Node

BACKENDS = ("onnxruntime", "torch", "tensorrt")


class ParameterError(ValueError):
    """A node parameter with a missing, mistyped or out-of-range value."""


@dataclass(frozen=True)
class Settings:
    """Validated parameters; `None` = take the embodiment YAML's value."""

    checkpoint: str
    embodiment: str
    backend: str
    device: str
    control_rate_hz: float | None
    denoising_steps: int
    state_staleness_s: float | None
    token_staleness_s: float | None
    blend_s: float
    start_enabled: bool | None
    ort_threads: int
    inference_niceness: int
    seed: int
    noise_scale: float
    cache_dir: str


def _desc(text: str, ptype: int, *, dynamic: bool = False, read_only: bool = True,
          constraints: str = "", frange: tuple[float, float] | None = None,
          irange: tuple[int, int] | None = None) -> ParameterDescriptor:
    d = ParameterDescriptor(description=text, type=ptype, read_only=read_only,
                            dynamic_typing=dynamic, additional_constraints=constraints)
    if frange is not None:
        d.floating_point_range = [FloatingPointRange(from_value=frange[0], to_value=frange[1])]
    if irange is not None:
        d.integer_range = [IntegerRange(from_value=irange[0], to_value=irange[1], step=1)]
    return d


# name -> (default or None for "from the YAML", descriptor)
_SPECS: dict[str, tuple[Any, ParameterDescriptor]] = {
    "checkpoint": ("", _desc(
        "Checkpoint directory (gr00t_ros format: config.json, model.safetensors, "
        "experiment_cfg/metadata.json). Required.", ParameterType.PARAMETER_STRING)),
    "embodiment": ("", _desc(
        "Embodiment YAML path (e.g. config/unitree_g1.yaml). Required.",
        ParameterType.PARAMETER_STRING)),
    "backend": ("onnxruntime", _desc(
        "Action head backend.", ParameterType.PARAMETER_STRING,
        constraints=" | ".join(BACKENDS))),
    "device": ("cpu", _desc(
        "torch device for the torch backend (cpu, cuda, cuda:1); tensorrt always uses CUDA.",
        ParameterType.PARAMETER_STRING)),
    "control_rate_hz": (None, _desc(
        "Command rate in Hz. Unset: the YAML's rates.system1_hz.",
        ParameterType.PARAMETER_DOUBLE, dynamic=True, constraints="1 <= hz <= 2000")),
    "denoising_steps": (4, _desc(
        "Euler steps K of the flow-matching sampler.", ParameterType.PARAMETER_INTEGER,
        irange=(1, 100))),
    "state_staleness_s": (None, _desc(
        "Max age (by arrival) of /joint_states before holding. Unset: the YAML's "
        "staleness.state_s.", ParameterType.PARAMETER_DOUBLE, dynamic=True,
        constraints="> 0")),
    "token_staleness_s": (None, _desc(
        "Max age (by header stamp and by arrival) of the embedding tokens before holding. "
        "Unset: the YAML's staleness.tokens_s.", ParameterType.PARAMETER_DOUBLE, dynamic=True,
        constraints="> 0")),
    "blend_s": (0.1, _desc(
        "Cross-fade time from the old chunk's command to a new chunk's, seconds (0 = swap).",
        ParameterType.PARAMETER_DOUBLE, frange=(0.0, 10.0))),
    "start_enabled": (None, _desc(
        "Publish commands from the start without a /gr00t/enable call. Unset: the YAML's "
        "start_enabled.", ParameterType.PARAMETER_BOOL, dynamic=True)),
    "ort_threads": (1, _desc(
        "Intra-op threads of onnxruntime (and of torch on the CPU).",
        ParameterType.PARAMETER_INTEGER, irange=(1, 64))),
    "inference_niceness": (5, _desc(
        "Nice value added to the inference thread so the control loop wins on a busy CPU "
        "(Linux, per thread); 0 leaves it alone.", ParameterType.PARAMETER_INTEGER,
        irange=(0, 19))),
    "seed": (-1, _desc(
        "Noise seed for the sampler; -1 draws one from the OS.",
        ParameterType.PARAMETER_INTEGER)),
    "noise_scale": (1.0, _desc(
        "Standard deviation of the sampler's initial noise: 1 samples the trained "
        "distribution; below 1 draws chunks nearer its most likely one.",
        ParameterType.PARAMETER_DOUBLE, frange=(0.0, 2.0))),
    "cache_dir": ("", _desc(
        "Where ONNX exports / TensorRT engines are cached. Empty: ~/.cache/gr00t_ros.",
        ParameterType.PARAMETER_STRING)),
}


def declare(node: Node) -> None:
    """Declare every parameter on `node`; a mistyped override raises ParameterError."""
    for name, (default, desc) in _SPECS.items():
        try:
            node.declare_parameter(name, default, desc)
        except (InvalidParameterTypeException, InvalidParameterValueException) as exc:
            raise ParameterError(f"parameter {name!r}: {exc}; {desc.description}") from exc


def _number(node: Node, name: str, *, lo: float, hi: float = math.inf,
            lo_open: bool = False) -> float | None:
    value = node.get_parameter(name).value
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ParameterError(f"parameter {name!r} must be a number, got {value!r}")
    value = float(value)
    below = value <= lo if lo_open else value < lo
    if not math.isfinite(value) or below or value > hi:
        bound = f"> {lo}" if lo_open else f">= {lo}"
        raise ParameterError(f"parameter {name!r} = {value} is out of range: must be {bound}"
                             + (f" and <= {hi}" if math.isfinite(hi) else ""))
    return value


def read(node: Node) -> Settings:
    """Read and validate the declared parameters."""
    get = lambda n: node.get_parameter(n).value  # noqa: E731
    checkpoint, embodiment = str(get("checkpoint")), str(get("embodiment"))
    if not checkpoint:
        raise ParameterError("parameter 'checkpoint' is required: pass -p checkpoint:=DIR")
    if not embodiment:
        raise ParameterError(
            "parameter 'embodiment' is required: pass -p embodiment:=config/unitree_g1.yaml")
    backend = str(get("backend"))
    if backend not in BACKENDS:
        raise ParameterError(f"parameter 'backend' = {backend!r} is unknown; known: {list(BACKENDS)}")
    start_enabled = get("start_enabled")
    if start_enabled is not None and not isinstance(start_enabled, bool):
        raise ParameterError(f"parameter 'start_enabled' must be true or false, got {start_enabled!r}")
    steps, threads = get("denoising_steps"), get("ort_threads")
    for name, value, lo in (("denoising_steps", steps, 1), ("ort_threads", threads, 1)):
        if value < lo:
            raise ParameterError(f"parameter {name!r} = {value} must be >= {lo}")
    blend = _number(node, "blend_s", lo=0.0)
    return Settings(
        checkpoint=checkpoint,
        embodiment=embodiment,
        backend=backend,
        device=str(get("device")),
        control_rate_hz=_number(node, "control_rate_hz", lo=1.0, hi=2000.0),
        denoising_steps=int(steps),
        state_staleness_s=_number(node, "state_staleness_s", lo=0.0, lo_open=True),
        token_staleness_s=_number(node, "token_staleness_s", lo=0.0, lo_open=True),
        blend_s=0.1 if blend is None else blend,
        start_enabled=start_enabled,
        ort_threads=int(threads),
        inference_niceness=int(get("inference_niceness")),
        seed=int(get("seed")),
        noise_scale=_number(node, "noise_scale", lo=0.0, hi=2.0),
        cache_dir=str(get("cache_dir")),
    )
