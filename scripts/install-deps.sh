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
  libspdlog-dev libfmt-dev libcurl4-openssl-dev libssl-dev libexpat1-dev prometheus-cpp-dev zlib1g-dev
  liburing-dev
  libhnswlib-dev libfaiss-dev libopenblas-dev
  prometheus wrk
  # the coordination and cluster tests start their own etcd on loopback ports
  etcd-server etcd-client
  # the dashboard test loads /dashboard in headless chromium
  chromium
  # vectorctl's import tests and the README's quick start read its files.
  dataset-fashion-mnist
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

# The S3-protocol server the storage tests start on loopback comes from npm.
if ! command -v npm >/dev/null 2>&1; then missing+=(nodejs npm); fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
if ((${#missing[@]} > 0)); then
  echo "installing: ${missing[*]}" >&2
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ! command -v s3rver >/dev/null 2>&1; then
  echo "installing: s3rver (npm)" >&2
  $SUDO npm install -g --no-fund --no-audit s3rver@3.7.1 >&2
fi
