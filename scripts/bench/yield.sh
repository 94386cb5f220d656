#!/usr/bin/env bash
# Benchmark: the build yield for manylinux2014_s390x. The 37 most-downloaded PyPI projects
# that need a compiler (pypi_top150_nonpure.txt of the external-deps-build study), each
# built from its sdist for CPython 3.11 and manylinux2014_s390x (glibc 2.17), one refinery
# run per project. Prints per project: status, version, reached tag, seconds, the wheel's
# size in MB, toolchain (the manifest's built_with); then built N/M and the wall time.
#
#   scripts/bench/yield.sh                        # all 37 (hours under emulation)
#   scripts/bench/yield.sh --only msgpack,regex   # a subset
#   scripts/bench/yield.sh --budget 1800          # start no project after 30 min
#   scripts/bench/yield.sh --resume /tmp/refinery-bench-yield.XXXX   # go on with a run
#
# Options:
#   --only a,b,...        only these projects (names from the list below)
#   --budget SECS         start no new project once SECS have passed (the rest: skipped)
#   --attempt-timeout S   the refinery's --attempt-timeout (default 1800)
#   --timeout-for P=S     the attempt timeout for project P (repeatable); the builds
#                         measured to need more than 30 min on 2 cores have it already:
#                         grpcio, grpcio-tools (about an hour of C++), scipy, scikit-learn
#                         (Fortran and C++ with numpy and scipy first), pyarrow
#   --max-attempts N      the refinery's --max-attempts (default 2)
#   --python X.Y          target CPython (default 3.11, the bookworm environment)
#   --from-index          do not force sdists: reuse PyPI's s390x wheels where they fit
#   --cache DIR           the refinery's cache (default: a fresh one in the work folder);
#                         the cache of an earlier run (KEEP=1) brings its built wheels, so
#                         a project whose runtime dependency built before (grpcio-tools
#                         after grpcio) builds only itself
#   --resume DIR          go on with the run whose work folder DIR is (one kept with KEEP=1,
#                         or one a stopped session left): its rows stay, except the
#                         `skipped` ones (a --budget's) of the projects this run runs; the
#                         projects without a row (the one running when it stopped, the ones
#                         after) run, with DIR's cache (--cache again if the first run
#                         had one), into DIR. The total counts every row; the seconds sum
#                         every row's. The whole list takes about 4 hours on 2 cores.
#
# pyarrow is pinned to 25.0.0 (the release of the arrow-cpp pack, Debian's newest Arrow).
#
# Source builds are forced by sdist_index.py, an index in front of PyPI that hides the
# project's wheels from the refinery's planner (pip and uv inside the build still see
# wheels for build requirements). Runtime dependencies without a fitting s390x wheel are
# built too and count into the project's time.
#
# Needs: the s390x environments (REFINERY_ENVS_DIR), bubblewrap, network to PyPI and the
# Debian pool (packs). REFINERY=path/to/refinery skips the build; KEEP=1 keeps the work
# folder; RESULTS=file writes the table as TSV too.
set -euo pipefail
cd "$(dirname "$0")/../.."
ALL="charset-normalizer cryptography pyyaml numpy protobuf pandas markupsafe cffi psutil lxml
sqlalchemy aiohttp grpcio pyarrow wrapt frozenlist coverage pillow greenlet yarl multidict
scipy httptools pynacl psycopg2-binary rpds-py bcrypt scikit-learn msgpack matplotlib regex
kiwisolver pydantic-core pyrsistent grpcio-tools pycryptodomex google-crc32c"
only="" budget="" attempt_timeout=1800 max_attempts=2 python=3.11 from_index="" cache="" resume=""
declare -A timeout_for=([grpcio]=5400 [grpcio-tools]=5400 [scipy]=5400 [scikit-learn]=5400 [pyarrow]=7200)
# Projects held at a release: pyarrow builds only against Arrow C++ of its own release, and
# the arrow-cpp pack is 25.0.0, the newest Arrow in Debian's pool.
declare -A pin=([pyarrow]="==25.0.0")
while [[ $# -gt 0 ]]; do
    case "$1" in
        --only) only="$2"; shift 2 ;;
        --budget) budget="$2"; shift 2 ;;
        --attempt-timeout) attempt_timeout="$2"; shift 2 ;;
        --timeout-for)
            [[ "$2" =~ ^([a-z0-9-]+)=([0-9]+)$ ]] \
                || { echo "yield.sh: --timeout-for wants PROJECT=SECONDS, not $2" >&2; exit 2; }
            timeout_for[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}; shift 2 ;;
        --max-attempts) max_attempts="$2"; shift 2 ;;
        --python) python="$2"; shift 2 ;;
        --from-index) from_index=1; shift ;;
        --cache) cache="$2"; shift 2 ;;
        --resume) resume="$2"; shift 2 ;;
        -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1' "$0"; exit 0 ;;
        *) echo "yield.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
