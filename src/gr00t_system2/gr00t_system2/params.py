"""System 2 node parameters: declaration (typed, described) and validation at start.

`declare_and_read(node)` declares every parameter with a ParameterDescriptor and returns a
validated `System2Params`; a bad value raises `ParameterError` naming the parameter, the
value and the fix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from rcl_interfaces.msg import ParameterDescriptor, ParameterType
from rclpy.node import Node
from rclpy.exceptions import InvalidParameterTypeException
from rclpy.expand_topic_name import expand_topic_name
from rclpy.validate_full_topic_name import validate_full_topic_name

DEVICES = ("cpu", "cuda")
COMPUTE_DTYPES = ("float32", "bfloat16", "float16")
TOKEN_DTYPES = ("float16", "float32")


class ParameterError(ValueError):
    """A node parameter with a value the node cannot run with."""


@dataclass(frozen=True)
class System2Params:
    """Validated parameters of the System 2 node (see `PARAMETERS` for each meaning)."""

    checkpoint: Path
    camera_topics: tuple[str, ...]
    rate_hz: float
    default_instruction: str
    device: str
    dtype: str
    token_dtype: str
    max_instruction_length: int
    stale_image_s: float
    torch_threads: int


# name -> (default, ParameterType, description)
PARAMETERS: dict[str, tuple[object, int, str]] = {
    "checkpoint": (
        "", ParameterType.PARAMETER_STRING,
        "Checkpoint directory (gr00t_ros format: config.json, model.safetensors, tokenizer). "
        "Required.",
    ),
    "camera_topics": (
        ["/camera/head/image_raw"], ParameterType.PARAMETER_STRING_ARRAY,
        "sensor_msgs/Image topics, one per camera view, in the order the checkpoint expects. "
        "Encodings rgb8, bgr8, rgba8, bgra8, mono8.",
    ),
    "rate_hz": (
        10.0, ParameterType.PARAMETER_DOUBLE,
        "Rate at which tokens are computed and published (Hz, > 0). Runs as fast as it can "
        "when inference is slower than the period.",
    ),
    "default_instruction": (
        "hold your position", ParameterType.PARAMETER_STRING,
        "Instruction in force at start (instruction_id 0) until one is set.",
    ),
    "device": ("cpu", ParameterType.PARAMETER_STRING, "Torch device: 'cpu' or 'cuda'."),
    "dtype": (
        "float32", ParameterType.PARAMETER_STRING,
        "Backbone compute dtype: 'float32', 'bfloat16' or 'float16'.",
    ),
    "token_dtype": (
        "float16", ParameterType.PARAMETER_STRING,
        "Element type of EmbeddingTokens.data on the wire: 'float16' (half the bytes) or "
        "'float32'.",
    ),
    "max_instruction_length": (
        512, ParameterType.PARAMETER_INTEGER,
        "Longest accepted instruction in characters, after stripping surrounding whitespace "
        "(>= 1).",
    ),
    "stale_image_s": (
        1.0, ParameterType.PARAMETER_DOUBLE,
        "A camera whose newest frame arrived longer ago than this (s, > 0) counts as missing; "
        "nothing is published while a camera is missing.",
    ),
    "torch_threads": (
        0, ParameterType.PARAMETER_INTEGER,
        "torch intra-op threads for the backbone (>= 1), or 0 to keep torch's default.",
    ),
}


def declare_and_read(node: Node) -> System2Params:
    """Declare the parameters on ``node``, read and validate them."""
    for name, (default, ptype, description) in PARAMETERS.items():
        try:
            node.declare_parameter(name, default, ParameterDescriptor(
                name=name, type=ptype, description=description, read_only=True,
            ))
        except InvalidParameterTypeException as exc:
            raise ParameterError(
                f"parameter {name} has the wrong type ({exc}); it takes a "
                f"{type(default).__name__} like {default!r}"
            ) from exc
    value = {name: node.get_parameter(name).value for name in PARAMETERS}
    return validate(value, node.get_name(), node.get_namespace())


def _choice(values: dict, name: str, choices: tuple[str, ...]) -> str:
    v = values[name]
    if v not in choices:
        raise ParameterError(
            f"parameter {name}={v!r} is not one of {list(choices)}; pass e.g. "
            f"-p {name}:={choices[0]}"
        )
    return v


def validate(values: dict, node_name: str = "gr00t_system2", namespace: str = "/") -> System2Params:
    """Check raw parameter values; raise ParameterError naming the first bad one.

    Relative camera topics are expanded against ``namespace`` (as the subscriptions
    would resolve them), so the returned topics are absolute.
    """
    ckpt = str(values["checkpoint"]).strip()
    if not ckpt:
        raise ParameterError(
            "parameter checkpoint is empty; pass the checkpoint directory with "
            "-p checkpoint:=/path/to/checkpoint"
        )
    ckpt_path = Path(ckpt).expanduser()
    if not (ckpt_path / "config.json").is_file():
        raise ParameterError(
            f"parameter checkpoint={ckpt!r} is not a checkpoint directory (no config.json "
            "there); pass a directory written by gr00t_policy's save_checkpoint"
        )

    raw_topics = tuple(values["camera_topics"] or ())
    if not raw_topics:
        raise ParameterError(
            "parameter camera_topics is empty; pass one topic per camera view, e.g. "
            "-p camera_topics:=[/camera/head/image_raw]"
        )
    topics = []
    for topic in raw_topics:
        try:
            full = expand_topic_name(topic, node_name, namespace)
            validate_full_topic_name(full)
        except Exception as exc:  # rclpy raises InvalidTopicNameException / ValueError
            raise ParameterError(
                f"parameter camera_topics holds {topic!r}, not a valid topic name "
                f"({exc}); use names like /camera/head/image_raw"
            ) from exc
        topics.append(full)
    topics = tuple(topics)
    if len(set(topics)) != len(topics):
        raise ParameterError(
            f"parameter camera_topics={list(topics)} names a topic twice; list each camera once"
        )

    rate = float(values["rate_hz"])
    if not math.isfinite(rate) or rate <= 0:
        raise ParameterError(f"parameter rate_hz={rate} must be a finite number > 0, e.g. 10.0")

    stale = float(values["stale_image_s"])
    if not math.isfinite(stale) or stale <= 0:
        raise ParameterError(
            f"parameter stale_image_s={stale} must be a finite number of seconds > 0, e.g. 1.0"
        )

    max_len = int(values["max_instruction_length"])
    if max_len < 1:
        raise ParameterError(f"parameter max_instruction_length={max_len} must be >= 1, e.g. 512")

    threads = int(values["torch_threads"])
    if threads < 0:
        raise ParameterError(
            f"parameter torch_threads={threads} must be >= 1, or 0 for torch's default"
        )

    return System2Params(
        checkpoint=ckpt_path,
        camera_topics=topics,
        rate_hz=rate,
        default_instruction=str(values["default_instruction"]),
        device=_choice(values, "device", DEVICES),
        dtype=_choice(values, "dtype", COMPUTE_DTYPES),
        token_dtype=_choice(values, "token_dtype", TOKEN_DTYPES),
        max_instruction_length=max_len,
        stale_image_s=stale,
        torch_threads=threads,
    )
