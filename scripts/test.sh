#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite three ways:
# optimised; with AddressSanitizer + UndefinedBehaviorSanitizer; and with
# ThreadSanitizer; then runs each libFuzzer target briefly over its corpus.
# Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh

jobs=$(nproc)
run_suite() {
  local dir=$1 label=$2
  shift 2
  echo "== ${label}: configure and build (${dir})"
  cmake -S . -B "${dir}" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "${dir}" -j "${jobs}"
  echo "== ${label}: tests"
  (cd "${dir}" && ctest --output-on-failure -j "${jobs}" --timeout 900)
}

run_suite build "optimised"
# The multi-process kill rounds run in full in the optimised build; under the
# sanitizers (several times slower) fewer rounds check the same code paths
# for memory errors and races: 1 failover, 2 kills during a recover, 8 + 3
# crash rounds, 200 of the 2,000 indexes. bench/run-cluster-failover.sh and bench/run-recover-kill.sh
# run many.
export VECTORD_TEST_FAILOVER_ROUNDS=1 VECTORD_TEST_RECOVER_KILL_ROUNDS=2 VECTORD_TEST_CRASH_ROUNDS=8
# The many-indexes test: 2,000 indexes optimised, 200 under the sanitizers.
export VECTORD_TEST_MANY_INDEXES=200
# The sanitizer builds compile at -O1 with line tables only (-g1): what the
# sanitizers' documentation asks for, and stack traces still name file and
# line. At -O2 -g the ASan+UBSan build alone took 17 of CI's minutes on 2
# cores; at -O1 -g1 it takes a third of that (http_server.cc: 157 s -> 55 s).
sanitizer_flags=(-DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG")
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_suite build-asan "AddressSanitizer+UndefinedBehaviorSanitizer" \
  -DVECTORD_SANITIZE=address,undefined "${sanitizer_flags[@]}"
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
  run_suite build-tsan "ThreadSanitizer" -DVECTORD_SANITIZE=thread "${sanitizer_flags[@]}"
echo "== libFuzzer targets: 30 s each over their corpora"
./scripts/fuzz.sh 30
echo "== all suites passed"
