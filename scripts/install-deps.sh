#!/usr/bin/env bash
# Installs every Debian package vectord needs to build, test and benchmark.
# Idempotent: packages already present are left alone; apt-get update runs
# only when something is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git curl ca-certificates
  clang libclang-rt-14-dev libfuzzer-14-dev clang-format clang-tidy
  libgtest-dev libgmock-dev libbenchmark-dev
  libsimdjson-dev libboost1.81-dev libtomlplusplus-dev libcli11-dev
  libspdlog-dev libfmt-dev libcurl4-openssl-dev prometheus-cpp-dev
  libhnswlib-dev libfaiss-dev libopenblas-dev
  prometheus wrk
)
if [[ "${VECTORD_BENCH_DATA:-0}" == 1 ]]; then
  packages+=(dataset-fashion-mnist)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
echo "installing: ${missing[*]}" >&2
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
