#!/usr/bin/env bash
# Installs what is missing, builds vectord (and vectorctl) optimised, and starts it with local
# persistence in ./data (the embedded default), listening on 127.0.0.1:8090.
# Any arguments are passed to vectord (e.g. --bind 0.0.0.0:8090, -config FILE).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build build-release --target vectord vectorctl -j "$(nproc)"
exec ./build-release/src/vectord "$@"
