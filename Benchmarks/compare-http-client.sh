#!/usr/bin/env bash
# HTTP clients side by side (issue 15): N GETs of `GET /` (Hello, World!) over C pooled
# keep-alive connections against the same local server, the http-server sample (one hub,
# release), by
#   weave     HTTPClient: the crawler sample, `--repeat N --concurrency C URL` (C coroutines
#             on one hub sharing one client, at most C connections)
#   go        net/http's http.Client (Benchmarks/Peers/go-http-client, GOMAXPROCS=1,
#             C goroutines, MaxConnsPerHost=C)
#   requests  Python requests + gevent (Benchmarks/Peers/requests_gevent.py, C greenlets,
#             one Session with pool_maxsize=C), installed with pip into a venv here; the row
#             is skipped with a message when pip cannot install them
#
#   bash Benchmarks/compare-http-client.sh          (from the repo root, or from anywhere)
#
# The server runs pinned to SERVER_CPU with taskset, each client to CLIENT_CPU; every client
# runs REPS times (alternating), the best requests/s is printed with its ratio to Weave's.
# Knobs (environment): N=10000 C=64 REPS=3 SERVER_CPU=0 CLIENT_CPU=1. Needs Go >= 1.19
# (offline, stdlib only), taskset, python3.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
ROOT=$(cd "$HERE/.." && pwd)
N=${N:-10000}
C=${C:-64}
REPS=${REPS:-3}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
require_tools compare-http-client go taskset python3

with_scratch_dir

echo "[compare-http-client] swift build -c release --product http-server, crawler" >&2
(cd "$ROOT" && swift build -c release --product http-server >&2 && swift build -c release --product crawler >&2)
BIN="$(cd "$ROOT" && swift build -c release --show-bin-path)"
echo "[compare-http-client] go build Peers/go-http-client" >&2
(cd "$HERE/Peers/go-http-client" && GOFLAGS=-mod=mod GOPROXY=off go build -o "$DIR/go-http-client" .)

PYTHON=""
echo "[compare-http-client] pip install requests gevent (into $DIR/venv)" >&2
if python3 -m venv "$DIR/venv" >&2 && "$DIR/venv/bin/pip" install -q requests gevent >&2; then
  PYTHON="$DIR/venv/bin/python"
else
  echo "[compare-http-client] pip could not install requests and gevent: the requests row is skipped" >&2
fi

PORT=$(free_port)
URL="http://127.0.0.1:$PORT/"
taskset -c "$SERVER_CPU" "$BIN/http-server" --port "$PORT" --hubs 1 >"$DIR/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 100); do
  grep -q listening "$DIR/server.log" 2>/dev/null && break
  sleep 0.1
done
grep -q listening "$DIR/server.log" || { echo "[compare-http-client] server did not start: $(cat "$DIR/server.log")" >&2; exit 1; }

# Prints the requests/s of one run of client $1.
measure() {
  case $1 in
    weave)    taskset -c "$CLIENT_CPU" "$BIN/crawler" --repeat "$N" --concurrency "$C" "$URL" 2>/dev/null \
                | awk '/requests\/s$/ { print $(NF - 1) }' ;;
    go)       GOMAXPROCS=1 taskset -c "$CLIENT_CPU" "$DIR/go-http-client" -url "$URL" -n "$N" -c "$C" ;;
    requests) taskset -c "$CLIENT_CPU" "$PYTHON" "$HERE/Peers/requests_gevent.py" "$URL" "$N" "$C" ;;
  esac
}

clients="weave go"
[[ -n "$PYTHON" ]] && clients="$clients requests"
declare -A best
for client in $clients; do best[$client]=0; done
for _ in $(seq "$REPS"); do
  for client in $clients; do
    rate=$(measure "$client")
    [[ -n "$rate" ]] || { echo "[compare-http-client] $client run failed" >&2; exit 1; }
    (( rate > best[$client] )) && best[$client]=$rate
  done
done

echo "[compare-http-client] $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); server (http-server, 1 hub) on CPU $SERVER_CPU," \
     "clients on CPU $CLIENT_CPU; N=$N GETs over C=$C connections, best of REPS=$REPS; $(go version | awk '{print $3}')" >&2
printf '%-34s %12s %10s\n' client requests/s vs-weave
for client in $clients; do
  case $client in
    weave)    name="Weave HTTPClient (1 hub)" ;;
    go)       name="Go http.Client (GOMAXPROCS=1)" ;;
    requests) name="Python requests + gevent" ;;
  esac
  printf '%-34s %12s %9sx\n' "$name" "${best[$client]}" \
    "$(awk -v c="${best[$client]}" -v w="${best[weave]}" 'BEGIN { printf "%.2f", (w > 0 ? c / w : 0) }')"
done
[[ -n "$PYTHON" ]] || echo "(requests + gevent: skipped, pip could not install them)"
