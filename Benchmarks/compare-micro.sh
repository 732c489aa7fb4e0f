#!/usr/bin/env bash
# Weave's micro benchmarks beside the peers', back to back in one run, pinned to one CPU.
#
#   bash Benchmarks/compare-micro.sh            (from the repo root, or from anywhere)
#
# 1. Builds the peers in Benchmarks/Peers: go-micro (Go switch, spawn and idle), go-spawn-batched
#    (needs Debian's golang-go) and c-switch/ucontext_switch.c (gcc); binaries in .peers-out/bin.
#    The greenlet row runs Peers/greenlet_switch.py when Python can import greenlet.
# 2. Builds weave-micro (release).
# 3. Runs switch (raw, swap, yield, channel ping-pong), spawn, idle and timers cases, each under
#    `taskset -c $CPU` and /usr/bin/time.
# 4. Prints one markdown table and writes it to .peers-out/results/weave-micro-latest.md
#    (raw JSON lines: .peers-out/results/weave-micro-latest.jsonl).
#
# Knobs (environment):
#   CPU=1            CPU every case is pinned to (the peers' SERVER_CPU)
#   REPS=3           runs of each quick case (switch, batched spawn, timers); the best is kept
#   BIG_REPS=1       runs of each 1M-coroutine case (all-at-once spawn, idle); the best is kept
#   N=1000000        coroutines/goroutines for spawn and idle
#   BATCH=1000       batch size of the batched spawn shape
#   TIMERS_N=100000  sleepers in the timers case
#   IDLE_STACKS="64k 256k"   stack sizes for the idle case
#   CASE_TIMEOUT=300 seconds before a single run is killed
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
PEERS=$HERE/Peers
export PEERS_OUT=$ROOT/.peers-out
BIN=$PEERS_OUT/bin
RESULTS=$PEERS_OUT/results
mkdir -p "$BIN" "$RESULTS"
cd "$ROOT"

# ---------------------------------------------------------------- 1. peers
command -v go >/dev/null || { echo "[compare-micro] go not found (apt-get install golang-go)"; exit 1; }
echo "[compare-micro] go build Peers/go-micro, Peers/go-spawn-batched; gcc Peers/c-switch"
(cd "$PEERS/go-micro" && GOFLAGS=-mod=mod GOPROXY=off go build -trimpath -o "$BIN/go-micro" .)
(cd "$PEERS/go-spawn-batched" && GOFLAGS=-mod=mod GOPROXY=off go build -trimpath -o "$BIN/go-spawn-batched" .)
gcc -O2 -Wall -o "$BIN/ucontext_switch" "$PEERS/c-switch/ucontext_switch.c"

# ---------------------------------------------------------------- 2. ours
echo "[compare-micro] swift build -c release --product weave-micro"
if ! (cd "$HERE" && swift build -c release --product weave-micro > "$PEERS_OUT/build-weave-micro.log" 2>&1); then
  tail -30 "$PEERS_OUT/build-weave-micro.log"; echo "[compare-micro] weave-micro did not build"; exit 1
fi
tail -1 "$PEERS_OUT/build-weave-micro.log"
MICRO="$(cd "$HERE" && swift build -c release --show-bin-path)/weave-micro"
[[ -x "$MICRO" ]] || { echo "[compare-micro] weave-micro did not build"; exit 1; }

# ---------------------------------------------------------------- 3 + 4. run and tabulate
export MICRO BIN PEERS RESULTS
exec python3 - <<'PY'
import json, os, shlex, subprocess, sys, time

