#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ (clang, ASan+UBSan) and runs each
# over its committed corpus for a while:
#   scripts/fuzz.sh [SECONDS_PER_TARGET (default 30)] [TARGET...]
# New inputs go to build-fuzz/corpus/<target> (the repo's seeds stay as they
# are); a crash leaves its input in build-fuzz/artifacts/ and fails the run.
# Prints one summary line per target: runs, coverage, corpus, crashes.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
shift || true

targets=("$@")
if ((${#targets[@]} == 0)); then
  targets=(http_request_fuzzer json_bodies_fuzzer config_fuzzer index_file_fuzzer
           wal_reader_fuzzer s3_xml_fuzzer)
fi
# FUZZ_SKIP_BUILD=1: the caller built them (bench/run-fuzz.sh runs several
# of these scripts at once).
if [[ "${FUZZ_SKIP_BUILD:-0}" != 1 ]]; then
  cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_COMPILER=clang++ -DVECTORD_FUZZ=ON -DBUILD_TESTING=OFF >/dev/null
  cmake --build build-fuzz -j "$(nproc)" --target "${targets[@]}"
fi

mkdir -p build-fuzz/artifacts build-fuzz/logs
failed=0
printf '| target | seconds | runs | runs/s | coverage (edges) | features | corpus | crashes |\n'
printf '|---|---:|---:|---:|---:|---:|---:|---:|\n'
for target in "${targets[@]}"; do
  name=${target%_fuzzer}
  mkdir -p "build-fuzz/corpus/${name}"
  log="build-fuzz/logs/${name}.log"
  status=0
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "build-fuzz/fuzz/${target}" -max_total_time="${seconds}" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="build-fuzz/artifacts/${name}-" \
    "build-fuzz/corpus/${name}" "fuzz/corpus/${name}" >"${log}" 2>&1 || status=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "${log}" | tail -1)
  done_line=$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE|INITED)' "${log}" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"${done_line}")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"${done_line}")
  corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"${done_line}")
  crashes=0
  if ((status != 0)); then
    crashes=1
    failed=1
  fi
  printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "${name}" "${seconds}" "${runs:-?}" \
    "$(( ${runs:-0} / seconds ))" "${cov:-?}" "${ft:-?}" "${corp:-?}" "${crashes}"
  if ((status != 0)); then
    echo "== ${target} failed (exit ${status}); its log:" >&2
    tail -60 "${log}" >&2
  fi
done
exit "${failed}"
