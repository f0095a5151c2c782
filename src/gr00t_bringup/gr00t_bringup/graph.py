"""The gr00t_ros node graph as plain data, independent of ROS launch.

`build_graph` turns an embodiment name (or YAML path) and a checkpoint into a `Graph`: one
`NodeSpec` per process (System 2, System 1 and, with ``sim=True``, the simulator) with every
parameter filled in from the embodiment YAML. Two front ends consume it:
``launch/humanoid.launch.py`` (``ros2 launch``) and the ``gr00t-bringup run`` runner, so both
start the same graph. System 1 and System 2 are lifecycle nodes (`NodeSpec.lifecycle`): both
front ends configure and activate them after starting them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gr00t_policy.backend_names import BACKENDS
from gr00t_policy.embodiment import (
    EmbodimentConfig,
    EmbodimentConfigError,
    find_embodiment,
    load_embodiment,
)
from gr00t_policy.runtime.bundle import check_fits

PACKAGE = "gr00t_bringup"
DEFAULT_EMBODIMENT = "unitree_g1"
DEFAULT_BACKEND = "onnxruntime"
# Relative to the repository root or the package share directory.
DEFAULT_CHECKPOINT = Path("checkpoints") / "nano"

SYSTEM2 = ("gr00t_system2", "system2_node")
SYSTEM1 = ("gr00t_system1", "system1_node")
SIM = ("gr00t_sim", "sim_node")
RECORDER = ("gr00t_record", "recorder_node")
# System 1's process asks for SCHED_FIFO at this priority (ros2_control's controller_manager
# uses 50 for its loop). Without it, on our 2-core machines, the simulator and the VLM delay
# its 120 Hz timer past two periods many times a minute, with it never (docs/BENCHMARKS.md).
# Needs root, CAP_SYS_NICE or an rtprio limit (`ulimit -r`); the
# runner says when it could not, and the node then runs at normal priority.
SYSTEM1_RT_PRIORITY = 50
# System 2's Fast DDS profile (config/): UDPv4 with 4 MB socket buffers, so that camera
# frames of 640x480 and larger arrive whole from publishers with default settings, on this
# host or another (docs/BENCHMARKS.md, "Camera streams"). A profile file the environment
# names already is left in place.
SYSTEM2_DDS_PROFILE = "fastdds_system2.xml"
DDS_PROFILE_ENV = "FASTRTPS_DEFAULT_PROFILES_FILE"
DISCOVERY_RANGE_ENV = "ROS_AUTOMATIC_DISCOVERY_RANGE"
# System 1's switch (std_srvs/SetBool, gr00t_system1.node); absolute, like its command topics.
ENABLE_SERVICE = "/gr00t/enable"


class GraphError(ValueError):
    """The graph cannot be built: a bad argument, a missing checkpoint or embodiment file."""


@dataclass(frozen=True)
class NodeSpec:
    """One node process: what to run, under which name, with which parameters."""

    package: str
    executable: str
    name: str
    namespace: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    remappings: list[tuple[str, str]] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    # SCHED_FIFO priority (1-99) the process asks for at start; 0: normal scheduling.
    realtime_priority: int = 0
    # A managed (lifecycle) node: it starts unconfigured; the runner and the launch file
    # configure and activate it once it is up, and the runner deactivates it before
    # stopping it. False: a plain node, working from its start (the simulator).
    lifecycle: bool = False

    @property
    def full_name(self) -> str:
        """The node's fully qualified name: "/gr00t_system1", "/g1/gr00t_system1"."""
        ns = self.namespace.strip("/")
        return f"/{ns}/{self.name}" if ns else f"/{self.name}"


