#!/usr/bin/env bash
# Weave's echo and HTTP samples beside the same servers on raw libuv C, in one run.
#
#   bash Benchmarks/compare-servers.sh        (from the repo root, or from anywhere)
#
# Builds Peers/uv-c/{echo,http}.c and Peers/loadgen/echo_load.c with gcc (-luv) and Weave's
# echo-server and http-server in release, then for each server: starts it pinned to
# SERVER_CPU, runs the load pinned to LOAD_CPU RUNS times for SECONDS each, keeps the run
# with the highest throughput, and reads the server's user+system CPU time from /proc around
# each run (CPU µs per request: lower is better). Echo: 64 connections, 64-byte messages,
# each waiting for its echo (Peers/loadgen). HTTP: `wrk -t1 -c64 --latency` (Debian's wrk).
# Prints one aligned table per protocol with ratios to the raw libuv row.
#
# Knobs (environment): RUNS=3, DURATION=5 (seconds a run), SERVER_CPU=1, LOAD_CPU=0, CONNS=64, and OLD=DIR to
# add a row for another Weave build (DIR/.build/release/{echo,http}-server, e.g. an older
# commit's checkout built with `swift build -c release`).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
RUNS=${RUNS:-3}
SECONDS_PER_RUN=${DURATION:-5}
SERVER_CPU=${SERVER_CPU:-1}
LOAD_CPU=${LOAD_CPU:-0}
CONNS=${CONNS:-64}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

pkg-config --exists libuv || { echo "[compare-servers] libuv1-dev missing (apt-get install libuv1-dev)" >&2; exit 1; }
command -v wrk >/dev/null || { echo "[compare-servers] wrk missing (apt-get install wrk)" >&2; exit 1; }
echo "[compare-servers] gcc: uv-c echo and http, echo load generator" >&2
gcc -O2 -Wall -o "$OUT/uv-echo" "$HERE/Peers/uv-c/echo.c" $(pkg-config --cflags --libs libuv)
gcc -O2 -Wall -o "$OUT/uv-http" "$HERE/Peers/uv-c/http.c" $(pkg-config --cflags --libs libuv)
gcc -O2 -Wall -o "$OUT/echo-load" "$HERE/Peers/loadgen/echo_load.c"
echo "[compare-servers] swift build -c release (echo-server, http-server)" >&2
(cd "$ROOT" && swift build -c release --product echo-server >&2 && swift build -c release --product http-server >&2)
BIN=$(cd "$ROOT" && swift build -c release --show-bin-path)

# name|echo command|http command; {port} is replaced.
ROWS=("uv-c (raw libuv)|$OUT/uv-echo {port}|$OUT/uv-http {port}")
if [[ -n "${OLD:-}" ]]; then
  ROWS+=("weave, $(basename "$OLD")|$OLD/.build/release/echo-server --port {port}|$OLD/.build/release/http-server --port {port}")
fi
ROWS+=("weave (this checkout, 1 hub)|$BIN/echo-server --hubs 1 --port {port}|$BIN/http-server --hubs 1 --port {port}")

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
wait_port() {
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "[compare-servers] nothing listens on $1" >&2
  return 1
}

# measure KIND NAME COMMAND PORT -> "throughput p50 p99 cpu_us_per_req"
measure() {
  local kind=$1 name=$2 command=${3//\{port\}/$4} port=$4
  taskset -c "$SERVER_CPU" $command >"$OUT/server.log" 2>&1 &
  local pid=$!
  wait_port "$port"
  local best="0 0 0 0"
  for run in $(seq 1 "$RUNS"); do
    local before after rate p50 p99 requests
    before=$(cpu_ticks "$pid")
    if [[ $kind == echo ]]; then
      local line
      line=$(taskset -c "$LOAD_CPU" "$OUT/echo-load" "$port" "$CONNS" "$SECONDS_PER_RUN" 64)
      rate=$(sed 's/.*"msgs_per_s":\([0-9]*\).*/\1/' <<<"$line")
      p50=$(sed 's/.*"p50_us":\([0-9]*\).*/\1/' <<<"$line")
      p99=$(sed 's/.*"p99_us":\([0-9]*\).*/\1/' <<<"$line")
    else
      taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"${SECONDS_PER_RUN}s" --latency "http://127.0.0.1:$port/" >"$OUT/wrk.txt"
      rate=$(awk '/Requests\/sec/ {printf "%d", $2}' "$OUT/wrk.txt")
      p50=$(awk '$1 == "50%" {print $2}' "$OUT/wrk.txt")
      p99=$(awk '$1 == "99%" {print $2}' "$OUT/wrk.txt")
    fi
    after=$(cpu_ticks "$pid")
    requests=$(awk -v r="$rate" -v s="$SECONDS_PER_RUN" 'BEGIN {print r * s}')
    local cpu
    cpu=$(awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v n="$requests" 'BEGIN {printf "%.2f", (n > 0 ? t / hz * 1e6 / n : 0)}')
    echo "[compare-servers] $kind $name run $run: $rate/s, p50 $p50, p99 $p99, $cpu µs CPU/req" >&2
    if (( rate > ${best%% *} )); then best="$rate $p50 $p99 $cpu"; fi
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "$best"
}

table() {
  local kind=$1 column=$2 field=$3 port=$4
  local baseline_rate="" baseline_cpu=""
  printf '\n%s\n\n' "$kind: best of $RUNS runs of ${SECONDS_PER_RUN} s, $CONNS connections, server on CPU $SERVER_CPU, load on CPU $LOAD_CPU"
  printf '| %-28s | %14s | %9s | %9s | %17s | %21s |\n' server "$column" "p50" "p99" "server CPU µs/req" "vs raw libuv: rate, CPU"
  printf '|%s|%s:|%s:|%s:|%s:|%s:|\n' "$(printf -- '-%.0s' {1..30})" "$(printf -- '-%.0s' {1..15})" "$(printf -- '-%.0s' {1..10})" "$(printf -- '-%.0s' {1..10})" "$(printf -- '-%.0s' {1..18})" "$(printf -- '-%.0s' {1..22})"
  for row in "${ROWS[@]}"; do
    IFS='|' read -r name echo_command http_command <<<"$row"
    local command=$echo_command
    [[ $kind == HTTP ]] && command=$http_command
    port=$((port + 1))
    read -r rate p50 p99 cpu <<<"$(measure "$([[ $kind == HTTP ]] && echo http || echo echo)" "$name" "$command" "$port")"
    [[ -z $baseline_rate ]] && { baseline_rate=$rate; baseline_cpu=$cpu; }
    local ratio
    ratio=$(awk -v r="$rate" -v br="$baseline_rate" -v c="$cpu" -v bc="$baseline_cpu" 'BEGIN {printf "%.2fx / %.2fx", (br > 0 ? r / br : 0), (bc > 0 ? c / bc : 0)}')
    [[ $kind == echo ]] && { p50="$p50 µs"; p99="$p99 µs"; }
    printf '| %-28s | %14s | %9s | %9s | %17s | %21s |\n' "$name" "$(printf "%'d" "$rate")" "$p50" "$p99" "$cpu" "$ratio"
  done
}

table echo "msgs/s" 0 19300
table HTTP "req/s" 0 19400
