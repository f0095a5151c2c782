"""The auxiliary-loss registry: plug-ins by name, in a fixed order, failing helpfully."""

from __future__ import annotations

import pytest

from gr00t_policy.train import auxiliary
from gr00t_policy.train.auxiliary import AuxLoss, active_losses, get_aux_loss, register, registered
from gr00t_policy.train.config import TrainConfig


def test_the_tabletop_plugin_registers_goal_then_scene():
    names = [loss.name for loss in registered()]
    assert names.index("goal") < names.index("scene")
    assert get_aux_loss("goal").legacy_state_key == "goal_head"
    assert get_aux_loss("scene").legacy_state_key is None


def test_unknown_names_list_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown auxiliary loss 'gaol'; known auxiliary "
                       r"losses: \[.*'goal'.*'scene'.*\]; did you mean 'goal'\?"):
        get_aux_loss("gaol")
    with pytest.raises(ValueError, match="unknown auxiliary loss 'depth'.*'goal'"):
        active_losses(TrainConfig(aux_weights={"depth": 1.0}))


def test_active_losses_follow_registration_order_and_skip_zero_weights():
    cfg = TrainConfig(aux_weights={"scene": 2.0, "goal": 0.5})
    assert [(loss.name, w) for loss, w in active_losses(cfg)] == [("goal", 0.5), ("scene", 2.0)]
    cfg = TrainConfig(aux_weights={"goal": 0.0, "scene": 1.0})
    assert [loss.name for loss, _ in active_losses(cfg)] == ["scene"]
    assert active_losses(TrainConfig()) == []


def test_a_name_is_registered_once(monkeypatch):
    monkeypatch.setattr(auxiliary, "_REGISTRY", dict(auxiliary._REGISTRY))
    extra = AuxLoss(name="extra", help="test", targets=lambda ds: None,
                    build_head=lambda config, data: None)
    assert register(extra) is extra and register(extra) is extra  # re-import is harmless
    assert registered()[-1] is extra
    with pytest.raises(ValueError, match="'extra' is registered twice"):
        register(AuxLoss(name="extra", help="another", targets=extra.targets,
                         build_head=extra.build_head))
    with pytest.raises(ValueError, match="identifier"):
        AuxLoss(name="two words", help="", targets=extra.targets, build_head=extra.build_head)
