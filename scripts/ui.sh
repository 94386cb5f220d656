#!/usr/bin/env bash
# The web dashboard (ui/): install its npm packages, build it into ui/dist (which
# `cargo build` embeds into the refinery binary), run its unit tests (Vitest) and its
# end-to-end tests (Debian chromium + playwright-core against the real `refinery serve`).
#
#   scripts/ui.sh build   npm ci (when package-lock.json changed) + ESLint + type check + vite build.
#                         Run it BEFORE `cargo build`, so the binary embeds the UI.
#   scripts/ui.sh unit    Vitest (component and logic tests; no browser, no server).
#   scripts/ui.sh e2e     Browser tests against target/{release,debug}/refinery (the newest,
#                         or REFINERY_BIN); installs Debian's chromium when it is missing.
#                         Screenshots of every page: ui/e2e-artifacts/.
#   scripts/ui.sh types   regenerate src/lib/api-types.ts from openapi.json (the server's
#                         OpenAPI document, itself checked by `cargo test -p refinery-server
#                         --test openapi`; UPDATE_OPENAPI=1 rewrites it).
#   scripts/ui.sh lint    ESLint (eslint.config.js); warnings fail too.
#   scripts/ui.sh test    types check + lint + unit + e2e.
#   scripts/ui.sh         everything: build, unit, `cargo build -p refinery`, e2e.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ui="$root/ui"
cd "$ui"

need_node() {
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "ui.sh: node and npm are needed (Node 20.19 or newer)" >&2
    exit 1
  fi
  local major
  major="$(node -p 'process.versions.node.split(".")[0]')"
  if [ "$major" -lt 20 ]; then
    echo "ui.sh: Node $(node -v) is too old; Vite needs 20.19 or newer" >&2
    exit 1
  fi
}

deps() {
  need_node
  # npm ci only when the lock file changed since the last install.
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    echo "== ui: npm ci"
    npm ci --no-audit --no-fund
  fi
}

types() {
  deps
  echo "== ui: TypeScript types from openapi.json (src/lib/api-types.ts)"
  npm run --silent types
}

# Fails when src/lib/api-types.ts is not what openapi.json generates.
types_check() {
  deps
  echo "== ui: src/lib/api-types.ts is up to date with openapi.json"
  if ! npm run --silent types -- --check; then
    echo "ui.sh: src/lib/api-types.ts is stale: run scripts/ui.sh types and commit it" >&2
    exit 1
  fi
}

lint() {
  deps
  echo "== ui: eslint"
  npm run --silent lint
}

build() {
  types_check
  lint
  echo "== ui: type check and build (ui/dist)"
  npm run --silent build
}

unit() {
  deps
  echo "== ui: vitest"
  npx vitest run
}

chromium_path() {
  for c in "${CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
    if [ -n "$c" ] && [ -x "$c" ]; then
      echo "$c"
      return 0
    fi
  done
  return 1
}

e2e() {
  deps
  if ! chromium_path >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "== ui: installing Debian's chromium"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
      echo "ui.sh: the browser tests need chromium (apt-get install chromium) or CHROMIUM=/path" >&2
      exit 1
    fi
  fi
  command -v python3 >/dev/null || { echo "ui.sh: the browser tests need python3 (the local index)" >&2; exit 1; }
  echo "== ui: browser tests (screenshots in ui/e2e-artifacts/)"
  CHROMIUM="$(chromium_path)" node e2e/run.mjs
}

case "${1:-all}" in
  build) build ;;
  types) types ;;
  types-check) types_check ;;
  lint) lint ;;
  unit) unit ;;
  e2e) e2e ;;
  test)
    types_check
    lint
    unit
    e2e
    ;;
  all)
    build
    unit
    echo "== cargo build -p refinery (embeds ui/dist)"
    (cd "$root" && cargo build -p refinery)
    e2e
    ;;
  *)
    echo "usage: scripts/ui.sh [build|types|types-check|lint|unit|e2e|test|all]" >&2
    exit 2
    ;;
esac
