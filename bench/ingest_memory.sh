#!/usr/bin/env bash
# One worker's memory, threads and CPU time over the first SECONDS of a run's
# ingest: a coordinator and one worker on this machine, the tenant submitted,
# the worker's RSS and thread count sampled every 0.5 s, then everything
# stopped and cleaned up. mimalloc's own figures (peak RSS, user and system
# time, threads) come from MIMALLOC_SHOW_STATS when the worker exits.
# Extra NAME=VALUE arguments go to the worker's environment (allocator
# options, say).
#   bench/ingest_memory.sh TENANT_DIR [SECONDS] [NAME=VALUE...]
# docs/scaling.md's probe: bench/ingest_memory.sh bench/tenants/huge 60
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RAPPORT="$ROOT/target/release/rapport"
TENANT=$(cd "$1" && pwd)
SECONDS_TO_SAMPLE=${2:-60}
shift $(( $# < 2 ? $# : 2 ))
OUT="$ROOT/bench/out/ingest-memory"
NS="imem-$$"
mkdir -p "$OUT"
(cd "$ROOT" && cargo build --release -q)
export RAPPORT_NAMESPACE=$NS RAPPORT_STAGING="$OUT/staging-$NS" RAPPORT_LISTEN=127.0.0.1:7197 RAPPORT_COORDINATOR=http://127.0.0.1:7197
"$RAPPORT" coordinator 2>"$OUT/coordinator.log" &
pids=($!)
env MIMALLOC_SHOW_STATS=1 "$@" "$RAPPORT" worker 2>"$OUT/worker.log" &
worker=$!
pids+=("$worker")
cleanup() {
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  redis-cli --scan --pattern "$NS:*" | xargs -r redis-cli del >/dev/null
  for q in "$NS.jobs" "$NS.jobs.dead"; do rabbitmqctl delete_queue "$q" >/dev/null 2>&1 || true; done
  rm -rf "$RAPPORT_STAGING" "$OUT/cluster"
}
trap cleanup EXIT
sleep 1
"$RAPPORT" submit --config "$TENANT/tenant.toml" --out "$OUT/cluster" >/dev/null
for i in $(seq 1 $((SECONDS_TO_SAMPLE * 2))); do
  sleep 0.5
  if (( i % 20 == 0 )); then
    printf "%ds: %d MiB, %d threads\n" $((i / 2)) \
      "$(( $(awk '/VmRSS/{print $2}' /proc/"$worker"/status) / 1024 ))" \
      "$(ls /proc/"$worker"/task | wc -l)"
  fi
done
echo "worker peak RSS (VmHWM): $(( $(awk '/VmHWM/{print $2}' /proc/"$worker"/status) / 1024 )) MiB"
kill "$worker"; wait "$worker" 2>/dev/null || true
grep -E "^ +(threads|purged) +:|^ +process +:" "$OUT/worker.log" || echo "(no allocator statistics: the worker did not exit cleanly)"
