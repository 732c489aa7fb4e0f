#!/usr/bin/env bash
# HTTPS hello servers side by side (issue 15): Weave's http-server sample on one hub with
# --tls-cert/--tls-key (the public handler API), Go's net/http over crypto/tls with GOMAXPROCS=1
# (Peers/go-https) and nginx with one worker (when installed), all with the same ECDSA P-256
# certificate made here with the openssl command line.
#
#   bash Benchmarks/compare-https.sh        (from the repo root, or from anywhere)
#
# Cases:
#   hello       keep-alive `GET /` answered "Hello, World!", `wrk -t1 -c$CONNS -d${DURATION}s`
#   handshakes  HC Go client goroutines each opening a connection, running a full TLS 1.3
#               handshake (no resumption), sending one `GET /` with `Connection: close`,
#               reading the answer and closing (Peers/go-https handshakes)
# Every server starts once on a free 127.0.0.1 port pinned to SERVER_CPU (taskset), the load
# generator runs on CLIENT_CPU. RUNS rounds each run every case once against every server in
# turn (alternating, so that a change in the machine's load hits every server alike); per
# server and case the round with the highest rate is kept, with the server's user+system CPU
# time (/proc/PID/stat, all threads; nginx: master + worker) over that run divided by the
# requests or handshakes completed. Ratios are to Weave. Stops only the processes it started,
# by PID.
#
# Knobs (environment): RUNS=3, DURATION=5 (seconds a run), CONNS=64, HC=8, SERVER_CPU=0,
# CLIENT_CPU=1, HTTP_SERVER (an http-server binary to use instead of building one).
# Needs wrk, Go >= 1.19 (offline, stdlib only), openssl, curl, taskset; nginx is optional
# (Debian: apt-get install nginx-light): without it its rows are skipped.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
. "$HERE/lib.sh"
RUNS=${RUNS:-3}
DURATION=${DURATION:-5}
CONNS=${CONNS:-64}
HC=${HC:-8}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
[[ $RUNS =~ ^[1-9][0-9]*$ && $DURATION =~ ^[1-9][0-9]*$ && $CONNS =~ ^[1-9][0-9]*$ && $HC =~ ^[1-9][0-9]*$ ]] \
  || { echo "[compare-https] RUNS, DURATION, CONNS and HC must be positive whole numbers" >&2; exit 1; }
log() { echo "[compare-https] $*" >&2; }
for tool in wrk go openssl curl taskset python3; do
  command -v "$tool" >/dev/null || { log "$tool not found"; exit 1; }
done

DIR=$(mktemp -d)
PIDS=()
cleanup() {
  stop_pids "${PIDS[@]}"
  rm -rf "$DIR"
}
trap cleanup EXIT

if [[ -z "${HTTP_SERVER:-}" ]]; then
  log "swift build -c release --product http-server"
  (cd "$ROOT" && swift build -c release --product http-server >&2)
  HTTP_SERVER="$(cd "$ROOT" && swift build -c release --show-bin-path)/http-server"
fi
log "go build Peers/go-https"
(cd "$HERE/Peers/go-https" && GOFLAGS=-mod=mod GOPROXY=off go build -o "$DIR/go-https" .)
make_tls_certificate "$DIR"

# nginx: one worker, its own prefix, pid file and logs in $DIR; TLS 1.3 like the others
# (1.22's default list stops at 1.2) with the suite Weave and Go pick (AES-128-GCM: the
# server's order, not wrk's), no keep-alive request limit (the others have none).
write_nginx_conf() {  # PORT
  mkdir -p "$DIR/nginx/logs" "$DIR/nginx/body"
  cat >"$DIR/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $DIR/nginx/nginx.pid;
error_log $DIR/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $DIR/nginx/body;
    server {
        listen 127.0.0.1:$1 ssl;
        ssl_certificate $DIR/server.pem;
        ssl_certificate_key $DIR/server.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_prefer_server_ciphers on;
        ssl_conf_command Ciphersuites TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384;
        keepalive_requests 1000000000;
        keepalive_timeout 300s;
        location = / {
            default_type text/plain;
            return 200 "Hello, World!";
        }
    }
}
CONF
}

