#!/usr/bin/env bash
# WeaveAMQP beside Python's pika on the same RabbitMQ broker, back to back (issue 17).
#
#   bash Benchmarks/compare-amqp.sh          (from the repo root, or from anywhere)
#
# Builds weave-amqp (release), makes a venv with pika under OUT, starts a throwaway RabbitMQ
# (its own epmd, node name, data and config in a temporary directory, free loopback ports;
# Debian: apt-get install rabbitmq-server), runs each row REPS times alternating the two
# clients with the same message count and size, prints the best msgs/s of each and their
# ratio, and the client's own CPU time per message (the broker bounds the rates of both
# clients once a client is fast enough), then stops the broker and its epmd by pid.
# Rows:
#   publish, confirm each   pika BlockingChannel.basic_publish in confirm mode   beside one
#                           coroutine whose publish waits for its confirm
#   publish, confirms (window 1000) / (50 coroutines)   Weave only, beside the same pika row:
#                           what each client offers for publishing with confirms
#   consume, ack each       prefetch 1000, basic_consume + ack   beside a consumer coroutine
# Knobs (environment): N=20000 messages, SIZE=256 bytes, REPS=3, OUT=.peers-out/amqp (the
# venv), WEAVE_AMQP (a binary to use instead of building).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
ROOT=$(cd "$HERE/.." && pwd)
N=${N:-20000}
SIZE=${SIZE:-256}
REPS=${REPS:-3}
OUT=${OUT:-$ROOT/.peers-out/amqp}
RABBITMQ_SERVER=/usr/lib/rabbitmq/bin/rabbitmq-server
[[ -x $RABBITMQ_SERVER ]] || { echo "[compare-amqp] $RABBITMQ_SERVER not found (apt-get install rabbitmq-server)" >&2; exit 1; }

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

# The broker: everything under DIR, on loopback ports nobody uses now.
PORT=$(free_port); DIST=$(free_port); EPMD_PORT=$(free_port)
DIR=$(mktemp -d /tmp/weave-rabbitmq-bench-XXXXXX)
cat >"$DIR/rabbitmq.conf" <<CONF
listeners.tcp.default = 127.0.0.1:$PORT
loopback_users = none
disk_free_limit.absolute = 1MB
CONF
echo '[].' >"$DIR/enabled_plugins"
export HOME=$DIR RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT=$PORT RABBITMQ_DIST_PORT=$DIST \
  RABBITMQ_NODENAME="weave-bench-$$-$PORT@localhost" RABBITMQ_MNESIA_BASE=$DIR/mnesia RABBITMQ_LOG_BASE=$DIR/log \
  RABBITMQ_CONFIG_FILE=$DIR/rabbitmq.conf RABBITMQ_ENABLED_PLUGINS_FILE=$DIR/enabled_plugins \
  RABBITMQ_CONF_ENV_FILE=$DIR/rabbitmq-env.conf ERL_EPMD_PORT=$EPMD_PORT ERL_EPMD_ADDRESS=127.0.0.1 \
  RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
