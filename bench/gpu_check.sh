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
# Needs an environment with CUDA-enabled torch and the tensorrt package (docker/Dockerfile's
# image); ./scripts/setup.sh installs CPU torch. With --dry-run the tests are only collected
# and the Python part runs at nano sizes on the CPU. Exits non-zero if a test or a part failed;
# the JSON is written either way.
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
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "gpu_check.sh: unknown argument $1 (use --dry-run, --out FILE)" >&2; exit 2 ;;
  esac
done

# Enter the project environment unless the caller already did.
if ! python3 -c "import gr00t_policy" 2>/dev/null && [[ -f env.sh ]]; then
  set +u
  # shellcheck disable=SC1091
  source env.sh
  set -u
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
python3 bench/gpu_check.py "${PY_ARGS[@]}" || PY_RC=$?

echo "gpu_check: pytest exit $PYTEST_RC, checks exit $PY_RC, $(( $(date +%s) - START )) s, $OUT"
# pytest exits 5 when the selection is empty; a dry run collects only.
[[ $PYTEST_RC -eq 0 || $PYTEST_RC -eq 5 ]] && [[ $PY_RC -eq 0 ]]
