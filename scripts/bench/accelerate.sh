#!/usr/bin/env bash
# Benchmark: the same C/C++ sdists built three ways, in one run —
#   emulated     s390x, everything under QEMU (`refinery run --accelerate off`)
#   accelerated  s390x, the host's cross compilers inside the emulated rootfs
#                (`refinery run --accelerate cross`), and the host's uv (when found) as
#                the build frontend: only Python's PEP 517 hooks run emulated
#   native       x86_64, `pip wheel` and `uv build` (cold uv cache) on the host; the
#                faster of the two is the reference
# and prints the times and ratios. Targets: accelerated <= 1.3x native, >= 4x faster
# than emulated. Then a Rust sdist (RUST_PACKAGE, see the end of the script) with the native
# Rust toolchain and with cargo emulated; target: native >= 5x faster.
#
#   scripts/bench/accelerate.sh
#   PACKAGES="regex==2021.10.23" scripts/bench/accelerate.sh
#
# The s390x times are the build step of the attempt ("[refinery] build step took" in the
# build log: a wheel from the sdist with build isolation, as native); "attempt" adds
# auditwheel repair and the (always emulated) import verification. The two s390x runs share
# one pip cache, the emulated run goes first and warms it (uv's cache inside it starts
# cold); native uses the host's pip cache.
# Needs: the s390x rootfs (`refinery env create`, REFINERY_ENVS_DIR), bubblewrap,
# gcc-s390x-linux-gnu and g++-s390x-linux-gnu, auditwheel, network to PyPI.
# REFINERY=path/to/refinery skips the build; PYTHON picks the host Python (3.11 to match
# the environment); UV the host's uv; KEEP=1 keeps the work folder.
set -euo pipefail
cd "$(dirname "$0")/../.."
PACKAGES="${PACKAGES-regex==2021.10.23 kiwisolver==1.4.3}"  # empty: only the Rust part
PYTHON="${PYTHON:-python3}"
UV="${UV:-uv}"
export REFINERY_ENVS_DIR="${REFINERY_ENVS_DIR:-$HOME/.cache/refinery/envs}"
# bookworm's glibc: C++ wheels (kiwisolver) need glibc 2.34 symbols, which is the repair
# policy's business, not the benchmark's.
PLATFORM_TAG="${PLATFORM_TAG:-manylinux_2_36_s390x}"
if [[ -z "${REFINERY:-}" ]]; then
    cargo build -p refinery --quiet
    REFINERY="$PWD/target/debug/refinery"
fi
work="$(mktemp -d /tmp/refinery-bench-accelerate.XXXXXX)"
cleanup() { if [[ -z "${KEEP:-}" ]]; then rm -rf "$work"; else echo "kept $work"; fi; }
trap cleanup EXIT

for tool in bwrap s390x-linux-gnu-gcc s390x-linux-gnu-g++; do
    command -v "$tool" >/dev/null || { echo "error: $tool is missing; see \`refinery env doctor\`" >&2; exit 2; }
done
"$PYTHON" -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' \
    || { echo "error: PYTHON must be a CPython 3.11 to compare with the bookworm rootfs" >&2; exit 2; }

now() { date +%s.%N; }
mkdir -p "$work/sdists" "$work/pip-cache"
if [[ -n "$PACKAGES" ]]; then
echo "== downloading sdists: $PACKAGES"
# shellcheck disable=SC2086
"$PYTHON" -m pip download --quiet --no-deps --no-binary :all: -d "$work/sdists" $PACKAGES

