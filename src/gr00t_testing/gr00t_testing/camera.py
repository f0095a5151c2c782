"""A camera driver stand-in: camera-like frames published from a process of its own.

    python -m gr00t_testing.camera --topic /cam/image_raw --resolution 640x480 \\
        --encoding jpeg --qos best_effort --hz 30

A real driver is a process of its own with its own Fast DDS settings, and what a
best-effort publisher of large frames delivers depends on them (config/
fastdds_large_images.xml is loaded in the driver's process): tests and benchmarks start
this module as a process (`camera_process`) to get the same. Frames are synthetic scenes
(gradient, coloured shapes, a ball that moves from frame to frame, sensor noise), so JPEG
and PNG come out about as large as a camera's; compressed frames use image_transport's
defaults (JPEG quality 95, PNG level 3). It prints ``sent <wall time> <count>`` every
second and at exit (SIGINT / SIGTERM).
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

import numpy as np

ENCODINGS = ("rgb8", "bgr8", "jpeg", "png")
QOS = ("reliable", "best_effort")
FRAMES = 4  # distinct frames, published in turn


def scene(width: int, height: int, k: int, seed: int = 0) -> np.ndarray:
    """A camera-like RGB frame: gradient, coloured shapes, a ball at step k, sensor noise."""
    import cv2

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)  # (H, W)
    img = np.stack([90 + 60 * x / width, 110 + 40 * y / height, 140 - 30 * x / width], -1)
    s = width / 640
    for _ in range(12):
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        cx, cy = int(rng.integers(0, width)), int(rng.integers(0, height))
        cv2.rectangle(img, (cx, cy), (cx + int(80 * s), cy + int(50 * s)), colour, -1)
        cv2.circle(img, (int(rng.integers(0, width)), int(rng.integers(0, height))),
                   int(30 * s), colour, -1)
    cv2.circle(img, (int((0.2 + 0.1 * k) * width), height // 2), int(40 * s), (220, 40, 40), -1)
    img = cv2.GaussianBlur(img, (0, 0), s)
    img += np.random.default_rng(seed + 1 + k).normal(0, 2.0, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)  # (H, W, 3)


def payload(rgb: np.ndarray, encoding: str) -> bytes:
    """The bytes of an Image (rgb8, bgr8) or CompressedImage (jpeg, png) of `rgb`."""
    import cv2

    if encoding == "rgb8":
        return np.ascontiguousarray(rgb).tobytes()
    if encoding == "bgr8":
        return np.ascontiguousarray(rgb[..., ::-1]).tobytes()
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding {encoding!r}: use one of {', '.join(ENCODINGS)}")
    params = ([cv2.IMWRITE_JPEG_QUALITY, 95] if encoding == "jpeg"
              else [cv2.IMWRITE_PNG_COMPRESSION, 3])
    ok, data = cv2.imencode(".jpg" if encoding == "jpeg" else ".png", rgb[..., ::-1], params)
    if not ok:
        raise RuntimeError(f"OpenCV could not encode a {encoding} frame")
    return data.tobytes()


def payloads(width: int, height: int, encoding: str, cache: Path | None = None) -> list[bytes]:
    """FRAMES payloads of one size and encoding (kept in `cache` when given: a 1080p PNG
    takes about a second to make)."""
    out = []
    for k in range(FRAMES):
        path = cache / f"{width}x{height}_{encoding}_{k}.bin" if cache else None
        if path is not None and path.exists():
            out.append(path.read_bytes())
            continue
        data = payload(scene(width, height, k), encoding)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        out.append(data)
    return out


def messages(width: int, height: int, encoding: str, cache: Path | None = None) -> list:
    """Image or CompressedImage messages (stamps unset) of the FRAMES payloads."""
    from sensor_msgs.msg import CompressedImage, Image

    out = []
    for data in payloads(width, height, encoding, cache):
        if encoding in ("jpeg", "png"):
            msg = CompressedImage(format=f"rgb8; {encoding} compressed bgr8", data=data)
        else:
            msg = Image(height=height, width=width, encoding=encoding, step=width * 3, data=data)
        msg.header.frame_id = "camera_optical_frame"
        out.append(msg)
    return out


def qos_profile(qos: str):
    """A reliable publisher as drivers make one with ROS's defaults (depth 10); a best-effort
    one with SensorDataQoS (depth 5)."""
    from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data

    if qos not in QOS:
        raise ValueError(f"qos {qos!r}: use one of {', '.join(QOS)}")
    return (QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE) if qos == "reliable"
            else qos_profile_sensor_data)


def camera_process(topic: str, resolution: str, encoding: str, qos: str, hz: float, log: Path,
                   *, env: dict[str, str] | None = None, cache: Path | None = None,
                   prefix: list[str] | None = None):
    """Start this module as a process (a NodeProcess; `prefix` e.g. runs it in a netns)."""
    from gr00t_testing.processes import NodeProcess

    argv = [*(prefix or []), sys.executable, "-m", "gr00t_testing.camera", "--topic", topic,
            "--resolution", resolution, "--encoding", encoding, "--qos", qos, "--hz", str(hz)]
    if cache is not None:
        argv += ["--cache", str(cache)]
    return NodeProcess(argv, log, env=env)


def sent_per_second(log: str, t0: float, t1: float) -> float | None:
    """Frames a camera process sent per second between wall times t0 and t1 (its log)."""
    points = [(float(p[1]), int(p[2])) for p in (ln.split() for ln in log.splitlines())
              if len(p) == 3 and p[0] == "sent"]
    before = [p for p in points if p[0] <= t0]
    after = [p for p in points if p[0] >= t1]
    if not before or not after or after[0][0] <= before[-1][0]:
        return None
    (ta, na), (tb, nb) = before[-1], after[0]
    return (nb - na) / (tb - ta)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--topic", required=True)
    ap.add_argument("--resolution", default="640x480", help="WIDTHxHEIGHT")
    ap.add_argument("--encoding", default="rgb8", choices=ENCODINGS)
    ap.add_argument("--qos", default="reliable", choices=QOS)
    ap.add_argument("--hz", type=float, default=30.0)
    ap.add_argument("--cache", type=Path, default=None, help="directory for the encoded frames")
    args = ap.parse_args(argv)

    import rclpy

    from gr00t_common.teardown import finish

    width, height = (int(v) for v in args.resolution.split("x"))
    msgs = messages(width, height, args.encoding, args.cache)
    # A plain flag, not a threading.Event: setting an event from a signal handler can wait
    # forever for the lock its wait() holds in this same thread (gr00t_bringup's runner).
    stop: list[int] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, _frame: stop.append(signum))
    rclpy.init(signal_handler_options=rclpy.signals.SignalHandlerOptions.NO)
    node = rclpy.create_node("camera_driver_stand_in")
    pub = node.create_publisher(type(msgs[0]), args.topic, qos_profile(args.qos))
    sent = 0
    next_t = next_report = time.monotonic()
    while not stop:
        msg = msgs[sent % len(msgs)]
        ns = time.time_ns()
        msg.header.stamp.sec, msg.header.stamp.nanosec = ns // 10**9, ns % 10**9
        pub.publish(msg)
        sent += 1
        if time.monotonic() >= next_report:
            print(f"sent {time.time():.3f} {sent}", flush=True)
            next_report += 1.0
        next_t += 1.0 / args.hz
        time.sleep(max(0.0, next_t - time.monotonic()))  # a stop waits one period at most
    print(f"sent {time.time():.3f} {sent}", flush=True)
    finish(None, node, 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