@dataclass(frozen=True)
class Graph:
    """The nodes to start, plus the resolved embodiment and checkpoint they were built from."""

    nodes: list[NodeSpec]
    embodiment: EmbodimentConfig | None = None
    embodiment_path: str = ""
    checkpoint: str = ""
    # What one robot has once: nothing else on the domain may publish these topics (System
    # 1's controller commands) or serve these services (/gr00t/enable), as System 1's
    # remappings resolve them. The runner refuses to start beside a graph that does.
    exclusive_topics: tuple[str, ...] = ()
    exclusive_services: tuple[str, ...] = ()

    def node(self, name: str) -> NodeSpec:
        """The node called `name`; KeyError lists the node names."""
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(f"no node {name!r} in the graph; nodes: {[n.name for n in self.nodes]}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (what `gr00t-bringup graph --json` prints)."""
        return {
            "embodiment": self.embodiment.name if self.embodiment else None,
            "embodiment_path": self.embodiment_path,
            "checkpoint": self.checkpoint,
            "nodes": [{**asdict(n), "remappings": [list(r) for r in n.remappings]}
                      for n in self.nodes],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


def may_use_realtime(priority: int) -> bool:
    """Whether processes started from here may take SCHED_FIFO at `priority` (root, or an
    rtprio limit of at least `priority`). The launch file only adds `chrt` when they may,
    since chrt refuses to start the node otherwise."""
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_RTPRIO)
    return os.geteuid() == 0 or soft == resource.RLIM_INFINITY or soft >= priority


# -- locating files -------------------------------------------------------------------------

def share_dir() -> Path | None:
    """The installed share directory of gr00t_bringup, or None when it is not installed."""
    try:
        from ament_index_python.packages import (PackageNotFoundError,
                                                 get_package_share_directory)
    except ImportError:
        return None
    try:
        return Path(get_package_share_directory(PACKAGE))
    except (PackageNotFoundError, ValueError):
        return None


def repo_root() -> Path | None:
    """The gr00t_ros source tree this module runs from (or $GR00T_ROS_ROOT), if any."""
    candidates = []
    if os.environ.get("GR00T_ROS_ROOT"):
        candidates.append(Path(os.environ["GR00T_ROS_ROOT"]))
    # src/gr00t_bringup/gr00t_bringup/graph.py -> the repository root is three levels up.
    here = Path(__file__).resolve()
    if len(here.parents) > 3:
        candidates.append(here.parents[3])
    for c in candidates:
        if (c / "config").is_dir() and (c / "src").is_dir():
            return c
    return None


def default_config_dirs() -> list[Path]:
    """Where embodiment names are looked up: the repository's config/, then the share dir's."""
    dirs: list[Path] = []
    root, share = repo_root(), share_dir()
    if root is not None:
        dirs.append(root / "config")
    if share is not None and (share / "config") not in dirs:
        dirs.append(share / "config")
    return dirs


def default_checkpoint() -> Path:
    """`checkpoints/nano` in the repository or the share dir; GraphError when neither exists."""
    places = [p / DEFAULT_CHECKPOINT for p in (repo_root(), share_dir()) if p is not None]
    for p in places:
        if (p / "config.json").is_file():
            return p
    looked = ", ".join(str(p) for p in places) or "(no repository or installed share dir found)"
    raise GraphError(
        f"no default checkpoint (looked for {looked}); pass --checkpoint DIR "
        "(launch: checkpoint:=DIR), or create a random one with "
        "`gr00t-policy make-random-checkpoint DIR`")


def checkpoint_path(checkpoint: str | Path | None) -> Path:
    """The checkpoint directory a graph runs for `checkpoint` (None: `default_checkpoint`),
    absolute; not checked (build_graph does)."""
    return Path(checkpoint).expanduser().resolve() if checkpoint else default_checkpoint()


def resolve_embodiment(embodiment: str, config_dirs: Sequence[str | Path] | None = None
                       ) -> tuple[Path, EmbodimentConfig]:
    """An embodiment name (config/<name>.yaml) or YAML path -> (absolute path, validated config).

    Raises EmbodimentConfigError (a ValueError) listing the known embodiment names when the name
    is unknown, or naming the bad key when the YAML is invalid.
    """
    dirs = list(config_dirs) if config_dirs is not None else default_config_dirs()
    path = find_embodiment(embodiment, dirs).resolve()
    return path, load_embodiment(path)


def _check_checkpoint(ckpt: Path, emb: EmbodimentConfig) -> None:
    """The checkpoint directory exists and its config.json has a matching entry for `emb`."""
    cfg_path = ckpt / "config.json"
    if not cfg_path.is_file():
        raise GraphError(f"checkpoint {ckpt} has no config.json; pass a gr00t_ros checkpoint "
                         "directory (create one with `gr00t-policy make-random-checkpoint DIR`)")
    try:
        cfg = json.loads(cfg_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise GraphError(f"cannot read {cfg_path}: {exc}") from exc
    # A config without our action head sizes (e.g. an official checkpoint) is left to the
    # nodes, which check it in full.
    check_fits(cfg, emb, cfg_path)


def system2_env(config_dirs: Sequence[str | Path] | None = None) -> dict[str, str]:
    """The environment System 2's process gets: its Fast DDS profile (SYSTEM2_DDS_PROFILE,
    looked up in `config_dirs`, then the default ones), unless $FASTRTPS_DEFAULT_PROFILES_FILE
    is set already; {} when the file is nowhere."""
    if os.environ.get(DDS_PROFILE_ENV):
        return {}
    for d in [*(config_dirs or []), *default_config_dirs()]:
        path = Path(d) / SYSTEM2_DDS_PROFILE
        if path.is_file():
            return {DDS_PROFILE_ENV: str(path.resolve())}
    return {}


# Parameters every node takes from one source of the graph: set for one node alone, that node
# would work on another robot, model or cameras than the others (and than the checks here).
# node -> name -> (the source, what would split, the fix)
_SHARED = {
    "system1": {
        "embodiment": ("--embodiment", "System 1 would drive another robot than the simulator "
                       "and System 2 see, and than the checkpoint was checked against",
                       "pass --embodiment NAME_OR_YAML (launch: embodiment:=)"),
        "checkpoint": ("--checkpoint", "System 1 would run another model than System 2's, "
                       "unchecked against the embodiment",
                       "pass --checkpoint DIR (launch: checkpoint:=)"),
    },
    "system2": {
        "checkpoint": ("--checkpoint", "System 2 would run another backbone than System 1's "
                       "model was trained with", "pass --checkpoint DIR (launch: checkpoint:=)"),
        "camera_topics": ("embodiment (its `cameras`)", "System 2 would watch other cameras "
                          "than the embodiment lists and the checkpoint was checked against",
                          "list the cameras in the embodiment YAML, or move a topic for every "
                          "node with --remap FROM:=TO"),
    },
}


def _check_parameters(node: str, given: Mapping[str, Any] | None) -> None:
    """Every name in `given` is a parameter of `node` ("system1" or "system2") and its value
    passes the parameter's spec (type, range, choices), checked here as well as by the node
    (`refuse_unknown`, `read`) so that a misspelt name or a value out of range stops the
    command before any process starts; GraphError names the closest known name, or the
    parameter, what it allows and the fix; a parameter every node takes from the graph
    (`_SHARED`: the embodiment, the checkpoint) is refused, pointing at the graph's own
    argument. What only the node's machine can judge (whether its GPU exists, the
    checkpoint's fit) is left to the node."""
    if not given:
        return
    from gr00t_common.params import ParameterError, check_names
    if node == "system1":
        from gr00t_system1.params import SPECS
    else:
        from gr00t_system2.params import SPECS
    try:
        check_names(node, given, [spec.name for spec in SPECS])
    except ParameterError as exc:
        raise GraphError(str(exc)) from None
    for name, (source, split, fix) in _SHARED[node].items():
        if name in given:
            raise GraphError(f"{node}: parameter {name} comes from the graph's {source}, which "
                             f"every node shares: set for this node alone, {split}; {fix}")
    for spec in SPECS:
        if spec.name in given:
            try:
                spec.check(given[spec.name])
            except ParameterError as exc:
                raise GraphError(f"{node}: {exc}") from None


def remapped(name: str, node: NodeSpec) -> str:
    """The absolute `name` as `node` ends up using it: the first of its remappings that
    matches gives the name, rcl's way (FROM and TO are made absolute in the node's namespace;
    a ``node_name:FROM`` rule applies to that node only)."""
    def absolute(n: str) -> str:
        return n if n.startswith("/") else f"{node.namespace.rstrip('/')}/{n}"

    for src, dst in node.remappings:
        target, sep, rule = src.rpartition(":")
        if sep and target != node.name:
            continue
        if absolute(rule) == name:
            return absolute(dst)
    return name


def _normalize_namespace(namespace: str) -> str:
    ns = namespace.strip()
    if ns in ("", "/"):
        return ""
    return "/" + ns.strip("/")


# -- the graph ------------------------------------------------------------------------------

def build_graph(embodiment: str = DEFAULT_EMBODIMENT, checkpoint: str | Path | None = None,
                backend: str = DEFAULT_BACKEND, sim: bool = False, namespace: str = "",
                use_sim_time: bool = False, config_dirs: Sequence[str | Path] | None = None,
                remappings: Iterable[tuple[str, str]] = (),
                system1_parameters: Mapping[str, Any] | None = None,
                system2_parameters: Mapping[str, Any] | None = None,
                record_dir: str | Path | None = None,
                record_topics: Sequence[str] = ()) -> Graph:
    """Resolve and validate everything, and describe the nodes to start.

    embodiment: a name (config/<name>.yaml in `config_dirs`) or a path to a YAML file.
    checkpoint: a gr00t_ros checkpoint directory; None picks `checkpoints/nano`.
    backend: System 1's action head backend (torch | onnxruntime | tensorrt).
    sim: add the MuJoCo simulator node (package gr00t_sim).
    namespace: ROS namespace of every node ("" = root). The /gr00t/* names (DESIGN.md) and
        the embodiment's topics are absolute, so a namespace moves the nodes (and their
        parameter services) only; move topics with `remappings`.
    use_sim_time: set use_sim_time on System 1 and 2; with `sim`, the simulator publishes
        /clock instead (it is the clock source). Off by default: the simulator then stamps
        with the wall clock like a robot, and System 1's 120 Hz timer is not quantised to
        the simulator's 125 Hz /clock.
    config_dirs: where embodiment names are searched; default: the repository's config/,
        then the installed share/gr00t_bringup/config.
    remappings: (from, to) topic remappings applied to every node; a rule for the nodes'
        namespace or name (__ns, __node, __name) is refused: use `namespace`.
    system1_parameters: more System 1 parameters (gr00t_system1.params, e.g. chunk_mode,
        inference_delay_ms), overriding the ones derived here; an unknown name, a value
        its spec refuses, or one every node shares (embodiment, checkpoint: the arguments
        above set those) is a GraphError here (what depends on the node's machine, such as
        a CUDA device, is the node's error at configure).
    system2_parameters: the same for System 2 (gr00t_system2.params, e.g. backend,
        torch_threads; not checkpoint, nor camera_topics: the embodiment's `cameras`).
    record_dir: add the recorder (gr00t_record: one rosbag2 MCAP bag per episode of the
        topics the embodiment names, plus System 1's safety state) writing under this
        directory; episodes begin and end through its /gr00t_record/start and stop services.
        None: no recorder.
    record_topics: more topics it records (its extra_topics), e.g. /gr00t/action_chunk.

    Raises EmbodimentConfigError or GraphError (both ValueError) with a message naming the fix.
    """
    if backend not in BACKENDS:
        raise GraphError(f"unknown backend {backend!r}; use one of {list(BACKENDS)}")
    _check_parameters("system1", system1_parameters)
    _check_parameters("system2", system2_parameters)
    emb_path, emb = resolve_embodiment(embodiment, config_dirs)
    ckpt = checkpoint_path(checkpoint)
    if ckpt.is_file():
        raise GraphError(f"checkpoint {ckpt} is a file; pass the directory that holds it "
                         f"(--checkpoint {ckpt.parent})")
    if not ckpt.is_dir():
        raise GraphError(f"checkpoint directory {ckpt} does not exist; pass --checkpoint DIR "
                         "or create one with `gr00t-policy make-random-checkpoint DIR`")
    _check_checkpoint(ckpt, emb)
    if sim and emb.simulator is None:  # gr00t_sim would die at start, after the others started
        raise GraphError(
            f"--sim: {emb_path} has no `simulator:` section, so gr00t_sim cannot build the "
            f"robot {emb.name!r}; add one (docs/EMBODIMENT.md; config/unitree_g1.yaml and "
            "config/apptronik_apollo.yaml are examples), or run without --sim on the robot")
    if sim and (system1_parameters or {}).get("joint_prefix"):
        # The simulator names the joints as the YAML does: System 1 would find none of them.
        raise GraphError(
            f"--sim with system1 parameter joint_prefix={system1_parameters['joint_prefix']!r}: "
            "gr00t_sim publishes the YAML's joint names without a prefix, so System 1 would "
            "read no joint state; joint_prefix is for a robot whose driver prefixes them. "
            "Drop it for the simulator")
    if sim and len(emb.cameras) > 1:  # System 2 would wait for frames that never come
        raise GraphError(
            f"--sim: {emb_path} lists {len(emb.cameras)} cameras, and gr00t_sim renders one "
            f"(the first, {emb.cameras[0].name!r}); simulate with a copy of the YAML that "
            "lists only it, and a checkpoint for one view")
    ns = _normalize_namespace(namespace)
    remaps = [(str(a), str(b)) for a, b in remappings]
    for a, b in remaps:
        if not a or not b:
            raise GraphError(f"bad remapping {a!r} -> {b!r}: both names must be non-empty")
        if a.rpartition(":")[2].startswith("__"):  # __ns, __node, __name (maybe node:__ns)
            raise GraphError(
                f"--remap {a}:={b} is not a topic: it would move or rename the nodes behind "
                "the runner's back, which configures and activates them by name "
                "(/gr00t_system1/change_state) and would wait for services that never come. "
                "Move every node with --namespace NS (launch: namespace:=); the node names "
                "are fixed; a second robot takes another ROS_DOMAIN_ID")
    sim_time = bool(use_sim_time)
    # A simulated graph enables itself and commands the embodiment's real controller topics:
    # kept on this host, it cannot reach a robot on the network in the same ROS domain. A
    # discovery range the user set is theirs (e.g. a viewer on another machine).
    local = ({} if not sim or DISCOVERY_RANGE_ENV in os.environ
             else {DISCOVERY_RANGE_ENV: "LOCALHOST"})

    system2 = NodeSpec(
        package=SYSTEM2[0], executable=SYSTEM2[1], name="gr00t_system2", namespace=ns,
        parameters={
            "checkpoint": str(ckpt),
            "camera_topics": [c.topic for c in emb.cameras],
            "rate_hz": float(emb.rates.system2_hz),
            # System 1's limit: System 2 names a camera stamped beyond it, and (unless
            # stale_image_s is given) stops using a camera's frame no later.
            "token_staleness_s": float(emb.staleness.tokens_s),
            "use_sim_time": sim_time,
            **dict(system2_parameters or {}),
        },
        remappings=list(remaps), env={**system2_env(config_dirs), **local}, lifecycle=True)
    system1 = NodeSpec(
        package=SYSTEM1[0], executable=SYSTEM1[1], name="gr00t_system1", namespace=ns,
        parameters={
            "checkpoint": str(ckpt),
            "embodiment": str(emb_path),
            "backend": backend,
            "control_rate_hz": float(emb.rates.system1_hz),
            "state_staleness_s": float(emb.staleness.state_s),
            "token_staleness_s": float(emb.staleness.tokens_s),
            # A real robot waits for /gr00t/enable (start_enabled: false in the shipped
            # YAMLs); the simulator has no person at the robot, so its graph enables.
            "start_enabled": True if sim else bool(emb.start_enabled),
            "use_sim_time": sim_time,
            **dict(system1_parameters or {}),
        },
        remappings=list(remaps), realtime_priority=SYSTEM1_RT_PRIORITY, lifecycle=True,
        env=dict(local))
    nodes = [system2, system1]
    if record_dir is not None:
        if not str(record_dir).strip():
            raise GraphError("record_dir is empty: name the directory for the episode bags")
        nodes.append(NodeSpec(
            package=RECORDER[0], executable=RECORDER[1], name="gr00t_record", namespace=ns,
            parameters={"embodiment": str(emb_path),
                        "output_dir": str(Path(record_dir).expanduser().resolve()),
                        "use_sim_time": sim_time,
                        # (an empty list has no type in a parameter file: left out)
                        **({"extra_topics": [str(t) for t in record_topics]}
                           if record_topics else {})},
            remappings=list(remaps), env=dict(local)))
    if sim:
        nodes.insert(0, NodeSpec(
            package=SIM[0], executable=SIM[1], name="gr00t_sim", namespace=ns,
            # The simulator is the clock source: it publishes /clock when the others use sim
            # time, and never listens to /clock itself.
            parameters={"embodiment": str(emb_path), "publish_clock": sim_time,
                        "use_sim_time": False},
            remappings=list(remaps), env=dict(local)))
    return Graph(nodes=nodes, embodiment=emb, embodiment_path=str(emb_path),
                 checkpoint=str(ckpt),
                 exclusive_topics=tuple(remapped(c.topic, system1) for c in emb.controllers),
                 exclusive_services=(remapped(ENABLE_SERVICE, system1),))


__all__ = ["BACKENDS", "DDS_PROFILE_ENV", "ENABLE_SERVICE", "SYSTEM1_RT_PRIORITY",
           "SYSTEM2_DDS_PROFILE", "Graph", "remapped",
           "GraphError", "NodeSpec", "system2_env",
           "EmbodimentConfigError", "build_graph", "default_checkpoint", "default_config_dirs",
           "may_use_realtime", "resolve_embodiment"]
