#!/usr/bin/env bash
# The accounts page of a run with 50,000 accounts (issue 11): a coordinator
# and a worker on this machine, two runs of a generated 50,000-account
# tenant (the second compares with the first), then each page asked for
# ROUNDS times with curl; the DuckDB peer answers the same segment on the
# run's Parquet file.
#   bench/pages.sh [ROUNDS]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RAPPORT="$ROOT/target/release/rapport"
OUT="$ROOT/bench/out/pages"
TENANT="$ROOT/bench/tenants/accounts50k"
ROUNDS=${1:-3}
(cd "$ROOT" && cargo build --release -q)
python3 -c "import duckdb" 2>/dev/null || python3 -m pip install --quiet duckdb
if [ ! -f "$TENANT/tenant.toml" ]; then
  "$RAPPORT" generate --out "$TENANT" --seed 7 --users 2500 --accounts 50000 --emails 1500000 --meetings 300000
fi
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
NS="bench-pages-$$"
PORT=7198
rm -rf "$OUT"; mkdir -p "$OUT"
export RAPPORT_NAMESPACE=$NS RAPPORT_STAGING="$OUT/staging" RAPPORT_LISTEN=127.0.0.1:$PORT \
  RAPPORT_COORDINATOR=http://127.0.0.1:$PORT RAPPORT_HISTORY_ROOT="$OUT/history"
"$RAPPORT" coordinator 2>"$OUT/coordinator.log" &
pids=($!)
"$RAPPORT" worker --concurrency 2 2>"$OUT/worker.log" &
pids+=($!)
cleanup() {
  kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null
  redis-cli --scan --pattern "$NS:*" | xargs -r redis-cli del >/dev/null
  for q in "$NS.jobs" "$NS.jobs.dead"; do rabbitmqctl delete_queue "$q" >/dev/null 2>&1 || true; done
}
trap cleanup EXIT
sleep 1
first=$("$RAPPORT" submit --config "$TENANT/tenant.toml" --out "$OUT/results" --formats parquet --wait)
run=$("$RAPPORT" rerun "$first" --wait)
echo "runs: $first, then $run ($(($(wc -l < "$OUT/results/account_engagement.csv") - 1)) rows)"
base="http://127.0.0.1:$PORT/ui/runs/$run"
ask() { curl -s -o /dev/null -w "%{http_code} %{time_total}s %{size_download} B  $2\n" "$1"; }
ask "$base/accounts" "first ask: reads both runs' results"
segment="segment=DaysSinceLastEmail%20%3E%2060%20AND%20DaysSinceLastMeeting%20%3E%2060"
for i in $(seq 1 "$ROUNDS"); do
  ask "$base/accounts" "accounts: Year, latest, by score"
  ask "$base/accounts?sort=change&order=desc" "accounts: by change since the previous run"
  ask "$base/accounts?$segment&sort=emails" "accounts: a segment, by emails of 12 months"
  ask "$base/accounts?page=900" "accounts: page 900"
  ask "$base/accounts?level=Month" "accounts: Month level"
  ask "$base/accounts.csv?segment=EngagementScore%3E%3D50" "CSV download of a segment"
  ask "$base/accounts/$(sed -n 2p "$OUT/results/account_engagement.csv" | cut -d, -f1)" "an account's card"
done
echo "coordinator peak RSS: $(awk '/VmHWM/{print $2, $3}' "/proc/${pids[0]}/status")"
python3 - "$OUT/results/account_engagement.parquet" "$ROUNDS" <<'EOF'
import duckdb, sys, time
f, rounds = sys.argv[1], int(sys.argv[2])
con = duckdb.connect()
q = f"""SELECT AccountId, EngagementScore FROM '{f}' WHERE AggregationLevel='Year'
 AND AggregationStartDate=(SELECT max(AggregationStartDate) FROM '{f}' WHERE AggregationLevel='Year')
 AND DaysSinceLastEmail > 60 AND DaysSinceLastMeeting > 60 ORDER BY EngagementScore DESC LIMIT 50"""
for _ in range(rounds):
    t = time.time(); con.sql(q).fetchall(); print(f"peer (DuckDB on the Parquet file): the segment's first page {time.time() - t:.4f}s")
EOF
