#!/usr/bin/env bash
# Many rounds of kill -9 of the cluster's writer during concurrent writes
# (tests/http/cluster_process_test.cc, Cluster.FailoverLosesNoAcknowledgedWrite;
# CI runs 2 rounds), then the failover times: from the kill to the first
# acknowledgement of a write sent after it, in ms.
# Usage: bench/run-cluster-failover.sh [rounds, default 20]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-20}
cmake --build build --target server_tests vectord >/dev/null
log=$(mktemp /tmp/vectord-cluster-failover-XXXXXX.log)
trap 'rm -f "$log"' EXIT
status=0
VECTORD_TEST_FAILOVER_ROUNDS=${rounds} \
  build/tests/server_tests --gtest_filter='Cluster.FailoverLosesNoAcknowledgedWrite' \
  >"$log" 2>&1 || status=$?
grep -E "failover_ms|OK \]|FAILED|Failure" "$log" || true
if [ "$status" -ne 0 ]; then
  echo "the test failed (exit $status); its output:" >&2
  tail -n 200 "$log" >&2
fi
# The ms= values of the per-round lines, sorted; percentiles by nearest rank.
grep -oE "^failover_ms round=[0-9]+ .* ms=[0-9]+" "$log" | sed -E 's/.* ms=//' | sort -n |
  awk -v rounds="$rounds" '
    { v[NR] = $1 }
    END {
      if (NR == 0) { print "failover_ms: no rounds measured"; exit 1 }
      p50 = v[int((NR * 50 + 99) / 100)]; p99 = v[int((NR * 99 + 99) / 100)]
      printf "failover_ms over %d of %d rounds: min %d  p50 %d  p99 %d  max %d\n",
             NR, rounds, v[1], p50, p99, v[NR]
    }'
exit "$status"
