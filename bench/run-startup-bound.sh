#!/usr/bin/env bash
# Start-up time at the worst point of each checkpoint policy: ingest up to N
# random 128-d vectors (bvecs, bytes 0..255, euclidean) with vectorctl import
# in batches of 1024, SIGKILL the server just before its next checkpoint
# would start, restart it and time from process start to GET /ready = 200.
#
#   old: checkpoints by log size only (checkpoint_bytes 64 MiB,
#        checkpoint_replay_seconds 86400): killed when the current log
#        segment holds 90% of 64 MiB.
#   new: the replay budget (checkpoint_replay_seconds 10, checkpoint_bytes
#        64 MiB as the cap): killed when
#        vectord_index_log_replay_estimate_seconds reaches 90% of
#        vectord_index_log_replay_budget_seconds.
#
# Each policy is killed at the first such point after the index holds
# MIN_ITEMS items (so both restart with a large snapshot to load); if the
# import ends first, at its end. The page cache stays warm (DROP_CACHES=1,
# as root, drops it before each restart).
#   bench/run-startup-bound.sh [N=400000] [MIN_ITEMS=200000]
# BUILD names the build directory (default build-bench, Release; built here
# when it has no vectord). About 10 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-400000}
min_items=${2:-200000}
build=${BUILD:-build-bench}
if [[ ! -x ${build}/src/vectord || ! -x ${build}/src/vectorctl ]]; then
  cmake -S . -B "${build}" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
  cmake --build "${build}" --target vectord vectorctl -j "$(nproc)"
fi
mkdir -p bench/out
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=bench/out/startup-bound-${stamp}.md
port=18421
work=$(mktemp -d)
server_pid=""
import_pid=""
cleanup() {
  for pid in ${import_pid} ${server_pid}; do kill -9 "${pid}" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "${work}"
}
trap cleanup EXIT

python3 - "${work}/vectors.bvecs" "${n}" <<'PY'
import random, struct, sys
random.seed(1)
dim, header = 128, struct.pack("<i", 128)
with open(sys.argv[1], "wb") as f:
    for _ in range(int(sys.argv[2])):
        f.write(header + random.randbytes(dim))
PY

metric() {  # metric NAME: the value of NAME{index="startup"}, or empty
  curl -s "http://127.0.0.1:${port}/metrics" |
    awk -v name="$1{index=\"startup\"}" '$1 == name { print $2 }'
}
segment_bytes() {  # the current (newest) log segment's size
  local last
  last=$(ls "$1/_vectors/startup.wal" 2>/dev/null | sort | tail -1)
  [[ -n ${last} ]] && stat -c %s "$1/_vectors/startup.wal/${last}" || echo 0
}
wait_ready() {  # seconds from $1 (epoch seconds) to /ready = 200
  for _ in $(seq 6000); do
    if curl -sf "http://127.0.0.1:${port}/ready" >/dev/null; then
      awk -v b="$1" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - b }'
      return
    fi
    sleep 0.05
  done
  echo "vectord did not become ready" >&2
  exit 1
}

