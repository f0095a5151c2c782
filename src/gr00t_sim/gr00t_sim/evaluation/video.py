"""The evaluation video: head-camera frames with the instruction overlaid, written as an mp4."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


class VideoRecorder:
    """Writes overlaid head-camera frames to an mp4 (imageio-ffmpeg) from a thread of its own.

    Frames are placed on a constant `fps` time line by their header stamps (simulated time),
    repeating the previous frame over gaps, so the video plays at the simulator's speed.
    """

    SCALE = 2  # 224 -> 448 so that the text is readable

    def __init__(self, path: Path, fps: int = 30, max_gap_s: float = 1.0) -> None:
        import imageio_ffmpeg

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fps = fps
        self.max_gap = int(max_gap_s * fps)
        self.frames = 0
        self.dropped = 0
        self.error: str | None = None
        self._imageio_ffmpeg = imageio_ffmpeg
        self._queue: queue.Queue = queue.Queue(maxsize=120)
        self._writer = None
        self._t0: float | None = None
        self._thread = threading.Thread(target=self._run, name="gr00t-eval-video", daemon=True)
        self._thread.start()

    def submit(self, rgb: np.ndarray, stamp_s: float, lines: Sequence[tuple[str, tuple]]) -> None:
        """Queue one (H, W, 3) RGB frame with text lines [(text, rgb colour)]; drops when full."""
        try:
            self._queue.put_nowait((rgb, stamp_s, list(lines)))
        except queue.Full:
            self.dropped += 1

    def _overlay(self, rgb: np.ndarray, lines: Sequence[tuple[str, tuple]]) -> np.ndarray:
        import cv2

        img = cv2.resize(rgb, None, fx=self.SCALE, fy=self.SCALE,
                         interpolation=cv2.INTER_LINEAR)  # (2H, 2W, 3)
        band = 22 * len(lines) + 8
        img[:band] = (img[:band].astype(np.float32) * 0.35).astype(np.uint8)
        for i, (text, colour) in enumerate(lines):
            cv2.putText(img, text, (8, 22 + 22 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1,
                        cv2.LINE_AA)
        return img

    def _run(self) -> None:
        try:
            self._write_loop()
        except Exception as exc:  # noqa: BLE001 - reported by close(), the evaluation goes on
            self.error = f"{type(exc).__name__}: {exc}"
            log.error("video %s: writing stopped: %s", self.path, self.error)
            while self._queue.get() is not None:  # drain so that close() returns
                pass

    def _write_loop(self) -> None:
        last: np.ndarray | None = None
        while True:
            item = self._queue.get()
            if item is None:
                break
            rgb, stamp, lines = item
            if self._t0 is None:
                self._t0 = stamp
            target = int(round((stamp - self._t0) * self.fps))  # this frame's slot
            if target < self.frames:
                continue  # its slot is taken: frames came faster than fps
            frame = np.ascontiguousarray(self._overlay(rgb, lines))  # (2H, 2W, 3)
            if self._writer is None:
                h, w = frame.shape[:2]
                self._writer = self._imageio_ffmpeg.write_frames(
                    str(self.path), (w, h), fps=self.fps, macro_block_size=16,
                    ffmpeg_log_level="error", output_params=["-preset", "veryfast"])
                self._writer.send(None)
            gap = target - self.frames
            if gap > self.max_gap:  # a long pause (between episodes): cut it short
                self._t0 += (gap - self.max_gap) / self.fps
                gap = self.max_gap
            for _ in range(gap):  # hold the previous frame over the gap
                self._writer.send(last if last is not None else frame)
            self._writer.send(frame)
            self.frames += gap + 1
            last = frame

    def close(self) -> dict[str, Any]:
        """Flush and close the file; returns {path, frames, fps, dropped_frames, error}."""
        self._queue.put(None)
        self._thread.join(timeout=60.0)
        if self._writer is not None:
            self._writer.close()
        return {"path": str(self.path), "frames": self.frames, "fps": self.fps,
                "dropped_frames": self.dropped, "error": self.error}
