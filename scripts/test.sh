#!/usr/bin/env bash
# The whole test suite: hermetic unit and integration tests, then the tests marked
# #[ignore] that need the real PyPI and real s390x builds under emulation.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# s390x environments take ~5 minutes to create: keep them outside the clone, by recipe.
export REFINERY_ENVS_DIR="${REFINERY_ENVS_DIR:-$HOME/.cache/refinery/envs}"
# A real PostgreSQL server for the scale-out (queue) tests.
pg_version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1)
pg_ctlcluster "$pg_version" main start 2>/dev/null || true
su postgres -c "psql -tAc \"SELECT 1 FROM pg_roles WHERE rolname='refinery'\"" | grep -q 1 \
  || su postgres -c "psql -qc \"CREATE ROLE refinery LOGIN PASSWORD 'refinery'\""
su postgres -c "psql -tAc \"SELECT 1 FROM pg_database WHERE datname='refinery_test'\"" | grep -q 1 \
  || su postgres -c "createdb -O refinery refinery_test"
export REFINERY_TEST_DATABASE_URL="${REFINERY_TEST_DATABASE_URL:-postgres://refinery:refinery@127.0.0.1/refinery_test}"
# This script installs and starts every tool the tests need: a test that finds one missing
# fails instead of skipping (refinery-test-support's tool_available).
export REFINERY_TEST_STRICT=1
cargo build --workspace --all-targets
# The s390x environment the build tests use (made once, then reused from the cache folder).
cargo run -q -p refinery -- env create --python 3.11
cargo test --workspace
# Tests named long_* run in scripts/test-long.sh, not here.
cargo test --workspace -- --ignored --test-threads 1 --skip long_
# The deployment files parse and run only documented commands and flags.
python3 scripts/check-deploy.py
# The dashboard: Vitest, then the browser tests (Debian chromium) against the real server.
bash scripts/ui.sh test