# Our own epmd in the foreground (one the broker started would daemonize), listening first.
(cd "$DIR" && exec epmd -port "$EPMD_PORT" -address 127.0.0.1) >"$DIR/epmd.log" 2>&1 &
EPMD=$!
BROKER=""
cleanup() {
  if [[ -n $BROKER ]]; then kill -TERM "$BROKER" 2>/dev/null; wait "$BROKER" 2>/dev/null || true; fi
  kill "$EPMD" 2>/dev/null; wait "$EPMD" 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$EPMD_PORT") 2>/dev/null && break; sleep 0.1; done
(cd "$DIR" && exec "$RABBITMQ_SERVER") >"$DIR/broker.log" 2>&1 &
BROKER=$!
ready=""
for _ in $(seq 900); do
  if python3 - "$PORT" <<'PY' 2>/dev/null; then ready=1; break; fi
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
s.sendall(b"AMQP\x00\x00\x09\x01")
sys.exit(0 if s.recv(1) == b"\x01" else 1)
PY
  kill -0 "$BROKER" 2>/dev/null || break
  sleep 0.1
done
[[ -n $ready ]] || { echo "[compare-amqp] the broker did not start: $(tail -c 1500 "$DIR/broker.log")" >&2; exit 1; }
URL="amqp://guest:guest@127.0.0.1:$PORT/%2F"
VERSION=$(dpkg-query -W -f '${Version}' rabbitmq-server 2>/dev/null || echo '?')
echo "[compare-amqp] rabbitmq-server $VERSION pid $BROKER port $PORT; N=$N SIZE=$SIZE REPS=$REPS; pika $("$PYTHON" -c 'import pika; print(pika.__version__)')" >&2

rate() { sed 's/.*"msgs_per_s": *\([0-9]*\).*/\1/'; }
cpu() { sed 's/.*"cpu_us_per_msg": *\([0-9.e+-]*\).*/\1/'; }
declare -A results cpus
measure() {  # key command...
  local line; line=$("${@:2}")
  results[$1]+="$(rate <<<"$line") "
  cpus[$1]+="$(cpu <<<"$line") "
}
for rep in $(seq "$REPS"); do
  echo "[compare-amqp] round $rep/$REPS" >&2
  for mode in publish-sync consume; do
    measure "pika-$mode" "$PYTHON" "$HERE/Peers/pika_bench.py" "$URL" "$mode" "$N" "$SIZE"
    measure "weave-$mode" "$WEAVE_AMQP" "$URL" "$mode" "$N" "$SIZE"
  done
  for mode in publish-window publish-many; do
    measure "weave-$mode" "$WEAVE_AMQP" "$URL" "$mode" "$N" "$SIZE"
  done
done

top() { tr ' ' '\n' <<<"${results[$1]}" | grep -v '^$' | sort -n | tail -1; }
least() { tr ' ' '\n' <<<"${cpus[$1]}" | grep -v '^$' | sort -g | head -1; }
line() { printf '| %-44s | %13s | %13s | %7s |\n' "$@"; }
row() {  # weave-key pika-key label
  local w p; w=$(top "$1"); p=$(top "$2")
  line "$3" "$p" "$w" "$(python3 -c "print(f'{$w/$p:.1f}x')")"
}
cpurow() {  # weave-key pika-key label
  local w p; w=$(least "$1"); p=$(least "$2")
  line "$3" "$(python3 -c "print(f'{$p:.1f}')")" "$(python3 -c "print(f'{$w:.1f}')")" "$(python3 -c "print(f'{$p/$w:.1f}x')")"
}
rule() { printf '|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..46})" "$(printf -- '-%.0s' {1..15})" "$(printf -- '-%.0s' {1..15})" "$(printf -- '-%.0s' {1..9})"; }
echo
echo "RabbitMQ $VERSION, $N messages of $SIZE bytes, best of $REPS (ratio: Weave over pika, target >= 5x)"
line "msgs/s" "pika" "Weave" "ratio"
rule
row weave-publish-sync pika-publish-sync "publish, confirm each (1 publisher)"
row weave-publish-window pika-publish-sync "publish, confirms (Weave: window of 1000)"
row weave-publish-many pika-publish-sync "publish, confirms (Weave: 50 coroutines)"
row weave-consume pika-consume "consume, ack each, prefetch 1000"
echo
echo "The client's own CPU time per message (user + system, µs; lower is better; ratio = pika / Weave)"
line "client CPU us/msg" "pika" "Weave" "ratio"
rule
cpurow weave-publish-sync pika-publish-sync "publish, confirm each (1 publisher)"
cpurow weave-publish-window pika-publish-sync "publish, confirms (Weave: window of 1000)"
cpurow weave-consume pika-consume "consume, ack each, prefetch 1000"
