"""The joint names a recording's JointState topics carry, checked against the embodiment YAML
(with the recorder's `joint_prefix`) on an episode's first message: a driver with another
prefix, or a topic without the YAML's joints, is heard at once, while the demonstration can
be recorded again, not at conversion after a day of episodes. The messages are recorded as
they are, whatever the names (the bag is the raw record)."""

from __future__ import annotations

from collections.abc import Sequence

from gr00t_policy.embodiment.joint_prefix import prefix_fix, prefixed


def names_problem(topic: str, names: Sequence[str], needed: Sequence[str], prefix: str,
                  what: str, param: str = "joint_prefix") -> str | None:
    """Why a message on `topic` naming `names` lacks some of the `needed` (YAML) joints as
    `prefix` + their names, with the fix (`param`: the recorder parameter that sets `prefix`,
    and from-bag's flag of the same name); None when it names them all."""
    missing = [n for n in prefixed(prefix, needed) if n not in set(names)]
    if not missing:
        return None
    shown = missing[:8] + ([f"... {len(missing) - 8} more"] if len(missing) > 8 else [])
    spelt = f" ({param} {prefix!r} + the YAML's names)" if prefix else ""
    head = (f"{topic}: the episode's first message lacks {len(missing)} of the {len(needed)} "
            f"{what} joints{spelt}: {shown}; it names {list(names)[:8]}"
            f"{' ...' if len(names) > 8 else ''}")
    flag = "--" + param.replace("_", "-")
    fix = prefix_fix(needed, names, prefix, param + ":={0} (restart gr00t-record with it; the "
                     f"episodes recorded so far convert with gr00t-dataset from-bag {flag} "
                     "{0})")
    if fix is not None:
        return f"{head}. Fix: {fix}"
    return (f"{head}. gr00t-dataset from-bag will refuse this episode. Fix: publish these "
            "joints on the topic, record the topic that carries them, or correct the joint "
            "names in the embodiment YAML")
