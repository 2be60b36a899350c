# Shared by the benchmark scripts: the generated 1.5 M-record tenant.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RAPPORT="$ROOT/target/release/rapport"
PEER="$ROOT/../shared/bench/peer_duckdb.py"
TENANT="$ROOT/bench/tenants/big"
OUT="$ROOT/bench/out"
mkdir -p "$OUT"
python3 -c "import duckdb" 2>/dev/null || python3 -m pip install --quiet duckdb
(cd "$ROOT" && cargo build --release -q)
if [ ! -f "$TENANT/tenant.toml" ]; then
  # 2,000 users, 20,000 accounts: 1.51 M activity lines, 531 MB of jsonl.
  "$RAPPORT" generate --out "$TENANT" --seed 7 --users 2000 --accounts 20000 --emails 1050000 --meetings 160000
fi
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "tenant: $(cat "$TENANT"/activity/*.jsonl | wc -l) lines, $(du -cb "$TENANT"/activity/*.jsonl | tail -1 | cut -f1) bytes"

peer() {
  /usr/bin/time -f "peer wall %e s, peak RSS %M KB" python3 "$PEER" "$TENANT/tenant.toml" "$OUT/peer" 2>&1 | tail -2
}
