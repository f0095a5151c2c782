"""A System 1 decoder plugin as installed, for tests: its entry point in a dist-info folder."""

from __future__ import annotations

from pathlib import Path


def write_decoder_distribution(folder: Path, module: str, entry: str) -> Path:
    """A ``<module>-0.1.dist-info`` folder under ``folder`` registering ``entry`` (``"name =
    module:Class"``) in System 1's decoder entry-point group, as an installed plugin package
    has; importlib.metadata finds it once ``folder`` is on sys.path. Returns the folder."""
    dist = Path(folder) / f"{module}-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {module.replace('_', '-')}\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[gr00t_system1.decoders]\n{entry}\n")
    return dist
