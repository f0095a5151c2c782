"""Vertex-clustering decimation keeps the shape and drops collapsed triangles."""

import numpy as np
import pytest

from gr00t_sim import meshes
from gr00t_sim.world import default_embodiment, model_path


def test_decimation_reduces_faces_and_keeps_the_bounding_box():
    path = model_path(default_embodiment().simulator).parent / "assets" / "left_hand_palm_link.STL"
    verts, faces = meshes.read_binary_stl(path)
    small_v, small_f = meshes.cluster_decimate(verts, faces, 40)
    assert len(small_f) < len(faces) / 4
    assert small_f.max() < len(small_v)
    assert np.all(small_f[:, 0] != small_f[:, 1])
    extent = verts.max(0) - verts.min(0)
    assert np.allclose(small_v.min(0), verts.min(0), atol=0.05 * extent.max())
    assert np.allclose(small_v.max(0), verts.max(0), atol=0.05 * extent.max())


def test_ascii_stl_is_rejected(tmp_path):
    bad = tmp_path / "a.stl"
    bad.write_text("solid a\nendsolid a\n" * 10)
    with pytest.raises(meshes.MeshFormatError, match="binary STL"):
        meshes.read_binary_stl(bad)
