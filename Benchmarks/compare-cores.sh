#!/usr/bin/env bash
# Weave's http-server on one hub and on HUBS hubs beside Go's net/http (GOMAXPROCS=HUBS) and
# SwiftNIO (HUBS event loops), the same handlers everywhere (Peers/go-http-spin, Peers/nio-http-spin):
# `GET /spin?us=200` (CPU-bound: does the server use every core?) and `GET /` (hello: what does
# a request cost in server CPU?).
#
#   bash Benchmarks/compare-cores.sh        (from the repo root, or from anywhere)
#
# Builds Weave's http-server (release), go-http-spin with Debian's golang-go and nio-http-spin
# (its own SwiftPM package; the first build compiles swift-nio, a few minutes), starts every
# server once on 127.0.0.1 (any free port), then RUNS rounds, each running
# `wrk -t1 -c$CONNS -d${DURATION}s` once per case against every server in turn (alternating,
# so that a change in the machine's load hits every server alike). Per server and case it keeps
# the round with the most requests/s and reports that rate and the server's user+system CPU
# time (/proc/PID/stat, all its threads) over that run divided by the requests wrk completed.
# Weave's row uses `--hubs N` when the sample has that flag; without it only the one-hub row is
# run. Stops only the servers it started, by PID.
#
# Knobs (environment): HUBS=2, RUNS=3, DURATION=5 (seconds a run), CONNS=64, SPIN_US=200,
# SERVER_CPUS / LOAD_CPUS (taskset CPU lists for the servers and for wrk; unset: unpinned).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
HUBS=${HUBS:-2}
RUNS=${RUNS:-3}
DURATION=${DURATION:-5}
CONNS=${CONNS:-64}
SPIN_US=${SPIN_US:-200}
SERVER_CPUS=${SERVER_CPUS:-}
LOAD_CPUS=${LOAD_CPUS:-}
[[ $HUBS =~ ^[1-9][0-9]*$ && $RUNS =~ ^[1-9][0-9]*$ && $DURATION =~ ^[1-9][0-9]*$ && $CONNS =~ ^[1-9][0-9]*$ && $SPIN_US =~ ^[1-9][0-9]*$ ]] \
  || { echo "[compare-cores] HUBS, RUNS, DURATION, CONNS and SPIN_US must be positive whole numbers" >&2; exit 1; }
OUT=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$OUT"
}
trap cleanup EXIT

log() { echo "[compare-cores] $*" >&2; }
command -v wrk >/dev/null || { log "wrk missing (apt-get install wrk)"; exit 1; }
command -v go >/dev/null || { log "go missing (apt-get install golang-go)"; exit 1; }
pkg-config --exists libuv || { log "libuv1-dev missing (apt-get install libuv1-dev)"; exit 1; }

log "go build Peers/go-http-spin"
(cd "$HERE/Peers/go-http-spin" && GOFLAGS=-mod=mod GOPROXY=off go build -o "$OUT/go-http-spin" .)
log "swift build -c release --package-path Benchmarks/Peers/nio-http-spin"
swift build -c release --package-path "$HERE/Peers/nio-http-spin" --product nio-http-spin >&2
NIO_BIN=$(swift build -c release --package-path "$HERE/Peers/nio-http-spin" --show-bin-path)
log "swift build -c release --product http-server"
(cd "$ROOT" && swift build -c release --product http-server >&2)
WEAVE_BIN=$(cd "$ROOT" && swift build -c release --show-bin-path)

# name|command ({port} is replaced). The first row is the baseline of the ratios.
ROWS=()
if "$WEAVE_BIN/http-server" --help 2>&1 | grep -q -- '--hubs'; then
  ROWS+=("weave, 1 hub|$WEAVE_BIN/http-server --port 0 --hubs 1")
  ((HUBS > 1)) && ROWS+=("weave, $HUBS hubs|$WEAVE_BIN/http-server --port 0 --hubs $HUBS")
else
  log "http-server has no --hubs flag yet: Weave runs on its one hub"
  ROWS+=("weave, 1 hub|$WEAVE_BIN/http-server --port 0")
fi
ROWS+=("go net/http, GOMAXPROCS=$HUBS|env GOMAXPROCS=$HUBS $OUT/go-http-spin -port 0 -procs $HUBS")
ROWS+=("swiftnio, $HUBS event loops|$NIO_BIN/nio-http-spin --port 0 --threads $HUBS")

server_prefix=()
load_prefix=()
[[ -n $SERVER_CPUS ]] && server_prefix=(taskset -c "$SERVER_CPUS")
[[ -n $LOAD_CPUS ]] && load_prefix=(taskset -c "$LOAD_CPUS")

# One HTTP/1.1 request on a fresh connection; prints the status line.
probe() {
  local port=$1 target=$2 status
  exec 3<>"/dev/tcp/127.0.0.1/$port"
  printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$target" >&3
  IFS= read -r -t 10 status <&3 || status="(no answer)"
  exec 3<&-
  echo "${status%$'\r'}"
}

