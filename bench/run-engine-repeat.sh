#!/usr/bin/env bash
# The float walk against hnswlib on Fashion-MNIST, repeated: this VM's speed
# drifts by 10-25% between runs, so one table cannot settle a margin of that
# size. Runs engine_bench ROUNDS times (vectord and hnswlib interleaved inside
# each run, best of 3 passes per ef), then prints each run's QPS ratio and the
# median. The indexes are built once and cached in INDEX_CACHE (default
# bench/out/fashion.idx); recall is the same in every run.
#   bench/run-engine-repeat.sh [ROUNDS] [extra engine_bench flags]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-10}
shift || true
cache=${INDEX_CACHE:-bench/out/fashion.idx}
./scripts/install-deps.sh
cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DVECTORD_BUILD_BENCH=ON -DBUILD_TESTING=OFF >/dev/null
cmake --build build-bench --target engine_bench -j "$(nproc)"
mkdir -p bench/out
stamp=$(date -u +%Y%m%dT%H%M%SZ)
raw=bench/out/engine-repeat-${stamp}.txt
for round in $(seq "${rounds}"); do
  echo "== round ${round}" >>"${raw}"
  ./build-bench/bench/engine_bench --dataset fashion-mnist --peers vectord,hnswlib --ef 16,32 \
    --runs 3 --index-cache "${cache}" --build-threads 1 "$@" | grep -E '^\| (16|32) ' >>"${raw}"
done
# Rows: | ef | vectord recall | vectord QPS | hnswlib recall | hnswlib QPS |
awk -F'|' '
  /^\| (16|32) / {
    ef = $2 + 0; ratio = $4 / $6
    n[ef]++; r[ef, n[ef]] = ratio; v[ef, n[ef]] = $4 + 0; h[ef, n[ef]] = $6 + 0
    rv[ef] = $3 + 0; rh[ef] = $5 + 0
  }
  function median(key, count,    i, j, t, a) {
    for (i = 1; i <= count; i++) a[i] = key == "r" ? r[ef, i] : key == "v" ? v[ef, i] : h[ef, i]
    for (i = 1; i <= count; i++) for (j = i + 1; j <= count; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return count % 2 ? a[(count + 1) / 2] : (a[count / 2] + a[count / 2 + 1]) / 2
  }
  END {
    printf "| ef | recall vectord / hnswlib | runs | vectord/hnswlib QPS per run | median ratio | min | median QPS vectord | median QPS hnswlib |\n"
    printf "|---:|---|---:|---|---:|---:|---:|---:|\n"
    for (ef = 16; ef <= 32; ef += 16) {
      list = ""; lo = 1e9
      for (i = 1; i <= n[ef]; i++) { list = list sprintf("%s%.2f", i > 1 ? " " : "", r[ef, i]); if (r[ef, i] < lo) lo = r[ef, i] }
      printf "| %d | %.4f / %.4f | %d | %s | **%.2fx** | %.2fx | %.0f | %.0f |\n", ef, rv[ef], rh[ef], n[ef], list, median("r", n[ef]), lo, median("v", n[ef]), median("h", n[ef])
    }
  }' "${raw}" | tee "bench/out/engine-repeat-${stamp}.md"
