"""gr00t_bringup describes and runs the graph; it does not import the simulator.

The simulator is one node of the graph, started as a process by package and executable name
(`graph.SIM`); evaluation and its success criterion live in gr00t_sim. So no module of
gr00t_bringup (nor the launch file it installs) imports `mujoco` or `gr00t_sim`, and its
package.xml does not depend on gr00t_sim. Checked statically with ast, so a lazy import inside
a function counts too.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from gr00t_testing import imported_modules

PKG = Path(__file__).resolve().parents[1]
REPO = PKG.parents[1]
FORBIDDEN = {"mujoco", "gr00t_sim"}


def sources() -> list[Path]:
    files = sorted((PKG / "gr00t_bringup").rglob("*.py"))
    return files + [PKG / "setup.py", REPO / "launch" / "humanoid.launch.py"]


def test_the_import_scan_sees_lazy_and_dynamic_imports(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("import os\n"
                     "def f():\n    from gr00t_sim.world import SimWorld\n"
                     "def g():\n    import importlib\n    importlib.import_module('mujoco')\n")
    assert imported_modules(probe) == {"os", "gr00t_sim", "importlib", "mujoco"}


def test_bringup_imports_neither_mujoco_nor_gr00t_sim() -> None:
    files = sources()
    assert len(files) >= 8 and all(f.is_file() for f in files), files
    offenders = {str(f.relative_to(REPO)): sorted(imported_modules(f) & FORBIDDEN)
                 for f in files if imported_modules(f) & FORBIDDEN}
    assert not offenders, (f"gr00t_bringup must not import {sorted(FORBIDDEN)} (the simulator "
                           f"is started as a process; evaluation lives in gr00t_sim): "
                           f"{offenders}")


def test_package_xml_does_not_depend_on_gr00t_sim() -> None:
    root = ET.parse(PKG / "package.xml").getroot()
    deps = {e.text for e in root if e.tag.endswith("depend")}
    assert "gr00t_msgs" in deps  # the scan reads the real dependency list
    assert "gr00t_sim" not in deps
