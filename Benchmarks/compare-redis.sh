#!/usr/bin/env bash
# WeaveRedis beside redis-benchmark on the same server, back to back (issue 16).
#
#   bash Benchmarks/compare-redis.sh          (from the repo root, or from anywhere)
#
# Builds weave-redis (release), starts its own redis-server on 127.0.0.1 at a free port
# (no persistence, a temporary directory), runs each row REPS times alternating the two
# tools, prints the best requests/s of each and their ratio, then stops the server by pid.
# Rows, for GET and SET:
#   P1     redis-benchmark -c C -P 1   beside   C coroutines on ONE connection, one command
#          each in flight (automatic pipelining)
#   P16    redis-benchmark -c C -P 16  beside   C*16 coroutines on one connection (the same
#          commands in flight, automatic pipelining), and C coroutines sending explicit
#          pipelines of 16
# Knobs (environment): N=200000 requests, C=50 clients, REPS=3, WEAVE_REDIS (a binary to use
# instead of building), REDIS_SERVER=/usr/bin/redis-server. Needs Debian's redis-server and
# redis-tools (redis-benchmark).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
N=${N:-200000}
C=${C:-50}
REPS=${REPS:-3}
REDIS_SERVER=${REDIS_SERVER:-/usr/bin/redis-server}
command -v "$REDIS_SERVER" >/dev/null || { echo "[compare-redis] $REDIS_SERVER not found (apt-get install redis-server)" >&2; exit 1; }
command -v redis-benchmark >/dev/null || { echo "[compare-redis] redis-benchmark not found (apt-get install redis-tools)" >&2; exit 1; }

if [[ -z "${WEAVE_REDIS:-}" ]]; then
  echo "[compare-redis] swift build -c release --product weave-redis" >&2
  (cd "$HERE" && swift build -c release --product weave-redis >&2)
  WEAVE_REDIS="$(cd "$HERE" && swift build -c release --show-bin-path)/weave-redis"
fi

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
DIR=$(mktemp -d)
"$REDIS_SERVER" --port "$PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$DIR" \
  --daemonize no --logfile "$DIR/redis.log" &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null; wait "$SERVER" 2>/dev/null; rm -rf "$DIR"' EXIT
for _ in $(seq 100); do
  redis-cli -p "$PORT" ping >/dev/null 2>&1 && break
  sleep 0.1
done
redis-cli -p "$PORT" ping >/dev/null || { echo "[compare-redis] redis-server did not start" >&2; exit 1; }
echo "[compare-redis] redis-server $("$REDIS_SERVER" --version | awk '{print $3}') pid $SERVER port $PORT; N=$N C=$C REPS=$REPS" >&2

# Best requests/s of redis-benchmark for TEST (SET/GET) with pipelining P.
bench() {  # test pipeline
  redis-benchmark -p "$PORT" -t "${1,,}" -n "$N" -c "$C" -P "$2" --csv 2>/dev/null |
    awk -F'"' -v t="$1" '$2 == t { print int($4) }'
}
weave() {  # test coroutines pipeline
  "$WEAVE_REDIS" "$PORT" "${1,,}" "$N" "$2" 1 "$3" | sed 's/.*"rps":\([0-9]*\).*/\1/'
}
best() { sort -n | tail -1; }

printf '%-5s %-45s %12s %12s %7s\n' test row redis-bench weave ratio
for test in SET GET; do
  for row in p1 p16 p16x; do
    rb=(); wv=()
    for _ in $(seq "$REPS"); do
      case $row in
        p1)   rb+=("$(bench "$test" 1)");  wv+=("$(weave "$test" "$C" 1)") ;;
        p16)  rb+=("$(bench "$test" 16)"); wv+=("$(weave "$test" $((C * 16)) 1)") ;;
        p16x) rb+=("$(bench "$test" 16)"); wv+=("$(weave "$test" "$C" 16)") ;;
      esac
    done
    r=$(printf '%s\n' "${rb[@]}" | best); w=$(printf '%s\n' "${wv[@]}" | best)
    case $row in
      p1)   label="-c $C -P 1 | $C coroutines, 1 connection" ;;
      p16)  label="-c $C -P 16 | $((C * 16)) coroutines, 1 connection" ;;
      p16x) label="-c $C -P 16 | $C coroutines, pipeline(16)" ;;
    esac
    printf '%-5s %-45s %12s %12s %6sx\n' "$test" "$label" "$r" "$w" "$(awk -v w="$w" -v r="$r" 'BEGIN { printf "%.2f", w / r }')"
  done
done
