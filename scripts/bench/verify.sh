#!/usr/bin/env bash
# Benchmark: what verification costs per level, measured in one run — the same compiled
# wheels (PyPI's own s390x wheels, reused, so nothing is built) verified with
#   --verify import   a clean venv, an offline install, the top-level and every extension
#                     module imported
#   --verify smoke    also the smoke-test catalog's snippets (verify/catalog.toml)
#   --verify tests    also the package's own self-test where the catalog knows one, else
#                     (built wheels) the sdist's tests/ folder with pytest
# all under QEMU in the s390x environment. BUILT packages are built from their sdists
# (--no-binary) in the warm-up run; the levels then take them from the cache, and since
# each level is stricter than the last, verify them again (their pytest step is in the
# tests level). Prints, per package and level, the seconds of the whole verification (from
# the manifest's metadata.verification) and of each check.
#
#   scripts/bench/verify.sh
#   PACKAGES="bitarray==3.12.3" BUILT="" scripts/bench/verify.sh
#
# Needs: the s390x rootfs (REFINERY_ENVS_DIR), bubblewrap, network to PyPI.
# REFINERY=path/to/refinery skips the build; KEEP=1 keeps the work folder.
set -euo pipefail
cd "$(dirname "$0")/../.."
PACKAGES="${PACKAGES:-bitarray==3.12.3 pyyaml==6.0.4 orjson==3.10.12}"
BUILT="${BUILT-markupsafe==2.1.5}"
no_binary=()
for p in $BUILT; do no_binary+=(--no-binary "${p%%==*}"); done
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
for level in import smoke tests; do
    started=$(date +%s.%N)
    "$REFINERY" --input "$work/input" --output "$work/out-$level" --cache "$work/cache" \
        --verify "$level" "${no_binary[@]}" --quiet > "$work/run-$level.log" 2>&1 || true
    ended=$(date +%s.%N)
    echo "$level $(echo "$ended - $started" | bc)" >> "$work/runs"
done
python3 - "$work" $PACKAGES $BUILT <<'PY'
import json, sys
work, packages = sys.argv[1], [p.split("==")[0] for p in sys.argv[2:]]
runs = dict(line.split() for line in open(f"{work}/runs"))
print(f"{'package':12} {'level':7} {'verify s':>8}  checks (s)")
totals = {}
for level in ("import", "smoke", "tests"):
    manifest = json.load(open(f"{work}/out-{level}/manifest.json"))
    for entry in manifest["entries"]:
        if entry["name"].lower() not in packages:
            continue
        v = entry["metadata"].get("verification") or {}
        checks = ", ".join(f"{c['name']} {c['outcome']} {c['duration_secs']}"
                           + (f" ({c['detail']})" if c["name"] == "tests:pytest" else "")
                           for c in v.get("checks", []) if c["outcome"] != "skipped")
        totals[level] = totals.get(level, 0) + v.get("duration_secs", 0)
        print(f"{entry['name']:12} {level:7} {v.get('duration_secs', 0):8.1f}  {checks}  [{entry['status']}]")
print()
for level in ("import", "smoke", "tests"):
    print(f"{level:7} verification {totals.get(level, 0):6.1f} s for {len(packages)} packages; whole run {float(runs[level]):6.1f} s")
PY
