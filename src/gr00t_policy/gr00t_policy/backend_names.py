"""The names of the backends, importable without torch.

`gr00t_policy.backends.make_runner` takes one of BACKENDS (the action head); System 1's
parameters, the graph description and the CLIs list them too, and must not pay for importing
torch to do so. System 2's backbone runs on one of SYSTEM2_BACKENDS
(`gr00t_policy.export_backbone.resolve_backend`).
"""

BACKENDS = ("torch", "onnxruntime", "tensorrt")
SYSTEM2_BACKENDS = ("auto", "torch", "onnxruntime")
