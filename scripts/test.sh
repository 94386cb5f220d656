#!/usr/bin/env bash
# The whole test suite: hermetic unit and integration tests, then the tests marked
# #[ignore] that need the real PyPI and real s390x builds under emulation.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# s390x environments take ~5 minutes to create: keep them outside the clone, by recipe.
export REFINERY_ENVS_DIR="${REFINERY_ENVS_DIR:-$HOME/.cache/refinery/envs}"
cargo build --workspace --all-targets
# The s390x environment the build tests use (made once, then reused from the cache folder).
cargo run -q -p refinery -- env create --python 3.11
cargo test --workspace
cargo test --workspace -- --ignored --test-threads 1
