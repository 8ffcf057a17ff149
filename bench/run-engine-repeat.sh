#!/usr/bin/env bash
# Peers against hnswlib, repeated: this VM's speed drifts by 10-25% between
# runs, so one table cannot settle a margin of that size. Runs engine_bench
# ROUNDS times (peers interleaved inside each run, best of 3 passes per ef),
# then prints, for every peer and ef, each run's QPS ratio to hnswlib and the
# median. The vectord and hnswlib indexes are built once and cached in
# INDEX_CACHE (default bench/out/DATASET.idx); recall is the same in every run.
#   [DATASET=fashion-mnist] [PEERS=vectord] [EFS=16,32] \
#     bench/run-engine-repeat.sh [ROUNDS] [extra engine_bench flags]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-10}
shift || true
dataset=${DATASET:-fashion-mnist}
peers=${PEERS:-vectord}  # hnswlib, the reference, is always added
efs=${EFS:-16,32}
cache=${INDEX_CACHE:-bench/out/${dataset}.idx}
./scripts/install-deps.sh
cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DVECTORD_BUILD_BENCH=ON -DBUILD_TESTING=OFF >/dev/null
cmake --build build-bench --target engine_bench -j "$(nproc)"
mkdir -p bench/out bench/data
stamp=$(date -u +%Y%m%dT%H%M%SZ)
raw=bench/out/engine-repeat-${dataset}-${stamp}.txt
for round in $(seq "${rounds}"); do
  echo "== round ${round}" >>"${raw}"
  ./build-bench/bench/engine_bench --dataset "${dataset}" --peers "${peers},hnswlib" --ef "${efs}" \
    --runs 3 --index-cache "${cache}" --build-threads 1 "$@" |
    grep -E '^\| (ef|[0-9]+) ' >>"${raw}"
done
# Header: | ef | P1 recall@10 | P1 QPS | P2 recall@10 | P2 QPS | ...
# Rows:   | ef | recall | QPS | recall | QPS | ...
awk -F'|' '
  function trim(x) { gsub(/^ +| +$/, "", x); return x }
  function median(list, count,    i, j, t, a) {
    split(list, a, " ")
    for (i = 1; i <= count; i++) for (j = i + 1; j <= count; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return count % 2 ? a[(count + 1) / 2] : (a[count / 2] + a[count / 2 + 1]) / 2
  }
  /^\| ef / {
    peers = 0
    for (c = 3; c <= NF; c += 2) { name = trim($c); sub(/ recall@10$/, "", name); if (name == "") continue; peer[++peers] = name; if (name == "hnswlib") ref = c }
    next
  }
  /^\| [0-9]+ / {
    ef = $2 + 0
    if (!(ef in seen)) { seen[ef] = 1; order[++efs] = ef }
    for (p = 1; p <= peers; p++) {
      c = 2 * p + 1
      recall[p, ef] = trim($c)
      if (peer[p] == "hnswlib") continue
      ratio = $(c + 1) / $(ref + 1)
      runs[p, ef]++
      ratios[p, ef] = ratios[p, ef] (runs[p, ef] > 1 ? " " : "") sprintf("%.2f", ratio)
    }
  }
  END {
    printf "| peer | ef | recall / hnswlib | runs | QPS ratio to hnswlib per run | median | min |\n"
    printf "|---|---:|---|---:|---|---:|---:|\n"
    for (p = 1; p <= peers; p++) {
      if (peer[p] == "hnswlib") continue
      for (e = 1; e <= efs; e++) {
        ef = order[e]; n = runs[p, ef]
        split(ratios[p, ef], a, " "); lo = a[1]; for (i = 2; i <= n; i++) if (a[i] + 0 < lo + 0) lo = a[i]
        printf "| %s | %d | %s / %s | %d | %s | **%.2fx** | %.2fx |\n", peer[p], ef, recall[p, ef], recall[ref_peer(), ef], n, ratios[p, ef], median(ratios[p, ef], n), lo
      }
    }
  }
  function ref_peer(   p) { for (p = 1; p <= peers; p++) if (peer[p] == "hnswlib") return p }
' "${raw}" | tee "bench/out/engine-repeat-${dataset}-${stamp}.md"
