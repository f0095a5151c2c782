"""PolicyBundle.open: a checkpoint's statistics against the embodiment that will use them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gr00t_policy.embodiment import load_embodiment
from gr00t_policy.runtime.bundle import BundleError, PolicyBundle
from gr00t_policy.testing.checkpoints import make_checkpoint_for

REPO = Path(__file__).resolve().parents[3]
G1_YAML = REPO / "config" / "unitree_g1.yaml"


@pytest.fixture(scope="module")
def g1_checkpoint(tmp_path_factory) -> Path:
    return make_checkpoint_for(tmp_path_factory.mktemp("ckpt") / "nano", [G1_YAML])


def _with_statistics(src: Path, dst: Path, edit) -> Path:
    """`src` (its files linked) with `edit(statistics of unitree_g1)` applied to a copy of
    its metadata.json."""
    (dst / "experiment_cfg").mkdir(parents=True)
    for path in src.iterdir():
        if path.is_file():
            (dst / path.name).symlink_to(path)
    meta = json.loads((src / "experiment_cfg" / "metadata.json").read_text())
    edit(meta["unitree_g1"]["statistics"])
    (dst / "experiment_cfg" / "metadata.json").write_text(json.dumps(meta))
    return dst


def test_statistics_of_other_widths_with_the_same_total_are_refused(g1_checkpoint, tmp_path):
    # waist 4 wide, left_arm 6 (the YAML: 3 and 7): the total (31) and config.json's layout
    # agree, and every left-arm joint was unnormalized with its neighbour's statistics.
    def shift(stats):
        action = stats["action"]
        for field in action["waist"]:
            action["waist"][field] = action["waist"][field] + [0.0]
            action["left_arm"][field] = action["left_arm"][field][:-1]

    g1 = load_embodiment(G1_YAML)
    PolicyBundle.open(g1_checkpoint, g1)
    bad = _with_statistics(g1_checkpoint, tmp_path / "shifted", shift)
    with pytest.raises(BundleError, match=r"shifted/experiment_cfg/metadata\.json: action key "
                                          r"'waist': the checkpoint's statistics are 4 wide but "
                                          r".*unitree_g1\.yaml lists 3 joints for it "
                                          r"\(waist_yaw_joint, waist_roll_joint, "
                                          r"waist_pitch_joint\).*Fix:"):
        PolicyBundle.open(bad, g1)
