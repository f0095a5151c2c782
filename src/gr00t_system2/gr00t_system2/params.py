"""System 2 node parameters: one spec each (gr00t_common.params), read into `System2Params`.

`declare_and_read(node)` declares every parameter with its descriptor and returns a
validated `System2Params`; a bad value raises `ParameterError` naming the parameter, the
value and the fix. Beyond the specs, the checkpoint must be a checkpoint directory and the
camera topics distinct once expanded against the node's namespace, and an unset
``stale_image_s`` is derived from ``token_staleness_s``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rclpy.expand_topic_name import expand_topic_name
from rclpy.node import Node

from gr00t_common.params import UNSET, ParameterError, Pattern, Range, Spec, check
from gr00t_common.params import declare_and_read as _declare_and_read
from gr00t_policy.backend_names import SYSTEM2_BACKENDS
from gr00t_policy.devices import DEVICE_FORMS, DEVICE_PATTERN
from gr00t_policy.embodiment import MAX_TOKEN_AGE_S
from gr00t_policy.runtime.stamps import CLOCK_OFF_S
from gr00t_system2.cameras import CAMERA_QOS, CAMERA_TRANSPORTS

__all__ = ["SPECS", "ParameterError", "System2Params", "declare_and_read", "validate"]

COMPUTE_DTYPES = ("float32", "bfloat16", "float16")
TOKEN_DTYPES = ("float16", "float32")
# stale_image_s when unset: at most this, and at most token_staleness_s (a frame older than
# System 1's token limit only makes tokens it refuses; an unstamped camera's tokens carry
# the frame's receipt time).
MAX_DEFAULT_STALE_IMAGE_S = 1.0

SPECS = (
    Spec("checkpoint", "string", "",
         "Checkpoint directory (gr00t_ros format: config.json, model.safetensors, tokenizer). "
         "Required.", required=True, example="/path/to/checkpoint"),
    Spec("camera_topics", "string_array", ["/camera/head/image_raw"],
         "Camera topics, one per camera view, in the order the checkpoint expects: "
         "sensor_msgs/Image (encodings rgb8, bgr8, rgba8, bgra8, mono8) or "
         "sensor_msgs/CompressedImage (JPEG or PNG, e.g. image_transport's "
         "<camera>/image_raw/compressed).", required=True, topic=True),
    Spec("camera_qos", "string", "auto",
         "Reliability of the camera subscriptions: auto = reliable when every publisher of "
         "the topic is reliable, else best effort (waits for a publisher, re-checked every "
         "0.5 s); reliable never connects to a best-effort publisher.", choices=CAMERA_QOS),
    Spec("camera_transport", "string", "auto",
         "Message type of the camera topics: raw = sensor_msgs/Image, compressed = "
         "sensor_msgs/CompressedImage, auto = the type the topic's publishers advertise "
         "(waits for a publisher, re-checked every 0.5 s).", choices=CAMERA_TRANSPORTS),
    Spec("rate_hz", "double", 10.0,
         "Rate at which tokens are computed and published (Hz). Runs as fast as it can when "
         "inference is slower than the period.", range=Range.above(0.0)),
    Spec("default_instruction", "string", "",
         "Instruction in force at start (instruction_id 0) until one is set; empty: none, "
         "so no tokens are published and System 1 does not move until one is set (also "
         "after a restart of this node)."),
    Spec("device", "string", "cpu",
         "torch device of the backbone (onnxruntime runs on the CPU). A CUDA device is "
         "refused at configure where torch sees none.",
         pattern=Pattern(DEVICE_PATTERN, DEVICE_FORMS)),
    Spec("backend", "string", "auto",
         "How the backbone runs: torch; onnxruntime (float32 on the CPU, exported once per "
         "backbone into cache_dir, ~10-20 s); auto = onnxruntime on the CPU in float32 for "
         "backbones up to 300 M parameters (the nano presets), torch otherwise.",
         choices=SYSTEM2_BACKENDS),
    Spec("cache_dir", "string", "",
         "Where the backbone's ONNX export is cached. Empty: ~/.cache/gr00t_ros."),
    Spec("dtype", "string", "float32", "Backbone compute dtype.", choices=COMPUTE_DTYPES),
    Spec("token_dtype", "string", "float16",
         "Element type of EmbeddingTokens.data on the wire: float16 (half the bytes) or "
         "float32.", choices=TOKEN_DTYPES),
    Spec("max_instruction_length", "integer", 512,
         "Longest accepted instruction in characters, after stripping surrounding whitespace.",
         range=Range.at_least(1)),
    Spec("token_staleness_s", "double", CLOCK_OFF_S,
         "System 1's token_staleness_s (s): it refuses tokens stamped further behind its "
         "clock than this, and the tokens carry their oldest camera frame's stamp, so a "
         "camera whose frames arrive stamped further behind this node's clock is named in "
         "a warning and the diagnostics. gr00t-bringup and the launch file pass the "
         "embodiment YAML's staleness.tokens_s.",
         range=Range(0.0, MAX_TOKEN_AGE_S, lo_open=True)),
    Spec("stale_image_s", "double", UNSET,
         "A camera whose newest frame arrived longer ago than this (s) counts as missing; "
         "nothing is published while a camera is missing. Unset: token_staleness_s, at "
         f"most {MAX_DEFAULT_STALE_IMAGE_S}.", range=Range.above(0.0), example="0.5",
         shown_default=f"unset: min(token_staleness_s, {MAX_DEFAULT_STALE_IMAGE_S})"),
    Spec("torch_threads", "integer", 0,
         "Intra-op threads for the backbone, torch's or onnxruntime's (>= 1), or 0 for the "
         "default: torch's own, 1 on onnxruntime.",
         range=Range.at_least(0)),
)


@dataclass(frozen=True)
class System2Params:
    """Validated parameters of the System 2 node (see `SPECS` for each meaning)."""

    checkpoint: Path
    camera_topics: tuple[str, ...]
    camera_qos: str
    camera_transport: str
    rate_hz: float
    default_instruction: str
    device: str
    backend: str
    cache_dir: str
    dtype: str
    token_dtype: str
    max_instruction_length: int
    token_staleness_s: float
    stale_image_s: float
    torch_threads: int


def declare_and_read(node: Node) -> System2Params:
    """Declare the parameters on ``node``, read and validate them."""
    return _params(_declare_and_read(node, SPECS), node.get_name(), node.get_namespace())


def validate(values: Mapping[str, Any], node_name: str = "gr00t_system2",
             namespace: str = "/") -> System2Params:
    """Check raw parameter values; raise ParameterError naming the first bad one.

    Relative camera topics are expanded against ``namespace`` (as the subscriptions
    would resolve them), so the returned topics are absolute.
    """
    return _params(check(SPECS, values), node_name, namespace)


def _params(values: dict[str, Any], node_name: str, namespace: str) -> System2Params:
    """System2Params from values that passed their specs."""
    if values["backend"] == "onnxruntime" and (values["device"], values["dtype"]) != ("cpu",
                                                                                   "float32"):
        raise ParameterError(
            f"parameter backend='onnxruntime' runs the backbone in float32 on the CPU, not "
            f"{values['dtype']} on {values['device']!r}; use backend 'torch' (or 'auto') there")
    ckpt = values["checkpoint"].strip()
    ckpt_path = Path(ckpt).expanduser()
    if not (ckpt_path / "config.json").is_file():
        raise ParameterError(
            f"parameter checkpoint={ckpt!r} is not a checkpoint directory (no config.json "
            "there); pass a directory written by gr00t_policy's save_checkpoint"
        )

    # valid names (the spec's topic check); absolute as the subscriptions will resolve them
    topics = [expand_topic_name(topic, node_name, namespace) for topic in values["camera_topics"]]
    if len(set(topics)) != len(topics):
        raise ParameterError(
            f"parameter camera_topics={topics} names a topic twice; list each camera once"
        )
    stale = values["stale_image_s"]
    if stale is None:
        stale = min(values["token_staleness_s"], MAX_DEFAULT_STALE_IMAGE_S)
    return System2Params(**{**values, "checkpoint": ckpt_path, "camera_topics": tuple(topics),
                            "stale_image_s": stale})
