#!/usr/bin/env bash
# One tenant, run embedded (`rapport run`) and on the cluster (coordinator and
# WORKERS workers, RabbitMQ and Redis all on this machine); reports wall time,
# cost per record, peak RSS of every process, Redis peak memory (sampled from
# INFO memory every 0.2 s), peak staging bytes, messages, and checks that both
# runs wrote the same bytes.
#   bench/scale.sh TENANT_DIR [WORKERS]
# The tenants of docs/scaling.md:
#   1.5 M: rapport generate --out bench/tenants/big --seed 7 --users 2000 --accounts 20000 --emails 1050000 --meetings 160000
#   15 M:  rapport generate --out bench/tenants/mid --seed 7 --users 2500 --accounts 35000 --emails 10500000 --meetings 1600000
#   100 M: rapport generate --out bench/tenants/huge --seed 7 --users 2500 --accounts 50000 --emails 69300000 --meetings 10560000
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RAPPORT="$ROOT/target/release/rapport"
TENANT=$(cd "$1" && pwd)
WORKERS=${2:-2}
OUT="$ROOT/bench/out/scale-$(basename "$TENANT")"
mkdir -p "$OUT"
(cd "$ROOT" && cargo build --release -q)
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
bytes=$(du -cb "$TENANT"/activity/* | tail -1 | cut -f1)
echo "tenant: $TENANT, $bytes bytes of activity"

# Samples a number every PERIOD seconds into FILE until stopped.
sample() { # FILE PERIOD COMMAND...
  local file=$1 period=$2; shift 2
  while true; do "$@" >>"$file" 2>/dev/null || true; sleep "$period"; done
}
peak() { sort -n "$1" | tail -1; }
mib() { echo "$(( $1 / 1048576 )) MiB"; }

# Embedded: its staging folder is inside the output folder. SKIP_EMBEDDED=1
# keeps the last embedded run's outputs and figures (to measure the cluster
# again).
if [ -z "${SKIP_EMBEDDED:-}" ] || [ ! -f "$OUT/embedded.time" ]; then
  rm -rf "$OUT/embedded"; mkdir -p "$OUT/embedded"
  : >"$OUT/disk.samples"
  sample "$OUT/disk.samples" 2 du -sb "$OUT/embedded" &
  sampler=$!
  /usr/bin/time -f "%e %M" -o "$OUT/embedded.time" "$RAPPORT" run --config "$TENANT/tenant.toml" --out "$OUT/embedded" 2>"$OUT/embedded.log" || { tail "$OUT/embedded.log"; exit 1; }
  kill "$sampler"; wait "$sampler" 2>/dev/null || true
fi
read -r wall rss <"$OUT/embedded.time"
records=$(python3 -c "import json; print(json.load(open('$OUT/embedded/run_report.json'))['records'])")
echo "embedded: wall $wall s, peak RSS $((rss / 1024)) MiB, staging peak $(mib "$(cut -f1 "$OUT/disk.samples" | sort -n | tail -1)")"
python3 -c "import json; r=json.load(open('$OUT/embedded/run_report.json')); print('  phases', {k: round(v, 1) for k, v in r['phase_seconds'].items()}, 'jobs', r['jobs'])"

# Cluster.
NS="scale-$$"
export RAPPORT_NAMESPACE=$NS RAPPORT_STAGING="$OUT/staging-$NS" RAPPORT_LISTEN=127.0.0.1:7198 RAPPORT_COORDINATOR=http://127.0.0.1:7198
"$RAPPORT" coordinator 2>"$OUT/coordinator.log" &
pids=($!)
for i in $(seq 1 "$WORKERS"); do "$RAPPORT" worker 2>"$OUT/worker-$i.log" & pids+=($!); done
samplers=()
cleanup() {
  kill "${samplers[@]}" "${pids[@]}" 2>/dev/null; wait 2>/dev/null
  redis-cli --scan --pattern "$NS:*" | xargs -r redis-cli del >/dev/null
  for q in "$NS.jobs" "$NS.jobs.dead"; do rabbitmqctl delete_queue "$q" >/dev/null 2>&1 || true; done
  rm -rf "$RAPPORT_STAGING"
}
trap cleanup EXIT
sleep 1
redis_base=$(redis-cli info memory | awk -F: '/^used_memory:/{print $2+0}')
: >"$OUT/redis.samples"; : >"$OUT/staging.samples"
sample "$OUT/redis.samples" 0.2 sh -c "redis-cli info memory | awk -F: '/^used_memory:/{print \$2+0}'" & samplers+=($!)
sample "$OUT/staging.samples" 2 sh -c "du -sb '$RAPPORT_STAGING' | cut -f1" & samplers+=($!)
# Every worker's RSS with the time since submission, to tell which phase peaks.
: >"$OUT/workers.samples"
t0=$(date +%s.%N)
rss_line() { echo "$(echo "$(date +%s.%N) - $t0" | bc) $(for p in "${pids[@]:1}"; do awk '/VmRSS/{printf "%s ", $2}' /proc/"$p"/status; done)"; }
sample "$OUT/workers.samples" 0.5 rss_line & samplers+=($!)
before=$(redis-cli info stats | awk -F: '/total_commands_processed/{print $2+0}')
start=$(date +%s.%N)
run=$("$RAPPORT" submit --config "$TENANT/tenant.toml" --out "$OUT/cluster" --wait)
end=$(date +%s.%N)
after=$(redis-cli info stats | awk -F: '/total_commands_processed/{print $2+0}')
cwall=$(echo "$end - $start" | bc)
echo "cluster ($WORKERS workers): submit --wait wall $cwall s"
"$RAPPORT" status "$run" | python3 -c "import json,sys; r=json.load(sys.stdin); print('  phases', {k: round(v, 1) for k, v in r['phase_seconds'].items()})"
jobs=$(python3 -c "import json; r=json.load(open('$OUT/cluster/run_report.json')); print(sum(r['jobs'].values()))")
echo "  messages published: $jobs; redis commands: $((after - before))"
echo "  redis used_memory peak $(mib "$(peak "$OUT/redis.samples")") (at start $(mib "$redis_base")); staging peak $(mib "$(peak "$OUT/staging.samples")")"
echo "  coordinator peak RSS $(awk '/VmHWM/{print $2, $3}' /proc/"${pids[0]}"/status)"
for p in "${pids[@]:1}"; do echo "  worker $p peak RSS $(awk '/VmHWM/{print $2, $3}' /proc/"$p"/status)"; done
python3 - "$OUT" "$cwall" <<'EOF'
import json, sys
out, cwall = sys.argv[1], float(sys.argv[2])
phases = json.load(open(f"{out}/cluster/run_report.json"))["phase_seconds"]
order = ["ingest", "aggregate", "replies", "reduce", "score", "write"]
samples = [list(map(float, l.split())) for l in open(f"{out}/workers.samples") if len(l.split()) > 1]
# Phases run one after the other, ending when submit --wait returns.
start = max(0.0, cwall - sum(phases.get(p, 0) for p in order))
peaks = {}
for p in order:
    end = start + phases.get(p, 0)
    rss = [max(s[1:]) for s in samples if start <= s[0] < end]
    peaks[p] = f"{max(rss) / 1024:.0f} MiB" if rss else "-"
    start = end
print("  worker RSS peak by phase (sampled every 0.5 s):", peaks)
EOF
cmp "$OUT/embedded/account_engagement.csv" "$OUT/cluster/account_engagement.csv" && echo "outputs identical (embedded, cluster)"
cmp "$OUT/embedded/rejects.jsonl" "$OUT/cluster/rejects.jsonl" && echo "rejects identical"
python3 - "$OUT" "$wall" "$cwall" "$records" "$(nproc)" <<'EOF'
import json, sys
out, wall, cwall, records, cores = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
r = json.load(open(f"{out}/embedded/run_report.json"))
print(f"records {records:,}, accounts {r['accounts']:,}, rows {r['rows']:,}, rejected {r['rejected']:,}")
print(f"cost per record: embedded {wall * 1e6 / records:.2f} us wall ({wall * cores * 1e6 / records:.2f} core-us), "
      f"cluster {cwall * 1e6 / records:.2f} us wall ({cwall * cores * 1e6 / records:.2f} core-us)")
EOF
