#!/usr/bin/env bash
# The test command: sets up everything it needs (idempotent), then runs the whole suite.
# Extra arguments go to pytest, e.g. ./scripts/test.sh -k system1 -x
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
./scripts/setup.sh
set +u
# shellcheck disable=SC1091
source env.sh
set -u
exec python -m pytest -ra "$@"
