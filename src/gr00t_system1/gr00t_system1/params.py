"""System 1 node parameters: one spec each (gr00t_common.params), read into `Settings`.

Parameters whose default comes from the embodiment YAML (control_rate_hz, the staleness
limits, start_enabled) are declared without a value; unset means "use the YAML's value".
Numbers without a default accept ints or doubles (`-p control_rate_hz:=120` works). A bad
value raises `ParameterError` naming the parameter, the value and what is allowed.
"""

from __future__ import annotations

from dataclasses import dataclass

from gr00t_common.params import UNSET, ParameterError, Pattern, Range, Spec
from gr00t_common.params import declare_and_read as _declare_and_read
from gr00t_policy.backend_names import BACKENDS
from gr00t_policy.devices import (DEVICE_FORMS, DEVICE_PATTERN, backend_device_problem,
                                  device_problem)
from gr00t_policy.embodiment import (MAX_STATE_AGE_S, MAX_SYSTEM1_HZ, MAX_TOKEN_AGE_S,
                                     MIN_SYSTEM1_HZ)
from gr00t_policy.embodiment.joint_prefix import JOINT_PREFIX_FORMS, JOINT_PREFIX_PATTERN
from gr00t_policy.runtime.execution import (CHUNK_MODES, DEFAULT_CHUNK_MODE,
                                            DEFAULT_ENSEMBLE_DECAY_PER_S)
from gr00t_policy.runtime.rtc import DEFAULT_GUIDANCE_CLIP, RTC_METHODS
from gr00t_policy.runtime.stamps import MAX_FUTURE_STAMP_S

__all__ = ["BACKENDS", "CHUNK_MODES", "SPECS", "ParameterError", "Settings", "declare_and_read"]

