#!/usr/bin/env bash
# WeaveAMQP beside Python's pika on the same RabbitMQ broker, back to back (issue 17).
#
#   bash Benchmarks/compare-amqp.sh          (from the repo root, or from anywhere)
#
# Builds weave-amqp (release), makes a venv with pika under OUT, starts a throwaway RabbitMQ
# (its own epmd, node name, data and config in a temporary directory, free loopback ports;
# Debian: apt-get install rabbitmq-server) with its management plugin on loopback, runs each
# row REPS times alternating the two clients with the same message count and size, and prints
# for the best run of each: the client-measured msgs/s and their ratio, the broker's own
# figures for the same run, and the CPU time per message of the client and of the broker
# (the broker bounds the rates of both clients once a client is fast enough); then stops the
# broker and its epmd by pid.
# Rows:
#   publish, confirm each   pika BlockingChannel.basic_publish in confirm mode   beside one
#                           coroutine whose publish waits for its confirm (N_SYNC messages)
#   publish, confirms (window 1000) / (50 coroutines)   Weave only, beside the same pika row:
#                           what each client offers for publishing with confirms
#   consume, ack each       prefetch 1000, basic_consume + ack   beside a consumer coroutine
#   consume, no ack         basic_consume with auto_ack (at most once)   beside a noAck consumer
# The broker's figures for each run (both clients print "timed" when their timed part starts):
# its own message counts from the management API (/api/overview message_stats: publish and
# confirm for publish rows, deliver_get and ack for consume), read before and after the run
# (after: once they have all arrived; the plugin shows them seconds late) and divided by the
# client-measured time; and beam.smp's user + system CPU time over the timed part per message.
# (The API's own `*_details.rate` moves in 5-second steps on 3.10, too coarse for runs of a few
# seconds, so it is not used.) The management plugin adds broker work of its own (statistics
# every STATS_MS ms): MANAGEMENT=0 runs without it (no broker counts).
# Knobs (environment): N=200000 messages (N_SYNC=20000 for the confirm-each row), SIZE=256
# bytes, REPS=3, STATS_MS=500, MANAGEMENT=1, OUT=.peers-out/amqp (the venv), WEAVE_AMQP (a
# binary to use instead of building).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
ROOT=$(cd "$HERE/.." && pwd)
N=${N:-200000}
N_SYNC=${N_SYNC:-20000}
STATS_MS=${STATS_MS:-500}
MANAGEMENT=${MANAGEMENT:-1}
SIZE=${SIZE:-256}
REPS=${REPS:-3}
OUT=${OUT:-$ROOT/.peers-out/amqp}
require_tools compare-amqp python3 curl epmd pgrep

if [[ -z "${WEAVE_AMQP:-}" ]]; then
  echo "[compare-amqp] swift build -c release --product weave-amqp" >&2
  (cd "$HERE" && swift build -c release --product weave-amqp >&2)
  WEAVE_AMQP="$(cd "$HERE" && swift build -c release --show-bin-path)/weave-amqp"
fi
mkdir -p "$OUT"
if [[ ! -x $OUT/venv/bin/python ]] || ! "$OUT/venv/bin/python" -c 'import pika' 2>/dev/null; then
  echo "[compare-amqp] python3 -m venv $OUT/venv && pip install pika" >&2
  python3 -m venv "$OUT/venv"
  "$OUT/venv/bin/pip" install -q pika >&2
fi
PYTHON=$OUT/venv/bin/python

# The broker: everything under DIR, on loopback ports nobody uses now (start_rabbitmq in
# lib.sh), with the management plugin unless MANAGEMENT=0.
MGMT_PORT=$(free_port)
DIR=$(mktemp -d /tmp/weave-rabbitmq-bench-XXXXXX)
CONF="collect_statistics_interval = $STATS_MS"
PLUGINS=""
if [[ $MANAGEMENT == 1 ]]; then
  CONF+=$'\n'"management.tcp.ip = 127.0.0.1"$'\n'"management.tcp.port = $MGMT_PORT"$'\n'"management.rates_mode = basic"
  PLUGINS=rabbitmq_management
