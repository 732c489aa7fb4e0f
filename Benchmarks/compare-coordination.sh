#!/usr/bin/env bash
# Weave's coordination benchmarks (issue 3) beside gevent's and Go's, back to back, pinned.
#
#   bash Benchmarks/compare-coordination.sh        (from the repo root, or from anywhere)
#
# Builds weave-micro (release), then runs, REPS times each and alternating:
#   weave-micro coordination  (channel ping-pong, Lock, Semaphore, Queue put+get, Pool.map)
#   Peers/gevent_coordination.py  (gevent Queue put+get, gevent Pool.map)
#   Peers/go-micro switch     (Go unbuffered channel ping-pong, GOMAXPROCS=1; built here when
#                              go is installed: apt-get install golang-go)
# and prints one markdown table of the best runs with the ratios the issue asks for.
#
# Knobs: CPU=1 (the CPU every run is pinned to), REPS=3.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
CPU=${CPU:-1}
REPS=${REPS:-3}
GO_SWITCH=$ROOT/.peers-out/bin/go-micro
mkdir -p "$ROOT/.peers-out/bin"
if command -v go >/dev/null; then
  (cd "$HERE/Peers/go-micro" && GOFLAGS=-mod=mod GOPROXY=off go build -trimpath -o "$GO_SWITCH" .)
fi

echo "[compare-coordination] swift build -c release --product weave-micro" >&2
(cd "$HERE" && swift build -c release --product weave-micro >/dev/null)
MICRO="$(cd "$HERE" && swift build -c release --show-bin-path)/weave-micro"
python3 -c "import gevent" 2>/dev/null || { echo "[compare-coordination] gevent is not importable (pip install gevent)" >&2; exit 1; }
[[ -x $GO_SWITCH ]] || echo "[compare-coordination] go not installed: no Go row (apt-get install golang-go)" >&2

export MICRO CPU REPS GO_SWITCH PEER_SCRIPT="$HERE/Peers/gevent_coordination.py"
exec python3 - <<'PY'
import json, os, subprocess, sys

MICRO, CPU, REPS, GO, PEER = (os.environ[k] for k in ("MICRO", "CPU", "REPS", "GO_SWITCH", "PEER_SCRIPT"))
PIN = ["taskset", "-c", CPU]
rows = {}

def run(label, cmd, env=None):
    r = subprocess.run(PIN + cmd, capture_output=True, text=True, env=dict(os.environ, **(env or {})))
    if r.returncode != 0:
        print(f"[compare-coordination] {label} failed: {r.stderr.strip()[-300:]}", file=sys.stderr)
        return
    for line in r.stdout.splitlines():
        if line.startswith("{"):
            row = json.loads(line)
            rows.setdefault((row["bench"], row["impl"]), []).append(row)

for i in range(int(REPS)):
    print(f"[compare-coordination] round {i + 1}/{REPS}", file=sys.stderr, flush=True)
    run("weave", [MICRO, "coordination"])
    run("gevent", [sys.executable, PEER])
    if os.access(GO, os.X_OK):
        run("go", [GO, "switch", "2000000"], env={"GOMAXPROCS": "1"})

def best(bench, impl, key):
    values = [r[key] for r in rows.get((bench, impl), []) if r.get(key) is not None]
    return min(values) if values else None

def spread(bench, impl, key):
    values = sorted(r[key] for r in rows.get((bench, impl), []) if r.get(key) is not None)
    return f"{values[0]:,.1f}–{values[-1]:,.1f}" if len(values) > 1 else (f"{values[0]:,.1f}" if values else "-")

table = []
def add(case, ours, peer, peer_name, want, unit):
    ratio = peer / ours if ours and peer else None
    verdict = "-" if ratio is None or want is None else ("**met**" if ratio >= want else "**missed**")
    table.append((case, f"{ours:,.1f} {unit}" if ours else "-", f"{peer_name} {peer:,.1f}" if peer else "-",
                  f"{ratio:.1f}x faster" if ratio else "-", f">= {want}x: {verdict}" if want else ""))

chan = best("switch", "weave-channel", "ns_per_switch")
go = best("switch", "go-chan", "ns_per_switch")
add("unbuffered channel ping-pong (ns per switch)", chan, go, "Go", 3, "ns")
lock = best("lock", "weave-lock", "ns_per_acquire_release")
table.append(("uncontended Lock acquire + release", f"{lock:.1f} ns" if lock else "-", "", "",
              f"<= 10 ns: {'**met**' if lock and lock <= 10 else '**missed**'}"))
sem = best("lock", "weave-semaphore", "ns_per_acquire_release")
table.append(("uncontended Semaphore acquire + release", f"{sem:.1f} ns" if sem else "-", "", "",
              f"<= 10 ns: {'**met**' if sem and sem <= 10 else '**missed**'}"))
add("Queue put + get between two coroutines (ns per item)", best("queue", "weave-queue", "ns_per_item"),
    best("queue", "gevent-queue", "ns_per_item"), "gevent", 20, "ns")
add("Pool(size: 100).map of 100k trivial items (ns per item)", best("poolmap", "weave-pool", "ns_per_item"),
    best("poolmap", "gevent-pool", "ns_per_item"), "gevent", 20, "ns")

head = ("case", "Weave (best)", "peer (best)", "ratio", "target")
widths = [max(len(str(r[i])) for r in table + [head]) for i in range(5)]
line = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |"
print(line(head))
print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
for r in table:
    print(line(r))
print(f"\nBest of {REPS} runs each, pinned to CPU {CPU}. Spreads (all runs): channel {spread('switch', 'weave-channel', 'ns_per_switch')} ns, "
      f"Go {spread('switch', 'go-chan', 'ns_per_switch')} ns, Queue {spread('queue', 'weave-queue', 'ns_per_item')} ns, "
      f"gevent Queue {spread('queue', 'gevent-queue', 'ns_per_item')} ns.")
PY