# One policy: ingest, kill at its worst point, restart; prints the row.
run_policy() {
  local label=$1 kind=$2
  shift 2
  local data=${work}/data-${kind}
  ./"${build}"/src/vectord --bind "127.0.0.1:${port}" --data-dir "${data}" "$@" \
    >"${work}/${kind}-ingest.log" 2>&1 &
  server_pid=$!
  wait_ready "$(date +%s.%N)" >/dev/null
  local ctl=(./"${build}"/src/vectorctl --server "127.0.0.1:${port}" -q)
  "${ctl[@]}" create startup -d 128 --distance euclidean >/dev/null
  "${ctl[@]}" import startup "${work}/vectors.bvecs" --batch 1024 \
    >"${work}/${kind}-import.log" 2>&1 &
  import_pid=$!
  local items=0 measure=0 limit=1 began
  began=$(date +%s)
  while kill -0 "${import_pid}" 2>/dev/null; do
    items=$(metric vectord_index_items)
    items=${items:-0}
    if [[ ${kind} == old ]]; then
      measure=$(segment_bytes "${data}")
      limit=$((64 << 20))
    else
      measure=$(metric vectord_index_log_replay_estimate_seconds)
      limit=$(metric vectord_index_log_replay_budget_seconds)
    fi
    if awk -v i="${items}" -v m="${measure:-0}" -v l="${limit:-1}" -v min="${min_items}" \
      'BEGIN { exit !(i >= min && m >= 0.9 * l) }'; then
      break
    fi
    sleep 0.2
  done
  local estimate checkpoints
  estimate=$(metric vectord_index_log_replay_estimate_seconds)
  checkpoints=$(curl -s "http://127.0.0.1:${port}/metrics" | awk '$1 == "vectord_checkpoints_total" { print $2 }')
  kill -9 "${server_pid}"
  wait "${server_pid}" 2>/dev/null || true
  kill -9 "${import_pid}" 2>/dev/null || true
  wait "${import_pid}" 2>/dev/null || true
  server_pid="" import_pid=""
  local ingest_seconds=$(($(date +%s) - began))
  local snapshot log
  snapshot=$(du -sm "${data}/_vectors/startup.hnsw" 2>/dev/null | cut -f1 || true)
  log=$(du -sm "${data}/_vectors/startup.wal" | cut -f1)
  sync
  if [[ ${DROP_CACHES:-0} == 1 ]]; then echo 3 >/proc/sys/vm/drop_caches; fi
  local started
  started=$(date +%s.%N)
  ./"${build}"/src/vectord --bind "127.0.0.1:${port}" --data-dir "${data}" "$@" \
    >"${work}/${kind}-restart.log" 2>&1 &
  server_pid=$!
  local ready
  ready=$(wait_ready "${started}")
  local after replay loaded
  after=$(metric vectord_index_log_replay_estimate_seconds)
  replay=$(sed -n 's/.*event=wal_replayed .*records=\([0-9]*\) seconds=\([0-9.]*\).*/\1 records, \2 s/p' \
    "${work}/${kind}-restart.log")
  loaded=$(sed -n 's/.*event=rehydrated .*items=\([0-9]*\) seconds=\([0-9.]*\).*/\1 items, \2 s/p' \
    "${work}/${kind}-restart.log")
  kill -9 "${server_pid}"
  wait "${server_pid}" 2>/dev/null || true
  server_pid=""
  printf '| %s | %s | %s | %s MB | %s MB | %.2f s | %s | %s | **%s s** | %.2f s |\n' \
    "${label}" "${items}" "${checkpoints:-0}" "${snapshot:-0}" "${log}" "${estimate:-0}" \
    "${replay:-none}" "${loaded}" "${ready}" "${after:-0}"
  echo "${label}: ingest ran ${ingest_seconds} s" >&2
}

{
  echo "## Start-up at the worst point of each checkpoint policy"
  echo
  echo "Command: \`BUILD=${build} bench/run-startup-bound.sh ${n} ${min_items}\`" \
    "($(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD), $(nproc) cores," \
    "$(lscpu | sed -n 's/^Model name: *//p'))"
  echo
  echo "| policy | items at the kill | checkpoints before | snapshot | log | replay estimate at the kill | replayed at restart | index loaded | to ready | estimate after restart |"
  echo "|---|---:|---:|---:|---:|---:|---|---|---:|---:|"
  run_policy "old: checkpoint_bytes 64 MiB only" old \
    --checkpoint-replay-seconds 86400 --checkpoint-bytes $((64 << 20))
  run_policy "new: checkpoint_replay_seconds 10 (+ 64 MiB cap)" new \
    --checkpoint-replay-seconds 10 --checkpoint-bytes $((64 << 20))
} | tee "${out}"
