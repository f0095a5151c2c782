"""The names a controller's ``type`` may take: the built-in decoders and registered plugins.

This is the one list of built-in decoder names: the embodiment schema accepts them, and the
System 1 decoder registry (``gr00t_system1.decoders``) maps each of them to its class.
Plugins from other packages are entry points in :data:`DECODER_ENTRY_POINT_GROUP`; only their
names are read here, nothing is imported (so no rclpy in the core).
"""

from __future__ import annotations

import importlib.metadata

FORWARD_COMMAND = "forward_command"
JOINT_TRAJECTORY = "joint_trajectory"
JOINT_STATE = "joint_state"
BUILTIN_DECODER_TYPES = (FORWARD_COMMAND, JOINT_TRAJECTORY, JOINT_STATE)
DECODER_ENTRY_POINT_GROUP = "gr00t_system1.decoders"


def plugin_clashes() -> list[str]:
    """Registered plugins that take a built-in decoder's name, as "name = module:Class": they
    would silently change what every YAML using that type sends, so System 1 refuses to start
    with one installed (and `gr00t-bringup check` says so)."""
    return [f"{ep.name} = {ep.value}"
            for ep in importlib.metadata.entry_points(group=DECODER_ENTRY_POINT_GROUP)
            if ep.name in BUILTIN_DECODER_TYPES]


def clash_message(clashes: list[str]) -> str:
    return (f"the {DECODER_ENTRY_POINT_GROUP!r} entry point(s) {clashes} take the name of a "
            "built-in decoder; register each under a name of its own and use that as the "
            "controllers' type")


def known_decoder_types() -> tuple[str, ...]:
    """Built-in decoder types plus the names registered under ``gr00t_system1.decoders``.

    Only entry-point names are read; nothing is imported (so no rclpy here).
    """
    names = list(BUILTIN_DECODER_TYPES)
    for ep in importlib.metadata.entry_points(group=DECODER_ENTRY_POINT_GROUP):
        if ep.name not in names:
            names.append(ep.name)
    return tuple(names)
