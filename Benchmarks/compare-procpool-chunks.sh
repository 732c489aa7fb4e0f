#!/usr/bin/env bash
# ProcessPool beside multiprocessing.Pool on trivial tasks, back to back, alternating:
# 2 workers each, N tasks `x + 1`, chunk sizes 1 and 64 (issue 12, item 16).
#
#   bash Benchmarks/compare-procpool-chunks.sh      (from anywhere; REPS=3, N=20000)
#
# Each repetition runs weave-procpool (the task as a plain Codable ProcessTask, then as a
# BitwiseProcessTask, sent as its bytes), then Benchmarks/Peers/procpool_trivial.py, for each
# chunk size; the best of REPS is kept per side. Pool start-up is outside the timings on
# both sides. Prints an aligned table with the ratios the issue's targets are stated in.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPS=${REPS:-3}
N=${N:-20000}
cd "$HERE"
swift build -c release --product weave-procpool >/dev/null
BIN=$HERE/.build/release/weave-procpool
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
for _ in $(seq "$REPS"); do
  for chunk in 1 64; do
    "$BIN" trivial "$N" "$chunk" >>"$OUT"
    "$BIN" bitwise "$N" "$chunk" >>"$OUT"
    python3 "$HERE/Peers/procpool_trivial.py" "$N" "$chunk" >>"$OUT"
  done
done
python3 - "$OUT" "$REPS" "$N" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
best = {}
for r in rows:
    key = (r["impl"], int(r["chunksize"]))
    best[key] = max(best.get(key, 0), r["tasks_per_s"])
print(f"{sys.argv[3]} trivial tasks (x + 1), 2 workers, best of {sys.argv[2]} alternating runs")
print()
header = ("chunk size", "task", "weave ProcessPool", "multiprocessing.Pool", "weave / Python", "target")
targets = {1: ">= 5x", 64: ">= 2x"}
kinds = (("Codable", "weave-ProcessPool(2)"), ("bitwise", "weave-ProcessPool(2)-bitwise"))
lines = []
for chunk in sorted({c for _, c in best}):
    python = best.get(("py-mp-Pool(2)", chunk), 0)
    for kind, impl in kinds:
        weave = best.get((impl, chunk), 0)
        ratio = f"{weave / python:.2f}x" if python else "-"
        lines.append((str(chunk), kind, f"{weave:,} tasks/s", f"{python:,} tasks/s", ratio, targets.get(chunk, "")))
widths = [max(len(row[i]) for row in [header] + lines) for i in range(len(header))]
def show(row):
    return "| " + " | ".join(cell.rjust(widths[i]) if i else cell.ljust(widths[i]) for i, cell in enumerate(row)) + " |"
print(show(header))
print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
for row in lines:
    print(show(row))
PY
