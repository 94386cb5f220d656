#!/usr/bin/env bash
# Seed build: one package through the whole control plane, from the command line.
#
#   API_BASE=http://localhost:8080 PACKAGE=six VERSION=1.16.0 scripts/seed-build.sh
#
# Uploads a one-line requirements file (PACKAGE==VERSION), plans it (waiting for the
# plan), enqueues the plan's builds, then follows the package's build log over SSE
# (`/api/jobs/{id}/logs/stream`) until the job ends, and prints its final status.
# A worker must be running (`refinery worker --server $API_BASE`), or set RUN_WORKER=1
# to ask a `refinery serve --local-worker` to drain the queue in-process.
#
# Environment: API_BASE (default http://localhost:8080), PACKAGE (default six),
# VERSION (default 1.16.0), WORKER_TOKEN or WORKER_TOKEN_FILE (when the server has one),
# RUN_WORKER=1, TIMEOUT seconds to wait for the job to end (default 3600).
# Exit status: 0 when the package ends built, reused or cached; 1 when it ends otherwise;
# 2 for bad input or an API error. Needs curl and python3 (for JSON).
set -euo pipefail

API_BASE="${API_BASE:-http://localhost:8080}"
API_BASE="${API_BASE%/}"
PACKAGE="${PACKAGE:-six}"
VERSION="${VERSION:-1.16.0}"
TIMEOUT="${TIMEOUT:-3600}"

die() {
  echo "seed-build: $*" >&2
  exit 2
}

command -v curl >/dev/null || die "curl is needed"
command -v python3 >/dev/null || die "python3 is needed (to read the API's JSON)"
[[ "$PACKAGE" =~ ^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$ ]] || die "PACKAGE='$PACKAGE' is not a package name"
[[ "$VERSION" =~ ^[A-Za-z0-9.+!_-]+$ ]] || die "VERSION='$VERSION' is not a version"
[[ "$TIMEOUT" =~ ^[0-9]+$ ]] || die "TIMEOUT='$TIMEOUT' is not a number of seconds"

token="${WORKER_TOKEN:-}"
if [ -z "$token" ] && [ -n "${WORKER_TOKEN_FILE:-}" ]; then
  [ -r "$WORKER_TOKEN_FILE" ] || die "WORKER_TOKEN_FILE=$WORKER_TOKEN_FILE cannot be read"
  token="$(head -n1 "$WORKER_TOKEN_FILE")"
fi
# The token goes in a header file, never on the command line (ps would show it).
headers="$(mktemp)"
work="$(mktemp -d)"
trap 'rm -rf "$headers" "$work"' EXIT
printf 'X-Refinery-Request: 1\n' >"$headers"
[ -n "$token" ] && printf 'X-Worker-Token: %s\n' "$token" >>"$headers"

# call METHOD PATH [curl args…]: the JSON answer on stdout; an error names the call.
call() {
  local method="$1" path="$2"
  shift 2
  local out="$work/answer" code
  code="$(curl -sS -o "$out" -w '%{http_code}' -X "$method" -H "@$headers" "$@" "$API_BASE$path")" ||
    die "$method $API_BASE$path: the server cannot be reached"
  if [ "$code" = 401 ] || [ "$code" = 403 ]; then
    die "$method $path answered $code: $(cat "$out"); set WORKER_TOKEN (or WORKER_TOKEN_FILE) to the server's worker token"
  elif [ "${code:0:1}" != 2 ]; then
    die "$method $path answered $code: $(cat "$out")"
  fi
  cat "$out"
}

# json EXPR: evaluates a Python expression over the JSON on stdin (`d` is the document).
json() {
  python3 -c "import json,sys; d=json.load(sys.stdin); v=($1); print('' if v is None else v)"
}

echo "== seed-build: $PACKAGE==$VERSION via $API_BASE"
call GET /api/health >/dev/null

printf '%s==%s\n' "$PACKAGE" "$VERSION" >"$work/requirements.txt"
# (Each call on its own line: a failed call stops the script with its message.)
uploaded="$(call POST /api/requirements/upload -F "file=@$work/requirements.txt;type=text/plain")"
input="$(printf '%s' "$uploaded" | json 'd["input"]["id"]')"
echo "uploaded as input $input"

plan_answer="$(call POST "/api/pending-inputs/$input/enqueue-plan?wait=true")"
plan="$(printf '%s' "$plan_answer" | json 'd.get("input", {}).get("plan_id") or d.get("plan_id")')"
[ -n "$plan" ] || die "input $input has no plan: $plan_answer"
echo "planned: plan $plan"

enqueued="$(call POST "/api/plans/$plan/enqueue-builds")"
printf '%s' "$enqueued" | json '"enqueued: " + ", ".join("%s %s job %s (%s)" % (j["package"], j["version"], j["id"], j["status"]) for j in d["jobs"]) + "; %s new" % d.get("created", "?")'
want="$(printf '%s' "$PACKAGE" | tr 'A-Z_.' 'a-z--')"
job="$(printf '%s' "$enqueued" | json "next((j['id'] for j in d['jobs'] if j['package'].lower().replace('_','-').replace('.','-') == '$want'), None)")"
[ -n "$job" ] || die "the plan has no job for $PACKAGE"

if [ "${RUN_WORKER:-0}" = 1 ]; then
  triggered="$(call POST /api/worker/trigger)"
  printf '%s' "$triggered" | json '"worker: " + str(d)'
fi

workers="$(call GET /api/workers)"
alive="$(printf '%s' "$workers" | json 'sum(1 for w in d["workers"] if w.get("state") != "offline")')"
if [ "$alive" = 0 ] && [ "${RUN_WORKER:-0}" != 1 ]; then
  echo "seed-build: no worker is alive (none seen in the last minute): start one with" \
    "\`refinery worker --server $API_BASE\`, or RUN_WORKER=1 with serve --local-worker;" \
    "waiting up to $TIMEOUT s" >&2
fi

echo "== log of job $job (until it ends)"
# The live log over SSE: print `data:` lines of `log` events until the `end` event.
deadline=$((SECONDS + TIMEOUT))
while :; do
  current="$(call GET "/api/jobs/$job")"
  status="$(printf '%s' "$current" | json 'd["job"]["status"]')"
  case "$status" in
    pending | retry | leased | building)
      remaining=$((deadline - SECONDS))
      [ "$remaining" -gt 0 ] || die "job $job is still $status after ${TIMEOUT} s"
      curl -sS -N --max-time "$remaining" -H "@$headers" -H 'Accept: text/event-stream' \
        "$API_BASE/api/jobs/$job/logs/stream" 2>/dev/null |
        python3 -c '
import sys
# Server-sent events: data lines joined by newlines make one chunk of the log.
event, data = "", []
for line in sys.stdin:
    line = line.rstrip("\n")
    if line.startswith("event:"):
        event = line[6:].strip()
    elif line.startswith("data:"):
        data.append(line[5:][1:] if line[5:].startswith(" ") else line[5:])
    elif line == "":
        if event == "end":
            break
        if event in ("", "log") and data:
            sys.stdout.write("\n".join(data))
            sys.stdout.flush()
        event, data = "", []
' || true
      ;;
    *) break ;;
  esac
done

final="$(call GET "/api/jobs/$job")"
status="$(printf '%s' "$final" | json 'd["job"]["status"]')"
detail="$(printf '%s' "$final" | json 'd["job"]["detail"]')"
echo "== $PACKAGE $VERSION: $status${detail:+ — $detail}"
case "$status" in
  built | reused | cached) exit 0 ;;
  *) exit 1 ;;
esac
