#!/usr/bin/env bash
# Recovery time after kill -9: ingest N DIM-d vectors into a fresh server in
# batches of 1024 (stdlib Python client), SIGKILL it, drop the page cache
# (needs root; skipped otherwise), restart, and report the time from
# event=starting to event=ready and the peak RSS.
#   bench/measure-recovery.sh [N=100000] [DIM=768]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000}
dim=${2:-768}
binary=build-bench/src/vectord
[[ -x $binary ]] || { echo "build first: bench/run-server-bench.sh" >&2; exit 1; }
work=$(mktemp -d)
trap 'kill -9 $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
port=18311
"$binary" --bind 127.0.0.1:$port --data-dir "$work/data" --log-level warn 2>"$work/ingest.log" &
sleep 0.5
python3 - "$port" "$n" "$dim" <<'PY'
import http.client, json, random, sys
random.seed(1)
port, n, dim = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
c = http.client.HTTPConnection("127.0.0.1", port)
c.request("POST", "/vectors/index", json.dumps({"name": "rec", "dimension": dim})); c.getresponse().read()
centres = [[random.gauss(0, 1) for _ in range(dim)] for _ in range(50)]
for first in range(0, n, 1024):
    items = [{"id": str(i), "vector": [round(x + random.gauss(0, 0.5), 4) for x in centres[i % 50]]}
             for i in range(first, min(n, first + 1024))]
    c.request("POST", "/vectors/index/rec/add", json.dumps({"items": items}))
    r = c.getresponse(); body = r.read()
    if r.status != 200: sys.exit(f"add failed: {r.status} {body!r}")
PY
kill -9 %1
wait %1 2>/dev/null || true
sync
echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || echo "(page cache not dropped: not root)"
du -sh "$work/data/_vectors"/*
"$binary" --bind 127.0.0.1:$((port + 1)) --data-dir "$work/data" 2>"$work/restart.log" &
pid=$!
for _ in $(seq 3000); do grep -q "event=ready" "$work/restart.log" && break; sleep 0.1; done
grep -E "event=(starting|rehydrated|wal_torn_tail|ready)" "$work/restart.log" | cut -c1-160
grep VmHWM "/proc/$pid/status"
kill -TERM $pid; wait $pid || true
