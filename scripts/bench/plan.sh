#!/usr/bin/env bash
# Benchmark: `refinery plan` on a 100-package requirements file with a warm cache, against
# the resolver alone (`uv pip compile --universal`) on the same file, index and uv cache.
# Target: refinery within 1.2x of uv.
#
#   scripts/bench/plan.sh            # 100 packages, PyPI-like caching (max-age=600)
#   PACKAGES=200 MAX_AGE=0 RUNS=7 scripts/bench/plan.sh
#
# MAX_AGE=0 makes every page stale, so both tools revalidate every page (304s) on each run.
# REFINERY=path/to/refinery skips the release build; UV=path/to/uv picks the uv binary.
set -euo pipefail
cd "$(dirname "$0")/../.."
PACKAGES="${PACKAGES:-100}"
MAX_AGE="${MAX_AGE:-600}"
RUNS="${RUNS:-9}"
if [[ -z "${UV:-}" ]]; then
    # The real binary, not a pyenv/asdf shim (a shim costs ~0.1 s per call); both the
    # planner (which reads $UV) and the resolver-alone timing use it.
    UV="$(python3 -c 'import uv; print(uv.find_uv_bin())' 2>/dev/null || command -v uv)"
fi
export UV

if [[ -z "${REFINERY:-}" ]]; then
    cargo build --release -p refinery --quiet
    REFINERY="$PWD/target/release/refinery"
fi
work="$(mktemp -d)"
server_pid=""
cleanup() {
    if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

python3 scripts/bench/plan_index.py generate "$work/index" "$PACKAGES"
mkdir -p "$work/input" "$work/cache"
cp "$work/index/requirements.txt" "$work/input/requirements.txt"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
python3 scripts/bench/plan_index.py serve "$work/index" "$port" "$MAX_AGE" >"$work/server.log" 2>&1 &
server_pid=$!
url="http://127.0.0.1:$port/simple"
python3 - "$url/" <<'PY'
import sys, time, urllib.request
for _ in range(100):
    try:
        urllib.request.urlopen(sys.argv[1], timeout=1).read()
        break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit("the benchmark index did not start")
PY

plan() {
    "$REFINERY" plan --input "$work/input" --cache "$work/cache" --python 3.11 \
        --index-url "$url" --json >"$work/plan.json"
}
# The resolver as the planner runs it, on the same uv cache.
resolve() {
    env -u UV_INDEX -u UV_DEFAULT_INDEX -u UV_EXTRA_INDEX_URL -u UV_FIND_LINKS \
        "$UV" pip compile "$work/input/requirements.txt" --universal --no-header --quiet \
        --no-config --color never --native-tls --python-version 3.11 \
        --index-strategy unsafe-best-match --index-url "$url" \
        --cache-dir "$work/cache/uv" >"$work/compiled.txt"
}
seconds() {
    local start=$EPOCHREALTIME
    "$@"
    awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f\n", b - a }'
}
median() {
    sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# Warm the caches: the planner's (index pages, sdists) and uv's.
cold=$(seconds plan)
resolve
python3 - "$work/plan.json" <<'PY'
import json, sys
plan = json.load(open(sys.argv[1]))
counts = {}
for node in plan["nodes"]:
    counts[node["action"]] = counts.get(node["action"], 0) + 1
print(f"plan: {len(plan['nodes'])} nodes {counts}, {len(plan['edges'])} edges")
PY

plan_times=()
uv_times=()
for _ in $(seq "$RUNS"); do
    plan_times+=("$(seconds plan)")
    uv_times+=("$(seconds resolve)")
done
plan_median=$(printf '%s\n' "${plan_times[@]}" | median)
uv_median=$(printf '%s\n' "${uv_times[@]}" | median)
ratio=$(awk -v a="$plan_median" -v b="$uv_median" 'BEGIN { print a / b }')
printf 'packages: %s direct (%s pinned), max-age=%s, %s runs\n' "$PACKAGES" "$(grep -c '==' "$work/compiled.txt")" "$MAX_AGE" "$RUNS"
printf 'refinery plan, cold cache:  %.3f s\n' "$cold"
printf 'refinery plan, warm cache:  %.3f s (median; runs: %s)\n' "$plan_median" "${plan_times[*]}"
printf 'uv pip compile, warm cache: %.3f s (median; runs: %s)\n' "$uv_median" "${uv_times[*]}"
printf 'ratio: %.2f (target <= 1.2)\n' "$ratio"