fi
cleanup() {
  stop_rabbitmq
  rm -rf "$DIR"
}
trap cleanup EXIT
start_rabbitmq "$DIR" "$CONF" "$PLUGINS" || { echo "[compare-amqp] the broker did not start" >&2; exit 1; }
URL=$RABBITMQ_URL
BROKER=$RABBITMQ_PID
PORT=$RABBITMQ_PORT
# rabbitmq-server stays a shell that waits for its beam.smp child: measure the child.
BEAM=$(pgrep -P "$BROKER" -x beam.smp | head -1 || true)
[[ -n $BEAM ]] || { echo "[compare-amqp] no beam.smp under the broker's pid $BROKER" >&2; exit 1; }
MGMT="http://127.0.0.1:$MGMT_PORT"
[[ $MANAGEMENT == 1 ]] || MGMT=""
VERSION=$(dpkg-query -W -f '${Version}' rabbitmq-server 2>/dev/null || echo '?')
echo "[compare-amqp] rabbitmq-server $VERSION pid $BROKER port $PORT management ${MGMT:-off}; N=$N N_SYNC=$N_SYNC SIZE=$SIZE REPS=$REPS; pika $("$PYTHON" -c 'import pika; print(pika.__version__)')" >&2

# run_client KEY COMMAND...: runs one client and appends its JSON line, with the broker's
# figures and the load average added, to $DIR/results.jsonl.
cat >"$DIR/run_client.py" <<'PY'
import base64, json, os, subprocess, sys, time, urllib.request

key, mgmt, broker, command = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
auth = "Basic " + base64.b64encode(b"guest:guest").decode()
stats = ("deliver_get",) if "noack" in key else ("deliver_get", "ack") if "consume" in key else ("publish", "confirm")
hertz = os.sysconf("SC_CLK_TCK")

def totals():
    if not mgmt:
        return {}
    request = urllib.request.Request(f"{mgmt}/api/overview?columns=message_stats", headers={"Authorization": auth})
    with urllib.request.urlopen(request, timeout=10) as response:
        message_stats = json.load(response).get("message_stats", {})
    return {stat: message_stats.get(stat, 0) for stat in stats}

def broker_cpu():
    """beam.smp's user + system seconds, every thread."""
    with open(f"/proc/{broker}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / hertz

before = totals()
# The client keeps its connection open until its stdin ends (AMQP_BENCH_HOLD), so that its
# channel's last statistics reach the management database.
client = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                          env=dict(os.environ, AMQP_BENCH_HOLD="1"))
line = client.stdout.readline().strip()
if line != "timed":
    sys.exit(f"{key}: expected 'timed', got {line!r}")
cpu_started = broker_cpu()
line = client.stdout.readline()
cpu_ended = broker_cpu()
if not line:
    sys.exit(f"{key}: the client failed")
result = json.loads(line)
count = result["count"]
result.update(key=key, load=os.getloadavg()[0], broker_cpu_us_per_msg=(cpu_ended - cpu_started) * 1e6 / count)
if mgmt:
    # The management database shows a channel's counts some seconds late.
    deadline = time.monotonic() + 30
    after = totals()
    while any(after[stat] < before[stat] + count for stat in stats) and time.monotonic() < deadline:
        time.sleep(0.25)
        after = totals()
    for stat in stats:
        result[f"broker_{stat}"] = after[stat] - before[stat]
        result[f"broker_{stat}_per_s"] = (after[stat] - before[stat]) / result["seconds"]
client.stdin.close()
if client.wait() != 0:
    sys.exit(f"{key}: the client failed")
print(json.dumps(result))
broker = ", ".join(f"{stat} {result[f'broker_{stat}']} ({result[f'broker_{stat}_per_s']:,.0f}/s)" for stat in stats if f"broker_{stat}" in result)
print(f"[compare-amqp]   {key}: {result['msgs_per_s']:,} msgs/s, client {result['cpu_us_per_msg']:.1f} µs/msg, "
      f"broker {result['broker_cpu_us_per_msg']:.1f} µs/msg; broker counted: {broker or '-'}; load {result['load']:.1f}", file=sys.stderr)
PY
: >"$DIR/results.jsonl"
run_client() {  # key command...
  python3 "$DIR/run_client.py" "$1" "$MGMT" "$BEAM" "${@:2}" >>"$DIR/results.jsonl"
}
if [[ -n $MGMT ]]; then
  ready=""
  for _ in $(seq 300); do curl -sf -u guest:guest "$MGMT/api/overview" >/dev/null && { ready=1; break; }; sleep 0.1; done
  [[ -n $ready ]] || { echo "[compare-amqp] the management API at $MGMT did not answer" >&2; exit 1; }
