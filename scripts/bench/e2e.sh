#!/usr/bin/env bash
# Benchmark (issue 18): the README's main job (six, regex, markupsafe from PyPI for
# manylinux2014_s390x) cold (environment already created, empty cache) and warm (same cache:
# everything cached or reused), before and after the native build frontend, in one run:
#   before  `--build-frontend emulated --verify-install emulated` (the target's Python under
#           QEMU runs the PEP 517 hooks and prepares the verify venv; compilers native)
#   after   the defaults (`auto`: a host CPython with the target's sysconfig runs the hooks,
#           the host's uv prepares the verify venv; only s390x code runs emulated)
# and prints the wall times with the after/before ratios.
#
#   scripts/bench/e2e.sh
#   REFINERY=target/release/refinery scripts/bench/e2e.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
export REFINERY_ENVS_DIR="${REFINERY_ENVS_DIR:-$HOME/.cache/refinery/envs}"
if [[ -z "${REFINERY:-}" ]]; then
    cargo build -q -p refinery
    REFINERY="${CARGO_TARGET_DIR:-$PWD/target}/debug/refinery"
fi
work="$(mktemp -d /tmp/refinery-bench-e2e.XXXXXX)"
trap 'rm -rf "$work"' EXIT
"$REFINERY" env create --python 3.11 >/dev/null
# time_run NAME ARGS...: one main job into $work/NAME; prints the seconds it took.
time_run() {
  local name="$1" start end
  shift
  start=$(date +%s.%N)
  "$REFINERY" --quiet --input examples/basic --output "$work/$name/out" --cache "$work/$name/cache" \
    --python 3.11 --platform-tag manylinux2014_s390x "$@" >/dev/null
  end=$(date +%s.%N)
  python3 -c "print(float('$end') - float('$start'))"
}
before=(--build-frontend emulated --verify-install emulated)
before_cold=$(time_run before "${before[@]}")
before_warm=$(time_run before "${before[@]}")
after_cold=$(time_run after)
after_warm=$(time_run after)
python3 - "$before_cold" "$before_warm" "$after_cold" "$after_warm" <<'PY'
import sys
bc, bw, ac, aw = map(float, sys.argv[1:])
print("e2e six+regex+markupsafe (manylinux2014_s390x)")
print(f"  before (emulated frontend): cold {bc:7.1f} s, warm {bw:6.2f} s")
print(f"  after  (native frontend):   cold {ac:7.1f} s, warm {aw:6.2f} s")
print(f"  cold: {bc / ac:.2f}x faster; warm: {bw / aw:.2f}x")
PY
