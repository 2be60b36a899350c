#!/usr/bin/env bash
# Ingest throughput per input format, on one core, and whole runs per format
# against the DuckDB peer (jsonl only: it reads no other format).
#   bash bench/formats.sh [ROUNDS]
# Tenant: seed 11, 500 users, 5,000 accounts, 300,000 emails, 40,000
# meetings, written as jsonl (146 MB), Graph (398 MB) and mail (187 MB).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RAPPORT="$ROOT/target/release/rapport"
PEER="$ROOT/../shared/bench/peer_duckdb.py"
ROUNDS=${1:-3}
python3 -c "import duckdb" 2>/dev/null || python3 -m pip install --quiet duckdb
(cd "$ROOT" && cargo build --release -q && cargo build --release -q -p rapport-cli --example ingest_throughput)
THROUGHPUT="$ROOT/target/release/examples/ingest_throughput"
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
for f in jsonl graph mail; do
  T="$ROOT/bench/tenants/mid-$f"
  [ -f "$T/tenant.toml" ] || "$RAPPORT" generate --out "$T" --seed 11 --users 500 --accounts 5000 \
    --emails 300000 --meetings 40000 --format $f
done
echo "== ingest, one core (format MB records seconds MB/s records/s)"
for r in $(seq "$ROUNDS"); do
  for f in jsonl graph mail; do "$THROUGHPUT" "$ROOT/bench/tenants/mid-$f/tenant.toml" | tail -n +2; done
done
echo "== rapport run per format, then the peer on the jsonl form"
for r in $(seq "$ROUNDS"); do
  for f in jsonl graph mail; do
    /usr/bin/time -f "$f: wall %e s, peak RSS %M KB" "$RAPPORT" run \
      --config "$ROOT/bench/tenants/mid-$f/tenant.toml" --out "$ROOT/bench/out/mid-$f" 2>&1 | tail -1
  done
  /usr/bin/time -f "peer: wall %e s, peak RSS %M KB" python3 "$PEER" \
    "$ROOT/bench/tenants/mid-jsonl/tenant.toml" "$ROOT/bench/out/mid-peer" 2>&1 | tail -1
  for f in graph mail; do
    cmp -s "$ROOT/bench/out/mid-jsonl/account_engagement.csv" "$ROOT/bench/out/mid-$f/account_engagement.csv" \
      && echo "$f output identical to jsonl" || echo "$f output DIFFERS"
  done
done
