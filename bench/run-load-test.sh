#!/usr/bin/env bash
# The load run of issue #8: a mixed read/write load from CONNECTIONS
# keep-alive clients (wrk, bench/load/mixed.lua) against vectord on loopback
# for SECONDS, sampling its resident memory and open descriptors every 10 s.
#   bench/run-load-test.sh [SECONDS (300)] [CONNECTIONS (256)]
# Prints a Markdown report (also kept in bench/out/): wrk's totals, errors and
# latency percentiles, memory after warm-up (60 s) and at the end, and the
# descriptor count before and after. Needs an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-300}
connections=${2:-256}
dim=384
ids=20000

source bench/load/serve-filled-index.sh

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/${server_pid}/status"; }
fds() { ls "/proc/${server_pid}/fd" | wc -l; }
fds_before=$(fds)
samples="${work}/samples.txt"
(
  for ((t = 10; t <= seconds; t += 10)); do
    sleep 10
    echo "${t} $(rss_kb) $(fds)" >>"${samples}"
  done
) &
sampler=$!

LOAD_DIM=${dim} LOAD_IDS=${ids} wrk -t2 -c"${connections}" -d"${seconds}s" --timeout 10s --latency \
  -s bench/load/mixed.lua "${base}/" >"${work}/wrk.txt" 2>&1
wait "${sampler}" || true
# wrk stops with requests still queued in the server (writes wait their turn
# to be applied); their connections close once answered. Wait for that (at
# most 60 s) before counting descriptors, or a backlog would look like a leak.
drain_start=$(date +%s)
while (($(fds) > fds_before + 2 && $(date +%s) - drain_start < 60)); do sleep 1; done
drain_seconds=$(($(date +%s) - drain_start))
fds_after=$(fds)
health=$(curl -s -o /dev/null -w '%{http_code}' "${base}/health")
length=$(curl -s "${base}/vectors/index/load" | sed -n 's/.*"length":\([0-9]*\).*/\1/p')

rss_warm=$(awk '$1 == 60 {print $2}' "${samples}")
rss_end=$(tail -1 "${samples}" | awk '{print $2}')
rss_max=$(awk 'BEGIN {m = 0} $1 >= 60 && $2 > m {m = $2} END {print m}' "${samples}")
requests=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "${work}/wrk.txt")
rate=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "${work}/wrk.txt")
p50=$(awk '$1 == "50%" {print $2}' "${work}/wrk.txt")
p90=$(awk '$1 == "90%" {print $2}' "${work}/wrk.txt")
p99=$(awk '$1 == "99%" {print $2}' "${work}/wrk.txt")
errors=$(grep -E "Socket errors|Non-2xx" "${work}/wrk.txt" || true)

mkdir -p bench/out
report="bench/out/load-$(date -u +%Y%m%dT%H%M%SZ).md"
{
  echo "## Load: ${connections} keep-alive clients, ${seconds} s, mixed read/write (bench/load/mixed.lua)"
  echo
  echo "Index: ${ids} x ${dim}-d cosine. Per request: 80% search k=10, 12% add of 8 (upserts), 4% get, 4% delete."
  echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//') ($(nproc) threads); wrk and vectord share them."
  echo
  echo "| requests | requests/s | errors | p50 | p90 | p99 | RSS at 60 s | RSS max after 60 s | RSS at end | growth after warm-up | fds before / after (drained in) | health after | items after |"
  echo "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  growth=$(awk -v a="${rss_warm}" -v b="${rss_max}" 'BEGIN {printf "%.1f%%", (b - a) * 100 / a}')
  echo "| ${requests} | ${rate} | ${errors:-none} | ${p50} | ${p90} | ${p99} | $((rss_warm / 1024)) MiB | $((rss_max / 1024)) MiB | $((rss_end / 1024)) MiB | ${growth} | ${fds_before} / ${fds_after} (${drain_seconds} s) | ${health} | ${length} |"
  echo
  echo "Samples (seconds, RSS KiB, open fds):"
  echo
  echo '```'
  cat "${samples}"
  echo '```'
  echo
  echo "wrk:"
  echo
  echo '```'
  cat "${work}/wrk.txt"
  echo '```'
} | tee "${report}"
