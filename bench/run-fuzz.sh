#!/usr/bin/env bash
# The fuzzing record of bench/RESULTS.md: every libFuzzer target of fuzz/
# for SECONDS each (default 600), one per core at a time; prints the summary
# table of scripts/fuzz.sh (also kept in bench/out/).
#   bench/run-fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
./scripts/install-deps.sh
targets=(http_request_fuzzer json_bodies_fuzzer config_fuzzer index_file_fuzzer
         wal_reader_fuzzer s3_xml_fuzzer)
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DVECTORD_FUZZ=ON -DBUILD_TESTING=OFF >/dev/null
cmake --build build-fuzz -j "$(nproc)" --target "${targets[@]}" >/dev/null

# Deal the targets to one group per core; each group runs its targets in turn.
lanes=$(nproc)
declare -a groups
for i in "${!targets[@]}"; do groups[$((i % lanes))]+="${targets[$i]} "; done
work=$(mktemp -d)
status=0
pids=()
for lane in "${!groups[@]}"; do
  # shellcheck disable=SC2086
  FUZZ_SKIP_BUILD=1 ./scripts/fuzz.sh "${seconds}" ${groups[$lane]} >"${work}/${lane}.md" 2>&1 &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "${pid}" || status=1; done

mkdir -p bench/out
report="bench/out/fuzz-$(date -u +%Y%m%dT%H%M%SZ).md"
{
  echo "## Fuzzing: ${seconds} s per target, ${lanes} at a time (clang $(clang++ -dumpversion), libFuzzer, ASan+UBSan)"
  echo
  echo '| target | seconds | runs | runs/s | coverage (edges) | features | corpus | crashes |'
  echo '|---|---:|---:|---:|---:|---:|---:|---:|'
  grep -h '^| [a-z_0-9]* | [0-9]' "${work}"/*.md
  grep -hv '^|' "${work}"/*.md || true
} | tee "${report}"
rm -rf "${work}"
exit "${status}"
