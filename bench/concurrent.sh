#!/usr/bin/env bash
# Many runs at once: 8 tenants (the 1.5 M benchmark tenant and 7 of about
# 150 k records) submitted together to a coordinator with WORKERS workers,
# once executed one after the other (concurrent_runs = 1) and once all at
# once (concurrent_runs = 8). Reports the time until the last ended and each
# run's time from submission to end, and checks both ways wrote the same bytes.
#   bench/concurrent.sh [WORKERS]
# The large tenant is bench/tenants/big (see bench/scale.sh); the small ones
# are generated under bench/tenants/small-N when missing.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RAPPORT="$ROOT/target/release/rapport"
WORKERS=${1:-2}
OUT="$ROOT/bench/out/concurrent"
(cd "$ROOT" && cargo build --release -q)
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
[ -f "$ROOT/bench/tenants/big/tenant.toml" ] || "$RAPPORT" generate --out "$ROOT/bench/tenants/big" --seed 7 --users 2000 --accounts 20000 --emails 1050000 --meetings 160000 >/dev/null
TENANTS=("$ROOT/bench/tenants/big")
for i in 1 2 3 4 5 6 7; do
  t="$ROOT/bench/tenants/small-$i"
  [ -f "$t/tenant.toml" ] || "$RAPPORT" generate --out "$t" --seed $((100 + i)) --users 200 --accounts 2000 --emails 105000 --meetings 16000 >/dev/null
  TENANTS+=("$t")
done

one_way() { # LABEL CONCURRENT_RUNS
  local label=$1 runs=$2 ns="conc-$$-$1"
  export RAPPORT_NAMESPACE=$ns RAPPORT_STAGING="$OUT/staging-$ns" RAPPORT_LISTEN=127.0.0.1:7197 RAPPORT_COORDINATOR=http://127.0.0.1:7197
  RAPPORT_CONCURRENT_RUNS=$runs "$RAPPORT" coordinator 2>"$OUT/$label-coordinator.log" &
  local pids=($!)
  for w in $(seq 1 "$WORKERS"); do "$RAPPORT" worker 2>"$OUT/$label-worker-$w.log" & pids+=($!); done
  sleep 1
  local ids=() i=0
  local start; start=$(date +%s.%N)
  for t in "${TENANTS[@]}"; do
    rm -rf "$OUT/$label/$i"
    ids+=("$("$RAPPORT" submit --config "$t/tenant.toml" --out "$OUT/$label/$i" | head -1)")
    i=$((i + 1))
  done
  for id in "${ids[@]}"; do
    until "$RAPPORT" status "$id" | python3 -c "import json,sys; s=json.load(sys.stdin)['status']; sys.exit(0 if s in ('succeeded','failed','cancelled') else 1)"; do sleep 0.2; done
  done
  local end; end=$(date +%s.%N)
  for id in "${ids[@]}"; do "$RAPPORT" status "$id" | python3 -c "import json,sys; print(json.dumps(json.load(sys.stdin)))"; done >"$OUT/$label.records"
  kill "${pids[@]}"; wait "${pids[@]}" 2>/dev/null || true
  redis-cli --scan --pattern "$ns:*" | xargs -r redis-cli del >/dev/null
  for q in "$ns.jobs" "$ns.jobs.dead"; do rabbitmqctl delete_queue "$q" >/dev/null 2>&1 || true; done
  rm -rf "$RAPPORT_STAGING"
  python3 - "$label" "$runs" "$(echo "$end - $start" | bc)" "$OUT/$label.records" <<'PY'
import json, sys
from datetime import datetime
label, runs, makespan, path = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
records = [json.loads(l) for l in open(path) if l.strip()]
assert all(r["status"] == "succeeded" for r in records), [r.get("error") for r in records]
t = lambda s: datetime.fromisoformat(s).timestamp()
first = min(t(r["created_at"]) for r in records)
took = [t(r["finished_at"]) - first for r in records]
small = sorted(took[1:])
print(f"{label} (concurrent_runs = {runs}): all 8 ended after {makespan:.1f} s; "
      f"large run {took[0]:.1f} s; small runs median {small[len(small) // 2]:.1f} s, last {small[-1]:.1f} s after submission")
PY
}

mkdir -p "$OUT"
one_way serial 1
one_way together 8
for i in $(seq 0 7); do
  cmp "$OUT/serial/$i/account_engagement.csv" "$OUT/together/$i/account_engagement.csv"
done
echo "outputs identical (one after the other, all at once)"
