#!/usr/bin/env bash
# Spawn + run + finish by batch shape, Weave beside Go, back to back.
#
# For each BATCH in SHAPES, alternating runs (REPS of each, best kept), pinned to one CPU:
#   weave-micro spawn N BATCH            (handles + joinAll; spawnDetached closure; spawnDetached(with:))
#   GOMAXPROCS=1 go-spawn-batched N BATCH
# and prints an aligned table of M tasks/s and the ratio to Go.
#
# Usage: bash Benchmarks/compare-spawn-shapes.sh
#   N=1000000  REPS=3  SHAPES="10 100 1000 10000"  CPU=1
# Needs the Go peer built by compare-micro.sh (.peers-out/bin/go-spawn-batched); builds weave-micro.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
N=${N:-1000000}
REPS=${REPS:-3}
SHAPES=${SHAPES:-"10 100 1000 10000"}
CPU=${CPU:-1}
GO="$ROOT/.peers-out/bin/go-spawn-batched"
MICRO="$HERE/.build/release/weave-micro"

if [ ! -x "$GO" ]; then
  echo "[spawn-shapes] $GO is missing: run Benchmarks/compare-micro.sh once (it builds the Go peer)" >&2
  exit 1
fi
echo "[spawn-shapes] building weave-micro (release)" >&2
(cd "$HERE" && swift build -c release --product weave-micro >/dev/null)

python3 - "$MICRO" "$GO" "$N" "$REPS" "$CPU" $SHAPES <<'EOF'
import json, os, subprocess, sys
micro, go, n, reps, cpu, *shapes = sys.argv[1:]
impls = [("weave-coroutine-batched", "spawn + joinAll"),
         ("weave-detached-batched", "spawnDetached, closure"),
         ("weave-detached-args-batched", "spawnDetached(with:)")]

def run(cmd, env=None):
    out = subprocess.run(["taskset", "-c", cpu] + cmd, capture_output=True, text=True, check=True,
                         env={**os.environ, **(env or {})}).stdout
    return [json.loads(l) for l in out.splitlines() if l.startswith("{")]

rows = []
for shape in shapes:
    best = {}
    for rep in range(int(reps)):
        print(f"[spawn-shapes] batch {shape}, run {rep + 1} of {reps}", file=sys.stderr, flush=True)
        for r in run([micro, "spawn", n, shape]) + run([go, n, shape], {"GOMAXPROCS": "1"}):
            best[r["impl"]] = max(best.get(r["impl"], 0), r["tasks_per_s"])
    rows.append((int(shape), best))

go_name = "go-goroutine-batched"
header = ["batch", "Go (GOMAXPROCS=1)"] + [label for _, label in impls]
table = [header]
for shape, best in rows:
    g = best.get(go_name)
    cells = [f"{shape:,}", f"{g / 1e6:.2f} M/s" if g else "-"]
    for impl, _ in impls:
        v = best.get(impl)
        cells.append(f"{v / 1e6:.2f} M/s ({v / g:.2f}x)" if v and g else "-")
    table.append(cells)
widths = [max(len(r[i]) for r in table) for i in range(len(header))]
print(f"spawn + run + finish of {int(n):,} coroutines by batch size, best of {reps}, pinned to CPU {cpu}")
print()
for i, r in enumerate(table):
    print("| " + " | ".join(c.rjust(w) if i and j else c.ljust(w) for j, (c, w) in enumerate(zip(r, widths))) + " |")
    if i == 0:
        print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
EOF