results="$work/results.tsv"
: >"$results"
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
for req in $PACKAGES; do
    name="${req%%==*}"
    sdist="$(ls "$work"/sdists/"$name"-*.tar.gz "$work"/sdists/"${name//-/_}"-*.tar.gz 2>/dev/null | head -1)"
    for mode in emulated accelerated; do
        flag=off
        [[ "$mode" == accelerated ]] && flag=cross
        dir="$work/$mode-$name"
        mkdir -p "$dir/input" "$dir/cache"
        cp "$sdist" "$dir/input/"
        ln -s "$work/pip-cache" "$dir/cache/pip"
        echo "== $name: s390x $mode (--accelerate $flag)"
        start="$(now)"
        if ! "$REFINERY" --quiet --input "$dir/input" --output "$dir/out" --cache "$dir/cache" \
            --python 3.11 --platform-tag "$PLATFORM_TAG" --max-attempts 1 --accelerate "$flag" \
            >"$dir/run.log" 2>&1; then
            echo "error: the $mode build of $name failed; see $dir/run.log and the build log" >&2
            tail -5 "$dir/run.log" >&2
            KEEP=1
            exit 1
        fi
        end="$(now)"
        "$PYTHON" - "$dir/out/manifest.json" "$name" "$mode" "$start" "$end" >>"$results" <<'EOF'
import json, re, sys
manifest, name, mode, start, end = sys.argv[1:]
entry = next(e for e in json.load(open(manifest))["entries"] if e["name"].lower() == name.lower())
assert entry["status"] == "built", entry
log = open(entry["metadata"]["log_path"]).read()
build = float(re.search(r"\[refinery\] build step took ([0-9.]+)s", log).group(1))
built_with = entry["metadata"]["built_with"]
frontend = "uv" if "[refinery] frontend: the host's uv" in log else "pip"
assert ("cross" in built_with) == (mode == "accelerated"), built_with
print(f"{name}\t{mode}\t{build:.1f}\t{entry['metadata']['duration_secs']:.1f}\t{float(end) - float(start):.1f}\t{entry['path']}\t{built_with}, frontend {frontend}")
EOF
    done
    echo "== $name: native $(uname -m) (pip wheel on the host)"
    rm -rf "$work/native-$name"
    start="$(now)"
    "$PYTHON" -m pip wheel --quiet --no-deps --wheel-dir "$work/native-$name" "$sdist" >"$work/native-$name.log" 2>&1 \
        || { echo "error: the native build of $name failed; see $work/native-$name.log" >&2; KEEP=1; exit 1; }
    end="$(now)"
    wheel="$(basename "$(ls "$work/native-$name"/*.whl)")"
    elapsed="$("$PYTHON" -c "print(f'{$end - $start:.1f}')")"
    printf '%s\tnative\t%s\t%s\t%s\t%s\thost %s, pip\n' "$name" "$elapsed" "$elapsed" "$elapsed" "$wheel" "$(uname -m)" >>"$results"
    echo "== $name: native $(uname -m) (uv build on the host, cold uv cache)"
    rm -rf "$work/native-uv-$name"
    start="$(now)"
    UV_CACHE_DIR="$work/native-uv-cache-$name" UV_NO_CONFIG=1 "$UV" build --wheel --python "$PYTHON" \
        --out-dir "$work/native-uv-$name" "$sdist" >"$work/native-uv-$name.log" 2>&1 \
        || { echo "error: the native uv build of $name failed; see $work/native-uv-$name.log" >&2; KEEP=1; exit 1; }
    end="$(now)"
    wheel="$(basename "$(ls "$work/native-uv-$name"/*.whl)")"
    elapsed="$("$PYTHON" -c "print(f'{$end - $start:.1f}')")"
    printf '%s\tnative-uv\t%s\t%s\t%s\t%s\thost %s, uv\n' "$name" "$elapsed" "$elapsed" "$elapsed" "$wheel" "$(uname -m)" >>"$results"
done
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"

"$PYTHON" - "$results" "$load_before" "$load_after" "$(nproc)" <<'EOF'
import sys
from collections import defaultdict
path, load_before, load_after, cpus = sys.argv[1:]
rows = defaultdict(dict)
for line in open(path):
    name, mode, build, attempt, total, wheel, how = line.rstrip("\n").split("\t")
    rows[name][mode] = (float(build), float(attempt), wheel, how)
print()
print("native: the faster of `pip wheel` and `uv build` on the host")
print(f"{'package':<12} {'native':>8} {'accel':>8} {'emulated':>9} {'accel/native':>13} {'emul/accel':>11}   attempt (build+repair+verify): accel, emulated")
ok = True
for name, modes in rows.items():
    n = min(modes["native"][0], modes["native-uv"][0])
    a, e = modes["accelerated"][0], modes["emulated"][0]
    r1, r2 = a / n, e / a
    ok &= r1 <= 1.3 and r2 >= 4
    print(f"{name:<12} {n:>7.1f}s {a:>7.1f}s {e:>8.1f}s {r1:>12.2f}x {r2:>10.1f}x   {modes['accelerated'][1]:.1f}s, {modes['emulated'][1]:.1f}s")
for name, modes in rows.items():
    for mode in ("accelerated", "emulated", "native", "native-uv"):
        print(f"  {name} {mode}: {modes[mode][0]:.1f}s {modes[mode][2]} ({modes[mode][3]})")
print(f"targets (accelerated <= 1.3x native, >= 4x faster than emulated): {'met' if ok else 'MISSED'}")
print(f"load average {load_before} before, {load_after} after, on {cpus} CPUs (other work on the machine skews the times)")
EOF
fi

# ---------------------------------------------------------------------------------------------
# Rust: the same Rust sdist built twice in the forky environment (CPython 3.14, whose Debian
# suite has the same rustc 1.97.1 for s390x as the native toolchain):
#   native-rust    the refinery's native Rust toolchain (amd64 rustc cross-compiling)
#   emulated-rust  `--accelerate off` with `rustc cargo` of the environment in a layer:
#                  cargo and rustc run under QEMU
# Target: native >= 5x faster. RUST_PACKAGE= (empty) skips it.
RUST_PACKAGE="${RUST_PACKAGE-tiktoken==0.14.0}"
if [[ -n "$RUST_PACKAGE" ]]; then
    name="${RUST_PACKAGE%%==*}"
    forky_glibc="$(awk '/^Package: libc6$/{p=1} p&&/^Version/{split($2, v, /[.-]/); print v[1] "_" v[2]; exit}' \
        "$REFINERY_ENVS_DIR"/v1/rootfs-forky-s390x-py3.14-*/var/lib/dpkg/status 2>/dev/null || true)"
    [[ -n "$forky_glibc" ]] || { echo "error: the Python 3.14 environment is missing: refinery env create --python 3.14" >&2; exit 2; }
    rust_results="$work/rust.tsv"
    : >"$rust_results"
    for mode in native-rust emulated-rust; do
        dir="$work/$mode"
        mkdir -p "$dir/input"
        echo "$RUST_PACKAGE" >"$dir/input/requirements.txt"
        flags=(--python 3.14 --platform-tag "manylinux_${forky_glibc}_s390x" --max-attempts 1)
        overrides='{}'
        if [[ "$mode" == emulated-rust ]]; then
            flags+=(--accelerate off --auto-apply-suggestions)
            # Emulated cargo's HTTP/2 through a proxy may read empty answers.
            overrides="{\"$name\": {\"system_packages\": [\"rustc\", \"cargo\"], \"env\": {\"CARGO_HTTP_MULTIPLEXING\": \"false\"}}}"
        fi
        echo "== $name: $mode"
        if ! PLAN_OVERRIDES_JSON="$overrides" "$REFINERY" --quiet --input "$dir/input" --output "$dir/out" \
            --cache "$dir/cache" "${flags[@]}" >"$dir/run.log" 2>&1; then
            echo "error: the $mode build of $name failed; see $dir/run.log and the build log" >&2
            tail -5 "$dir/run.log" >&2
            KEEP=1
            exit 1
        fi
        "$PYTHON" - "$dir/out/manifest.json" "$name" "$mode" >>"$rust_results" <<'EOF'
import json, re, sys
manifest, name, mode = sys.argv[1:]
entry = next(e for e in json.load(open(manifest))["entries"] if e["name"].lower() == name.lower())
assert entry["status"] == "built", entry
log = open(entry["metadata"]["log_path"]).read()
build = float(re.search(r"\[refinery\] build step took ([0-9.]+)s", log).group(1))
assert ("rust(" in entry["metadata"]["built_with"]) == (mode == "native-rust"), entry["metadata"]["built_with"]
print(f"{mode}\t{build:.1f}\t{entry['metadata']['built_with']}")
EOF
    done
    "$PYTHON" - "$rust_results" "$name" <<'EOF'
import sys
path, name = sys.argv[1:]
rows = {mode: (float(build), how) for mode, build, how in (l.rstrip("\n").split("\t") for l in open(path))}
native, emulated = rows["native-rust"][0], rows["emulated-rust"][0]
print()
print(f"Rust ({name}, build step): native toolchain {native:.1f}s, cargo emulated {emulated:.1f}s: {emulated / native:.1f}x faster natively (target >= 5x: {'met' if emulated / native >= 5 else 'MISSED'})")
for mode, (build, how) in rows.items():
    print(f"  {mode}: {build:.1f}s ({how})")
EOF
fi
