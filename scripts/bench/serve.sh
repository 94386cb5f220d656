#!/usr/bin/env bash
# Load test of `refinery serve` on loopback with wrk (apt-get install wrk): requests per
# second and latency percentiles of /simple/ and the read endpoints.
#   1. max throughput: 2 threads, 16 connections, 10 s per endpoint;
#   2. fixed rate: 10 connections each waiting 20 ms between requests (about 500 req/s),
#      10 s per endpoint; target p99 under 20 ms.
#   3. starvation: IDLE (2000) idle and PARTIAL (2000) half-sent-head connections held for
#      STARVE_SECS (20 s) against the default cap of 512 connections, while /api/health is
#      probed every 50 ms and wrk paces about 500 req/s at it: how long health stays
#      reachable, and the p99 under attack.
# Bounded in time (2 x 10 s per endpoint + 20 s) and to 127.0.0.1. N (default 300) wheels
# are published first through the worker protocol.
set -euo pipefail
cd "$(dirname "$0")/../.."
N="${N:-300}"
DURATION="${DURATION:-10s}"
IDLE="${IDLE:-2000}"
PARTIAL="${PARTIAL:-2000}"
STARVE_SECS="${STARVE_SECS:-20}"
ulimit -n 65536 2>/dev/null || true
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 2; }
dir="$(mktemp -d)"
cargo build -q --release -p refinery
bin="$PWD/target/release/refinery"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
env -u WORKER_TOKEN -u READ_TOKEN -u DATABASE_URL "$bin" serve --cache "$dir/cache" --host 127.0.0.1 --port "$port" \
    --index-url http://127.0.0.1:9/simple 2> "$dir/serve.log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$dir"' EXIT
base="http://127.0.0.1:$port"
for _ in $(seq 100); do curl -fs "$base/healthz" >/dev/null && break; sleep 0.1; done
python3 scripts/bench/serve_populate.py "$base" "$N"
sleep 3   # the index snapshot refreshes every 2 s
curl -fs "$base/simple/" | grep -c '<a href' | xargs echo "projects on /simple/:"

cat > "$dir/paced.lua" <<'LUA'
function delay() return 20 end
LUA
cat > "$dir/json.lua" <<'LUA'
wrk.headers["Accept"] = "application/vnd.pypi.simple.v1+json"
LUA
cat > "$dir/json_paced.lua" <<'LUA'
wrk.headers["Accept"] = "application/vnd.pypi.simple.v1+json"
function delay() return 20 end
LUA

report() { # name, wrk output
    python3 - "$1" "$2" <<'PY'
import re, sys
name, text = sys.argv[1], sys.argv[2]
rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
def pct(p):
    m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    if not m: return float("nan")
    v, u = float(m.group(1)), m.group(2)
    return v / 1000 if u == "us" else v * 1000 if u == "s" else v
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
sock = re.search(r"Socket errors: (.*)", text)
print(f"{name:<44} {float(rps.group(1)) if rps else 0:>9.0f} req/s  p50 {pct(50):6.2f} ms  p99 {pct(99):6.2f} ms"
      + (f"  non-2xx {errors.group(1)}" if errors else "") + (f"  socket errors: {sock.group(1)}" if sock else ""))
PY
}

echo "== max throughput (wrk -t2 -c16 -d$DURATION)"
for path in /simple/ /simple/pkg0001/ "/simple/pkg0001/ (JSON)" /api/events?limit=50 /api/queue/stats /api/top-failures /api/top-slowest /api/packages/pkg0001 /healthz; do
    script=()
    url="$base${path% (JSON)}"
    [[ "$path" == *"(JSON)" ]] && script=(-s "$dir/json.lua")
    out=$(wrk -t2 -c16 -d"$DURATION" --latency "${script[@]}" "$url")
    report "$path" "$out"
done
echo "== fixed rate, about 500 req/s (wrk -t2 -c10 -d$DURATION, 20 ms pause per connection)"
for path in /simple/ /simple/pkg0001/ "/simple/pkg0001/ (JSON)" /api/events?limit=50 /api/queue/stats /api/top-failures; do
    script=(-s "$dir/paced.lua")
    url="$base${path% (JSON)}"
    [[ "$path" == *"(JSON)" ]] && script=(-s "$dir/json_paced.lua")
    out=$(wrk -t2 -c10 -d"$DURATION" --latency "${script[@]}" "$url")
    report "$path" "$out"
done
echo "== starvation: $IDLE idle + $PARTIAL half-sent connections for ${STARVE_SECS}s (cap 512), health probed every 50 ms"
python3 scripts/bench/serve_starve.py "$base" "$IDLE" "$PARTIAL" "$STARVE_SECS" &
starver=$!
sleep 3   # let the held connections pile up first
out=$(wrk -t2 -c10 -d"$((STARVE_SECS - 5))s" --latency -s "$dir/paced.lua" "$base/api/health")
report "/api/health at ~500 req/s during starvation" "$out"
wait $starver
