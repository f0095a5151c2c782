"""Embodiments as data: the per-robot YAML schema, its parser and its validation.

One YAML file (``config/<name>.yaml``) describes one robot for the runtime: which joints the
policy observes and drives (joint groups with position and velocity limits), how the state and
action vectors are laid out (state/action keys, each a joint group with a normalization mode),
the cameras in checkpoint order, ``action_dt``, the controllers that receive the commands
(decoder plugin ``type``, ``topic``, joints in the controller's order), the node rates, the
staleness limits and what to do when inputs go stale. docs/EMBODIMENT.md lists every key; it
is generated from the schema (``python -m gr00t_policy.embodiment.reference``).

``load_embodiment(path)`` parses and validates a file and returns a frozen
:class:`EmbodimentConfig`; any problem raises :class:`EmbodimentConfigError`, whose message names
the file, the key path (``controllers[1].joints[3]``), the line, the bad value and the fix. All
problems found are reported together.

The package is ROS-free (yaml, numpy, pydantic): decoder plugin names registered by other
packages are read from the ``gr00t_system1.decoders`` entry-point group without importing them.

Modules: ``schema`` (the parts, one pydantic model per YAML mapping), ``config``
(``EmbodimentConfig``, the top level), ``validate`` (checks across entries and sections),
``schema_errors`` (pydantic errors as issues), ``errors`` (``ConfigIssue``,
``EmbodimentConfigError``), ``yaml_lines`` (reading a file with the line of each key),
``decoder_types`` (the built-in decoder names), ``load`` (load/parse/find),
``checkpoint_check``, ``reference`` (docs/EMBODIMENT.md), ``check`` (``gr00t-bringup check``)
and ``joint_prefix`` (a robot's joint-name prefix, put on at the ROS boundary).
"""

from gr00t_policy.embodiment.checkpoint_check import check_against_checkpoint, check_statistics
from gr00t_policy.embodiment.config import (
    ACTION_REPRESENTATIONS,
    MAX_EMBODIMENT_SLOTS,
    ON_STALE_BEHAVIOURS,
    EmbodimentConfig,
)
from gr00t_policy.embodiment.decoder_types import (
    BUILTIN_DECODER_TYPES,
    DECODER_ENTRY_POINT_GROUP,
    FORWARD_COMMAND,
    JOINT_STATE,
    JOINT_TRAJECTORY,
    known_decoder_types,
)
from gr00t_policy.embodiment.errors import ConfigIssue, EmbodimentConfigError
from gr00t_policy.embodiment.load import find_embodiment, load_embodiment, parse_embodiment
from gr00t_policy.embodiment.schema import (
    DEFAULT_SYSTEM1_HZ,
    DEFAULT_SYSTEM2_HZ,
    MAX_STATE_AGE_S,
    MAX_SYSTEM1_HZ,
    MAX_TOKEN_AGE_S,
    MIN_SYSTEM1_HZ,
    NORMALIZATION_MODES,
    Camera,
    ControllerSpec,
    HeldJoint,
    Joint,
    JointGroup,
    KeySpec,
    ModalityKey,
    Rates,
    Staleness,
)

__all__ = [
    "ACTION_REPRESENTATIONS",
    "BUILTIN_DECODER_TYPES",
    "DECODER_ENTRY_POINT_GROUP",
    "DEFAULT_SYSTEM1_HZ",
    "DEFAULT_SYSTEM2_HZ",
    "FORWARD_COMMAND",
    "JOINT_STATE",
    "JOINT_TRAJECTORY",
    "MAX_EMBODIMENT_SLOTS",
    "MAX_STATE_AGE_S",
    "MAX_SYSTEM1_HZ",
    "MAX_TOKEN_AGE_S",
    "MIN_SYSTEM1_HZ",
    "NORMALIZATION_MODES",
    "ON_STALE_BEHAVIOURS",
    "Camera",
    "ConfigIssue",
    "ControllerSpec",
    "EmbodimentConfig",
    "EmbodimentConfigError",
    "HeldJoint",
    "Joint",
    "JointGroup",
    "KeySpec",
    "ModalityKey",
    "Rates",
    "Staleness",
    "check_against_checkpoint",
    "check_statistics",
    "find_embodiment",
    "known_decoder_types",
    "load_embodiment",
    "parse_embodiment",
]
