#!/usr/bin/env python3
"""Does System 2's uint8 resize change the tokens? Old path vs new path, in token space.

    source env.sh
    python bench/resize_tokens.py                    # checkpoints/nano, ~20 s

Before, System 2 gave the backbone the camera frame at full size and the backbone's
preprocessing resized a float copy of it (gr00t_policy.backbone.preprocess_images). Now
System 2 resizes the uint8 frame first (gr00t_system2.image.resize_rgb, the filter training
used, rounded to uint8 as training's frames were). For head-camera renders of the simulator
(the training distribution, 224 px and rendered larger) and camera-like synthetic scenes at
640x480 / 1280x720 / 1920x1080, it prints the relative token difference
||new - old|| / ||old|| over the real (unmasked) tokens, next to two yardsticks on the same
frames: a JPEG round trip at quality 95 (what a compressed camera topic does) and the next
frame of a moving scene (the simulator 40 ms later while an arm moves; the synthetic ball
moved); and how far each path is from what training fed the backbone
(gr00t_policy.train.data.resize_frames). Also the time of each path's preprocessing.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from common import REPO  # bench/ is on sys.path



def sim_frames(size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two head-camera renders of the simulator 40 ms apart with the right arm moving."""
    import os

    os.environ.setdefault("MUJOCO_GL", "egl")
    import mujoco

    from gr00t_sim.world import SimWorld

    world = SimWorld()
    world.reset(seed)
    model = world.model
    model.vis.global_.offwidth = max(model.vis.global_.offwidth, size)
    model.vis.global_.offheight = max(model.vis.global_.offheight, size)
    renderer = mujoco.Renderer(model, height=size, width=size)
    camera = model.camera("head").id

    def render() -> np.ndarray:
        mujoco.mj_forward(model, world.data)
        renderer.update_scene(world.data, camera=camera)
        return renderer.render().copy()

    first = render()
    targets = world.rest_pose()
    targets["right_shoulder_pitch_joint"] = targets.get("right_shoulder_pitch_joint", 0.0) - 0.6
    world.set_targets(targets)
    for _ in range(int(0.04 / model.opt.timestep)):
        mujoco.mj_step(model, world.data)
    second = render()
    renderer.close()
    return first, second


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", default=str(REPO / "checkpoints" / "nano"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seeds", type=int, default=4, help="simulator scenes per size")
    args = ap.parse_args()

    import cv2
    import torch

    from gr00t_policy.backbone import BackboneRunner, preprocess_images
    from gr00t_policy.train.data import resize_frames
    from gr00t_system2.image import resize_rgb
    from gr00t_testing.camera import scene

    torch.set_num_threads(args.threads)
    enc = BackboneRunner(args.checkpoint)
    size = enc.image_size
    instruction = "touch the red cube with your right hand"

    crop = enc.image_crop

    def tokens(rgb: np.ndarray, prepared: bool = False) -> np.ndarray:
        t, mask = enc.encode([rgb], instruction, prepared=prepared)
        return t[mask]  # (N, C) real tokens

    def rel(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.linalg.norm(a - b) / np.linalg.norm(b))

    def jpeg(rgb: np.ndarray) -> np.ndarray:
        _, data = cv2.imencode(".jpg", rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
        return cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1].copy()

    def ms(fn, reps: int = 5) -> float:
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        return (time.perf_counter() - t0) / reps * 1e3

    cases = []
    for px in (224, 448, 1080):
        for seed in range(100000, 100000 + args.seeds):
            a, b = sim_frames(px, seed)
            cases.append((f"simulator {px}x{px}", a, b))
    for w, h in ((640, 480), (1280, 720), (1920, 1080)):
        for k in range(args.seeds):
            cases.append((f"synthetic {w}x{h}", scene(w, h, k, seed=k), scene(w, h, k + 1, seed=k)))

    print(f"checkpoint {args.checkpoint}: backbone input {size} px, torch threads {args.threads}")
    print("| frames | n | new vs old path | JPEG q95 vs original | next frame vs this | "
          "old / new vs training's resize | preprocess old / new (ms) |\n"
          "|---|---|---|---|---|---|---|")
    groups: dict[str, list[tuple[float, ...]]] = {}
    for name, a, b in cases:
        old = tokens(a)  # the backbone resizes the float frame
        new = tokens(resize_rgb(a, size, crop), prepared=True)
        trained = tokens(resize_frames(a[None], size, crop)[0].permute(1, 2, 0).numpy(),
                         prepared=True)
        t_old = ms(lambda: preprocess_images([a], enc.config))
        t_new = ms(lambda: preprocess_images([resize_rgb(a, size, crop)], enc.config,
                                             prepared=True))
        groups.setdefault(name, []).append(
            (rel(new, old), rel(tokens(jpeg(a)), old), rel(tokens(b), old),
             rel(old, trained), rel(new, trained), t_old, t_new))
    for name, rows in groups.items():
        r = np.array(rows)  # (n, 7)
        print(f"| {name} | {len(rows)} | {r[:, 0].mean():.4f} (max {r[:, 0].max():.4f}) | "
              f"{r[:, 1].mean():.4f} | {r[:, 2].mean():.4f} | {r[:, 3].mean():.4f} / "
              f"{r[:, 4].mean():.4f} | {r[:, 5].mean():.1f} / {r[:, 6].mean():.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
