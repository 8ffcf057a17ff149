#!/usr/bin/env bash
# The fuzzing record of bench/RESULTS.md: every libFuzzer target of fuzz/
# for SECONDS each (default 600), one after another; prints the summary
# table of scripts/fuzz.sh (also kept in bench/out/).
#   bench/run-fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
mkdir -p bench/out
./scripts/fuzz.sh "${1:-600}" | tee "bench/out/fuzz-$(date -u +%Y%m%dT%H%M%SZ).md"
