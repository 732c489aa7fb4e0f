#!/usr/bin/env bash
# TLS servers side by side (issue 15): Weave's tls-echo sample (one hub) beside Go's
# crypto/tls (Benchmarks/Peers/go-tls, GOMAXPROCS=1), the same ECDSA P-256 certificate made
# here with the openssl command line, the same Go load generator for both.
#
#   bash Benchmarks/compare-tls.sh          (from the repo root, or from anywhere)
#
# Rows:
#   handshakes  new TCP connection + full TLS 1.3 handshake (no resumption) + a 1-byte echo
#               + close, HC client goroutines; handshakes/s and server CPU µs per handshake
#   echo        TC connections each writing 64 KiB chunks while reading the echo back;
#               MB/s echoed and server CPU µs per MB
# The server runs pinned to SERVER_CPU with taskset, the client to CLIENT_CPU; each row runs
# REPS times alternating the servers, a fresh server each run; the best rate is printed with
# the CPU figure of that run, and weave/go ratios (for CPU, lower is better: go/weave).
# Knobs (environment): SECONDS_PER_RUN=5 REPS=3 HC=8 TC=4 SERVER_CPU=0 CLIENT_CPU=1,
# TLS_ECHO (a tls-echo binary to use instead of building). Needs Go >= 1.19 (offline, stdlib
# only), openssl, taskset.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
. "$HERE/lib.sh"
SECONDS_PER_RUN=${SECONDS_PER_RUN:-5}
REPS=${REPS:-3}
HC=${HC:-8}
TC=${TC:-4}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
require_tools compare-tls go openssl taskset

with_scratch_dir

if [[ -z "${TLS_ECHO:-}" ]]; then
  echo "[compare-tls] swift build -c release --product tls-echo" >&2
  (cd "$ROOT" && swift build -c release --product tls-echo >&2)
  TLS_ECHO="$(cd "$ROOT" && swift build -c release --show-bin-path)/tls-echo"
fi
echo "[compare-tls] go build Peers/go-tls" >&2
(cd "$HERE/Peers/go-tls" && GOFLAGS=-mod=mod GOPROXY=off go build -o "$DIR/go-tls" .)

# A CA and a P-256 server certificate for localhost / 127.0.0.1, as the tests make them.
make_tls_certificate "$DIR"

PORT=$(free_port)

start_server() {  # weave|go
  rm -f "$DIR/server.log"  # so that the previous server's "listening" line is not taken for this one's
  case $1 in
    weave) taskset -c "$SERVER_CPU" "$TLS_ECHO" --port "$PORT" --cert "$DIR/server.pem" --key "$DIR/server.key" \
             >"$DIR/server.log" 2>&1 & ;;
    go)    GOMAXPROCS=1 taskset -c "$SERVER_CPU" "$DIR/go-tls" server -addr "127.0.0.1:$PORT" \
             -cert "$DIR/server.pem" -key "$DIR/server.key" >"$DIR/server.log" 2>&1 & ;;
  esac
  SERVER=$!
  for _ in $(seq 100); do
    grep -q listening "$DIR/server.log" 2>/dev/null && return 0
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "[compare-tls] $1 server did not start: $(cat "$DIR/server.log")" >&2
  exit 1
}
stop_server() {
  kill "$SERVER" 2>/dev/null || true
  wait "$SERVER" 2>/dev/null || true
  SERVER=""
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# Prints "rate cpu-µs-per-unit" for server $1 and row $2.
measure() {
  start_server "$1"
  local before after rate
  before=$(cpu_ticks "$SERVER")
  case $2 in
    handshakes) rate=$(GOMAXPROCS=1 taskset -c "$CLIENT_CPU" "$DIR/go-tls" handshakes -addr "127.0.0.1:$PORT" \
                  -ca "$DIR/ca.pem" -seconds "$SECONDS_PER_RUN" -c "$HC") ;;
    echo)       rate=$(GOMAXPROCS=1 taskset -c "$CLIENT_CPU" "$DIR/go-tls" throughput -addr "127.0.0.1:$PORT" \
                  -ca "$DIR/ca.pem" -seconds "$SECONDS_PER_RUN" -c "$TC" -chunk 65536) ;;
  esac
  after=$(cpu_ticks "$SERVER")
  stop_server
  local ticks_per_second
  ticks_per_second=$(getconf CLK_TCK)
  awk -v r="$rate" -v t=$((after - before)) -v hz="$ticks_per_second" -v s="$SECONDS_PER_RUN" \
    'BEGIN { printf "%s %.1f\n", r, (r > 0 ? t / hz * 1e6 / (r * s) : 0) }'
}

echo "[compare-tls] $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); server on CPU $SERVER_CPU, client on CPU $CLIENT_CPU;" \
     "${SECONDS_PER_RUN}s runs, REPS=$REPS, HC=$HC, TC=$TC; $(go version | awk '{print $3}'), $(openssl version | awk '{print $1, $2}')" >&2
printf '%-22s %10s %10s %7s   %-14s %10s %10s %7s\n' rate weave go w/g "server CPU" weave go g/w
for row in handshakes echo; do
  best_w="0 0"; best_g="0 0"
  for _ in $(seq "$REPS"); do
    w=$(measure weave "$row"); g=$(measure go "$row")
    awk -v a="$w" -v b="$best_w" 'BEGIN { split(a, x, " "); split(b, y, " "); exit !(x[1] + 0 > y[1] + 0) }' && best_w=$w
    awk -v a="$g" -v b="$best_g" 'BEGIN { split(a, x, " "); split(b, y, " "); exit !(x[1] + 0 > y[1] + 0) }' && best_g=$g
  done
  read -r wr wc <<<"$best_w"; read -r gr gc <<<"$best_g"
  case $row in
    handshakes) unit="handshakes/s"; cpu_unit="µs/handshake" ;;
    echo)       unit="echo MB/s"; cpu_unit="µs/MB" ;;
  esac
  printf '%-22s %10s %10s %6sx   %-14s %10s %10s %6sx\n' "$unit (best of $REPS)" "$wr" "$gr" \
    "$(awk -v w="$wr" -v g="$gr" 'BEGIN { printf "%.2f", (g > 0 ? w / g : 0) }')" \
    "$cpu_unit" "$wc" "$gc" "$(awk -v w="$wc" -v g="$gc" 'BEGIN { printf "%.2f", (w > 0 ? g / w : 0) }')"
done
