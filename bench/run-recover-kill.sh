#!/usr/bin/env bash
# Many rounds of kill -9 during POST /vectors/index/{name}/recover against the
# real server (tests/http/failed_index_test.cc, AKillDuringRecoverLosesNothingMore;
# CI runs 4 rounds). Usage: bench/run-recover-kill.sh [rounds, default 40]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-40}
cmake --build build --target server_tests vectord >/dev/null
VECTORD_TEST_RECOVER_KILL_ROUNDS=${rounds} \
  build/tests/server_tests --gtest_filter='FailedIndex.AKillDuringRecoverLosesNothingMore' 2>&1 |
  grep -E "recover kill rounds|OK|FAILED|Failure"
