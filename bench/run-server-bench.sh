#!/usr/bin/env bash
# The server benchmark of bench/RESULTS.md: vectord over HTTP next to the
# engine in-process, and the write-path variants (fsync always / interval /
# none, whole-snapshot rewrite per batch). Needs an otherwise idle machine.
#   bench/run-server-bench.sh [extra server_bench flags]
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DVECTORD_BUILD_BENCH=ON -DBUILD_TESTING=OFF >/dev/null
cmake --build build-bench --target server_bench vectord -j "$(nproc)"
mkdir -p bench/out
./build-bench/bench/server_bench --vectord build-bench/src/vectord "$@" | tee "bench/out/server-$(date -u +%Y%m%dT%H%M%SZ).md"
