# Sourced by the benches that build projects from their sdists (yield.sh, strip.sh), from
# the checkout's root.
#
#   bench_work NAME           a fresh work folder in $work (/tmp/refinery-bench-NAME.*),
#                             removed on exit unless KEEP=1, the sdist index stopped
#   bench_resume DIR          the work folder of an earlier run in $work, kept on exit
#   start_sdist_index FORCE   start sdist_index.py hiding the wheels of the projects FORCE
#                             (a file) lists; its URL in $work/index.url; exits with the
#                             index's log when it does not answer within 5 s

bench_work() {
  work="$(mktemp -d "/tmp/refinery-bench-$1.XXXXXX")"
  server_pid=""
  trap bench_cleanup EXIT
}

bench_resume() {
  work="$1"
  KEEP=1
  server_pid=""
  trap bench_cleanup EXIT
}

bench_cleanup() {
  if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; fi
  if [[ -z "${KEEP:-}" ]]; then rm -rf "$work"; else echo "kept $work"; fi
}

start_sdist_index() {
  python3 scripts/bench/sdist_index.py 0 "$1" > "$work/index.url" 2> "$work/index.log" &
  server_pid=$!
  for _ in $(seq 50); do [[ -s "$work/index.url" ]] && break; sleep 0.1; done
  if [[ ! -s "$work/index.url" ]]; then
    echo "$(basename "$0"): the sdist index did not start:" >&2
    cat "$work/index.log" >&2
    exit 1
  fi
}
