#!/usr/bin/env bash
# Benchmark: reproducible wheels. The same projects built from their sdists for
# manylinux2014_s390x twice, each time in a fresh cache (nothing cached, every wheel built
# again), printing per wheel whether both builds gave the same sha256, and the share of
# identical wheels (the build step and auditwheel get SOURCE_DATE_EPOCH from the sdist).
#
#   scripts/bench/reproducible.sh                                  # four small C extensions
#   PROJECTS="cryptography==46.0.3" scripts/bench/reproducible.sh  # Rust, about 5 minutes each
#
# Needs the s390x environments (REFINERY_ENVS_DIR) and network to PyPI. REFINERY=path
# skips the build of the refinery; KEEP=1 keeps the work folder (logs, wheels).
set -euo pipefail
cd "$(dirname "$0")/../.."
PROJECTS="${PROJECTS:-markupsafe==2.1.5 msgpack==1.0.8 pyyaml==6.0.2 wrapt==1.17.2}"
export REFINERY_ENVS_DIR="${REFINERY_ENVS_DIR:-$HOME/.cache/refinery/envs}"
if [[ -z "${REFINERY:-}" ]]; then
  cargo build -q --release -p refinery
  REFINERY="${CARGO_TARGET_DIR:-$PWD/target}/release/refinery"
fi
source scripts/bench/sdist_index.sh
bench_work reproducible
mkdir -p "$work/input"
tr ' ' '\n' <<<"$PROJECTS" > "$work/input/requirements.txt"
# Hide the projects' wheels from the planner: they are built from their sdists.
sed 's/[=<>!~ ].*//' "$work/input/requirements.txt" > "$work/force"
start_sdist_index "$work/force"
run() {
  local name=$1 start end
  start=$(date +%s.%N)
  # A cache of its own: nothing is taken from the first build.
  "$REFINERY" --quiet --input "$work/input" --output "$work/out-$name" --cache "$work/cache-$name" \
    --index-url "$(cat "$work/index.url")" --python 3.11 --platform-tag manylinux2014_s390x \
    --max-attempts 2 > "$work/$name.log" 2>&1 \
    || { echo "reproducible.sh: the $name run failed; its log ends:" >&2; tail -20 "$work/$name.log" >&2; exit 1; }
  end=$(date +%s.%N)
  python3 -c "print(f'{float(\"$end\") - float(\"$start\"):.1f}')"
}
t_first=$(run first)
t_second=$(run second)
python3 - "$work/out-first" "$work/out-second" "$t_first" "$t_second" <<'PY'
import json, sys
first_dir, second_dir, t_first, t_second = sys.argv[1:]

def built(out):
    entries = json.load(open(f"{out}/manifest.json"))["entries"]
    return {e["name"]: (e["path"], e["sha256"]) for e in entries if e["status"] == "built"}

first, second = built(first_dir), built(second_dir)
names = sorted(first.keys() & second.keys())
same = 0
print(f"{'project':20} {'wheel':70} identical")
for name in names:
    (file, a), (_, b) = first[name], second[name]
    same += a == b
    print(f"{name:20} {file:70} {'yes' if a == b else 'NO: ' + a[:12] + ' vs ' + b[:12]}")
print(f"identical: {same}/{len(names)} wheels ({same / max(len(names), 1):.0%}); "
      f"wall: first {t_first} s (downloads too), second {t_second} s")
PY
