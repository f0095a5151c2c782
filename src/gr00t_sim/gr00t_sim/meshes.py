"""Cheap render meshes for the G1: binary STL reading and vertex-clustering decimation.

The Menagerie G1 meshes total ~629k triangles, too many for a software-rasterised head
camera at 30 Hz (docs/BENCHMARKS.md, "Figures behind defaults"). Rendering needs far less
detail than that, so each visual
mesh gets a decimated copy: vertices are snapped to a uniform grid (cell = the mesh's
bounding-box diagonal / `cells_per_diagonal`), each cell's vertices merge into their mean,
and triangles that collapse (two corners in one cell) or repeat are dropped. Collision
geometry keeps the original meshes. Results are cached as .npz under
``~/.cache/gr00t_ros/meshes`` keyed by the source file's sha256 and the grid setting, so
only the first run pays for the decimation.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import numpy as np

_LOG = logging.getLogger(__name__)

CACHE_DIR = Path(os.environ.get("GR00T_ROS_CACHE", Path.home() / ".cache" / "gr00t_ros"))


class MeshFormatError(ValueError):
    """A mesh file is not a binary STL we can read."""


def read_binary_stl(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a binary STL into shared vertices (V, 3) float64 and faces (F, 3) int32.

    Binary STL stores three corners per triangle; identical corners are merged so that the
    result is an indexed mesh. ASCII STL is rejected with MeshFormatError.
    """
    raw = Path(path).read_bytes()
    if len(raw) < 84:
        raise MeshFormatError(f"{path}: {len(raw)} bytes is too short for a binary STL (>= 84)")
    count = int(np.frombuffer(raw, dtype="<u4", count=1, offset=80)[0])
    if len(raw) != 84 + 50 * count:
        raise MeshFormatError(
            f"{path}: header says {count} triangles ({84 + 50 * count} bytes) but the file has "
            f"{len(raw)} bytes; only binary STL is supported, convert ASCII STL first")
    record = np.dtype([("normal", "<f4", 3), ("corners", "<f4", (3, 3)), ("attr", "<u2")])
    tris = np.frombuffer(raw, dtype=record, count=count, offset=84)["corners"]  # (F, 3, 3)
    corners = tris.reshape(-1, 3).astype(np.float64)  # (3F, 3)
    verts, inverse = np.unique(corners, axis=0, return_inverse=True)
    faces = inverse.reshape(-1, 3).astype(np.int32)  # (F, 3)
    return verts, faces


def cluster_decimate(verts: np.ndarray, faces: np.ndarray,
                     cells_per_diagonal: int) -> tuple[np.ndarray, np.ndarray]:
    """Vertex-clustering decimation on a uniform grid; see the module docstring.

    Args:
        verts: (V, 3) vertex positions.
        faces: (F, 3) vertex indices.
        cells_per_diagonal: grid resolution; larger keeps more detail (>= 2).
    Returns:
        (V', 3) merged vertices and (F', 3) faces with no collapsed or repeated triangle.
    """
    if cells_per_diagonal < 2:
        raise ValueError(f"cells_per_diagonal={cells_per_diagonal} must be >= 2")
    lo = verts.min(axis=0)
    diagonal = float(np.linalg.norm(verts.max(axis=0) - lo))
    cell = max(diagonal / cells_per_diagonal, 1e-9)
    keys = np.floor((verts - lo) / cell).astype(np.int64)  # (V, 3)
    _, cluster = np.unique(keys, axis=0, return_inverse=True)
    cluster = cluster.reshape(-1)
    n = int(cluster.max()) + 1
    sums = np.zeros((n, 3))
    np.add.at(sums, cluster, verts)
    counts = np.bincount(cluster, minlength=n).astype(np.float64)
    new_verts = sums / counts[:, None]  # (V', 3)
    new_faces = cluster[faces]  # (F, 3)
    keep = ((new_faces[:, 0] != new_faces[:, 1]) & (new_faces[:, 1] != new_faces[:, 2])
            & (new_faces[:, 0] != new_faces[:, 2]))
    new_faces = new_faces[keep]
    # Drop duplicates regardless of winding start (keep the first orientation seen).
    canon = np.sort(new_faces, axis=1)
    _, first = np.unique(canon, axis=0, return_index=True)
    new_faces = new_faces[np.sort(first)]
    return new_verts, new_faces.astype(np.int32)


def simplified_mesh(path: Path, cells_per_diagonal: int) -> tuple[np.ndarray, np.ndarray]:
    """The decimated mesh of an STL file, from the cache when it is there."""
    path = Path(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:20]
    cache = CACHE_DIR / "meshes" / f"{path.stem}-{digest}-c{cells_per_diagonal}.npz"
    if cache.exists():
        with np.load(cache) as z:
            return z["verts"], z["faces"]
    verts, faces = cluster_decimate(*read_binary_stl(path), cells_per_diagonal)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(f".{os.getpid()}.tmp.npz")
    np.savez(tmp, verts=verts, faces=faces)
    os.replace(tmp, cache)
    _LOG.debug("decimated %s: %d faces -> cache %s", path.name, len(faces), cache)
    return verts, faces
