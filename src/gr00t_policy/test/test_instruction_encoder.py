"""A frozen pretrained LM reading System 2's instruction (issue 19): finding its directory, its
cached states, their place in the backbone's prompt, and fine-tuning a checkpoint onto it.

A tiny randomly initialised Llama with the nano tokenizer stands in for SmolLM2 (the real one
is exercised by test_language.py and by the evaluation in docs/BENCHMARKS.md).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from gr00t_policy.backbone import BackboneRunner, aligned_states
from gr00t_policy.backbone_config import nano_backbone
from gr00t_policy.language.instruction import (
    CHECKPOINT_SUBDIR,
    InstructionEncoder,
    load_instruction_encoder,
    resolve_language_model_dir,
)
from gr00t_policy.language.store import LanguageModelError
from gr00t_policy.policy import GR00TPolicy
from gr00t_policy.policy_config import POLICY_PRESETS, PolicyConfig
from gr00t_policy.prompt import build_nano_tokenizer
from gr00t_policy.testing.language import write_tiny_language_model

torch.set_num_threads(1)

SHA = "ab" * 32
LAYERS, WIDTH = 2, 64


def _config(**changes):
    fields = dict(instruction_encoder="tiny", instruction_encoder_sha256=SHA,
                  instruction_encoder_layers=LAYERS, instruction_encoder_dim=WIDTH)
    return dataclasses.replace(nano_backbone(), **{**fields, **changes})


def _write_tiny_lm(directory, sha: str = SHA, layers: int = LAYERS):
    return write_tiny_language_model(directory, sha256=sha, layers=layers, width=WIDTH)


@pytest.fixture
def ckpt_dir(tmp_path):
    _write_tiny_lm(tmp_path / CHECKPOINT_SUBDIR)
    return tmp_path


@pytest.fixture
def runner(ckpt_dir):
    config = _config()
    torch.manual_seed(1)
    backbone = GR00TPolicy(PolicyConfig(config, POLICY_PRESETS["nano"].action_head),
                           parts=("backbone",)).backbone
    encoder = load_instruction_encoder(config, ckpt_dir)
    return BackboneRunner.from_modules(backbone, build_nano_tokenizer(config), "test",
                                       instruction_encoder=encoder)


def test_config_without_an_encoder_reads_and_hashes_as_before():
    assert "instruction_encoder" not in nano_backbone().to_dict()
    assert _config().to_dict()["instruction_encoder_dim"] == WIDTH
    with pytest.raises(ValueError, match="instruction_encoder_sha256"):
        _config(instruction_encoder_sha256="nope")
    with pytest.raises(ValueError, match="instruction_context_token"):
        _config(instruction_context_token="<IMG_CONTEXT>")
    with pytest.raises(ValueError, match=r"sets \['instruction_encoder_dim'\] but instruction_encoder"):
        dataclasses.replace(nano_backbone(), instruction_encoder_dim=576)


def test_the_checkpoints_own_directory_is_used_and_checked(ckpt_dir, tmp_path_factory):
    assert resolve_language_model_dir(_config(), ckpt_dir) == ckpt_dir / CHECKPOINT_SUBDIR
    other = tmp_path_factory.mktemp("other")
    _write_tiny_lm(other / CHECKPOINT_SUBDIR, sha="cd" * 32)
    with pytest.raises(LanguageModelError, match="sha256 cdcdcdcd"):
        resolve_language_model_dir(_config(), other)
    with pytest.raises(LanguageModelError, match="keeps 2 layers, the checkpoint's encoder 3"):
        resolve_language_model_dir(_config(instruction_encoder_layers=3), ckpt_dir)


def test_an_unknown_encoder_is_not_imported(tmp_path, monkeypatch):
    monkeypatch.setenv("GR00T_LANGUAGE_MODELS", str(tmp_path / "cache"))
    with pytest.raises(LanguageModelError, match="'tiny' is not a model we can import"):
        resolve_language_model_dir(_config(), tmp_path / "no_checkpoint")
    with pytest.raises(LanguageModelError, match="does not exist"):
        resolve_language_model_dir(_config(), None, import_missing=False)


def test_states_are_cached_per_instruction_and_match_a_batch(ckpt_dir):
    encoder = load_instruction_encoder(_config(), ckpt_dir, cache_size=2)
    first = encoder.states("raise your left hand")
    assert first.shape == (len(encoder.token_ids("raise your left hand")), WIDTH)
    assert encoder.states(" raise your left hand ") is first  # same text, cached
    batch = encoder.states_of(["touch the red cube with your left hand", "raise your left hand"])
    torch.testing.assert_close(batch[1], first, rtol=1e-5, atol=1e-5)  # left padding changes nothing
    encoder.states("a")
    encoder.states("b")  # the least recently used entry goes
    assert encoder.states("raise your left hand") is not first


def test_the_encoder_reads_runs_of_whitespace_as_one_space(ckpt_dir):
    """A double space or a line break is not a word: SmolLM2's byte-level tokenizer would
    read it (the nano tokenizer of this stand-in would not, so what reaches it is recorded)."""
    encoder = load_instruction_encoder(_config(), ckpt_dir)
    tokenizer, seen = encoder.tokenizer, []

    class Recording:
        def __getattr__(self, name):
            return getattr(tokenizer, name)

        def __call__(self, text, **kwargs):
            seen.append(text)
            return tokenizer(text, **kwargs)

    state = encoder.states("raise your left hand")
    encoder.tokenizer = Recording()
    assert encoder.states(" raise your\tleft  hand\n") is state  # one cache entry
    encoder.token_ids("raise  your\nleft hand")
    assert seen == ["<|im_start|>user\nraise your left hand<|im_end|>"]


def test_an_encoder_of_another_width_is_refused(ckpt_dir):
    from gr00t_policy.language.store import load_language_model

    with pytest.raises(LanguageModelError, match="the backbone expects 2 of 32"):
        InstructionEncoder(load_language_model(ckpt_dir / CHECKPOINT_SUBDIR),
                           _config(instruction_encoder_dim=32))


def test_prompt_holds_one_slot_per_encoder_token_and_no_instruction_words(runner):
    text = "tap the scarlet block with your left hand"
    prompt, states = runner.prompt_inputs(text)
    n = runner.instruction_encoder.states(text).shape[0]
    assert int((prompt.input_ids == runner.prompt.text_context_id).sum()) == n
    assert states.shape == (runner.max_tokens, WIDTH)
    nano_word_ids = set(build_nano_tokenizer()(["touch", "left", "hand"], add_special_tokens=False,
                                               is_split_into_words=True)["input_ids"])
    assert not nano_word_ids & set(prompt.input_ids[prompt.attention_mask].tolist())
    assert runner.prompt.unknown_words(text) == []  # no word reaches the nano tokenizer


def test_a_too_long_instruction_names_its_encoder_tokens_and_the_room(runner):
    """The refusal counts the encoder's tokens (one slot each): not the 0 tokens and the
    negative room that measuring the prompt of an empty instruction with the same slots gave."""
    text = "touch the red cube with your left hand " * 5
    n = runner.instruction_encoder.states(text).shape[0]
    fixed = len(runner.prompt.token_ids("", runner.num_views, text_slots=n)) - n
    assert fixed + n > runner.max_tokens
    with pytest.raises(ValueError, match=rf"takes {n} tokens as tiny reads it \(its user turn "
                                         rf"included\) but .* room for at most "
                                         rf"{runner.max_tokens - fixed} \(max_tokens "
                                         rf"{runner.max_tokens}, {fixed} of them"):
        runner.check_instruction(text)


def test_tokens_depend_on_the_encoder_states(runner):
    image = [np.full((112, 112, 3), 90, np.uint8)]
    a, mask = runner.encode(image, "raise your left hand")
    b, _ = runner.encode(image, "raise your right hand")
    assert mask.sum() > 16 and np.abs(a - b).max() > 1e-4
    # Same words, other states: the tokens follow the states, not the words.
    encoder = runner.instruction_encoder
    runner.encode(image, "raise your left hand")
    encoder._cache["raise your left hand"] = encoder.states("raise your left hand").flip(-1)
    again, _ = runner.encode(image, "raise your left hand")  # the runner kept its inputs
    assert np.array_equal(again, a)
    runner.encode(image, "raise your right hand")
    c, _ = runner.encode(image, "raise your left hand")
    assert np.abs(a - c).max() > 1e-4


def test_backbone_without_states_names_the_argument(runner):
    prompt, _ = runner.prompt_inputs("raise your left hand")
    ids = torch.from_numpy(prompt.input_ids)[None]
    pix = torch.zeros((1, 1, 3, 112, 112))
    with pytest.raises(ValueError, match="pass instruction_states"):
        runner.backbone(ids, torch.from_numpy(prompt.attention_mask)[None], pix)


def test_aligned_states_needs_one_row_per_slot():
    ids = np.array([0, 7, 7, 3])
    out = aligned_states(ids, 7, torch.ones((2, 4)))
    assert out[1:3].eq(1).all() and out[[0, 3]].eq(0).all()
    with pytest.raises(ValueError, match="2 text slots for 3 states"):
        aligned_states(ids, 7, torch.ones((3, 4)))


def test_init_from_a_checkpoint_without_the_encoder_adds_only_the_projection(tmp_path, monkeypatch):
    from gr00t_policy.checkpoint import make_random_checkpoint
    from gr00t_policy.train.state import load_init_weights

    plain = make_random_checkpoint(tmp_path / "plain")
    policy = GR00TPolicy(PolicyConfig(_config(), POLICY_PRESETS["nano"].action_head))
    before = policy.backbone.instruction_proj[1].weight.clone()
    load_init_weights(policy, plain)
    from gr00t_policy.checkpoint import load_checkpoint

    trained = load_checkpoint(plain).policy.state_dict()
    mine = policy.state_dict()
    assert all(torch.equal(mine[k], v) for k, v in trained.items())
    assert torch.equal(policy.backbone.instruction_proj[1].weight, before)
    other = GR00TPolicy(PolicyConfig(_config(lm_intermediate_size=512), POLICY_PRESETS["nano"].action_head))
    with pytest.raises(ValueError, match="backbone.lm_intermediate_size"):
        load_init_weights(other, plain)
