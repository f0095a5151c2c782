#!/usr/bin/env bash
# The checks only an NVIDIA GPU can run, in one go (under 8 minutes), into one JSON:
#
#   bench/gpu_check.sh [--out artifacts/gpu_check.json]     # on the GPU machine
#   bench/gpu_check.sh --dry-run [--out /tmp/gpu_check.json] # anywhere: the CPU-checkable parts
#
# 1. the GPU/TensorRT tests: pytest -m "gpu or tensorrt" (JUnit results go into the JSON);
# 2. bench/gpu_check.py: full-size (gr00t-n1-2b) action head latency with torch eager, torch
#    CUDA graph and TensorRT FP16, System 2 latency, TensorRT-vs-torch agreement.
#
# Needs CUDA-enabled torch and the tensorrt package (docker/Dockerfile's image); setup.sh
# installs CPU torch. Where setup.sh never ran, python3 imports src/gr00t_policy directly.
# With --dry-run the tests are only collected and the Python part runs at nano sizes on the
# CPU. Exits non-zero if a test or a part failed; the JSON is written either way.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DRY_RUN=0
OUT="artifacts/gpu_check.json"
TOTAL_BUDGET_S=470   # 8 minutes, less a margin for start-up and writing
PYTEST_BUDGET_S=180
while [[ $# -gt 0 ]]; do
  case "$1" in
    --dry-run) DRY_RUN=1; shift ;;
    --out) OUT="$2"; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "gpu_check.sh: unknown argument $1 (use --dry-run, --out FILE)" >&2; exit 2 ;;
  esac
done

# Enter the project environment unless the caller already did. Where ./scripts/setup.sh never
# ran (a GPU image with the repository copied in: its python3 has CUDA torch, but there is no
# .venv, no ROS and no network to make one), the ROS-free core is imported from the checkout.
if ! python3 -c "import gr00t_policy" 2>/dev/null; then
  if [[ -f install/setup.bash ]]; then
    set +u
    # shellcheck disable=SC1091
    source env.sh
    set -u
  else
    export PYTHONPATH="$ROOT/src/gr00t_policy${PYTHONPATH:+:$PYTHONPATH}"
  fi
  if ! WHY=$(python3 -c "import gr00t_policy.backends, gr00t_policy.backbone" 2>&1); then
    echo "gpu_check.sh: $(command -v python3) cannot import gr00t_policy's runners:" \
         "$(echo "$WHY" | tail -n 1). Fix: install the missing package into that python" \
         "(on a machine without network, carry it as a wheel), or run ./scripts/setup.sh" >&2
    exit 2
  fi
fi

START=$(date +%s)
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
JUNIT="$TMP/pytest.xml"
LOG="$TMP/pytest.log"
PYTEST_RC=0
# Only the test files that carry a gpu/tensorrt mark: collecting the rest would import the
# recording and dataset libraries, which a bare GPU image need not have.
mapfile -t GPU_TESTS < <(grep -rlE --include='test_*.py' 'mark\.(gpu|tensorrt)' src | sort)
if [[ $DRY_RUN -eq 1 ]]; then
  # Only check that the selection collects; the tests themselves need the GPU.
  python3 -m pytest -q -m "gpu or tensorrt" --collect-only -p no:cacheprovider \
    "${GPU_TESTS[@]}" >"$LOG" 2>&1 || PYTEST_RC=$?
else
  timeout "$PYTEST_BUDGET_S" python3 -m pytest -q -m "gpu or tensorrt" -p no:cacheprovider \
    --junitxml "$JUNIT" "${GPU_TESTS[@]}" >"$LOG" 2>&1 || PYTEST_RC=$?
fi
tail -n 5 "$LOG"

LEFT=$(( TOTAL_BUDGET_S - ($(date +%s) - START) ))
PY_ARGS=(--out "$OUT" --pytest-rc "$PYTEST_RC" --pytest-log "$LOG" --budget-s "$LEFT")
[[ -s "$JUNIT" ]] && PY_ARGS+=(--pytest-junit "$JUNIT")
[[ $DRY_RUN -eq 1 ]] && PY_ARGS+=(--dry-run)
PY_RC=0
# The budget left, plus a grace for the part that is running when it runs out: the whole
# check ends inside a 10-minute command limit. Killed, gpu_check.py leaves its JSON with the
# parts it finished and the one it was in marked "running".
PY_LIMIT_S=$(( (LEFT > 0 ? LEFT : 0) + 90 ))
timeout --kill-after=10 "$PY_LIMIT_S" python3 bench/gpu_check.py "${PY_ARGS[@]}" || PY_RC=$?
if [[ $PY_RC -eq 124 || $PY_RC -eq 137 ]]; then
  echo "gpu_check.py was stopped after $PY_LIMIT_S s; $OUT holds what it finished" >&2
fi

echo "gpu_check: pytest exit $PYTEST_RC, checks exit $PY_RC, $(( $(date +%s) - START )) s, $OUT"
# pytest exits 5 when the selection is empty; a dry run collects only.
[[ $PYTEST_RC -eq 0 || $PYTEST_RC -eq 5 ]] && [[ $PY_RC -eq 0 ]]