BIN, PEERS, RESULTS, MICRO = (os.environ[k] for k in ("BIN", "PEERS", "RESULTS", "MICRO"))
CPU = os.environ.get("CPU", "1")
REPS = int(os.environ.get("REPS", "3"))
BIG_REPS = int(os.environ.get("BIG_REPS", "1"))
N = int(os.environ.get("N", "1000000"))
BATCH = int(os.environ.get("BATCH", "1000"))
TIMERS_N = int(os.environ.get("TIMERS_N", "100000"))
IDLE_STACKS = os.environ.get("IDLE_STACKS", "64k 256k").split()
TIMEOUT = int(os.environ.get("CASE_TIMEOUT", "300"))
PIN = ["taskset", "-c", CPU] if len(os.sched_getaffinity(0)) >= 2 else []
TIME = ["/usr/bin/time", "-f", "%M", "-o"] if os.path.exists("/usr/bin/time") else None

records = []  # every JSON line, with "case", "peak_rss_kb", "cmd"


def run(case, cmd, env=None, reps=REPS):
    """Runs cmd reps times, pinned; returns {impl: [rows]} (all JSON lines of every run)."""
    shown = " ".join(f"{k}={v}" for k, v in (env or {}).items()) + (" " if env else "") + " ".join(shlex.quote(c) for c in cmd)
    out = {}
    if os.path.sep in cmd[0] and not os.path.exists(cmd[0]):
        print(f"[compare-micro] SKIP {case}: {cmd[0]} not built", flush=True)
        return out
    for i in range(reps):
        rss_file = os.path.join(RESULTS, ".rss")
        full = (TIME + [rss_file] if TIME else []) + PIN + cmd
        print(f"[compare-micro] {case} ({i + 1}/{reps}): {' '.join(PIN)} {shown}", flush=True)
        t0 = time.time()
        try:
            r = subprocess.run(full, capture_output=True, text=True, timeout=TIMEOUT, env=dict(os.environ, **(env or {})))
        except subprocess.TimeoutExpired:
            print(f"[compare-micro]   timed out after {TIMEOUT}s", flush=True)
            continue
        peak = None
        if TIME:
            try:
                peak = int(open(rss_file).read().strip().splitlines()[-1])
            except Exception:
                pass
        rows = [json.loads(l) for l in r.stdout.splitlines() if l.startswith("{")]
        if r.returncode != 0 or not rows:
            print(f"[compare-micro]   FAILED rc={r.returncode}: {r.stderr.strip()[-300:]}", flush=True)
            continue
        for row in rows:
            row.update(case=case, peak_rss_kb=peak, cmd=shown, run=i + 1, wall_s=round(time.time() - t0, 2))
            records.append(row)
            out.setdefault(row["impl"], []).append(row)
            print("   ", json.dumps({k: v for k, v in row.items() if k not in ("cmd", "note")}), flush=True)
    return out


def best(rows, key, higher):
    rows = [r for r in rows if r.get(key) is not None]
    if not rows:
        return None
    return max(rows, key=lambda r: r[key]) if higher else min(rows, key=lambda r: r[key])


def py_has_greenlet():
    return subprocess.run([sys.executable, "-c", "import greenlet"], capture_output=True).returncode == 0


# ------------------------------------------------------------ the runs, back to back
R = {}
R["ucontext"] = run("switch", [os.path.join(BIN, "ucontext_switch"), "2000000"])
R["gochan"] = run("switch", [os.path.join(BIN, "go-micro"), "switch", "2000000"], env={"GOMAXPROCS": "1"})
if py_has_greenlet():
    R["greenlet"] = run("switch", [sys.executable, os.path.join(PEERS, "greenlet_switch.py"), "1000000"])
else:
    print("[compare-micro] greenlet not importable: no greenlet row", flush=True)
    R["greenlet"] = {}
R["weave_switch"] = run("switch", [MICRO, "switch", "20000000"])
R["weave_channel"] = run("switch", [MICRO, "channel", "2000000"])

R["go_spawn"] = run("spawn", [os.path.join(BIN, "go-micro"), "spawn", str(N)], env={"GOMAXPROCS": "1"}, reps=BIG_REPS)
R["weave_spawn_all"] = run("spawn", [MICRO, "spawn", str(N), str(N)], reps=BIG_REPS)
R["go_batched"] = run("spawn", [os.path.join(BIN, "go-spawn-batched"), str(N), str(BATCH)], env={"GOMAXPROCS": "1"})
R["weave_spawn_batched"] = run("spawn", [MICRO, "spawn", str(N), str(BATCH)])

