#!/usr/bin/env bash
# WeaveRedis beside redis-benchmark and redis-py under gevent on the same server, back to
# back (issue 16).
#
#   bash Benchmarks/compare-redis.sh          (from the repo root, or from anywhere)
#
# Builds weave-redis (release), starts its own redis-server on 127.0.0.1 at a free port
# (no persistence, a temporary directory), runs each row REPS times alternating the two
# tools, prints the best requests/s of each, their ratio and Weave's CPU time (user + system)
# per request of its best run, then stops the server by pid. Rows, for GET and SET:
#   P1     redis-benchmark -c C -P 1   beside   C coroutines on ONE connection, one command
#          each in flight (automatic pipelining)
#   P16    redis-benchmark -c C -P 16  beside   C*16 coroutines on one connection (the same
#          commands in flight, automatic pipelining), and C coroutines sending explicit
#          pipelines of 16
#   gevent redis-py under gevent (Peers/redis_py_gevent.py: 50 greenlets, one command each
#          in flight, monkey-patched sockets, redis-py's connection pool)   beside   C
#          coroutines on one connection; skipped with a message without gevent or redis-py
#          (pip install gevent redis)
# Knobs (environment): N=200000 requests, C=50 clients, REPS=3, PY_N=N/5 requests for the
# Python peer (about 100 times slower), WEAVE_REDIS (a binary to use
# instead of building), REDIS_SERVER=/usr/bin/redis-server. Needs Debian's redis-server and
# redis-tools (redis-benchmark).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
N=${N:-200000}
C=${C:-50}
REPS=${REPS:-3}
PY_N=${PY_N:-$((N / 5))}
REDIS_SERVER=${REDIS_SERVER:-/usr/bin/redis-server}
command -v "$REDIS_SERVER" >/dev/null || { echo "[compare-redis] $REDIS_SERVER not found (apt-get install redis-server)" >&2; exit 1; }
command -v redis-benchmark >/dev/null || { echo "[compare-redis] redis-benchmark not found (apt-get install redis-tools)" >&2; exit 1; }

if [[ -z "${WEAVE_REDIS:-}" ]]; then
  echo "[compare-redis] swift build -c release --product weave-redis" >&2
  (cd "$HERE" && swift build -c release --product weave-redis >&2)
  WEAVE_REDIS="$(cd "$HERE" && swift build -c release --show-bin-path)/weave-redis"
fi

PORT=$(free_port)
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
# Prints "rps cpu-us-per-request" (user + system CPU of the whole process, setup included).
weave() {  # test coroutines pipeline
  local out cpu
  # getrusage of the child: microsecond resolution (time(1) gives 10 ms).
  out=$(python3 -c 'import resource, subprocess, sys
out = subprocess.run(sys.argv[1:], check=True, capture_output=True, text=True).stdout
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(out.strip(), usage.ru_utime + usage.ru_stime)' "$WEAVE_REDIS" "$PORT" "${1,,}" "$N" "$2" 1 "$3")
  cpu=$(awk -v n="$N" '{ printf "%.2f", $NF * 1e6 / n }' <<<"$out")
  echo "$(sed 's/.*"rps":\([0-9]*\).*/\1/' <<<"$out") $cpu"
}
PEERS="$HERE/Peers"
python_peer() {  # test
  python3 "$PEERS/redis_py_gevent.py" "$PORT" "${1,,}" "$PY_N" "$C" | sed 's/.*"rps": *\([0-9]*\).*/\1/'
}
GEVENT=1
python3 -c 'import gevent, redis' 2>/dev/null || {
  GEVENT=0
  echo "[compare-redis] gevent or redis-py missing (pip install gevent redis): the gevent rows are skipped" >&2
}
best() { sort -n | tail -1; }

printf '%-5s %-50s %12s %12s %8s %12s\n' test "row (peer | weave)" peer weave ratio "weave us/op"
for test in SET GET; do
  rows="p1 p16 p16x"
  [[ $GEVENT == 1 ]] && rows+=" gevent"
  for row in $rows; do
    rb=(); wv=()
    for _ in $(seq "$REPS"); do
      case $row in
        p1)     rb+=("$(bench "$test" 1)");  wv+=("$(weave "$test" "$C" 1)") ;;
        p16)    rb+=("$(bench "$test" 16)"); wv+=("$(weave "$test" $((C * 16)) 1)") ;;
        p16x)   rb+=("$(bench "$test" 16)"); wv+=("$(weave "$test" "$C" 16)") ;;
        gevent) rb+=("$(python_peer "$test")"); wv+=("$(weave "$test" "$C" 1)") ;;
      esac
    done
    r=$(printf '%s\n' "${rb[@]}" | best); read -r w cpu <<<"$(printf '%s\n' "${wv[@]}" | sort -n -k1,1 | tail -1)"
    case $row in
      p1)     label="redis-benchmark -c $C -P 1 | $C coroutines, 1 connection" ;;
      p16)    label="redis-benchmark -c $C -P 16 | $((C * 16)) coroutines, 1 connection" ;;
      p16x)   label="redis-benchmark -c $C -P 16 | $C coroutines, pipeline(16)" ;;
      gevent) label="redis-py+gevent, $C greenlets | $C coroutines, 1 connection" ;;
    esac
    printf '%-5s %-50s %12s %12s %7sx %12s\n' "$test" "$label" "$r" "$w" \
      "$(awk -v w="$w" -v r="$r" 'BEGIN { printf "%.2f", w / r }')" "$cpu"
  done
done
