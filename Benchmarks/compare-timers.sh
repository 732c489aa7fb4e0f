#!/usr/bin/env bash
# Weave's timers beside Go's, back to back in one run, pinned to one CPU (issue 12, items 1-4).
#
#   bash Benchmarks/compare-timers.sh          (from the repo root, or from anywhere)
#
# Builds weave-timers (release) and Peers/go-timers, then runs each case REPS times,
# alternating Weave and Go run by run, under `taskset -c $CPU`, and prints one aligned table
# of the best run of each (lowest lateness p99 / wake time). Cases:
#   lateness  one sleeper on an idle hub: 1, 2, 5, 10 ms (target p99 <= 0.3 ms late) and
#             2.5 ms (libuv counts whole milliseconds: up to ~1 ms late); never early
#   sleepers  N sleepers spawned at once, 1..50 ms each: lateness p50/p99 (target p99 <= 20 ms)
#             and first sleep to last wake
#   instant   N sleepers due at one instant: time from the instant to the last wake, wakes/s
#             (target: >= Go's, GOMAXPROCS=1)
#   race      withTimeout(3 ms) { queue.get() } against a put due at 2 ms (Weave only): value wins
#
# Knobs (environment): CPU=1, REPS=3, N=100000 (sleepers and instant), ROUNDS=200 (lateness),
# LEAD_MS=2000 (instant: time allowed for spawning before the instant), WEAVE_TIMERS / GO_TIMERS
# (binaries to use instead of building, e.g. an older build to compare with).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
CPU=${CPU:-1}
REPS=${REPS:-3}
N=${N:-100000}
ROUNDS=${ROUNDS:-200}
LEAD_MS=${LEAD_MS:-2000}

if [[ -z "${WEAVE_TIMERS:-}" ]]; then
  echo "[compare-timers] swift build -c release --product weave-timers" >&2
  (cd "$HERE" && swift build -c release --product weave-timers >&2)
  WEAVE_TIMERS="$(cd "$HERE" && swift build -c release --show-bin-path)/weave-timers"
fi
if [[ -z "${GO_TIMERS:-}" ]]; then
  command -v go >/dev/null || { echo "[compare-timers] go not found (apt-get install golang-go)" >&2; exit 1; }
  GO_TIMERS=$(mktemp -d)/go-timers
  echo "[compare-timers] go build Peers/go-timers" >&2
  (cd "$HERE/Peers/go-timers" && GOFLAGS=-mod=mod GOPROXY=off go build -trimpath -o "$GO_TIMERS" .)
fi
PIN=(taskset -c "$CPU")
[[ $(nproc) -ge 2 ]] || PIN=()

export WEAVE_TIMERS GO_TIMERS REPS N ROUNDS LEAD_MS
export PIN_CMD="${PIN[*]}"
exec python3 - <<'PY'
import json, os, shlex, subprocess

W, G = os.environ["WEAVE_TIMERS"], os.environ["GO_TIMERS"]
REPS, N, ROUNDS, LEAD = (int(os.environ[k]) for k in ("REPS", "N", "ROUNDS", "LEAD_MS"))
PIN = shlex.split(os.environ.get("PIN_CMD", ""))

def run(cmd, env=None):
    shown = " ".join(f"{k}={v}" for k, v in (env or {}).items()) + " " + " ".join(PIN + cmd)
    print(f"[compare-timers] {shown.strip()}", flush=True)
    r = subprocess.run(PIN + cmd, capture_output=True, text=True, timeout=300, env=dict(os.environ, **(env or {})))
    rows = [json.loads(l) for l in r.stdout.splitlines() if l.startswith("{")]
    if r.returncode != 0 or not rows:
        print(f"[compare-timers]   failed rc={r.returncode}: {(r.stdout + r.stderr).strip()[-300:]}", flush=True)
    return rows

GO1 = {"GOMAXPROCS": "1"}
cases = [
    ("lateness", [W, "lateness", str(ROUNDS)], [G, "lateness", str(ROUNDS)]),
    ("sleepers", [W, "sleepers", str(N)], [G, "sleepers", str(N)]),
    ("instant", [W, "instant", str(N), str(LEAD)], [G, "instant", str(N), str(LEAD)]),
]
best = {}  # (bench, impl, sleep_ms) -> row

def keep(row, key):
    k = (row["bench"], row["impl"], row.get("sleep_ms", ""))
    if k not in best or row[key] < best[k][key]:
        best[k] = row

for name, weave, go in cases:
    key = {"lateness": "late_p99_us", "sleepers": "late_p99_us", "instant": "wake_all_ms"}[name]
    for _ in range(REPS):
        for row in run(weave):
            keep(row, key)
        for row in run(go, GO1):
            keep(row, key)
race = run([W, "race", "20"])

def us(v):
    return f"{v / 1000:.2f} ms"

table = [("case", "impl", "p50 late", "p99 late", "max late", "earliest", "other")]
def order(kv):
    (bench, impl, sleep) = kv[0]
    return (["lateness", "sleepers", "instant"].index(bench), float(sleep) if bench == "lateness" else 0, impl != "weave")

for (bench, impl, sleep), r in sorted(best.items(), key=order):
    if bench == "lateness":
        table.append((f"sleep {sleep} ms, idle", impl, us(r["late_p50_us"]), us(r["late_p99_us"]), us(r["late_max_us"]), us(r["earliest_us"]), f"{r['rounds']} rounds"))
    elif bench == "sleepers":
        table.append((f"{r['n']:,} sleepers 1..50 ms", impl, us(r["late_p50_us"]), us(r["late_p99_us"]), us(r["late_max_us"]), us(r["earliest_us"]),
                      f"first sleep to last wake {r['first_sleep_to_last_wake_ms']:.1f} ms; spawn {r['spawn_ms']:.1f} ms"))
    elif bench == "instant":
        table.append((f"{r['n']:,} due at one instant", impl, "-", "-", "-", "-",
                      f"last wake {r['wake_all_ms']:.1f} ms after the instant; {r['ns_per_wake']:.0f} ns/wake; {r['wakes_per_s'] / 1e6:.2f} M wakes/s"))
for r in race:
    table.append(("put at 2 ms vs withTimeout(3 ms) get", r["impl"], "-", "-", "-", "-", f"value won {r['value_wins']}/{r['rounds']}"))
widths = [max(len(str(row[i])) for row in table) for i in range(len(table[0]))]
print()
print(f"best of {REPS} (lowest p99 / wake time), alternating Weave and Go (GOMAXPROCS=1), pinned: {' '.join(PIN) or 'no'}")
for i, row in enumerate(table):
    print("| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths)) + " |")
    if i == 0:
        print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
PY