SPECS = (
    Spec("checkpoint", "string", "",
         "Checkpoint directory (gr00t_ros format: config.json, model.safetensors, "
         "experiment_cfg/metadata.json). Required.",
         required=True, example="/path/to/checkpoint"),
    Spec("embodiment", "string", "",
         "Embodiment YAML path (e.g. config/unitree_g1.yaml). Required.",
         required=True, example="config/unitree_g1.yaml"),
    Spec("joint_prefix", "string", "",
         "The robot's joint-name prefix (a ros2_control description's prefix / tf_prefix "
         "argument, e.g. g1/ or robot1_): /joint_states is read by joint_prefix + the YAML's "
         "joint names, and the commands that name joints (joint_trajectory, joint_state) "
         "and the controllers' joints checked at configure carry it too. Limits, the "
         "checkpoint and messages about the YAML keep the YAML's names. Empty: none. Not "
         "with the simulator, whose names have none.",
         pattern=Pattern(JOINT_PREFIX_PATTERN, JOINT_PREFIX_FORMS), example="g1/"),
    Spec("backend", "string", "onnxruntime", "Action head backend.", choices=BACKENDS),
    Spec("device", "string", "cpu",
         "torch device for the torch backend; tensorrt always uses CUDA (cuda:N picks its "
         "GPU); onnxruntime runs on the CPU and refuses a CUDA device. A CUDA device is "
         "refused at configure where torch sees none.",
         pattern=Pattern(DEVICE_PATTERN, DEVICE_FORMS)),
    Spec("float32_matmul_precision", "string", "highest",
         "torch backend on CUDA: highest keeps float32 matrix products strict; high lets "
         "them use TF32 (on an H200 the GR00T-N1-size head took 7.8 instead of 18.2 ms per "
         "4-step chunk and its actions moved by at most 2.5e-4 in normalized units: "
         "docs/BENCHMARKS.md, \"On an NVIDIA H200\"). Other backends ignore it.",
         choices=("highest", "high")),
    # The range of the YAML key it overrides.
    Spec("control_rate_hz", "double", UNSET,
         "Command rate in Hz. Unset: the YAML's rates.system1_hz.",
         range=Range(MIN_SYSTEM1_HZ, MAX_SYSTEM1_HZ), example="120"),
    Spec("denoising_steps", "integer", 4, "Euler steps K of the flow-matching sampler.",
         range=Range(1, 100)),
    # The bounds of the YAML keys they override: beyond them the unit was mistaken (ms for s)
    # and a hold on stale inputs would practically never come.
    Spec("state_staleness_s", "double", UNSET,
         "Max age (s, not ms; by header stamp and by arrival) of /joint_states before "
         "holding. Unset: the YAML's staleness.state_s.",
         range=Range(0.0, MAX_STATE_AGE_S, lo_open=True), example="0.1"),
    Spec("token_staleness_s", "double", UNSET,
         "Max age (s, not ms; by header stamp and by arrival) of the embedding tokens before "
         "holding. Unset: the YAML's staleness.tokens_s.",
         range=Range(0.0, MAX_TOKEN_AGE_S, lo_open=True), example="0.5"),
    Spec("max_future_stamp_s", "double", MAX_FUTURE_STAMP_S,
         "How far ahead of this node's clock an input's header stamp may be (clock offset "
         "between machines); an input stamped further in the future is refused, counted in "
         "diagnostics and logged. A stamp of 0 means unstamped: the arrival time is used.",
         range=Range(0.0, 10.0)),
    Spec("token_range_tolerance", "double", 1.5,
         "Tokens whose rms or largest value lies outside the range the checkpoint's System 2 "
         "produced (config.json token_stats) by more than this factor are refused; without "
         "token_stats in the checkpoint the check is off (a warning says so).",
         range=Range(1.0, 100.0)),
    Spec("chunk_mode", "string", DEFAULT_CHUNK_MODE,
         "How successive chunks become commands: crossfade (fade each new chunk in over "
         "blend_s), latest (switch to the newest chunk at once; the rate limiter smooths), "
         "ensemble (average every live chunk, weights exp(-ensemble_decay_per_s * age), age "
         "in seconds from the newest plan), rtc (real-time chunking: the planner guides each "
         "chunk towards what the previous ones command and the rows that lie in the past "
         "when it arrives execute from them; rtc_method guidance and prefix need backend torch, "
         "or onnxruntime / tensorrt, which export their graph on first use; blend samples "
         "plainly). docs/DESIGN.md, \"Chunk execution modes\".",
         choices=CHUNK_MODES),
    Spec("blend_s", "double", 0.1,
         "chunk_mode crossfade: cross-fade time from the old chunk's command to a new "
         "chunk's, seconds (0 = swap).",
         range=Range(0.0, 10.0)),
    Spec("ensemble_decay_per_s", "double", DEFAULT_ENSEMBLE_DECAY_PER_S,
         "chunk_mode ensemble: m in the weight exp(-m * a) of a chunk planned a seconds "
         "before the newest; 0 averages equally, below 0 weighs older chunks more (ACT's "
         "convention). Per second, not per chunk, so the average spans the same time at any "
         "replanning rate (it replaced ensemble_decay, per chunk, in December 2026).",
         range=Range(-100.0, 1000.0)),
    Spec("rtc_guidance_clip", "double", DEFAULT_GUIDANCE_CLIP,
         "chunk_mode rtc, rtc_method guidance: beta, the largest guidance weight per denoising "
         "step (0 = no guidance: only the frozen rows keep to the previous chunk).",
         range=Range(0.0, 100.0)),
    Spec("rtc_method", "string", "guidance",
         "chunk_mode rtc: how a chunk is planned on from the rows that execute while it is "
         "computed: guidance (guided inpainting; any checkpoint) or prefix (those rows are "
         "given to the head, which plans the rest from them; only for a checkpoint trained "
         "with gr00t-train --prefix-prob, whose config.json action_head.prefix_rows is >= 1, "
         "configure refuses others) or blend (an experiment: a plain sample, then mixed with "
         "those rows and the previous chunk by the soft mask's weights; any checkpoint).",
         choices=RTC_METHODS),
    Spec("inference_delay_ms", "double", 0.0,
         "Milliseconds every plan is held back after sampling, before the control loop gets "
         "it: makes a small action head behave like a slow one (a GR00T N1-size head on an "
         "embedded GPU) for experiments. It plus the plan's own latency must stay below "
         "state_staleness_s, or every plan is stale on arrival (configure refuses a delay "
         "at or above it).",
         range=Range(0.0, 10000.0)),
    Spec("replan_period_ms", "double", 0.0,
         "A plan starts at least this many milliseconds after the previous one started (0: "
         "on every new joint state, the default). Fewer plans a second, each as fresh as "
         "without it: to spare a shared accelerator, or (beside inference_delay_ms) to tell "
         "apart what a slow action head costs through its plans' age and through their rate. "
         "It plus inference_delay_ms must stay below the time a chunk covers (configure "
         "refuses it otherwise).",
         range=Range(0.0, 10000.0)),
    Spec("start_enabled", "bool", UNSET,
         "Publish commands as soon as the node is active, without a /gr00t/enable call (read "
         "at configure). Unset: the YAML's start_enabled.", example="true"),
    Spec("ort_threads", "integer", 1,
         "Intra-op threads of onnxruntime (and of torch on the CPU).", range=Range(1, 64)),
    Spec("inference_niceness", "integer", 5,
         "Nice value added to the inference thread so the control loop wins on a busy CPU "
         "(Linux, per thread); 0 leaves it alone.", range=Range(0, 19)),
    Spec("seed", "integer", -1, "Noise seed for the sampler; -1 draws one from the OS."),
    Spec("noise_scale", "double", 1.0,
         "Standard deviation of the sampler's initial noise: 1 samples the trained "
         "distribution; below 1 draws chunks nearer its most likely one.",
         range=Range(0.0, 2.0)),
    Spec("cache_dir", "string", "",
         "Where ONNX exports / TensorRT engines are cached. Empty: ~/.cache/gr00t_ros."),
)


@dataclass(frozen=True)
class Settings:
    """Validated parameters (see SPECS for each meaning); `None` = take the embodiment
    YAML's value."""

    checkpoint: str
    embodiment: str
    joint_prefix: str
    backend: str
    device: str
    float32_matmul_precision: str
    control_rate_hz: float | None
    denoising_steps: int
    state_staleness_s: float | None
    token_staleness_s: float | None
    max_future_stamp_s: float
    token_range_tolerance: float
    chunk_mode: str
    blend_s: float
    ensemble_decay_per_s: float
    rtc_guidance_clip: float
    rtc_method: str
    inference_delay_ms: float
    replan_period_ms: float
    start_enabled: bool | None
    ort_threads: int
    inference_niceness: int
    seed: int
    noise_scale: float
    cache_dir: str


def declare_and_read(node) -> Settings:
    """Declare every parameter on `node`, then read and validate them; a mistyped or
    out-of-range override, one that System 1 does not have, or a device this machine does
    not have, raises ParameterError."""
    settings = Settings(**_declare_and_read(node, SPECS))
    problem = (backend_device_problem(settings.backend, settings.device)
               or device_problem(settings.device))
    if problem:
        raise ParameterError(f"parameter device={settings.device!r} {problem}")
    return settings
