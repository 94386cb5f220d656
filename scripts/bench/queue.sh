#!/usr/bin/env bash
# The scale-out path by simulation (no builds): JOBS (100,000) jobs and 64 simulated
# workers over HTTP against PostgreSQL, 8 of them killed mid-lease; then the same at 16
# workers (2 killed) on SQLite. Prints jobs/s, claim p50/p99, jobs claimed twice and
# jobs lost (both must be 0: the script fails otherwise).
# PostgreSQL: REFINERY_TEST_DATABASE_URL (a fresh schema is made and dropped), e.g.
#   postgres://refinery:refinery@127.0.0.1/refinery_test
# Bounded: 127.0.0.1 only, an hour at most per run.
set -euo pipefail
cd "$(dirname "$0")/../.."
JOBS="${JOBS:-100000}"
LEASE="${LEASE:-5}"
BACKENDS="${BACKENDS:-postgres sqlite}"   # e.g. BACKENDS=sqlite for one of them
PG="${REFINERY_TEST_DATABASE_URL:-postgres://refinery:refinery@127.0.0.1/refinery_test}"
cargo build -q --release -p refinery
bin="$PWD/target/release/refinery"
token="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
dir="$(mktemp -d)"
schema="queue_bench_$$"
cleanup() {
    [[ -n "${server:-}" ]] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
    psql -q "$PG" -c "DROP SCHEMA IF EXISTS $schema CASCADE" 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT

run() { # label, workers, killed, extra serve args...
    local label="$1" workers="$2" killed="$3"; shift 3
    local port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    rm -rf "$dir/cache"
    WORKER_TOKEN="$token" "$bin" serve --cache "$dir/cache" --host 127.0.0.1 --port "$port" \
        --index-url http://127.0.0.1:9/simple --max-connections 1024 "$@" 2> "$dir/serve-$label.log" &
    server=$!
    for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
    echo "== $label: $JOBS jobs, $workers workers, $killed killed mid-lease"
    python3 scripts/bench/queue_sim.py "http://127.0.0.1:$port" "$token" "$JOBS" "$workers" "$killed" "$LEASE"
    kill "$server"; wait "$server" 2>/dev/null || true; server=
}

if [[ " $BACKENDS " == *" postgres "* ]]; then
    psql -q "$PG" -c "CREATE SCHEMA $schema"
    run postgres 64 8 --database-url "$PG?options=-c%20search_path%3D$schema"
fi
if [[ " $BACKENDS " == *" sqlite "* ]]; then run sqlite 16 2; fi
