#!/usr/bin/env bash
# Do searches keep their latency while the server is overloaded with writes?
# Against one vectord (index "load", 20,000 x 384-d), for SECONDS each:
#   1. searches alone: 2 keep-alive clients (wrk, LOAD_MIX=searches);
#   2. the same searches while WRITERS clients send adds of 64 items
#      as fast as they are answered (a second wrk, LOAD_MIX=writes).
# Prints both search latency distributions and the write rate. Server flags
# come from the environment (e.g. VECTORD_WRITE_NICE=0 to compare).
#   bench/run-search-priority.sh [SECONDS (30)] [WRITERS (16)]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
writers=${2:-16}
dim=384
ids=20000

source bench/load/serve-filled-index.sh

searches() {
  LOAD_MIX=searches LOAD_DIM=${dim} LOAD_IDS=${ids} wrk -t1 -c2 -d"${seconds}s" --timeout 10s \
    --latency -s bench/load/mixed.lua "${base}/"
}
echo "== searches alone"
searches | grep -E "Latency|50%|90%|99%|Requests/sec"
echo "== searches while ${writers} clients add batches of 64"
LOAD_MIX=writes LOAD_BATCH=64 LOAD_DIM=${dim} LOAD_IDS=${ids} wrk -t1 -c"${writers}" \
  -d"$((seconds + 4))s" --timeout 30s -s bench/load/mixed.lua "${base}/" >"${work}/writes.txt" 2>&1 &
writes_pid=$!
sleep 2
searches | grep -E "Latency|50%|90%|99%|Requests/sec"
wait "${writes_pid}" || true
echo "writes:"
grep -E "requests in|Requests/sec|Non-2xx|Socket" "${work}/writes.txt"
