#!/usr/bin/env bash
# vectorctl import of Fashion-MNIST (60,000 x 784) against the service
# layer's own insert rate, and the recall self-check's cost to searches.
#   bench/run-import-bench.sh [CONNECTIONS]
# Needs an otherwise idle machine; about 5 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
connections=${1:-2}
fashion=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
./scripts/install-deps.sh
cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DVECTORD_BUILD_BENCH=ON -DBUILD_TESTING=OFF >/dev/null
cmake --build build-bench --target vectord vectorctl service_insert_bench -j "$(nproc)"
mkdir -p bench/out
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=bench/out/import-${stamp}.md
port=18391
work=$(mktemp -d)
server_pid=""
cleanup() {
  if [[ -n "${server_pid}" ]]; then kill "${server_pid}" 2>/dev/null || true; wait "${server_pid}" 2>/dev/null || true; fi
  rm -rf "${work}"
}
trap cleanup EXIT

# Starts vectord with the given flags and waits until it is ready.
start_server() {
  ./build-bench/src/vectord --bind "127.0.0.1:${port}" "$@" >"${work}/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 100); do
    if curl -sf "http://127.0.0.1:${port}/ready" >/dev/null; then return; fi
    sleep 0.1
  done
  echo "vectord did not start" >&2
  cat "${work}/server.log" >&2
  exit 1
}
stop_server() {
  kill "${server_pid}"
  wait "${server_pid}" || true
  server_pid=""
}

# One import into a fresh index; prints the table row.
import_row() {
  local label=$1
  shift
  start_server "$@"
  local ctl=(./build-bench/src/vectorctl --server "127.0.0.1:${port}" -q)
  "${ctl[@]}" create fashion -d 784 --distance euclidean >/dev/null
  local begin end
  begin=$(date +%s.%N)
  "${ctl[@]}" import fashion "${fashion}" --connections "${connections}" 2>"${work}/import.log"
  end=$(date +%s.%N)
  local count
  count=$(curl -s "http://127.0.0.1:${port}/vectors/index/fashion" | sed -n 's/.*"length":\([0-9]*\).*/\1/p')
  stop_server
  awk -v label="${label}" -v n="${count}" -v b="${begin}" -v e="${end}" \
    'BEGIN { printf "| %s | %d | %.1f | %.0f |\n", label, n, e - b, n / (e - b) }'
}

./build-bench/bench/service_insert_bench --fashion-dir "$(dirname "${fashion}")" --seconds 20 >"${work}/in-process.md"
{
  echo "## Import of Fashion-MNIST: vectorctl against the service layer"
  echo
  echo "Command: \`bench/run-import-bench.sh ${connections}\` ($(date -u +%Y-%m-%d), $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'))"
  echo
  echo "| what | items | seconds | items/s |"
  echo "|---|---:|---:|---:|"
  sed -n '1p' "${work}/in-process.md"
  import_row "vectorctl import, gzip idx file, ${connections} connections, batches of 1024 -> vectord --ephemeral" --ephemeral
  import_row "the same -> vectord with local persistence (fsync=always, the default)" --data-dir "${work}/data"
  echo
  sed -n '2,$p' "${work}/in-process.md"
} | tee "${out}"