# Starts every server; PORTS[i] and SERVER_PIDS[i] match ROWS[i].
PORTS=()
SERVER_PIDS=()
for index in "${!ROWS[@]}"; do
  IFS='|' read -r name command <<<"${ROWS[$index]}"
  # Unquoted on purpose: the command is words (no spaces inside its paths).
  "${server_prefix[@]}" $command >"$OUT/server-$index.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  SERVER_PIDS+=("$pid")
  port=""
  for _ in $(seq 1 300); do
    port=$(sed -n 's/^listening on [^ ]*:\([0-9][0-9]*\).*/\1/p' "$OUT/server-$index.log" | head -1)
    [[ -n $port ]] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if [[ -z $port ]]; then
    log "$name did not start: $(cat "$OUT/server-$index.log")"
    exit 1
  fi
  for target in "/spin?us=$SPIN_US" "/"; do
    status=$(probe "$port" "$target")
    [[ $status == "HTTP/1.1 200 OK" ]] || { log "$name answers GET $target with '$status'"; exit 1; }
  done
  PORTS+=("$port")
  log "$name: pid $pid, port $port"
done

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)
CASES=("/spin?us=$SPIN_US" "/")
declare -A BEST_RATE BEST_CPU

# measure CASE_INDEX ROW_INDEX ROUND: one wrk run; keeps the best.
measure() {
  local case_index=$1 index=$2 round=$3
  local target=${CASES[$case_index]} pid=${SERVER_PIDS[$index]} port=${PORTS[$index]}
  local name=${ROWS[$index]%%|*}
  local before after requests rate cpu errors
  before=$(cpu_ticks "$pid")
  if ! timeout $((DURATION + 60)) "${load_prefix[@]}" wrk -t1 -c"$CONNS" -d"${DURATION}s" "http://127.0.0.1:$port$target" >"$OUT/wrk.txt"; then
    log "GET $target, $name, round $round: wrk failed or timed out"
    return 0
  fi
  after=$(cpu_ticks "$pid")
  requests=$(awk '/requests in/ {print $1; exit}' "$OUT/wrk.txt")
  rate=$(awk '/Requests\/sec/ {printf "%d", $2}' "$OUT/wrk.txt")
  errors=$(awk '/Non-2xx|Socket errors/' "$OUT/wrk.txt")
  [[ -n $errors ]] && log "$name GET $target round $round: ${errors//$'\n'/; }"
  cpu=$(awk -v t=$((after - before)) -v hz="$HZ" -v n="${requests:-0}" 'BEGIN {printf "%.1f", (n > 0 ? t / hz * 1e6 / n : 0)}')
  log "GET $target, $name, round $round: $rate requests/s, $cpu µs CPU/request"
  local key="$case_index,$index"
  if (( rate > ${BEST_RATE[$key]:-0} )); then
    BEST_RATE[$key]=$rate
    BEST_CPU[$key]=$cpu
  fi
}

read -r load1 load5 _ </proc/loadavg
log "$(nproc) CPUs, load average $load1 (1 min) $load5 (5 min) before the runs"
for round in $(seq 1 "$RUNS"); do
  for case_index in "${!CASES[@]}"; do
    for index in "${!ROWS[@]}"; do measure "$case_index" "$index" "$round"; done
  done
done

pinning="servers ${SERVER_CPUS:+on CPUs $SERVER_CPUS}${SERVER_CPUS:-unpinned}, wrk ${LOAD_CPUS:+on CPUs $LOAD_CPUS}${LOAD_CPUS:-unpinned}"
baseline=${ROWS[0]%%|*}
for case_index in "${!CASES[@]}"; do
  printf '\n%s\n\n' "GET ${CASES[$case_index]}: best of $RUNS rounds of ${DURATION} s, wrk -t1 -c$CONNS, HUBS=$HUBS, $(nproc) CPUs, $pinning"
  printf '| %-30s | %12s | %9s | %17s | %9s |\n' server "requests/s" "vs 1 hub" "server CPU µs/req" "vs 1 hub"
  printf '|%s|%s:|%s:|%s:|%s:|\n' "$(printf -- '-%.0s' {1..32})" "$(printf -- '-%.0s' {1..13})" "$(printf -- '-%.0s' {1..10})" "$(printf -- '-%.0s' {1..18})" "$(printf -- '-%.0s' {1..10})"
  for index in "${!ROWS[@]}"; do
    key="$case_index,$index"
    rate=${BEST_RATE[$key]:-0}
    cpu=${BEST_CPU[$key]:-0}
    read -r rate_ratio cpu_ratio < <(awk -v r="$rate" -v br="${BEST_RATE[$case_index,0]:-0}" -v c="$cpu" -v bc="${BEST_CPU[$case_index,0]:-0}" \
      'BEGIN {printf "%.2fx %.2fx\n", (br > 0 ? r / br : 0), (bc > 0 ? c / bc : 0)}')
    printf '| %-30s | %12s | %9s | %17s | %9s |\n' "${ROWS[$index]%%|*}" "$(printf "%'d" "$rate")" "$rate_ratio" "$cpu" "$cpu_ratio"
  done
done
printf '\n(ratios are to "%s")\n' "$baseline"