R["go_idle"] = run("idle", [os.path.join(BIN, "go-micro"), "idle", str(N)], reps=BIG_REPS)
for stack in IDLE_STACKS:
    R[f"weave_idle_{stack}"] = run("idle", [MICRO, "idle", str(N), stack], reps=BIG_REPS)

R["weave_timers"] = run("timers", [MICRO, "timers", str(TIMERS_N)])

# ------------------------------------------------------------ the table
def g(key, impl):
    return R.get(key, {}).get(impl, [])


def fmt(v, nd=0):
    return "-" if v is None else f"{v:,.{nd}f}"


table = []  # (case, impl, value, ratio, target)


def ratio(ours, peer, peer_name):
    if ours is None or peer is None or peer == 0:
        return "-"
    return f"{ours / peer:.2f}x {peer_name}"


def verdict(ok):
    return "**met**" if ok else "**missed**"


# switch
go_chan = best(g("gochan", "go-chan"), "ns_per_switch", False)
go_ns = go_chan["ns_per_switch"] if go_chan else None
peer = "Go chan"
for key, impl, label in (("ucontext", "c-ucontext", "C ucontext swapcontext"),
                         ("gochan", "go-chan", "Go unbuffered chan ping-pong, GOMAXPROCS=1"),
                         ("greenlet", "py-greenlet", "Python greenlet (raw switch)")):
    r = best(g(key, impl), "ns_per_switch", False)
    if r:
        table.append(("switch", label, f"{fmt(r['ns_per_switch'], 1)} ns/switch", ratio(r["ns_per_switch"], go_ns, peer), ""))
raw = best(g("weave_switch", "weave-asm"), "ns_per_switch", False)
swp = best(g("weave_switch", "weave-asm+swap"), "ns_per_switch", False)
yld = best(g("weave_switch", "weave-yield"), "ns_per_switch", False)
if raw:
    table.append(("switch", "**weave** raw asm (SPI, hub<->fiber, no swap)", f"{fmt(raw['ns_per_switch'], 1)} ns/switch",
                  ratio(raw["ns_per_switch"], go_ns, peer), ""))
if swp:
    swap_cost = swp["ns_per_switch"] - raw["ns_per_switch"] if raw else None
    table.append(("switch", "**weave** asm + exclusivity swap (SPI, 1 runtime call/switch)",
                  f"{fmt(swp['ns_per_switch'], 1)} ns/switch (swap +{fmt(swap_cost, 1)} ns)",
                  ratio(swp["ns_per_switch"], go_ns, peer), f"<= 35 ns: {verdict(swp['ns_per_switch'] <= 35)}"))
chk = best(g("weave_switch", "weave-asm+swap-check"), "ns_per_switch", False)
if chk:
    check_cost = chk["ns_per_switch"] - raw["ns_per_switch"] if raw else None
    table.append(("switch", "**weave** asm + swap as hubs run it (runtime calls skipped while no access is open)",
                  f"{fmt(chk['ns_per_switch'], 1)} ns/switch (check +{fmt(check_cost, 1)} ns)",
                  ratio(chk["ns_per_switch"], go_ns, peer), f"<= 35 ns: {verdict(chk['ns_per_switch'] <= 35)}"))
chan = best(g("weave_channel", "weave-channel"), "ns_per_switch", False)
if chan:
    faster = go_ns / chan["ns_per_switch"] if go_ns else None
    table.append(("switch", "**weave** unbuffered Channel<Int> ping-pong (Go's shape)",
                  f"{fmt(chan['ns_per_switch'], 1)} ns/switch", ratio(chan["ns_per_switch"], go_ns, peer),
                  f">= 3x faster than Go chan: {verdict(faster is not None and faster >= 3)}" + (f" ({faster:.2f}x)" if faster else "")))
