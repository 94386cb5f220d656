#!/usr/bin/env bash
# Benchmark: the README's main job (six, regex, markupsafe from PyPI) cold (environment
# already created, empty cache) and warm (same cache: everything cached or reused).
set -euo pipefail
cd "$(dirname "$0")/../.."
export REFINERY_ENVS_DIR="${REFINERY_ENVS_DIR:-$HOME/.cache/refinery/envs}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cargo build -q --release -p refinery
target/release/refinery env create --python 3.11 >/dev/null
time_run() {
  local start end
  start=$(date +%s.%N)
  target/release/refinery --quiet --input examples/basic --output "$work/out" --cache "$work/cache" \
    --python 3.11 --platform-tag manylinux2014_s390x >/dev/null
  end=$(date +%s.%N)
  python3 -c "print(float('$end') - float('$start'))"
}
cold=$(time_run)
warm=$(time_run)
python3 -c "c, w = $cold, $warm; print(f'e2e six+regex+markupsafe: cold {c:.1f} s, warm {w:.2f} s, warm/cold {w / c:.3f}')"