projects=()
if [[ -n "$only" ]]; then
    for p in ${only//,/ }; do
        if ! grep -qw -- "$p" <<<"$ALL"; then
            echo "yield.sh: $p is not one of the 37 projects (see the list in $0)" >&2
            exit 2
        fi
        projects+=("$p")
    done
else
    read -r -a projects <<<"$(echo $ALL)"
fi
export REFINERY_ENVS_DIR="${REFINERY_ENVS_DIR:-$HOME/.cache/refinery/envs}"
if [[ -z "${REFINERY:-}" ]]; then
    cargo build -p refinery --quiet
    REFINERY="${CARGO_TARGET_DIR:-$PWD/target}/debug/refinery"
fi
source scripts/bench/sdist_index.sh
if [[ -n "$resume" ]]; then
    [[ -f "$resume/results.tsv" ]] \
        || { echo "yield.sh: --resume $resume: no results.tsv there (not a yield.sh work folder)" >&2; exit 2; }
    bench_resume "$(realpath "$resume")"
else
    bench_work yield
fi
cache="${cache:-$work/cache}"
index_args=()
if [[ -z "$from_index" ]]; then
    : > "$work/force"
    start_sdist_index "$work/force"
    index_args=(--index-url "$(cat "$work/index.url")")
fi
started=$(date +%s)
printf '%-20s %-9s %-12s %-42s %8s %7s  %s\n' project status version "reached tag" seconds MB toolchain
declare -A done_before=()
if [[ -n "$resume" ]]; then
    # The earlier rows stay first, less the skipped ones of projects this run runs; the
    # projects they name do not run.
    awk -F'\t' -v run=" ${projects[*]} " 'NR == 1 || $2 != "skipped" || index(run, " " $1 " ") == 0' \
        "$work/results.tsv" > "$work/results.tsv.new"
    mv "$work/results.tsv.new" "$work/results.tsv"
    while IFS=$'\t' read -r p status version tag seconds megabytes toolchain; do
        done_before[$p]=1
        printf '%-20s %-9s %-12s %-42s %8s %7s  %s (earlier)\n' \
            "$p" "$status" "$version" "$tag" "$seconds" "$megabytes" "$toolchain"
    done < <(tail -n +2 "$work/results.tsv")
else
    printf 'project\tstatus\tversion\treached_tag\tseconds\twheel_mb\ttoolchain\n' > "$work/results.tsv"
fi
for p in "${projects[@]}"; do
    if [[ -n "${done_before[$p]:-}" ]]; then continue; fi
    now=$(date +%s)
    if [[ -n "$budget" ]] && (( now - started >= budget )); then
        printf '%-20s %-9s\n' "$p" skipped
        printf '%s\tskipped\t\t\t\t\t\n' "$p" >> "$work/results.tsv"
        continue
    fi
    mkdir -p "$work/$p/input"
    echo "$p${pin[$p]:-}" > "$work/$p/input/requirements.txt"
    echo "$p" > "$work/force"
    t0=$(date +%s.%N)
    "$REFINERY" --input "$work/$p/input" --output "$work/$p/out" --cache "$cache" \
        --python "$python" --platform-tag manylinux2014_s390x "${index_args[@]}" \
        --max-attempts "$max_attempts" --attempt-timeout "${timeout_for[$p]:-$attempt_timeout}" \
        > "$work/$p/run.log" 2>&1 || true
    t1=$(date +%s.%N)
    # Appends the TSV row and prints the table row (the totals are read from the TSV).
    python3 - "$work/$p/out/manifest.json" "$p" "$(echo "$t1 - $t0" | bc)" \
        "$work/results.tsv" <<'PY'
import json, os, re, sys
path, project, seconds, tsv = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
try:
    entries = json.load(open(path))["entries"]
except (OSError, ValueError):
    entries = []
e = next((e for e in entries if norm(e["name"]) == norm(project)), None)
m = (e or {}).get("metadata") or {}
status = e["status"] if e else "no-entry"
version = (e or {}).get("version", "")
tag = m.get("reached_tag") or "-"
toolchain = m.get("built_with") or "-"
wheel = os.path.join(os.path.dirname(path), e["path"]) if e and e.get("path") else ""
megabytes = f"{os.path.getsize(wheel) / 1e6:.2f}" if wheel and os.path.isfile(wheel) else "-"
if status != "built" and e:
    toolchain += " | " + " ".join(e.get("detail", "").split())[:160]
with open(tsv, "a") as f:
    f.write("\t".join([project, status, version, tag, f"{seconds:.0f}", megabytes, toolchain]) + "\n")
print(f"{project:20} {status:9} {version:12} {tag:42} {seconds:8.0f} {megabytes:>7}  {toolchain}", flush=True)
PY
done
wall=$(( $(date +%s) - started ))
# The totals come from the table, so that a resumed run counts the earlier rows.
read -r built rows seconds < <(awk -F'\t' 'NR > 1 { rows++; s += $5; if ($2 == "built") b++ }
    END { printf "%d %d %d\n", b, rows, s }' "$work/results.tsv")
echo
if [[ -n "$resume" ]]; then
    echo "built $built/$rows for manylinux2014_s390x (CPython $python); the builds' seconds sum to $seconds s over every row; this resumed run took ${wall} s wall"
else
    echo "built $built/$rows for manylinux2014_s390x (CPython $python) in ${wall} s wall"
fi
if [[ -n "${RESULTS:-}" ]]; then cp "$work/results.tsv" "$RESULTS"; fi