if yld:
    table.append(("switch", "**weave** yield ping-pong, 2 coroutines, run queue (swap: exit+enter)",
                  f"{fmt(yld['ns_per_switch'], 1)} ns/yield ({yld['switches_per_yield']:.3f} switches/yield)",
                  ratio(yld["ns_per_switch"], go_ns, peer),
                  f"<= 35 ns incl. swap: {verdict(yld['ns_per_switch'] <= 35)}; yield <= 40 ns: {verdict(yld['ns_per_switch'] <= 40)}"))

# spawn
def spawn_value(r):
    rss = f", peak RSS {fmt(r['peak_rss_kb'] / 1024, 0)} MiB" if r.get("peak_rss_kb") else ""
    return f"{fmt(r['tasks_per_s'] / 1e6, 2)} M/s{rss}"


go_all = best(g("go_spawn", "go-goroutine"), "tasks_per_s", True)
go_b = best(g("go_batched", "go-goroutine-batched"), "tasks_per_s", True)
w_all = best(g("weave_spawn_all", "weave-coroutine-all-at-once"), "tasks_per_s", True)
w_b = best(g("weave_spawn_batched", "weave-coroutine-batched"), "tasks_per_s", True)
if go_all:
    table.append((f"spawn, all {N:,} at once", "Go go-micro spawn, GOMAXPROCS=1", spawn_value(go_all), "1.00x Go", ""))
if w_all:
    r = w_all["tasks_per_s"] / go_all["tasks_per_s"] if go_all else None
    table.append((f"spawn, all {N:,} at once", f"**weave** spawn + joinAll ({w_all['stack_kib']} KiB stacks)", spawn_value(w_all),
                  ratio(w_all["tasks_per_s"], go_all and go_all["tasks_per_s"], "Go"),
                  f">= 2x Go: {verdict(r is not None and r >= 2)}"))
w = best(g("weave_spawn_all", "weave-detached-args-all-at-once"), "tasks_per_s", True)
if w:
    table.append((f"spawn, all {N:,} at once", "**weave** spawnDetached(with:) + WaitGroup", spawn_value(w),
                  ratio(w["tasks_per_s"], go_all and go_all["tasks_per_s"], "Go"), ""))
if go_b:
    table.append((f"spawn, batches of {BATCH:,} to {N:,}", "Go go-spawn-batched, GOMAXPROCS=1", spawn_value(go_b), "1.00x Go", ""))
if w_b:
    r = w_b["tasks_per_s"] / go_b["tasks_per_s"] if go_b else None
    table.append((f"spawn, batches of {BATCH:,} to {N:,}", f"**weave** spawn + joinAll of the handles ({w_b['stack_kib']} KiB stacks, pooled)", spawn_value(w_b),
                  ratio(w_b["tasks_per_s"], go_b and go_b["tasks_per_s"], "Go"),
                  f">= 2x Go (same shape): {verdict(r is not None and r >= 2)}"))
# Go's program exactly: no handles, a WaitGroup. The closure captures the counter and the
# group (as Go's does); `with:` passes them as the argument instead (nothing allocated).
for impl, label in (("weave-detached-batched", "spawnDetached + WaitGroup, closure capturing counter and group (Go's code)"),
                    ("weave-detached-args-batched", "spawnDetached(with: (counter, group)) + WaitGroup, no allocation")):
    w = best(g("weave_spawn_batched", impl), "tasks_per_s", True)
    if w:
        r = w["tasks_per_s"] / go_b["tasks_per_s"] if go_b else None
        table.append((f"spawn, batches of {BATCH:,} to {N:,}", f"**weave** {label}", spawn_value(w),
                      ratio(w["tasks_per_s"], go_b and go_b["tasks_per_s"], "Go"),
                      f">= 2x Go (same shape): {verdict(r is not None and r >= 2)}"))

