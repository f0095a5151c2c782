"""LeRobot datasets with GR00T's extra meta files: a writer, a reader, and a converter from
rosbag2 bags (ROS-free).

- ``writer.py`` :class:`LeRobotWriter` writes the v2.0 layout below;
- ``reader.py`` :class:`LeRobotDataset` reads it, and LeRobot v2.1 and v3.0 datasets that
  other tools wrote (``formats.py``; without modality.json the embodiment YAML gives the key
  layout);
- ``from_bag.py`` (``gr00t-dataset from-bag``, ``cli.py``): rosbag2 MCAP bags (``bag.py``)
  -> the embodiment's signals (``bag_streams.py``) -> rows on the action_dt grid
  (``resample.py``) -> :class:`LeRobotWriter`.

Layout written (LeRobot ``codebase_version`` "v2.0", one file per episode)::

    ROOT/
      meta/info.json        fps, features (dtype / shape / names), path templates, counts
      meta/episodes.jsonl   {"episode_index", "tasks": [text], "length"} per line
      meta/tasks.jsonl      {"task_index", "task"} per line
      meta/modality.json    GR00T: state/action key -> {"start", "end"} into the concatenated
                            vectors, video key -> {"original_key"}, annotation keys
      meta/stats.json       per numeric feature: min, max, mean, std, q01, q99 (lists)
      data/chunk-000/episode_000000.parquet
      videos/chunk-000/observation.images.<camera>/episode_000000.mp4

Episode parquet columns: ``observation.state`` and ``action`` (fixed-size float32 lists),
``timestamp`` (float32, s), ``frame_index``, ``episode_index``, ``index`` (global frame),
``task_index`` and ``annotation.human.action.task_description`` (the task index, as GR00T
reads it), all int64.

Row ``t`` holds the state observed at ``t / fps`` and the action (joint targets) commanded
right after that observation.

Video codecs (``VIDEO_CODECS``): ``h264-lossless`` (libx264rgb, qp 0, rgb24: frames decode
bit-exactly; the default) and ``h264`` (libx264, crf 18, yuv420p: ~5x smaller, within a few
grey levels, plays everywhere).
"""

from gr00t_policy.dataset.layout import (
    ACTION, CODEBASE_VERSION, DATA_PATH, STATE, TASK_ANNOTATION, VIDEO_PATH, VIDEO_PREFIX,
    DatasetError)
from gr00t_policy.dataset.bag import Bag, BagError, read_bag
from gr00t_policy.dataset.reader import Episode, LeRobotDataset
from gr00t_policy.dataset.video import VIDEO_CODECS, VideoCodec, read_video, write_video
from gr00t_policy.dataset.writer import LeRobotWriter

__all__ = ["ACTION", "Bag", "BagError", "CODEBASE_VERSION", "DATA_PATH", "STATE", "TASK_ANNOTATION", "VIDEO_PATH",
           "VIDEO_PREFIX", "VIDEO_CODECS", "DatasetError", "Episode", "LeRobotDataset",
           "LeRobotWriter", "VideoCodec", "read_bag", "read_video", "write_video"]
