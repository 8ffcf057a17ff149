#!/usr/bin/env bash
# The engine benchmark of bench/RESULTS.md: vectord's engine, hnswlib and FAISS
# side by side on Fashion-MNIST and the 768-d embedding-like set. Needs an
# otherwise idle machine; takes about 30 minutes on 2 cores.
#   bench/run-engine-bench.sh [extra engine_bench flags]
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DVECTORD_BUILD_BENCH=ON -DBUILD_TESTING=OFF >/dev/null
cmake --build build-bench --target engine_bench -j "$(nproc)"
mkdir -p bench/data bench/out
stamp=$(date -u +%Y%m%dT%H%M%SZ)
for dataset in fashion-mnist embedding-768; do
  ./build-bench/bench/engine_bench --dataset "${dataset}" "$@" | tee "bench/out/engine-${dataset}-${stamp}.md"
done
