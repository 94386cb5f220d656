#!/usr/bin/env bash
# Benchmark: `refinery scan` over 10,000 generated wheels (target: under 2 s on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/../.."
N="${N:-10000}"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
python3 - "$dir" "$N" <<'PY'
import sys, zipfile
root, n = sys.argv[1], int(sys.argv[2])
tags = ["py3-none-any", "cp311-cp311-manylinux_2_17_x86_64", "cp311-abi3-manylinux2014_s390x", "cp312-cp312-manylinux_2_28_s390x"]
for i in range(n):
    name, version, tag = f"pkg{i}", f"1.{i % 7}", tags[i % len(tags)]
    with zipfile.ZipFile(f"{root}/{name}-{version}-{tag}.whl", "w") as z:
        z.writestr(f"{name}/__init__.py", "x = 1\n" * 50)
        z.writestr(f"{name}-{version}.dist-info/METADATA",
                   f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nRequires-Dist: requests>=2\nRequires-Dist: six\n\n" + "long description\n" * 100)
        z.writestr(f"{name}-{version}.dist-info/WHEEL", f"Wheel-Version: 1.0\nTag: {tag}\n")
        z.writestr(f"{name}-{version}.dist-info/RECORD", "")
PY
cargo build -q --release -p refinery
bin=target/release/refinery
"$bin" scan --input "$dir" --json > /dev/null   # warm the page cache
start=$(date +%s.%N)
"$bin" scan --input "$dir" --json > "$dir.out"
end=$(date +%s.%N)
lines=$(wc -l < "$dir.out"); rm -f "$dir.out"
python3 -c "import sys; s=float(sys.argv[1])-float(sys.argv[2]); print(f'scan of {sys.argv[3]} wheels: {s:.3f} s ({int(sys.argv[3])/s:.0f} wheels/s); target 2 s: ratio {s/2:.2f}')" "$end" "$start" "$lines"
