"""Which topics an embodiment YAML names, and the message type each is expected to carry."""

from __future__ import annotations

from typing import Iterable

# What `gr00t-dataset from-bag` reads each signal as: a topic of another type is refused at
# record time, not found at conversion.
from gr00t_policy.dataset.bag_streams import (COMPRESSED_IMAGE, CONTROLLER_MESSAGES, IMAGE,
                                              JOINT_STATE, STRING)


def embodiment_topics(emb, *, joint_states: str, instruction: str, action_topic: str = "",
                      extra: Iterable[str] = ()) -> dict[str, tuple[str, ...] | None]:
    """topic -> the types it may carry (None: whatever the graph says) for one embodiment."""
    topics: dict[str, tuple[str, ...] | None] = {joint_states: (JOINT_STATE,),
                                                  instruction: (STRING,)}
    for cam in emb.cameras:
        topics[cam.topic] = (IMAGE, COMPRESSED_IMAGE)  # what from-bag reads
    if action_topic:
        topics[action_topic] = (JOINT_STATE,)
    else:
        for ctrl in emb.controllers:
            known = CONTROLLER_MESSAGES.get(ctrl.type)
            topics[ctrl.topic] = (known,) if known else None
    for topic in extra:
        topics.setdefault(topic, None)
    return topics
