"""Random-init checkpoints that match embodiment YAMLs, and ways to rig them (ROS-free).

- `make_checkpoint_for` writes a nano checkpoint (real model classes, real safetensors)
  whose `embodiments` entries and statistics follow the given YAMLs, so nodes started with
  those YAMLs accept it.
- `scale_action_decoder` rigs one to output huge actions (safety tests).
- `rig_action_head_config` rigs one as if trained with other head settings (prefix_rows).
- `backbone_id` reads what System 2 would publish with its tokens.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path


def make_checkpoint_for(out_dir: str | Path, embodiment_yamls: Sequence[str | Path], *,
                        preset: str = "nano", seed: int = 0) -> Path:
    """A random-init `preset` checkpoint with one embodiment entry per YAML (slot, action_dt,
    dims and vector layout from the YAML, so it matches exactly) and statistics within each
    YAML's joint limits."""
    from gr00t_policy.checkpoint import make_random_checkpoint
    from gr00t_policy.embodiment import load_embodiment

    embs = [load_embodiment(p) for p in embodiment_yamls]
    limits = {e.tag: {j: e.joint(j).position_limits for j in (*e.state_joints, *e.action_joints)}
              for e in embs}
    return make_random_checkpoint(out_dir, preset=preset, seed=seed,
                                  embodiments={e.tag: e.checkpoint_entry() for e in embs},
                                  limits=limits)


def scale_action_decoder(ckpt_dir: str | Path, factor: float) -> None:
    """Multiply action_head.action_decoder.layer2 weights and biases by `factor` in place
    (rigs a checkpoint to output huge actions, for safety tests)."""
    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file

    path = Path(ckpt_dir) / "model.safetensors"
    with safe_open(str(path), "np") as f:
        metadata = f.metadata()
    tensors = load_file(str(path))
    keys = [k for k in tensors if k.startswith("action_head.action_decoder.layer2.")]
    if not keys:
        raise KeyError(f"{path} has no action_head.action_decoder.layer2.* tensors")
    for k in keys:
        tensors[k] = tensors[k] * factor
    save_file(tensors, str(path), metadata=metadata)


def rig_action_head_config(ckpt_dir: str | Path, **fields) -> None:
    """Set action head config ``fields`` in config.json and in the record saved with the
    weights (`checkpoint.HEAD_RECORD`), as if the head had been trained with them: loading
    refuses a config.json edited alone."""
    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file

    from gr00t_policy.checkpoint import HEAD_RECORD

    ckpt_dir = Path(ckpt_dir)
    config = json.loads((ckpt_dir / "config.json").read_text())
    config["action_head"].update(fields)
    path = ckpt_dir / "model.safetensors"
    with safe_open(str(path), "np") as f:
        metadata = dict(f.metadata() or {})
    metadata[HEAD_RECORD] = json.dumps(config["action_head"], sort_keys=True)
    save_file(load_file(str(path)), str(path), metadata=metadata)
    (ckpt_dir / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True))


def backbone_id(checkpoint: Path) -> str:
    """The checkpoint's backbone_id (what System 2 would publish)."""
    return json.loads((checkpoint / "config.json").read_text())["backbone_id"]
