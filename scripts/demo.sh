#!/usr/bin/env bash
# The main job: set up (idempotent), then run the whole graph in closed loop on the simulated
# Unitree G1 and print what it did:
#   gr00t-eval --episodes 8 --seed 100000 --video artifacts/demo.mp4
# i.e. the MuJoCo simulator, System 2 and System 1 as three processes over ROS 2, one episode
# per task (seeds 100000..100007; training uses seeds < 100000), the success rate per task
# (first the strict one: the hand still there when the episode ends; then at any time),
# System 1/2 rates and latency percentiles, and how smooth the arm commands were.
# Results: artifacts/demo.json, artifacts/demo.mp4.
#
# The policy is the committed checkpoint checkpoints/nano. Until one is committed the demo
# makes a randomly initialised (UNTRAINED) checkpoint under artifacts/ so that the graph still
# runs end to end; its success rate is then meaningless.
#
# Extra arguments go to gr00t-eval, e.g. ./scripts/demo.sh --episode-s 4 --tasks raise
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
./scripts/setup.sh
set +u
# shellcheck disable=SC1091
source env.sh
set -u
# Keep the demo's DDS traffic on this machine unless the caller says otherwise.
export ROS_AUTOMATIC_DISCOVERY_RANGE="${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}"
mkdir -p artifacts

CKPT="$ROOT/checkpoints/nano"
if [ -f "$CKPT/config.json" ]; then
  echo "[demo] policy: trained checkpoint $CKPT"
else
  CKPT="$ROOT/artifacts/untrained_nano"
  if [ ! -f "$CKPT/config.json" ]; then
    python - "$CKPT" <<'PY'
import sys
from pathlib import Path

from gr00t_policy.testing.checkpoints import make_checkpoint_for

make_checkpoint_for(Path(sys.argv[1]), [Path("config/unitree_g1.yaml")], seed=0)
PY
  fi
  cat <<MSG
[demo] ================================================================================
[demo] WARNING: no trained checkpoint at checkpoints/nano yet. Using a RANDOMLY INITIALISED
[demo] nano checkpoint: $CKPT
[demo] The policy is UNTRAINED: the success rate below is MEANINGLESS. The demo still runs
[demo] the whole graph (simulator, System 2, System 1) and measures its rates and latencies.
[demo] ================================================================================
MSG
fi

echo "[demo] gr00t-eval --episodes 8 --seed 100000 --checkpoint $CKPT --video artifacts/demo.mp4 $*"
status=0
gr00t-eval --episodes 8 --seed 100000 --checkpoint "$CKPT" --video artifacts/demo.mp4 \
  --json-out artifacts/demo.json --log-dir artifacts/demo_logs "$@" || status=$?
if [ "$status" -ne 0 ]; then
  echo "[demo] gr00t-eval failed (exit $status); the nodes' output is in artifacts/demo_logs/" >&2
  exit "$status"
fi
echo "[demo] results: artifacts/demo.json; video: artifacts/demo.mp4; node logs: artifacts/demo_logs/"
if [ "$CKPT" != "$ROOT/checkpoints/nano" ]; then
  echo "[demo] reminder: the policy was UNTRAINED (random weights); ignore the success rate."
fi
