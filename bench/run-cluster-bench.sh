#!/usr/bin/env bash
# The cluster benchmark (bench/cluster_bench.cc): three vectord nodes, etcd
# and s3rver on loopback; direct vs forwarded writes, replica lag under
# ingest, eventual vs strong searches on a replica, failover after kill -9 of
# the writer. Takes about 3 minutes with the defaults; needs an otherwise
# idle machine. The report goes to bench/results/cluster-<date>.md.
#   bench/run-cluster-bench.sh [cluster_bench flags, e.g. --quick or --failover-rounds 10]
# BUILD_DIR (build-bench), BUILD_TYPE (Release) and JOBS (nproc) choose the
# build; cluster_bench needs the tests' support code, so BUILD_TESTING is on.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build-bench}
./scripts/install-deps.sh
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}" \
  -DVECTORD_BUILD_BENCH=ON -DBUILD_TESTING=ON >/dev/null
cmake --build "$build" --target cluster_bench vectord -j "${JOBS:-$(nproc)}"
mkdir -p bench/results
out="bench/results/cluster-$(date -u +%Y-%m-%d).md"
# A second run on the same day keeps the first.
if [ -e "$out" ]; then out="bench/results/cluster-$(date -u +%Y-%m-%dT%H%M%SZ).md"; fi
"./$build/bench/cluster_bench" "$@" | tee "$out"
{
  echo "## Build"
  echo
  echo "- commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src bench || echo ' (with local changes)')"
  echo "- build: $build, ${BUILD_TYPE:-Release}, $(${CXX:-c++} --version | head -n 1)"
  echo "- etcd: $(etcd --version 2>/dev/null | head -n 1); s3rver: $(s3rver --version 2>/dev/null || echo '?')"
} | tee -a "$out"
echo "report: $out" >&2
