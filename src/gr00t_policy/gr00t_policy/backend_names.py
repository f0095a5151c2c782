"""The names of the action head backends, importable without torch.

`gr00t_policy.backends.make_runner` takes one of them; System 1's parameters, the graph
description and the CLIs list them too, and must not pay for importing torch to do so.
"""

BACKENDS = ("torch", "onnxruntime", "tensorrt")

