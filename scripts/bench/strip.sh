#!/usr/bin/env bash
# Benchmark: what stripping does to built wheels. The same projects built from their sdists
# for manylinux2014_s390x twice, with --no-strip and with the default (auditwheel repair
# --strip: debug information removed, symbol tables kept), printing per wheel the wheel's
# size and its ELF files' size unpacked, both ways, and the ratio; then both runs' wall
# times (the first run also fills the shared download caches).
#
#   scripts/bench/strip.sh                                   # kiwisolver and msgpack
#   PROJECTS="grpcio==1.85.3" scripts/bench/strip.sh         # about an hour each way
#
# Needs the s390x environments (REFINERY_ENVS_DIR) and network to PyPI. REFINERY=path
# skips the build of the refinery; KEEP=1 keeps the work folder (logs, wheels).
set -euo pipefail
cd "$(dirname "$0")/../.."
PROJECTS="${PROJECTS:-kiwisolver==1.5.1 msgpack==1.2.4}"
export REFINERY_ENVS_DIR="${REFINERY_ENVS_DIR:-$HOME/.cache/refinery/envs}"
if [[ -z "${REFINERY:-}" ]]; then
  cargo build -q --release -p refinery
  REFINERY="${CARGO_TARGET_DIR:-$PWD/target}/release/refinery"
fi
source scripts/bench/sdist_index.sh
bench_work strip
mkdir -p "$work/input"
tr ' ' '\n' <<<"$PROJECTS" > "$work/input/requirements.txt"
# Hide the projects' wheels from the planner: they are built from their sdists.
sed 's/[=<>!~ ].*//' "$work/input/requirements.txt" > "$work/force"
start_sdist_index "$work/force"
run() {
  local name=$1 start end
  shift
  start=$(date +%s.%N)
  # The stripped run must not inherit REFINERY_STRIP=false.
  env -u REFINERY_STRIP "$REFINERY" --quiet --input "$work/input" --output "$work/out-$name" --cache "$work/cache" \
    --index-url "$(cat "$work/index.url")" --python 3.11 --platform-tag manylinux2014_s390x \
    --max-attempts 2 "$@" > "$work/$name.log" 2>&1 \
    || { echo "strip.sh: the $name run failed; its log ends:" >&2; tail -20 "$work/$name.log" >&2; exit 1; }
  end=$(date +%s.%N)
  python3 -c "print(f'{float(\"$end\") - float(\"$start\"):.1f}')"
}
t_kept=$(run kept --no-strip)
t_stripped=$(run stripped)
python3 - "$work/out-kept" "$work/out-stripped" "$t_kept" "$t_stripped" <<'PY'
import json, os, sys, zipfile
kept_dir, stripped_dir, t_kept, t_stripped = sys.argv[1:]

def wheels(out):
    entries = json.load(open(f"{out}/manifest.json"))["entries"]
    return {e["name"]: f"{out}/{e['path']}" for e in entries if e["status"] == "built"}

def elf_bytes(wheel):
    with zipfile.ZipFile(wheel) as z:
        return sum(i.file_size for i in z.infolist() if ".so" in i.filename.rsplit("/", 1)[-1])

mb = lambda n: n / 1e6
kept, stripped = wheels(kept_dir), wheels(stripped_dir)
print(f"{'project':20} {'wheel MB kept':>14} {'stripped':>9} {'ratio':>6}   {'ELF MB kept':>12} {'stripped':>9} {'ratio':>6}")
for name in sorted(kept.keys() & stripped.keys()):
    wk, ws = os.path.getsize(kept[name]), os.path.getsize(stripped[name])
    ek, es = elf_bytes(kept[name]), elf_bytes(stripped[name])
    print(f"{name:20} {mb(wk):14.2f} {mb(ws):9.2f} {wk / ws:5.1f}x   {mb(ek):12.2f} {mb(es):9.2f} {ek / max(es, 1):5.1f}x")
print(f"wall: --no-strip {t_kept} s (first: downloads too), stripped {t_stripped} s (build, repair and verification each)")
PY
