"""JointState names/positions -> the embodiment's joint order (ROS-free).

`/joint_states` carries joints in whatever order the driver likes, often with joints the
policy does not use (legs, a head, grippers of another arm). System 1 maps them BY NAME:

    mapper = JointMapper(["waist_yaw_joint", "left_elbow_joint", ...], prefix="g1/")
    positions = mapper.map(msg.name, msg.position)   # np.float64 (n,), embodiment order

The message names each joint as the robot spells it: `prefix` (System 1's `joint_prefix`,
gr00t_policy.embodiment.joint_prefix) + the YAML's name. Extra joints are ignored. A missing
joint, a duplicate name, a names/positions length mismatch or a non-finite position raises a
`JointStateError` subclass that names the joints involved, so the node can drop the message
and say why.
"""

from __future__ import annotations

import collections
import difflib
from collections.abc import Sequence

import numpy as np

from gr00t_policy.embodiment.joint_prefix import prefix_fix, prefixed


class JointStateError(ValueError):
    """A joint state message that cannot be mapped to the embodiment's joints."""


class MissingJointsError(JointStateError):
    """Joints the embodiment needs are absent from the message."""

    def __init__(self, missing: Sequence[str], present: Sequence[str], near: str = "",
                 prefix: str = "") -> None:
        self.missing = tuple(missing)  # the YAML's names
        shown = ", ".join(prefix + m for m in self.missing[:8]) + (
            " ..." if len(self.missing) > 8 else "")
        spelt = f" (joint_prefix {prefix!r} + the YAML's names)" if prefix else ""
        super().__init__(
            f"joint state lacks {len(self.missing)} joint(s) the embodiment needs: {shown}"
            f"{spelt} (the message has {len(present)} joints{'; ' + near if near else ''}); "
            "publish them on /joint_states or fix the joint names in the embodiment YAML"
            + (" or joint_prefix" if prefix else "")
        )


def near_names(missing: Sequence[str], present: Sequence[str], needed: Sequence[str],
               shown: int = 8, prefix: str = "") -> str:
    """Why the `missing` joints (the YAML's names of the `needed` ones) may be missing from
    a message naming `present`, in words ("" when nothing explains it): the joint_prefix
    under which every needed joint is there (`prefix_fix`: the driver's ros2_control prefix,
    or a wrong one set), else for each of the first `shown`, the most alike name of the
    message that the embodiment does not use (a prefix or a number that differs), and only
    where no other missing joint finds the same name: one name offered for several joints
    (a gripper driver's message, whose 'finger_joint2' looks like every arm joint) is no
    renaming, and would send the reader to fix names that are right."""
    fix = prefix_fix(needed, present, prefix, "joint_prefix:={}")
    if fix is not None:
        return fix
    wanted = set(prefixed(prefix, needed))
    spare = [n for n in present if n not in wanted]
    wire = prefixed(prefix, missing)
    found = {name: match[0] for name in wire
             for match in [difflib.get_close_matches(name, spare, n=1, cutoff=0.6)] if match}
    claims = collections.Counter(found.values())
    return "; ".join(f"{name!r} is not there but {found[name]!r} is" for name in wire[:shown]
                     if name in found and claims[found[name]] == 1)


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

    def __init__(self, joints: Sequence[str], prefix: str = "") -> None:
        joints = tuple(joints)
        if not joints:
            raise ValueError("JointMapper needs at least one joint name")
        if len(set(joints)) != len(joints):
            dups = sorted({j for j in joints if joints.count(j) > 1})
            raise ValueError(f"JointMapper joint names must be unique; duplicated: {dups}")
        self.joints = joints  # the YAML's names, in the order `map` returns
        self.prefix = prefix
        self._wire = prefixed(prefix, joints)  # as the messages name them
        self._cached_names: tuple[str, ...] | None = None
        self._cached_index: np.ndarray | None = None  # (n,) int64 into the message
        self._failed_names: tuple[str, ...] | None = None  # the last names lacking joints
        self._near = ""  # what near_names made of them

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
        missing = [j for j, w in zip(self.joints, self._wire) if w not in where]
        if missing:
            if self._failed_names != names:  # the look-alikes once per set of names, not at 125 Hz
                self._failed_names = names
                self._near = near_names(missing, names, self.joints, prefix=self.prefix)
            raise MissingJointsError(missing, names, self._near, self.prefix)
        index = np.fromiter((where[w] for w in self._wire), dtype=np.int64, count=len(self._wire))
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

