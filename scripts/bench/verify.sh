#!/usr/bin/env bash
# Benchmark: what verification costs per level, measured in one run — the same compiled
# wheels (PyPI's own s390x wheels, reused, so nothing is built) verified with
#   --verify import   a clean venv, an offline install, the top-level and every extension
#                     module imported
#   --verify smoke    also the smoke-test catalog's snippets (verify/catalog.toml)
#   --verify tests    also the package's own self-test where the catalog knows one, else
#                     (built wheels) the sdist's tests/ folder with pytest
# all under QEMU in the s390x environment, each level once per install mode:
#   --verify-install emulated   the environment's pip installs into the venv (before)
#   --verify-install native     the host's uv installs for the target, only the venv and
#                               the checks are emulated (after)
# BUILT packages are built from their sdists (--no-binary) in the warm-up run; the levels
# then take them from the cache and, each level being stricter than the last, verify them
# again (their pytest step is in the tests level). Prints, per package, mode and level, the
# seconds of the whole verification (from the manifest's metadata.verification) and of
# each check, then the totals and the ratio of the install check and of the verification
# per level.
#
#   scripts/bench/verify.sh
#   PACKAGES="bitarray==3.12.3" BUILT="" LEVELS=smoke INSTALLS="emulated native" scripts/bench/verify.sh
#
# Needs: the s390x rootfs (REFINERY_ENVS_DIR), bubblewrap, network to PyPI.
# REFINERY=path/to/refinery skips the build; KEEP=1 keeps the work folder.
set -euo pipefail
cd "$(dirname "$0")/../.."
PACKAGES="${PACKAGES:-bitarray==3.12.3 pyyaml==6.0.4 orjson==3.10.12}"
BUILT="${BUILT-markupsafe==2.1.5}"
no_binary=()
for p in $BUILT; do no_binary+=(--no-binary "${p%%==*}"); done
LEVELS="${LEVELS:-import smoke tests}"
INSTALLS="${INSTALLS:-emulated native}"
export REFINERY_ENVS_DIR="${REFINERY_ENVS_DIR:-$HOME/.cache/refinery/envs}"
if [[ -z "${REFINERY:-}" ]]; then
    cargo build -p refinery --quiet
    REFINERY="${CARGO_TARGET_DIR:-$PWD/target}/debug/refinery"
fi
work="$(mktemp -d /tmp/refinery-bench-verify.XXXXXX)"
cleanup() { if [[ -z "${KEEP:-}" ]]; then rm -rf "$work"; else echo "kept $work"; fi; }
trap cleanup EXIT
mkdir -p "$work/input"
printf '%s\n' $PACKAGES $BUILT > "$work/input/requirements.txt"
# Warm the download cache (and build the BUILT ones) so the first level pays neither.
"$REFINERY" --input "$work/input" --output "$work/out-warm" --cache "$work/cache" \
    --verify import "${no_binary[@]}" --quiet > /dev/null 2>&1 || true
for install in $INSTALLS; do
    for level in $LEVELS; do
        started=$(date +%s.%N)
        "$REFINERY" --input "$work/input" --output "$work/out-$install-$level" --cache "$work/cache" \
            --verify "$level" --verify-install "$install" "${no_binary[@]}" --quiet > "$work/run-$install-$level.log" 2>&1 || true
        ended=$(date +%s.%N)
        echo "$install-$level $(echo "$ended - $started" | bc)" >> "$work/runs"
    done
done
python3 - "$work" "$LEVELS" "$INSTALLS" $PACKAGES $BUILT <<'PY'
import json, sys
work, levels, installs = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()
packages = [p.split("==")[0] for p in sys.argv[4:]]
runs = dict(line.split() for line in open(f"{work}/runs"))
print(f"{'package':12} {'install':8} {'level':7} {'verify s':>8}  checks (s)")
totals, installs_s = {}, {}
for install in installs:
    for level in levels:
        manifest = json.load(open(f"{work}/out-{install}-{level}/manifest.json"))
        for entry in manifest["entries"]:
            if entry["name"].lower() not in packages:
                continue
            v = entry["metadata"].get("verification") or {}
            checks = ", ".join(f"{c['name']} {c['outcome']} {c['duration_secs']}"
                               + (f" ({c['detail']})" if c["name"] == "tests:pytest" else "")
                               for c in v.get("checks", []) if c["outcome"] != "skipped")
            key = (install, level)
            totals[key] = totals.get(key, 0) + v.get("duration_secs", 0)
            installs_s[key] = installs_s.get(key, 0) + sum(
                c["duration_secs"] for c in v.get("checks", []) if c["name"] == "install")
            print(f"{entry['name']:12} {install:8} {level:7} {v.get('duration_secs', 0):8.1f}  {checks}  [{entry['status']}]")
            for c in v.get("checks", []):
                if c["name"] == "install" and c.get("detail"):
                    print(f"{'':30} install: {c['detail']}")
print()
for install in installs:
    for level in levels:
        key = (install, level)
        print(f"{install:8} {level:7} verification {totals.get(key, 0):6.1f} s (install {installs_s.get(key, 0):5.1f} s) "
              f"for {len(packages)} packages; whole run {float(runs[f'{install}-{level}']):6.1f} s")
if {"emulated", "native"} <= set(installs):
    print()
    for level in levels:
        before, after = totals.get(("emulated", level), 0), totals.get(("native", level), 0)
        ib, ia = installs_s.get(("emulated", level), 0), installs_s.get(("native", level), 0)
        if after and ia:
            print(f"{level:7} native vs emulated install: verification {before / after:4.2f}x faster, install check {ib / ia:4.2f}x faster")
PY
