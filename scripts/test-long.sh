#!/usr/bin/env bash
# The long suite, outside CI (hours under emulation): the build-yield benchmark over the
# 37 projects for manylinux2014_s390x, then every real-package test marked long
# (#[ignore] tests whose name starts with `long_`; scripts/test.sh skips them).
#
#   scripts/test-long.sh                    # everything
#   scripts/test-long.sh --budget 7200      # arguments go to scripts/bench/yield.sh
#
# Results: the yield table on stdout and in $RESULTS (default target/yield.tsv).
set -euo pipefail
cd "$(dirname "$0")/.."
export REFINERY_ENVS_DIR="${REFINERY_ENVS_DIR:-$HOME/.cache/refinery/envs}"
export RESULTS="${RESULTS:-${CARGO_TARGET_DIR:-$PWD/target}/yield.tsv}"
status=0
bash scripts/bench/yield.sh "$@" || status=$?
cargo test --workspace -- --ignored --test-threads 1 long_ || status=$?
exit "$status"