NAMES=()       # row name
SERVER_PIDS=() # the PIDs whose CPU time counts, space-separated
PORTS=()
start() {  # NAME LOG PORT-or-empty COMMAND...: starts a server on SERVER_CPU and records its row
  local name=$1 log=$2 port=$3 pid
  shift 3
  taskset -c "$SERVER_CPU" "$@" >"$log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  if [[ -z $port ]]; then
    port=$(listening_port "$log" "$pid")
  else
    for _ in $(seq 1 300); do
      (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
  fi
  local body cipher
  body=$(curl -sv --max-time 10 --cacert "$DIR/ca.pem" "https://127.0.0.1:$port/" 2>"$DIR/curl.log" || true)
  if [[ -z $port || $body != "Hello, World!" ]]; then
    log "$name did not start or answer 'Hello, World!' over HTTPS: $body $(cat "$DIR/curl.log" "$log")"
    exit 1
  fi
  # What an OpenSSL client such as wrk gets (curl is built on OpenSSL on Debian).
  cipher=$(sed -n 's/.*SSL connection using \(.*\)/\1/p' "$DIR/curl.log" | head -1)
  local counted=$pid children
  if [[ $name == nginx* ]]; then
    # The master forks the worker; both count.
    children=$(cat "/proc/$pid/task/$pid/children" 2>/dev/null || true)
    counted="$pid $children"
  fi
  NAMES+=("$name"); SERVER_PIDS+=("$counted"); PORTS+=("$port")
  log "$name: pid $counted, port $port, ${cipher:-cipher unknown}"
}

start "weave http-server, 1 hub" "$DIR/weave.log" "" \
  "$HTTP_SERVER" --port 0 --hubs 1 --tls-cert "$DIR/server.pem" --tls-key "$DIR/server.key"
start "go net/http, GOMAXPROCS=1" "$DIR/go.log" "" \
  env GOMAXPROCS=1 "$DIR/go-https" server -addr 127.0.0.1:0 -cert "$DIR/server.pem" -key "$DIR/server.key"
if command -v nginx >/dev/null; then
  port=$(free_port)
  write_nginx_conf "$port"
  start "nginx, 1 worker" "$DIR/nginx/logs/stderr.log" "$port" nginx -p "$DIR/nginx" -c "$DIR/nginx/nginx.conf"
else
  log "nginx not found (apt-get install nginx-light): its rows are skipped"
fi

HZ=$(getconf CLK_TCK)
CASES=(hello handshakes)
declare -A BEST_RATE BEST_CPU

# measure CASE INDEX ROUND: one run of the load generator; keeps the best rate.
measure() {
  local case=$1 index=$2 round=$3 port=${PORTS[$index]} name=${NAMES[$index]}
  local before after count rate cpu
  # shellcheck disable=SC2086  # a list of PIDs
  before=$(cpu_ticks ${SERVER_PIDS[$index]})
  case $case in
    hello)
      if ! timeout $((DURATION + 60)) taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d"${DURATION}s" \
           "https://127.0.0.1:$port/" >"$DIR/wrk.txt"; then
        log "$case, $name, round $round: wrk failed or timed out"; return 0
      fi
      count=$(awk '/requests in/ {print $1; exit}' "$DIR/wrk.txt")
      rate=$(awk '/Requests\/sec/ {printf "%d", $2}' "$DIR/wrk.txt")
      errors=$(awk '/Non-2xx|Socket errors/' "$DIR/wrk.txt")
      [[ -n $errors ]] && log "$case, $name, round $round: ${errors//$'\n'/; }" ;;
    handshakes)
      rate=$(GOMAXPROCS=1 timeout $((DURATION + 60)) taskset -c "$CLIENT_CPU" "$DIR/go-https" handshakes \
               -addr "127.0.0.1:$port" -ca "$DIR/ca.pem" -seconds "$DURATION" -c "$HC") \
        || { log "$case, $name, round $round: the client failed"; return 0; }
      count=$((rate * DURATION)) ;;
  esac
  # shellcheck disable=SC2086
  after=$(cpu_ticks ${SERVER_PIDS[$index]})
  cpu=$(awk -v t=$((after - before)) -v hz="$HZ" -v n="${count:-0}" 'BEGIN {printf "%.1f", (n > 0 ? t / hz * 1e6 / n : 0)}')
  log "$case, $name, round $round: $rate/s, $cpu µs server CPU each"
  local key="$case,$index"
  if (( rate > ${BEST_RATE[$key]:-0} )); then
    BEST_RATE[$key]=$rate
    BEST_CPU[$key]=$cpu
  fi
}

read -r load1 load5 _ </proc/loadavg
log "$(nproc) CPUs, load average $load1 (1 min) $load5 (5 min) before the runs;" \
    "$(go version | awk '{print $3}'), $(openssl version | awk '{print $1, $2}')$(command -v nginx >/dev/null && echo ", $(nginx -v 2>&1 | sed 's/.*: //')")"
for round in $(seq 1 "$RUNS"); do
  for case in "${CASES[@]}"; do
    for index in "${!NAMES[@]}"; do measure "$case" "$index" "$round"; done
  done
done
read -r load1 load5 _ </proc/loadavg
log "load average $load1 (1 min) $load5 (5 min) after the runs"

for case in "${CASES[@]}"; do
  case $case in
    hello)      title="HTTPS GET / keep-alive, wrk -t1 -c$CONNS"; unit="requests/s"; per="µs/req" ;;
    handshakes) title="full TLS 1.3 handshake + one GET / per connection, $HC Go clients"; unit="handshakes/s"; per="µs/handshake" ;;
  esac
  printf '\n%s: best of %s rounds of %s s, server on CPU %s, client on CPU %s\n\n' "$title" "$RUNS" "$DURATION" "$SERVER_CPU" "$CLIENT_CPU"
  printf '| %-28s | %12s | %8s | %19s | %8s |\n' server "$unit" "vs weave" "server CPU $per" "vs weave"
  printf '|%s|%s:|%s:|%s:|%s:|\n' "$(printf -- '-%.0s' {1..30})" "$(printf -- '-%.0s' {1..13})" \
    "$(printf -- '-%.0s' {1..9})" "$(printf -- '-%.0s' {1..20})" "$(printf -- '-%.0s' {1..9})"
  for index in "${!NAMES[@]}"; do
    rate=${BEST_RATE[$case,$index]:-0}
    cpu=${BEST_CPU[$case,$index]:-0}
    read -r rate_ratio cpu_ratio < <(awk -v r="$rate" -v br="${BEST_RATE[$case,0]:-0}" -v c="$cpu" -v bc="${BEST_CPU[$case,0]:-0}" \
      'BEGIN {printf "%.2fx %.2fx\n", (br > 0 ? r / br : 0), (bc > 0 ? c / bc : 0)}')
    printf '| %-28s | %12s | %8s | %19s | %8s |\n' "${NAMES[$index]}" "$(printf "%'d" "$rate")" "$rate_ratio" "$cpu" "$cpu_ratio"
  done
done