fi
echo "[compare-amqp] load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for rep in $(seq "$REPS"); do
  echo "[compare-amqp] round $rep/$REPS" >&2
  run_client pika-publish-sync "$PYTHON" "$HERE/Peers/pika_bench.py" "$URL" publish-sync "$N_SYNC" "$SIZE"
  run_client weave-publish-sync "$WEAVE_AMQP" "$URL" publish-sync "$N_SYNC" "$SIZE"
  run_client pika-consume "$PYTHON" "$HERE/Peers/pika_bench.py" "$URL" consume "$N" "$SIZE"
  run_client weave-consume "$WEAVE_AMQP" "$URL" consume "$N" "$SIZE"
  run_client pika-consume-noack "$PYTHON" "$HERE/Peers/pika_bench.py" "$URL" consume-noack "$N" "$SIZE"
  run_client weave-consume-noack "$WEAVE_AMQP" "$URL" consume-noack "$N" "$SIZE"
  for mode in publish-window publish-many; do
    run_client "weave-$mode" "$WEAVE_AMQP" "$URL" "$mode" "$N" "$SIZE"
  done
done
echo "[compare-amqp] load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

python3 - "$DIR/results.jsonl" "$VERSION" "$N" "$N_SYNC" "$SIZE" "$REPS" <<'PY'
import json, sys
path, version, n, n_sync, size, reps = sys.argv[1:]
runs = {}
for line in open(path):
    r = json.loads(line)
    runs.setdefault(r["key"], []).append(r)
best = {key: max(rs, key=lambda r: r["msgs_per_s"]) for key, rs in runs.items()}
least = lambda key, field: min(r[field] for r in runs[key])
rows = [("weave-publish-sync", "pika-publish-sync", "publish, confirm each (1 publisher)"),
        ("weave-publish-window", "pika-publish-sync", "publish, confirms (Weave: window of 1000)"),
        ("weave-publish-many", "pika-publish-sync", "publish, confirms (Weave: 50 coroutines)"),
        ("weave-consume", "pika-consume", "consume, ack each, prefetch 1000"),
        ("weave-consume-noack", "pika-consume-noack", "consume, no ack (at most once)")]
def rate(value):
    return "-" if value is None else f"{value:,.0f}"
def line(*cells):
    print("| " + " | ".join(cells) + " |")
print(f"\nRabbitMQ {version}, {size}-byte messages ({n_sync} for confirm each, else {n}), best of {reps}; ratio: Weave over pika, target >= 5x")
print("broker msgs/s = the broker's own count for the run (management API: publish rows publish, consume rows ack, no-ack rows deliver_get) over the client-measured time\n")
line("msgs/s", "pika", "Weave", "ratio", "broker msgs/s pika / Weave", "load pika / Weave")
line(*["---"] + ["---:"] * 5)
for w, p, label in rows:
    bw, bp = best[w], best[p]
    stat = "deliver_get" if "noack" in w else "ack" if "consume" in w else "publish"
    line(label, f"{bp['msgs_per_s']:,}", f"{bw['msgs_per_s']:,}", f"{bw['msgs_per_s'] / bp['msgs_per_s']:.1f}x",
         f"{rate(bp.get(f'broker_{stat}_per_s'))} / {rate(bw.get(f'broker_{stat}_per_s'))}",
         f"{bp['load']:.1f} / {bw['load']:.1f}")
print("\nCPU time per message (user + system, µs, least of the runs): the client's, and the broker's (beam.smp) while that client ran\n")
line("µs/msg", "client pika", "client Weave", "ratio", "broker under pika", "broker under Weave", "Weave writes/msg")
line(*["---"] + ["---:"] * 6)
for w, p, label in rows:
    cw, cp = least(w, "cpu_us_per_msg"), least(p, "cpu_us_per_msg")
    line(label, f"{cp:.1f}", f"{cw:.1f}", f"{cp / cw:.1f}x", f"{least(p, 'broker_cpu_us_per_msg'):.1f}", f"{least(w, 'broker_cpu_us_per_msg'):.1f}",
         f"{best[w]['write_calls_per_msg']:.3f}")
PY
