#!/usr/bin/env bash
# A/B of two engine_bench binaries, interleaved: for a refactor or a tuning
# change, "is the new engine as fast as the old one?". Each round runs A, then
# B (then B, then A in the next round, so neither always goes first), each
# against hnswlib in the same process; the VM's drift cancels in the ratio.
# Both binaries load the same cached indexes (the file format must agree).
#   DATASET=fashion-mnist EFS=16,32 PEERS=vectord,vectord-sq8 \
#     bench/run-engine-ab.sh OLD_ENGINE_BENCH NEW_ENGINE_BENCH [ROUNDS] [extra engine_bench flags]
# Build an old binary from a worktree at the old commit:
#   git worktree add --detach /tmp/old COMMIT && cmake -S /tmp/old -B /tmp/old/b \
#     -G Ninja -DCMAKE_BUILD_TYPE=Release -DVECTORD_BUILD_BENCH=ON -DBUILD_TESTING=OFF \
#     && cmake --build /tmp/old/b --target engine_bench
set -euo pipefail
cd "$(dirname "$0")/.."
old=$1
new=$2
rounds=${3:-3}
shift $(($# < 3 ? $# : 3))
dataset=${DATASET:-fashion-mnist}
peers=${PEERS:-vectord,vectord-sq8}
efs=${EFS:-16,32}
cache=${INDEX_CACHE:-bench/out/${dataset}.idx}
mkdir -p bench/out bench/data
stamp=$(date -u +%Y%m%dT%H%M%SZ)
raw=bench/out/engine-ab-${dataset}-${stamp}.txt
extra=("$@")
run() {
  echo "== $1" >>"${raw}"
  "$2" --dataset "${dataset}" --peers "${peers},hnswlib" --ef "${efs}" --runs 3 \
    --index-cache "${cache}" --build-threads 1 "${extra[@]}" | grep -E '^\| (ef|[0-9]+) ' >>"${raw}"
}
for round in $(seq "${rounds}"); do
  if ((round % 2)); then run A "${old}"; run B "${new}"; else run B "${new}"; run A "${old}"; fi
done
# Per side, peer and ef: each run's QPS ratio to hnswlib, and the median.
awk -F'|' '
  function trim(x) { gsub(/^ +| +$/, "", x); return x }
  function median(list, n,    i, j, t, a) {
    split(list, a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  /^== / { side = $0; sub(/^== /, "", side); next }
  /^\| ef / {
    peers = 0
    for (c = 3; c <= NF; c += 2) { name = trim($c); sub(/ recall@10$/, "", name); if (name == "") continue; peer[++peers] = name; if (name == "hnswlib") ref = c }
    next
  }
  /^\| [0-9]+ / {
    ef = $2 + 0
    if (!(ef in seen)) { seen[ef] = 1; order[++efs] = ef }
    for (p = 1; p <= peers; p++) {
      if (peer[p] == "hnswlib") continue
      c = 2 * p + 1
      key = side SUBSEP p SUBSEP ef
      recall[key] = trim($c)
      n[key]++
      list[key] = list[key] (n[key] > 1 ? " " : "") sprintf("%.3f", $(c + 1) / $(ref + 1))
    }
  }
  END {
    printf "| peer | ef | recall A / B | A: ratio to hnswlib per run | B: per run | median A | median B | B / A |\n"
    printf "|---|---:|---|---|---|---:|---:|---:|\n"
    for (p = 1; p <= peers; p++) {
      if (peer[p] == "hnswlib") continue
      for (e = 1; e <= efs; e++) {
        ef = order[e]; a = "A" SUBSEP p SUBSEP ef; b = "B" SUBSEP p SUBSEP ef
        ma = median(list[a], n[a]); mb = median(list[b], n[b])
        printf "| %s | %d | %s / %s | %s | %s | %.2fx | %.2fx | **%.3f** |\n", peer[p], ef, recall[a], recall[b], list[a], list[b], ma, mb, mb / ma
      }
    }
  }
' "${raw}" | tee "bench/out/engine-ab-${dataset}-${stamp}.md"
