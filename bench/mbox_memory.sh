#!/usr/bin/env bash
# Peak memory of `rapport run` as one mbox file grows: the mbox files of the
# bench/formats.sh mail tenant repeated 3 and 13 times (0.43 and 1.9 GB),
# with the same messages (dupmbox-N) and with message ids made unique per
# copy (bigmbox-N); then 13x again with freed memory returned to the system.
#   bash bench/mbox_memory.sh      (run bench/formats.sh first: it writes mid-mail)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RAPPORT="$ROOT/target/release/rapport"
T="$ROOT/bench/tenants"
[ -f "$T/mid-mail/tenant.toml" ] || { echo "run bench/formats.sh first"; exit 1; }
for reps in 3 13; do
  for kind in dup big; do
    d="$T/${kind}mbox-$reps"
    if [ ! -f "$d/activity/all.mbox" ]; then
      mkdir -p "$d/activity" && cp "$T"/mid-mail/*.csv "$d/"
      python3 - "$reps" "$kind" "$T/mid-mail" "$d" <<'PY'
import glob, sys
reps, kind, src, d = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
with open(f"{d}/activity/all.mbox", "wb") as out:
    for r in range(reps):
        for f in sorted(glob.glob(f"{src}/activity/*.mbox")):
            b = open(f, "rb").read()
            if kind == "big":
                b = b.replace(b"Message-ID: <", b"Message-ID: <r%d." % r).replace(b"In-Reply-To: <", b"In-Reply-To: <r%d." % r)
            out.write(b)
t = open(f"{src}/tenant.toml").read()
t = t[: t.index("[[inputs.activity]]")]
open(f"{d}/tenant.toml", "w").write(t + '[[inputs.activity]]\nformat = "mbox"\npath = "activity/all.mbox"\n')
PY
    fi
    /usr/bin/time -f "$kind reps=$reps $(stat -c %s "$d/activity/all.mbox") bytes: wall %e s, peak RSS %M KB" \
      "$RAPPORT" run --config "$d/tenant.toml" --out "$ROOT/bench/out/${kind}mbox-$reps" 2>&1 | tail -1
  done
done
for reps in 3 13; do
  RAPPORT_ALLOCATOR_TUNED=1 MIMALLOC_PURGE_DELAY=0 MIMALLOC_PURGE_DECOMMITS=1 \
    /usr/bin/time -f "dup reps=$reps, memory returned: wall %e s, peak RSS %M KB" \
    "$RAPPORT" run --config "$T/dupmbox-$reps/tenant.toml" --out "$ROOT/bench/out/dupmbox-$reps" 2>&1 | tail -1
done
