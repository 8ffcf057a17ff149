# Sourced by the bench/run-*.sh load scripts (from the repository root):
# builds vectord (Release), starts it on loopback with a fresh data directory
# under ${work}, and fills index "load" with ids 0..ids-1 (random vectors of
# ${dim} dimensions, batches of 1000). Sets work, server_pid, base; stops the
# server and removes ${work} on exit. Needs: dim, ids.
./scripts/install-deps.sh
cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DVECTORD_BUILD_BENCH=ON \
  -DBUILD_TESTING=OFF >/dev/null
cmake --build build-bench --target vectord -j "$(nproc)" >/dev/null

work=$(mktemp -d /tmp/vectord-load.XXXXXX)
server_pid=""
cleanup() {
  if [[ -n "${server_pid}" ]]; then kill "${server_pid}" 2>/dev/null || true; wait "${server_pid}" 2>/dev/null || true; fi
  rm -rf "${work}"
}
trap cleanup EXIT

build-bench/src/vectord --bind 127.0.0.1:0 --data-dir "${work}/data" >"${work}/server.log" 2>&1 </dev/null &
server_pid=$!
port=""
for _ in $(seq 1 200); do
  port=$(sed -n 's/.*event=listening.*addr=[^ ]*:\([0-9][0-9]*\).*/\1/p' "${work}/server.log" | head -1)
  [[ -n "${port}" ]] && break
  sleep 0.05
done
[[ -n "${port}" ]] || { cat "${work}/server.log" >&2; exit 1; }
base="http://127.0.0.1:${port}"
until curl -sf "${base}/ready" >/dev/null; do sleep 0.1; done

# The index, filled with ids 0..ids-1 in batches of 1000 (random unit-ish vectors).
curl -sf -X POST "${base}/vectors/index" -d "{\"name\":\"load\",\"dimension\":${dim}}" >/dev/null
for ((first = 0; first < ids; first += 1000)); do
  awk -v first="${first}" -v dim="${dim}" 'BEGIN {
    srand(first + 1); printf "{\"items\":[";
    for (i = first; i < first + 1000; i++) {
      printf "%s{\"id\":\"%d\",\"vector\":[", (i > first ? "," : ""), i;
      for (d = 0; d < dim; d++) printf "%s%.4f", (d > 0 ? "," : ""), rand() * 2 - 1;
      printf "]}";
    }
    printf "]}";
  }' >"${work}/batch.json"
  curl -sf -X POST "${base}/vectors/index/load/add" --data-binary @"${work}/batch.json" >/dev/null
done

