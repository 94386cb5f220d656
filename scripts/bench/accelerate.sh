#!/usr/bin/env bash
# Benchmark (issue 18): the same sdists built each way, in one run —
#   native-uv  x86_64, `uv build` on the host (cold uv cache): the reference
#   refinery   s390x with the defaults: the host's cross compilers (`--accelerate auto`), the
#              native build frontend (`--build-frontend auto`: a host CPython 3.11 with the
#              environment's sysconfig runs the PEP 517 hooks) and the native verify
#              install; only configure tests and verification's checks run emulated
#   accel      (add it to MODES) s390x, cross compilers but the emulated frontend
#              (`--build-frontend emulated`): the accelerator before the native frontend
#   emulated   s390x, everything under QEMU (`--accelerate off --build-frontend emulated
#              --verify-install emulated`)
# and prints per package the build step and the whole per-package time (build + repair +
# verify: the attempt's duration) with the ratios. Targets: whole per-package time <= 1.5x
# native for small packages and <= 1.2x for compiler-heavy ones (HEAVY), >= 8x faster than
# fully emulated. Packages in RUST_IN_LOOP are built natively and by the refinery only
# (their fully emulated build needs cargo under QEMU: the Rust part at the end).
# Then a Rust sdist (RUST_PACKAGE) with the native Rust toolchain and with cargo emulated.
#
#   scripts/bench/accelerate.sh
#   PACKAGES="markupsafe==3.0.2" RUST_PACKAGE= scripts/bench/accelerate.sh
#
# The s390x build time is "[refinery] build step took" in the build log (a wheel from the
# sdist with build isolation, as native). The s390x runs share one pip cache; the emulated
# run goes first and warms it (uv's cache inside it starts cold).
# Needs: the s390x rootfs (`refinery env create`, REFINERY_ENVS_DIR), bubblewrap,
# gcc-s390x-linux-gnu and g++-s390x-linux-gnu, auditwheel, a host CPython 3.11 (pyenv),
# network to PyPI. REFINERY=path/to/refinery skips the build; PYTHON picks the host
# Python (3.11 to match the environment); UV the host's uv; KEEP=1 keeps the work folder.
set -euo pipefail
cd "$(dirname "$0")/../.."
PACKAGES="${PACKAGES-markupsafe==3.0.2 msgpack==1.1.0 regex==2021.10.23 kiwisolver==1.4.3 tiktoken==0.14.0}"
HEAVY="${HEAVY-regex kiwisolver tiktoken}"
RUST_IN_LOOP="${RUST_IN_LOOP-tiktoken}"
MODES="${MODES-emulated refinery}"
PYTHON="${PYTHON:-python3}"
UV="${UV:-uv}"
export REFINERY_ENVS_DIR="${REFINERY_ENVS_DIR:-$HOME/.cache/refinery/envs}"
# bookworm's glibc: C++ wheels (kiwisolver) need glibc 2.34 symbols, which is the repair
# policy's business, not the benchmark's.
PLATFORM_TAG="${PLATFORM_TAG:-manylinux_2_36_s390x}"
if [[ -z "${REFINERY:-}" ]]; then
    cargo build -p refinery --quiet
    REFINERY="${CARGO_TARGET_DIR:-$PWD/target}/debug/refinery"
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
    for mode in $MODES; do
        if [[ "$mode" == emulated && " $RUST_IN_LOOP " == *" $name "* ]]; then
            continue
        fi
        case "$mode" in
            refinery) flags=(--accelerate auto --build-frontend auto --verify-install native) ;;
            accel) flags=(--accelerate cross --build-frontend emulated --verify-install native) ;;
            emulated) flags=(--accelerate off --build-frontend emulated --verify-install emulated) ;;
            *) echo "error: unknown mode $mode in MODES (refinery, accel, emulated)" >&2; exit 2 ;;
        esac
        dir="$work/$mode-$name"
        mkdir -p "$dir/input" "$dir/cache"
        cp "$sdist" "$dir/input/"
        ln -s "$work/pip-cache" "$dir/cache/pip"
        echo "== $name: s390x $mode (${flags[*]})"
        start="$(now)"
        if ! "$REFINERY" --quiet --input "$dir/input" --output "$dir/out" --cache "$dir/cache" \
            --python 3.11 --platform-tag "$PLATFORM_TAG" --max-attempts 1 --jobs 1 "${flags[@]}" \
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
how = f"{entry['metadata']['built_with']}, frontend {entry['metadata'].get('build_frontend', '?')}"
print(f"{name}\t{mode}\t{build:.1f}\t{entry['metadata']['duration_secs']:.1f}\t{float(end) - float(start):.1f}\t{entry['path']}\t{how}")
EOF
    done
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

"$PYTHON" - "$results" "$load_before" "$load_after" "$(nproc)" "$HEAVY" <<'EOF'
import sys
from collections import defaultdict
path, load_before, load_after, cpus, heavy = sys.argv[1:]
heavy = heavy.split()
rows = defaultdict(dict)
for line in open(path):
    name, mode, build, attempt, total, wheel, how = line.rstrip("\n").split("\t")
    rows[name][mode] = (float(build), float(attempt), wheel, how)
print()
print("native: `uv build` on the host; build: the refinery's build step; whole: build + repair + verify")
print(f"{'package':<11} {'native':>7} {'build':>7} {'whole':>7} {'emul.':>7} {'build/nat':>9} {'whole/nat':>9} {'target':>6} {'emul/whole':>10}")
ok = True
for name, modes in rows.items():
    if "refinery" not in modes:
        continue
    n = modes["native-uv"][0]
    b, w = modes["refinery"][0], modes["refinery"][1]
    target = 1.2 if name in heavy else 1.5
    e = modes.get("emulated", (None, None))[1]
    ok &= w / n <= target and (e is None or e / w >= 8)
    emul = f"{e:>6.1f}s" if e else "    n/a"
    ratio = f"{e / w:>9.1f}x" if e else "       n/a"
    print(f"{name:<11} {n:>6.1f}s {b:>6.1f}s {w:>6.1f}s {emul} {b / n:>8.2f}x {w / n:>8.2f}x {target:>5.1f}x {ratio}")
for name, modes in rows.items():
    for mode, (build, attempt, wheel, how) in modes.items():
        print(f"  {name} {mode}: build {build:.1f}s, whole {attempt:.1f}s {wheel} ({how})")
print(f"targets (whole <= 1.5x native, <= 1.2x for {', '.join(heavy)}; >= 8x faster than fully emulated): {'met' if ok else 'MISSED'}")
print(f"load average {load_before} before, {load_after} after, on {cpus} CPUs (other work on the machine skews the times)")
try:
    autogroup = open("/proc/sys/kernel/sched_autogroup_enabled").read().strip() == "1"
except OSError:
    autogroup = False
if autogroup and max(float(load_before.split()[0]), float(load_after.split()[0])) > 1:
    # With autogroup the kernel splits the CPU between sessions before `nice` counts: other
    # work started `nice -n 19` in another session still takes its share.
    print("note: sched_autogroup_enabled=1, so `nice` on other sessions' work does not give these runs the CPU")
EOF
fi

# ---------------------------------------------------------------------------------------------
# Rust: the same Rust sdist built twice in the forky environment (CPython 3.14):
#   native-rust    the refinery's default native Rust toolchain (the Rust project's amd64
#                  rustc 1.95.0 cross-compiling)
#   emulated-rust  `--accelerate off` with `rustc cargo` of the environment in a layer:
#                  forky's cargo and rustc 1.97.1 run under QEMU
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
