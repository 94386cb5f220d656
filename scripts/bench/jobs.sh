#!/usr/bin/env bash
# Benchmark: the same DAG of C-extension builds with --jobs 1 and --jobs 2 (fresh caches,
# the s390x environment shared), printing both times and the speed-up.
# FRONTEND=auto (default: the native build frontend, build dependencies from PyPI) or
# emulated (the environment's Python with its own setuptools, no build isolation).
# REFINERY=path/to/refinery skips the release build.
set -euo pipefail
cd "$(dirname "$0")/../.."
COUNT="${COUNT:-4}"
export REFINERY_ENVS_DIR="${REFINERY_ENVS_DIR:-$HOME/.cache/refinery/envs}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/input"
python3 scripts/bench/gen_sdists.py "$work/input" "$COUNT"
FRONTEND="${FRONTEND:-auto}"
overrides='{}'
if [[ "$FRONTEND" == emulated ]]; then
  overrides=$(python3 -c "import json; print(json.dumps({f'refbench{i}': {'variant': 'no-isolation'} for i in range($COUNT)}))")
fi
if [[ -z "${REFINERY:-}" ]]; then
  cargo build -q --release -p refinery
  REFINERY="${CARGO_TARGET_DIR:-$PWD/target}/release/refinery"
fi
run() {
  local jobs=$1 start end
  start=$(date +%s.%N)
  PLAN_OVERRIDES_JSON="$overrides" "$REFINERY" --quiet --input "$work/input" \
    --output "$work/out-$jobs" --cache "$work/cache-$jobs" --jobs "$jobs" --max-attempts 1 \
    --build-frontend "$FRONTEND" >/dev/null
  end=$(date +%s.%N)
  python3 -c "print(float('$end') - float('$start'))"
}
t1=$(run 1)
t2=$(run 2)
python3 -c "t1, t2 = $t1, $t2; print(f'{$COUNT} C-extension builds, frontend $FRONTEND: --jobs 1 {t1:.1f} s, --jobs 2 {t2:.1f} s, speed-up {t1 / t2:.2f}x')"
