#!/usr/bin/env bash
# The cluster on this machine (coordinator, 2 workers, RabbitMQ and Redis all
# here) vs the DuckDB peer on the 1.5 M-record tenant. Reports wall time,
# worker peak RSS, messages published and Redis commands per input record.
#   bench/cluster.sh [ROUNDS] [WORKERS]
source "$(dirname "$0")/common.sh"
NS="bench-$$"
export RAPPORT_NAMESPACE=$NS RAPPORT_STAGING="$OUT/staging-$NS" RAPPORT_LISTEN=127.0.0.1:7199 RAPPORT_COORDINATOR=http://127.0.0.1:7199
WORKERS=${2:-2}
rm -f "$OUT"/worker-*.log
"$RAPPORT" coordinator 2>"$OUT/coordinator.log" &
pids=($!)
for i in $(seq 1 "$WORKERS"); do "$RAPPORT" worker 2>>"$OUT/worker-$i.log" & pids+=($!); done
cleanup() {
  kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null
  redis-cli --scan --pattern "$NS:*" | xargs -r redis-cli del >/dev/null
  for q in "$NS.jobs" "$NS.jobs.dead"; do rabbitmqctl delete_queue "$q" >/dev/null 2>&1 || true; done
  rm -rf "$RAPPORT_STAGING"
}
trap cleanup EXIT
sleep 1
records=$(cat "$TENANT"/activity/*.jsonl | grep -c . || true)
for round in $(seq 1 "${1:-3}"); do
  echo "round $round ($WORKERS workers)"
  before=$(redis-cli info stats | awk -F: '/total_commands_processed/{print $2+0}')
  start=$(date +%s.%N)
  run=$("$RAPPORT" submit --config "$TENANT/tenant.toml" --out "$OUT/cluster" --wait)
  end=$(date +%s.%N)
  after=$(redis-cli info stats | awk -F: '/total_commands_processed/{print $2+0}')
  echo "submit --wait wall $(echo "$end - $start" | bc) s"
  "$RAPPORT" status "$run" | python3 -c "import json,sys; r=json.load(sys.stdin); print('phases', {k: round(v, 2) for k, v in r['phase_seconds'].items()})"
  jobs=$(python3 -c "import json; r=json.load(open('$OUT/cluster/run_report.json')); print(sum(r['jobs'].values()))")
  echo "messages published: $jobs jobs; redis commands: $((after - before)) ($(echo "scale=4; ($after - $before) / $records" | bc) per record)"
  for p in "${pids[@]:1}"; do echo "worker $p peak RSS $(awk '/VmHWM/{print $2, $3}' /proc/$p/status), now $(awk '/VmRSS/{print $2, $3}' /proc/$p/status)"; done
  peer
  cmp "$OUT/cluster/account_engagement.csv" "$OUT/peer/account_engagement.csv" && echo "outputs identical"
done
