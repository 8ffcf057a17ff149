#!/usr/bin/env bash
# Many small indexes on one node (issue #21): for each count N, a fresh
# vectord (local data dir, fsync always, ulimit -n 1024) gets N indexes of
# 64-d, first empty, then ITEMS vectors each (one add per index), and the
# script prints, per N:
#   - create rate (indexes/s, 8 requests in flight through one curl);
#   - resident memory per index beyond the empty server, empty and with data;
#   - open descriptors and threads of the server;
#   - restart: process start to GET /ready = 200, with every index on disk,
#     under --memory-limit LIMIT (default 64 MiB: most indexes stay
#     unloaded);
#   - the first search of 300 random indexes after the restart (each loads
#     its index: cold), p50 and p99 as curl times them one after another,
#     then the same searches again (warm), and the RSS beyond the empty
#     server after them.
# Requests go through one curl process (--parallel, keep-alive).
# BUCKET=1 adds an S3 bucket (s3rver on loopback, a fresh one per count):
# every index is then also in the bucket, writes wait for it, the server is
# killed with SIGKILL instead of stopped (a graceful stop would upload a
# snapshot of every index first), and the restart lists the bucket in the
# background. Either way the restarted server must hold every item of the
# 300 sampled indexes.
#   bench/run-many-indexes.sh [COUNTS=1000,10000] [ITEMS=100]   (LIMIT=bytes, BUCKET=1)
# BUILD names the build directory (default build-bench, Release; built here
# when it has no vectord).
set -euo pipefail
cd "$(dirname "$0")/.."
counts=${1:-1000,10000}
items=${2:-100}
build=${BUILD:-build-bench}
limit=${LIMIT:-67108864}
if [[ ! -x ${build}/src/vectord ]]; then
  cmake -S . -B "${build}" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
  cmake --build "${build}" --target vectord -j "$(nproc)"
fi
work=$(mktemp -d)
server_pid=
s3_pid=
cleanup() {
  [[ -n ${server_pid} ]] && kill -9 "${server_pid}" 2>/dev/null || true
  [[ -n ${s3_pid} ]] && kill "${s3_pid}" 2>/dev/null || true
  rm -rf "${work}"
}
trap cleanup EXIT

port=$((20000 + RANDOM % 20000))
url=http://127.0.0.1:${port}
s3_port=$((port + 1))
bucket_args=()
if [[ ${BUCKET:-0} == 1 ]]; then
  bucket_args=(--storaged-url "http://127.0.0.1:${s3_port}/bench")
  export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
fi
start_bucket() {
  [[ ${BUCKET:-0} == 1 ]] || return 0
  [[ -n ${s3_pid} ]] && { kill "${s3_pid}" 2>/dev/null || true; wait "${s3_pid}" 2>/dev/null || true; }
  rm -rf "${work}/s3" && mkdir -p "${work}/s3"
  NODE_OPTIONS=--openssl-legacy-provider s3rver -d "${work}/s3" -a 127.0.0.1 -p "${s3_port}" \
    --configure-bucket bench --silent &
  s3_pid=$!
  for _ in $(seq 200); do (echo >"/dev/tcp/127.0.0.1/${s3_port}") 2>/dev/null && return 0; sleep 0.1; done
  echo "s3rver did not come up" >&2
  exit 1
}

start_server() {
  (
    ulimit -n 1024
    exec "${build}/src/vectord" --data-dir "${work}/data" --bind "127.0.0.1:${port}" \
      --log-level warn "${bucket_args[@]}" "$@" >"${work}/log" 2>&1
  ) &
  server_pid=$!
  for _ in $(seq 1 6000); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' "${url}/ready") == 200 ]] && return 0
    kill -0 "${server_pid}" 2>/dev/null || { cat "${work}/log"; exit 1; }
    sleep 0.01
  done
  echo "server not ready in 60 s" >&2
  exit 1
}
stop_server() {
  kill "${server_pid}"
  wait "${server_pid}" 2>/dev/null || true
  server_pid=
}
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/${server_pid}/status"; }
fds() { ls "/proc/${server_pid}/fd" | wc -l; }
threads() { awk '/^Threads/ {print $2}' "/proc/${server_pid}/status"; }
now() { date +%s.%N; }

# One add body with ITEMS random 64-d vectors, shared by every index.
awk -v n="${items}" 'BEGIN {
  srand(7); printf "{\"items\":["
  for (i = 0; i < n; i++) {
    printf "%s{\"id\":\"v%d\",\"vector\":[", (i ? "," : ""), i
    for (d = 0; d < 64; d++) printf "%s%.4f", (d ? "," : ""), rand() * 2 - 1
    printf "]}"
  }
  printf "]}" }' >"${work}/add.json"

# One search body (a 64-d query).
awk 'BEGIN { srand(11); printf "{\"k\":10,\"vector\":["
  for (d = 0; d < 64; d++) printf "%s%.4f", (d ? "," : ""), rand() * 2 - 1
  printf "]}" }' >"${work}/search.json"
# p50 and p99 in ms of the times (s), one per line, in file $1.
percentiles() {
  sort -g "$1" | awk '{ t[NR] = $1 } END {
    p50 = t[int(NR * 0.50 + 0.5)]; p99 = t[int(NR * 0.99 + 0.5)]
    printf "%.1f / %.1f", p50 * 1000, p99 * 1000 }'
}

