"""Message definitions for a bag's schemas, read from the installed interface packages.

rosbag2 stores each topic's type as an MCAP schema with encoding ``ros2msg``: the type's
``.msg`` text, then, for every type it uses (depth first, each once, in sorted order), a line
of 80 ``=``, ``MSG: pkg/Type`` and that type's text. The ``.msg`` files are the ones every
interface package installs into ``share/<pkg>/msg/`` (found through the ament index, as
rosbag2 does), so a custom package such as gr00t_msgs needs nothing extra. The type hash
(``RIHS01_...``, metadata.yaml's ``type_description_hash``) is the one rosidl generated into
``share/<pkg>/msg/<Type>.json``.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

from ament_index_python.packages import PackageNotFoundError, get_package_share_directory

PRIMITIVES = frozenset({"bool", "byte", "char", "float32", "float64", "int8", "uint8", "int16",
                        "uint16", "int32", "uint32", "int64", "uint64", "string", "wstring"})
DELIMITER = "=" * 80
_TYPE_NAME = re.compile(r"^([A-Za-z0-9_]+)/(?:msg/)?([A-Za-z0-9_]+)$")
_FIELD_TYPE = re.compile(r"^\s*([A-Za-z0-9_/]+)(?:<=\d+)?(?:\[[^\]]*\])?\s+\S")


class MessageDefinitionError(LookupError):
    """A message type whose .msg file is not installed."""


def _split(msgtype: str) -> tuple[str, str]:
    match = _TYPE_NAME.match(msgtype)
    if not match:
        raise MessageDefinitionError(
            f"message type {msgtype!r} is not of the form pkg/msg/Type")
    return match.group(1), match.group(2)


def _share_file(msgtype: str, suffix: str) -> Path:
    package, name = _split(msgtype)
    try:
        share = Path(get_package_share_directory(package))
    except PackageNotFoundError:
        raise MessageDefinitionError(
            f"package {package!r} of message type {msgtype} is not installed (not in the "
            "ament index); source the workspace that builds it") from None
    path = share / "msg" / f"{name}{suffix}"
    if not path.is_file():
        raise MessageDefinitionError(f"{path} is missing: {msgtype} is not a message of {package}")
    return path


def dependencies(text: str, package: str) -> list[str]:
    """The non-primitive field types of a .msg text (``pkg/Type``), sorted, each once."""
    found = set()
    for line in text.splitlines():
        line = line.split("#", 1)[0]
        match = _FIELD_TYPE.match(line)
        if not match or "=" in line.split(None, 1)[0]:
            continue
        kind = match.group(1)
        if kind in PRIMITIVES:
            continue
        found.add(kind if "/" in kind else f"{package}/{kind}")
    return sorted(found)


@lru_cache(maxsize=None)
def message_definition(msgtype: str) -> str:
    """The ros2msg schema text of ``msgtype`` (``pkg/msg/Type``), dependencies included."""
    seen: set[str] = set()

    def text_of(kind: str) -> str:
        package, _ = _split(kind)
        text = _share_file(kind, ".msg").read_text()
        out = text
        for dep in dependencies(text, package):
            if dep not in seen:
                seen.add(dep)
                out += f"\n{DELIMITER}\nMSG: {dep}\n" + text_of(dep)
        return out

    return text_of(msgtype)


@lru_cache(maxsize=None)
def type_hash(msgtype: str) -> str:
    """rosidl's ``RIHS01_...`` hash of ``msgtype`` ("" when its .json is not installed)."""
    try:
        doc = json.loads(_share_file(msgtype, ".json").read_text())
    except (MessageDefinitionError, ValueError):
        return ""
    package, name = _split(msgtype)
    for entry in doc.get("type_hashes", []):
        if entry.get("type_name") == f"{package}/msg/{name}":
            return str(entry.get("hash_string", ""))
    return ""
