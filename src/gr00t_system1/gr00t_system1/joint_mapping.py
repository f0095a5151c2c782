"""JointState names/positions -> the embodiment's joint order (ROS-free).

`/joint_states` carries joints in whatever order the driver likes, often with joints the
policy does not use (legs, a head, grippers of another arm). System 1 maps them BY NAME:

    mapper = JointMapper(["waist_yaw_joint", "left_elbow_joint", ...])
    positions = mapper.map(msg.name, msg.position)   # np.float64 (n,), embodiment order

Extra joints are ignored. A missing joint, a duplicate name, a names/positions length
mismatch or a non-finite position raises a `JointStateError` subclass that names the
joints involved, so the node can drop the message and say why.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence

import numpy as np


class JointStateError(ValueError):
    """A joint state message that cannot be mapped to the embodiment's joints."""


class MissingJointsError(JointStateError):
    """Joints the embodiment needs are absent from the message."""

    def __init__(self, missing: Sequence[str], present: Sequence[str],
                 near: Mapping[str, str] | None = None) -> None:
        self.missing = tuple(missing)
        shown = ", ".join(self.missing[:8]) + (" ..." if len(self.missing) > 8 else "")
        alike = "; ".join(f"{m!r} is not there but {n!r} is" for m, n in (near or {}).items())
        super().__init__(
            f"joint state lacks {len(self.missing)} joint(s) the embodiment needs: {shown} "
            f"(the message has {len(present)} joints{'; ' + alike if alike else ''}); publish "
            "them on /joint_states or fix the joint names in the embodiment YAML"
        )


def near_names(missing: Sequence[str], present: Sequence[str], needed: Sequence[str],
               shown: int = 8) -> dict[str, str]:
    """For each of the first `shown` missing joints, the most alike name of the message that
    the embodiment does not use (a prefix or a number that differs), if any."""
    spare = [n for n in present if n not in set(needed)]
    out = {}
    for name in missing[:shown]:
        found = difflib.get_close_matches(name, spare, n=1, cutoff=0.6)
        if found:
            out[name] = found[0]
    return out


class NonFiniteJointError(JointStateError):
    """A needed joint has a NaN or infinite position."""

    def __init__(self, joints: Sequence[str]) -> None:
        self.joints = tuple(joints)
        super().__init__(f"joint state has non-finite positions for {list(self.joints)}")


class JointMapper:
    """Maps (names, positions) pairs to a fixed joint order.

    The index array is cached for the last names list seen: drivers publish the same names
    in the same order every time, so the per-message cost is one comparison and one take.
    """

    def __init__(self, joints: Sequence[str]) -> None:
        joints = tuple(joints)
        if not joints:
            raise ValueError("JointMapper needs at least one joint name")
        if len(set(joints)) != len(joints):
            dups = sorted({j for j in joints if joints.count(j) > 1})
            raise ValueError(f"JointMapper joint names must be unique; duplicated: {dups}")
        self.joints = joints
        self._cached_names: tuple[str, ...] | None = None
        self._cached_index: np.ndarray | None = None  # (n,) int64 into the message
        self._failed_names: tuple[str, ...] | None = None  # the last names lacking joints
        self._near: dict[str, str] = {}  # their look-alikes (near_names)

    def _index_for(self, names: tuple[str, ...]) -> np.ndarray:
        if names == self._cached_names and self._cached_index is not None:
            return self._cached_index
        where: dict[str, int] = {}
        dups: list[str] = []
        for i, name in enumerate(names):
            if name in where:
                dups.append(name)
            where[name] = i
        if dups:
            raise JointStateError(
                f"joint state names joints more than once: {sorted(set(dups))}; each joint "
                "must appear exactly once"
            )
        missing = [j for j in self.joints if j not in where]
        if missing:
            if self._failed_names != names:  # the look-alikes once per set of names, not at 125 Hz
                self._failed_names = names
                self._near = near_names(missing, names, self.joints)
            raise MissingJointsError(missing, names, self._near)
        index = np.fromiter((where[j] for j in self.joints), dtype=np.int64, count=len(self.joints))
        self._cached_names, self._cached_index = names, index
        return index

    def map(self, names: Sequence[str], positions: Sequence[float]) -> np.ndarray:
        """Positions of `self.joints` in their order: np.float64 (n,).

        Raises:
            JointStateError: len(names) != len(positions), or a name is duplicated.
            MissingJointsError: a needed joint is absent (lists all missing joints).
            NonFiniteJointError: a needed joint's position is NaN or infinite.
        """
        names = tuple(names)
        if len(names) != len(positions):
            raise JointStateError(
                f"joint state has {len(names)} names but {len(positions)} positions; "
                "both lists must have one entry per joint"
            )
        index = self._index_for(names)
        values = np.asarray(positions, dtype=np.float64)[index]  # (n,)
        finite = np.isfinite(values)
        if not finite.all():
            raise NonFiniteJointError([self.joints[i] for i in np.flatnonzero(~finite)])
        return values