echo "| indexes | create rate (/s) | add rate (/s) | RSS per empty index (B) | RSS per index with ${items} x 64-d (B) | descriptors | threads | restart to ready (s) | all listed (s) | first search, cold: p50 / p99 (ms) | again, warm (ms) | RSS after, beyond empty server (MiB) |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for n in ${counts//,/ }; do
  rm -rf "${work}/data"
  start_bucket
  start_server
  base=$(rss_kb)
  # The curl configs, written by awk (a shell loop takes minutes at 100,000).
  awk -v n="${n}" -v url="${url}" -v body="${work}/add.json" -v creates="${work}/create.cfg" \
    -v adds="${work}/add.cfg" 'BEGIN {
      for (i = 1; i <= n; i++) {
        if (i > 1) { print "next" > creates; print "next" > adds }
        printf "url = \"%s/vectors/index\"\nrequest = \"POST\"\ndata = \"{\\\"name\\\":\\\"t%d\\\",\\\"dimension\\\":64,\\\"distance\\\":\\\"euclidean\\\"}\"\noutput = \"/dev/null\"\nwrite-out = \"%%{http_code}\\n\"\n", url, i > creates
        printf "url = \"%s/vectors/index/t%d/add\"\nrequest = \"POST\"\ndata = \"@%s\"\noutput = \"/dev/null\"\nwrite-out = \"%%{http_code}\\n\"\n", url, i, body > adds
      }
    }'
  t0=$(now)
  curl -s --no-progress-meter -Z --parallel-max 8 -H 'Content-Type: application/json' -K "${work}/create.cfg" >"${work}/create.codes"
  t1=$(now)
  created=$(grep -c '^201$' "${work}/create.codes" || true)
  [[ ${created} == "${n}" ]] || { echo "only ${created} of ${n} creates answered 201" >&2; sort "${work}/create.codes" | uniq -c >&2; exit 1; }
  empty=$(rss_kb)
  t_add=$(now)
  curl -s --no-progress-meter -Z --parallel-max 8 -H 'Content-Type: application/json' -K "${work}/add.cfg" >"${work}/add.codes"
  t_added=$(now)
  added=$(grep -c '^200$' "${work}/add.codes" || true)
  [[ ${added} == "${n}" ]] || { echo "only ${added} of ${n} adds answered 200" >&2; exit 1; }
  full=$(rss_kb)
  descriptors=$(fds)
  thread_count=$(threads)
  if [[ ${BUCKET:-0} == 1 ]]; then
    kill -9 "${server_pid}"
    wait "${server_pid}" 2>/dev/null || true
    server_pid=
  else
    stop_server
  fi
  t2=$(now)
  start_server --memory-limit "${limit}"
  t3=$(now)
  # With a bucket the list waits for the bucket's listing (503 "retry" after
  # 10 s): until it answers.
  listed=
  for _ in $(seq 1 120); do
    listed=$(curl -s "${url}/vectors/index" | grep -o '"count":[0-9]*' | cut -d: -f2 || true)
    [[ -n ${listed} ]] && break
  done
  t_listed=$(now)
  [[ ${listed} == "${n}" ]] || { echo "restart lists ${listed} of ${n}" >&2; exit 1; }
  : >"${work}/search.cfg"
  for i in $(shuf -i 1-"${n}" -n 300 --random-source=<(yes)); do
    [[ -s ${work}/search.cfg ]] && echo next >>"${work}/search.cfg"
    printf 'url = "%s/vectors/index/t%d/search"\nrequest = "POST"\ndata = "@%s"\noutput = "/dev/null"\nwrite-out = "%%{http_code} %%{time_total}\\n"\n' \
      "${url}" "${i}" "${work}/search.json" >>"${work}/search.cfg"
  done
  for pass in cold warm; do
    curl -s --no-progress-meter -H 'Content-Type: application/json' -K "${work}/search.cfg" >"${work}/${pass}.out"
    bad=$(grep -vc '^200 ' "${work}/${pass}.out" || true)
    [[ ${bad} == 0 ]] || { echo "${bad} ${pass} searches failed" >&2; sort "${work}/${pass}.out" | head >&2; exit 1; }
    cut -d' ' -f2 "${work}/${pass}.out" >"${work}/${pass}.times"
  done
  after=$(rss_kb)
  # Nothing acknowledged is lost: every sampled index holds its items.
  sed -e 's|/search"|"|' -e 's|request = "POST"|request = "GET"|' -e '/^data = /d' \
    -e 's|write-out = .*|write-out = "\\n"|' -e 's|output = "/dev/null"||' "${work}/search.cfg" >"${work}/get.cfg"
  curl -s --no-progress-meter -K "${work}/get.cfg" >"${work}/get.out"
  whole=$(grep -c "\"length\":${items}," "${work}/get.out" || true)
  [[ ${whole} == 300 ]] || { echo "only ${whole} of 300 sampled indexes hold their ${items} items" >&2; head -3 "${work}/get.out" >&2; exit 1; }
  stop_server
  awk -v n="${n}" -v t0="${t0}" -v t1="${t1}" -v ta="${t_add}" -v tb="${t_added}" -v t2="${t2}" -v tl="${t_listed}" -v t3="${t3}" -v base="${base}" \
    -v empty="${empty}" -v full="${full}" -v fd="${descriptors}" -v th="${thread_count}" \
    -v cold="$(percentiles "${work}/cold.times")" -v warm="$(percentiles "${work}/warm.times")" \
    -v after="${after}" 'BEGIN {
      printf "| %d | %.0f | %.0f | %.0f | %.0f | %d | %d | %.2f | %.1f | %s | %s | %.1f |\n", n, n / (t1 - t0), n / (tb - ta),
        (empty - base) * 1024 / n, (full - base) * 1024 / n, fd, th, t3 - t2, tl - t2, cold, warm,
        (after - base) / 1024 }'
done
