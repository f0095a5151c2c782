"""Settings dataclasses filled from a mapping of the embodiment's ``simulator:`` section.

``simulator.scene`` (gr00t_sim.world.SceneConfig) and ``simulator.expert.params``
(gr00t_sim.expert.ExpertConfig) are pass-through mappings in the schema; their names and values
are the dataclasses' to check, with errors that name the YAML key.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

T = TypeVar("T")


def settings_from(cls: type[T], section: Mapping[str, Any], where: str, what: str,
                  **overrides: Any) -> T:
    """``cls``'s defaults, then ``section`` (YAML lists as tuples), then ``overrides`` (None
    values skipped); ValueError naming ``where`` (e.g. ``simulator.scene``) and the key for
    an unknown name or a bad value. ``what`` names one setting in messages ("a scene
    setting")."""
    known = {f.name for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key, value in section.items():
        if key not in known:
            raise ValueError(f"{where}.{key}: not {what}; use one of {sorted(known)}")
        values[key] = tuple(value) if isinstance(value, list) else value
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {exc}") from exc
