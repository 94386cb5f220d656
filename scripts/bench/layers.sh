#!/usr/bin/env bash
# Benchmark: an environment layer made (hard-linked copy of the base + apt under emulation)
# against the same layer reused, the layer's own size against the base's, and the base
# checked unchanged. Needs the bookworm environment and Debian's mirror.
set -euo pipefail
cd "$(dirname "$0")/../.."
PACKAGES="${PACKAGES:-libffi-dev}"
export REFINERY_ENVS_DIR="${REFINERY_ENVS_DIR:-$HOME/.cache/refinery/envs}"
cargo build -q --release -p refinery
bin=target/release/refinery
$bin env create --python 3.11 >/dev/null
base=$(ls -d "$REFINERY_ENVS_DIR"/v1/rootfs-bookworm-s390x-py3.11-* | head -n1)
# Files by content, links by target (never followed: some point at host devices).
digest() {
  (cd "$1" && { find . -xdev -type f -print0 | sort -z | xargs -0 sha256sum;
                find . -xdev -type l -printf '%p -> %l\n' | sort; } | sha256sum | cut -c1-16)
}
before=$(digest "$base")
# Start from no layer for this package set.
layer_line=$($bin env layer --python 3.11 $PACKAGES)
$bin env remove "$(echo "$layer_line" | sed -E 's/^[a-z]+ [^+]+\+(layer-[0-9a-f]+) .*/\1/')" >/dev/null
timed() { local s e; s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N); python3 -c "print(float('$e') - float('$s'))"; }
made=$(timed $bin env layer --python 3.11 $PACKAGES)
reused=$(timed $bin env layer --python 3.11 $PACKAGES)
after=$(digest "$base")
own=$($bin env list | awk -v p="$PACKAGES" '$1 == "+" && index($0, p) { print $3; exit }')
base_mib=$(du -sm "$base" | cut -f1)
python3 - <<PY
made, reused = $made, $reused
print(f"layer ($PACKAGES): made in {made:.1f} s, reused in {reused:.2f} s ({made / reused:.0f}x)")
print(f"sizes: base {$base_mib} MiB, layer's own files ${own:-?} MiB")
print("base unchanged" if "$before" == "$after" else "BASE CHANGED: $before -> $after")
PY
