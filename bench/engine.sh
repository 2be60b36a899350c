#!/usr/bin/env bash
# Embedded engine vs the DuckDB peer on the 1.5 M-record tenant, one after the
# other in this session; checks both outputs are identical.
#   bench/engine.sh [ROUNDS]
source "$(dirname "$0")/common.sh"
for round in $(seq 1 "${1:-3}"); do
  echo "round $round"
  /usr/bin/time -f "rapport run wall %e s, peak RSS %M KB" "$RAPPORT" run --config "$TENANT/tenant.toml" --out "$OUT/engine" 2>&1 | tail -1
  python3 -c "import json; r=json.load(open('$OUT/engine/run_report.json')); print('phases', {k: round(v, 2) for k, v in r['phase_seconds'].items()})"
  peer
  cmp "$OUT/engine/account_engagement.csv" "$OUT/peer/account_engagement.csv" && echo "outputs identical"
done
