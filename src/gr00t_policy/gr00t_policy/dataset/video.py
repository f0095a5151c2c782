"""Episode videos: mp4 encoding with a named codec and decoding back to RGB frames."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gr00t_policy.dataset.layout import DatasetError

logger = logging.getLogger(__name__)

# imageio_ffmpeg gives ffmpeg 10 wall-clock seconds to print a file's header; a machine that
# stalls longer (a process stopped and continued, a loaded 2-core machine) fails a sound
# file. A read that failed after waiting about that long is tried again; one that failed
# sooner (ffmpeg could not read the file, or not start) is reported at once.
READ_ATTEMPTS = 3
HEADER_WAIT_S = 9.5  # a failed read that took this long was imageio's 10-s header timeout


@dataclass(frozen=True)
class VideoCodec:
    """An ffmpeg encoder setting: codec name, output pixel format and extra arguments."""

    codec: str
    pix_fmt: str
    params: tuple[str, ...]
    lossless: bool


VIDEO_CODECS: dict[str, VideoCodec] = {
    "h264-lossless": VideoCodec("libx264rgb", "rgb24", ("-qp", "0", "-preset", "veryfast"), True),
    "h264": VideoCodec("libx264", "yuv420p", ("-crf", "18", "-preset", "veryfast"), False),
}



def write_video(path: str | Path, frames: Any, fps: float, codec: str = "h264-lossless") -> None:
    """Encode uint8 frames (T, H, W, 3) RGB to an mp4 file with the named ``VIDEO_CODECS`` entry.

    ``frames``: an array, or an object with that ``shape`` and ``dtype`` whose iteration
    yields the (H, W, 3) frames (encoded as they come, never all in memory).
    """
    import imageio_ffmpeg

    if codec not in VIDEO_CODECS:
        raise DatasetError(f"unknown video codec {codec!r}; known: {sorted(VIDEO_CODECS)}")
    if not (hasattr(frames, "shape") and hasattr(frames, "dtype")):
        frames = np.asarray(frames)
    shape, dtype = tuple(frames.shape), frames.dtype
    if dtype != np.uint8 or len(shape) != 4 or shape[-1] != 3 or not shape[0]:
        raise DatasetError(f"frames must be uint8 (T, H, W, 3) RGB with T > 0, got {dtype} {shape}")
    spec = VIDEO_CODECS[codec]
    height, width = shape[1:3]
    if not spec.lossless and (height % 2 or width % 2):
        raise DatasetError(f"codec {codec!r} (yuv420p) needs even frame sides, got {width}x{height}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = imageio_ffmpeg.write_frames(
        str(path), (width, height), pix_fmt_in="rgb24", pix_fmt_out=spec.pix_fmt, fps=fps,
        quality=None, codec=spec.codec, macro_block_size=1, ffmpeg_log_level="error",
        output_params=list(spec.params),
    )
    writer.send(None)  # start ffmpeg
    sent = 0
    try:
        for frame in frames:
            if frame.shape != shape[1:] or frame.dtype != np.uint8:
                raise DatasetError(f"frame {sent} is {frame.dtype} {frame.shape}, the video "
                                   f"uint8 {shape[1:]}")
            writer.send(np.ascontiguousarray(frame))
            sent += 1
    finally:
        writer.close()
    if sent != shape[0]:
        raise DatasetError(f"{sent} frames came, {shape[0]} were announced")


def read_video(path: str | Path, *, start_s: float | None = None, num_frames: int | None = None,
               fps: float | None = None) -> np.ndarray:
    """Decode an mp4 file to uint8 frames (T, H, W, 3) RGB.

    ``start_s`` / ``num_frames``: only the ``num_frames`` frames from the one shown at
    ``start_s`` on (an episode in a LeRobot v3.0 file of several); ``fps`` places the seek a
    quarter frame early, so rounding of the stored timestamp cannot skip the first frame.
    """
    import imageio_ffmpeg

    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"missing video file {path}")
    input_params, output_params = [], []
    if start_s is not None:
        early = 0.25 / fps if fps else 0.0
        input_params = ["-ss", f"{max(start_s - early, 0.0):.6f}"]
    if num_frames is not None:
        output_params = ["-frames:v", str(int(num_frames))]
    for attempt in range(1, READ_ATTEMPTS + 1):
        t0 = time.monotonic()
        gen = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24", input_params=input_params,
                                         output_params=output_params)
        try:
            meta = next(gen)
            break
        except OSError as e:
            gen.close()
            timed_out = time.monotonic() - t0 >= HEADER_WAIT_S
            if timed_out and attempt < READ_ATTEMPTS:
                logger.warning("video %s: ffmpeg printed no header within imageio's 10 s "
                               "(attempt %d of %d; a stalled or overloaded machine?): trying "
                               "again", path, attempt, READ_ATTEMPTS)
                continue
            raise DatasetError(f"video {path}: {_read_failure(e, timed_out, attempt)}") from e
    width, height = meta["size"]
    frames = [np.frombuffer(buf, dtype=np.uint8).reshape(height, width, 3) for buf in gen]
    if not frames:
        raise DatasetError(f"video {path} holds no frames"
                           + (f" from {start_s} s" if start_s is not None else ""))
    return np.stack(frames)  # (T, H, W, 3)


def frames_at(timestamps: np.ndarray, num_frames: int, fps: float) -> np.ndarray:
    """The frame shown at each row's timestamp (s; (T,)) in a video of ``num_frames`` frames
    at ``fps``, frame k at k / fps from the video's start: the nearest one (a tie takes the
    earlier), clamped to the video's frames, as Isaac-GR00T's LeRobotSingleDataset decodes
    a row's image (gr00t/utils/video.py ``get_frames_by_timestamps``, its default decord
    backend: ``argmin |frame start - timestamp|`` over the video's frames). Rows at
    ``frame_index / fps`` get frames 0, 1, 2, ...; GR00T's own datasets, whose timestamps
    start one frame in (0.05 s at 20 fps), show row r frame r + 1, the last row the last
    frame. (T,) int64."""
    nearest = np.ceil(np.asarray(timestamps, dtype=np.float64) * fps - 0.5)  # (T,)
    return np.clip(nearest, 0, num_frames - 1).astype(np.int64)


def video_fps(path: str | Path) -> float | None:
    """The frame rate a video's stream header gives; None where ffmpeg reads none (for
    messages about a video already read: its failures are read_video's to report)."""
    import imageio_ffmpeg

    gen = imageio_ffmpeg.read_frames(str(path))
    try:
        fps = next(gen).get("fps")
    except OSError:
        return None
    finally:
        gen.close()
    return float(fps) if fps else None


def _read_failure(e: OSError, timed_out: bool, attempts: int) -> str:
    """Why imageio_ffmpeg could not open a video, and what to do about it."""
    if e.errno is not None:  # raised by Popen: ffmpeg itself did not start
        return f"could not start ffmpeg ({e}); check free memory and open files, then retry"
    if timed_out:
        return (f"ffmpeg printed no stream header within 10 s in {attempts} attempts; check the "
                "machine is not stalled, and that the file plays (ffprobe)")
    stderr = str(e).partition("=== stderr ===")[2]
    said = [line.strip() for line in stderr.splitlines() if line.strip()]
    return (f"ffmpeg could not read it ({said[-1] if said else str(e).splitlines()[0]}); check "
            "the file plays (ffprobe), or re-record the episode")
