"""Test helpers that other packages' tests reuse (not imported by runtime code).

- `gr00t_policy.testing.layout`: the official GR00T-N1-2B layout fixture
  (``data/gr00t_n1_2b_layout.json``, written from Isaac-GR00T's source, not from our model)
  and its instantiation at any size.
- `gr00t_policy.testing.official`: writes a directory in the official layout (random
  weights, sharded safetensors, config.json, experiment_cfg/metadata.json) and an Eagle
  tokenizer directory, for the converter's tests and node tests.
- `gr00t_policy.testing.checkpoints`: random-init checkpoints matching embodiment YAMLs,
  and a way to rig one to output huge actions.
- `gr00t_policy.testing.backbones`: a tiny backbone configuration;
  `gr00t_policy.testing.policies`: it with a tiny action head, a whole policy's.
- `gr00t_policy.testing.language`: a tiny Llama saved as a language-model directory, standing
  in for SmolLM2 as an instruction encoder.

The ROS-side helpers (node processes, the input feeder) are in the gr00t_testing package,
which re-exports these.
"""