# idle
go_i = best(g("go_idle", "go-goroutine"), "bytes_per_task", False)
if go_i:
    table.append((f"idle, {N:,} parked", "Go goroutines on chan receive", f"{fmt(go_i['bytes_per_task'])} B RSS each",
                  "1.00x Go", ""))
for stack in IDLE_STACKS:
    r = best(g(f"weave_idle_{stack}", "weave-coroutine"), "bytes_per_task", False)
    if not r:
        continue
    ok = r["bytes_per_task"] <= 5 * 1024 and r["mappings"] < r["max_map_count"] // 10
    ok_pte = r["bytes_per_task_incl_pte"] <= 5 * 1024
    table.append((f"idle, {r['n']:,} parked", f"**weave** on sleep, {r['stack_kib']} KiB stacks, {r['guard']} guards",
                  f"{fmt(r['bytes_per_task'])} B RSS each + {fmt(r['pte_bytes_per_task'])} B page tables "
                  f"(VmPTE {fmt(r['pte_kb'] / 1024, 0)} MiB); {r['mappings']} mappings of {r['max_map_count']:,}",
                  ratio(r["bytes_per_task"], go_i and go_i["bytes_per_task"], "Go"),
                  f"<= 5 KiB RSS, maps << max: {verdict(ok)}; incl. PTE: {verdict(ok_pte)}"))

# timers
t = best(g("weave_timers", "weave-coroutine"), "secs", False)
if t:
    table.append((f"timers, {t['n']:,} sleepers 1..50 ms", "**weave**",
                  f"all woke {fmt(t['wait_after_spawn_ms'], 0)} ms after spawning ended (floor 50); spawn {fmt(t['spawn_secs'] * 1000, 0)} ms; "
                  f"late p50 {fmt(t['late_p50_us'] / 1000, 1)} / p99 {fmt(t['late_p99_us'] / 1000, 1)} ms", "-", ""))

head = ("case", "impl", "value", "ratio vs peer", "target")
widths = [max(len(str(row[i])) for row in [head] + table) for i in range(len(head))]
line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"
md = [line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(r) for r in table]
stamp = time.strftime("%Y-%m-%d %H:%M")
uname = os.uname()
notes = [
    f"# Weave micro benchmarks beside the peers ({stamp}, {uname.nodename}, {uname.release}, {os.cpu_count()} CPUs)",
    "",
    f"Every case pinned with `{' '.join(PIN) or '(no pinning)'}`, run back to back by `Benchmarks/compare-micro.sh`; "
    f"best of {REPS} runs ({BIG_REPS} for the {N:,}-coroutine cases). Ratios: ours ÷ the peer's "
    "(ns and bytes: lower is better; M/s: higher is better). Peers: Go chan ping-pong for switch, "
    "Go with GOMAXPROCS=1 in the same batch shape for spawn, Go goroutines for idle.",
    "",
] + md + [
    "",
    "- The SPI switch is hub<->fiber: with the swap on, each switch makes one `libswiftCore` call "
    "(exit going out of a coroutine, enter going in). Coroutine<->coroutine switches (the yield row) make both.",
    "- Yield goes through the run queue (no direct hand-off); libuv is polled every 256 dispatches "
    "(the switches/yield figure above 1 is those polls).",
    "- Idle: RSS delta from /proc/self/statm after all coroutines parked, ÷ N; page tables (VmPTE) are not in RSS and are shown apart.",
]
text = "\n".join(notes) + "\n"
print()
print(text)
with open(os.path.join(RESULTS, "weave-micro-latest.md"), "w") as f:
    f.write(text)
with open(os.path.join(RESULTS, "weave-micro-latest.jsonl"), "w") as f:
    for r in records:
        f.write(json.dumps(r) + "\n")
print(f"[compare-micro] wrote {os.path.join(RESULTS, 'weave-micro-latest.md')} and .jsonl")
PY
