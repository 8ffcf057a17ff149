#!/usr/bin/env bash
# Vectors on disk against vectors in memory (issue #20, item 2): resident
# memory after load and QPS / recall over an ef grid, warm and with the page
# cache dropped before each ef (needs root). Builds each data set's SQ8 index
# once into bench/out/ (a few minutes each), then loads it once per mode.
#   bench/run-disk-vectors.sh            # 200k x 768-d and 1M x 128-d
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build-bench/bench/disk_vectors_bench
cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DVECTORD_BUILD_BENCH=ON \
  -DBUILD_TESTING=OFF >/dev/null
cmake --build build-bench --target disk_vectors_bench -j "$(nproc)" >/dev/null
mkdir -p bench/out/vecfiles bench/data
stamp=$(date -u +%Y%m%dT%H%M%SZ)
raw=bench/out/disk-vectors-${stamp}.txt
run_set() {
  local args=("$@")
  for mode in "--vectors memory" "--vectors disk" "--vectors disk --cold"; do
    # shellcheck disable=SC2086
    "${bin}" "${args[@]}" --vector-dir bench/out/vecfiles ${mode} 2>/dev/null | tee -a "${raw}"
    echo | tee -a "${raw}"
  done
}
run_set --dim 768 --n 200000 --index-file bench/out/disk768-n200k.idx --ef 16,24,32,48,64
run_set --dim 128 --n 1000000 --clusters 1000 --index-file bench/out/disk128-n1m.idx \
  --ef 16,24,32,48,64
echo "raw output: ${raw}"
