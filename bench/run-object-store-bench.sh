#!/usr/bin/env bash
# The object-store benchmark of bench/RESULTS.md: ingest N x 768-d vectors in
# batches of 1024 with local persistence only and with an S3 bucket (s3rver
# on loopback) as the durable tier, then a cold start from the bucket with an
# empty disk. Needs an otherwise idle machine.
#   bench/run-object-store-bench.sh [N=100000]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000}
./scripts/install-deps.sh
cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DVECTORD_BUILD_BENCH=ON -DBUILD_TESTING=OFF >/dev/null
cmake --build build-bench --target server_bench vectord -j "$(nproc)"
work=$(mktemp -d)
port=19455
NODE_OPTIONS=--openssl-legacy-provider s3rver -d "$work" -a 127.0.0.1 -p $port \
  --configure-bucket lakehouse --silent &
s3=$!
trap 'kill $s3 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
mkdir -p bench/out
AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER \
  ./build-bench/bench/server_bench --vectord build-bench/src/vectord --n "$n" --batches 1024 \
  --queries 200 --no-durability-variants --low-ef-construction 0 \
  --object-store "http://127.0.0.1:$port/lakehouse" |
  tee "bench/out/object-store-$(date -u +%Y%m%dT%H%M%SZ).md"
du -sh "$work"
