#!/usr/bin/env bash
# ProcessPool beside Python's multiprocessing.Pool, back to back in one run (2 workers each).
#
#   bash Benchmarks/compare-procpool.sh        (from anywhere; REPS=3 runs, best kept)
#
# Cases: 20k trivial tasks with chunk sizes 1 and 64 (Peers/procpool_trivial.py); 64 CPU-bound
# tasks (primes below 200k) serial vs pool (Peers/procpool_cpu.py); and Weave's one-task
# round-trip latency. Prints a markdown table. (compare-procpool-chunks.sh alternates the
# trivial case run by run and adds the BitwiseProcessTask row.)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PEERS=$HERE/Peers
REPS=${REPS:-3}
cd "$HERE"
swift build -c release --product weave-procpool >/dev/null
BIN=$HERE/.build/release/weave-procpool
OUT=$(mktemp)
for _ in $(seq "$REPS"); do
  "$BIN" trivial >>"$OUT"
  python3 "$PEERS/procpool_trivial.py" >>"$OUT"
  "$BIN" cpu >>"$OUT"
  python3 "$PEERS/procpool_cpu.py" >>"$OUT"
  "$BIN" latency 5000 >>"$OUT"
done
python3 - "$OUT" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
best = {}
for r in rows:
    if r["bench"] == "procpool_trivial":
        key = (r["impl"], str(r["chunksize"]))
        best[key] = max(best.get(key, 0), r["tasks_per_s"])
print("| case | implementation | result |")
print("|---|---|---:|")
py1 = best.get(("py-mp-Pool(2)", "1"), 0)
for (impl, chunk), rate in sorted(best.items()):
    ratio = f" ({rate / py1:.1f}x mp.Pool chunk 1)" if py1 and chunk == "1" and impl.startswith("weave") else ""
    print(f"| 20k trivial tasks, chunk size {chunk} | {impl} | {rate:,} tasks/s{ratio} |")
cpu = {}
for r in rows:
    if r["bench"] == "procpool_cpu":
        cpu[r["impl"]] = max(cpu.get(r["impl"], 0), r["speedup"])
for impl, s in sorted(cpu.items()):
    print(f"| 64 prime counts (200k), serial vs pool | {impl} | {s:.2f}x speed-up |")
lat = [r for r in rows if r["bench"] == "procpool_latency"]
if lat:
    b = min(lat, key=lambda r: r["p50_us"])
    print(f"| one task round trip | weave-ProcessPool(2) | p50 {b['p50_us']} µs, p99 {b['p99_us']} µs |")
PY
rm -f "$OUT"
