"""LeRobot v2 datasets with GR00T's extra meta files: a writer and a reader (ROS-free).

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
from gr00t_policy.dataset.reader import Episode, LeRobotDataset
from gr00t_policy.dataset.video import VIDEO_CODECS, VideoCodec, read_video, write_video
from gr00t_policy.dataset.writer import LeRobotWriter

__all__ = ["ACTION", "CODEBASE_VERSION", "DATA_PATH", "STATE", "TASK_ANNOTATION", "VIDEO_PATH",
           "VIDEO_PREFIX", "VIDEO_CODECS", "DatasetError", "Episode", "LeRobotDataset",
           "LeRobotWriter", "VideoCodec", "read_video", "write_video"]
