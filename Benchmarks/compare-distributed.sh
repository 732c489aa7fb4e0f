#!/usr/bin/env bash
# DistributedPool beside Celery on the same RabbitMQ broker, back to back (issue 17).
#
#   bash Benchmarks/compare-distributed.sh          (from the repo root, or from anywhere)
#
# Builds weave-distributed (release), makes a venv with celery under OUT (the rows are
# skipped, with a message, if pip cannot install it), starts a throwaway RabbitMQ
# (start_rabbitmq in lib.sh; Debian: apt-get install rabbitmq-server), and runs REPS rounds,
# alternating the two: each round starts the implementation's 2 worker processes, measures,
# and stops them by pid.
#   Weave    2 processes of weave-distributed in worker mode (DistributedWorker, WEAVE_BROKER_*),
#            tasks run in the worker process, prefetch PREFETCH each; the client is one
#            DistributedPool (map for throughput, apply for latency)
#   Celery   `celery worker --pool prefork --concurrency 2`, prefetch multiplier PREFETCH (so
#            the same 2 x PREFETCH unacknowledged tasks), result backend rpc://; the client
#            sends with delay and collects a ResultSet (throughput) or get()s each (latency)
# Rows: tasks/s of N trivial tasks (x + 1, one message each), and the round-trip latency of
# one task at a time (LAT_N round trips, p50 and p99); best of REPS each, ratios Weave over
# Celery (latency: Celery over Weave). Target (issue 17): tasks/s >= 10x Celery.
# Knobs (environment): N=5000, LAT_N=1000, REPS=3, PREFETCH=8, OUT=.peers-out/distributed (the
# venv), WEAVE_DISTRIBUTED (a binary to use instead of building), TMPDIR=/tmp (where the
# broker keeps its data: its disk bounds the quorum queue's commits, see DistributedPool).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
ROOT=$(cd "$HERE/.." && pwd)
N=${N:-5000}
LAT_N=${LAT_N:-1000}
REPS=${REPS:-3}
PREFETCH=${PREFETCH:-8}
OUT=${OUT:-$ROOT/.peers-out/distributed}

if [[ -z "${WEAVE_DISTRIBUTED:-}" ]]; then
  echo "[compare-distributed] swift build -c release --product weave-distributed" >&2
  (cd "$HERE" && swift build -c release --product weave-distributed >&2)
  WEAVE_DISTRIBUTED="$(cd "$HERE" && swift build -c release --show-bin-path)/weave-distributed"
fi
mkdir -p "$OUT"
PYTHON=""
if [[ -x $OUT/venv/bin/python ]] && "$OUT/venv/bin/python" -c 'import celery' 2>/dev/null; then
  PYTHON=$OUT/venv/bin/python
else
  echo "[compare-distributed] python3 -m venv $OUT/venv && pip install celery" >&2
  if python3 -m venv "$OUT/venv" >&2 && "$OUT/venv/bin/pip" install -q celery >&2; then
    PYTHON=$OUT/venv/bin/python
  else
    echo "[compare-distributed] pip could not install celery: the Celery rows are skipped" >&2
  fi
fi

DIR=$(mktemp -d "${TMPDIR:-/tmp}/weave-rabbitmq-bench-XXXXXX")
WORKER_PIDS=()
cleanup() {
  [[ ${#WORKER_PIDS[@]} -gt 0 ]] && stop_pids "${WORKER_PIDS[@]}"
  stop_rabbitmq
  rm -rf "$DIR"
}
trap cleanup EXIT
start_rabbitmq "$DIR" || exit 1
URL=$RABBITMQ_URL
VERSION=$(dpkg-query -W -f '${Version}' rabbitmq-server 2>/dev/null || echo '?')
CELERY_VERSION=$([[ -n $PYTHON ]] && "$PYTHON" -c 'import celery; print(celery.__version__)' || echo 'not installed')
echo "[compare-distributed] rabbitmq-server $VERSION pid $RABBITMQ_PID; N=$N LAT_N=$LAT_N REPS=$REPS PREFETCH=$PREFETCH; celery $CELERY_VERSION" >&2

field() { sed "s/.*\"$1\": *\([0-9.]*\).*/\1/"; }
declare -A results
record() {  # key value
  results[$1]+="$2 "
}
# Each round's workers serve a queue of their own, so nothing is left from the last round.
run_weave() {  # round
  local queue="weave-bench-$1" pids=() line
  for _ in 1 2; do
    WEAVE_BROKER_URL=$URL WEAVE_BROKER_QUEUE=$queue WEAVE_BROKER_CONCURRENCY=$PREFETCH \
      "$WEAVE_DISTRIBUTED" >>"$DIR/weave-workers.log" 2>&1 &
    pids+=($!)
  done
  WORKER_PIDS=("${pids[@]}")
  line=$("$WEAVE_DISTRIBUTED" "$URL" "$queue" throughput "$N")
  record weave-tps "$(field tasks_per_s <<<"$line")"
  line=$("$WEAVE_DISTRIBUTED" "$URL" "$queue" latency "$LAT_N")
  record weave-p50 "$(field p50_us <<<"$line")"; record weave-p99 "$(field p99_us <<<"$line")"
  stop_pids "${pids[@]}"
  WORKER_PIDS=()
}
run_celery() {  # round
  local queue="celery-bench-$1" pid line
  export CELERY_BENCH_BROKER=$URL CELERY_BENCH_QUEUE=$queue CELERY_BENCH_PREFETCH=$PREFETCH
  (cd "$HERE/Peers" && exec "$PYTHON" -m celery -A celery_bench worker --pool prefork --concurrency 2 -Q "$queue" \
     --loglevel WARNING --without-gossip --without-mingle --without-heartbeat) >>"$DIR/celery-worker.log" 2>&1 &
  pid=$!
  WORKER_PIDS=("$pid")
  line=$(cd "$HERE/Peers" && "$PYTHON" celery_bench.py throughput "$N")
  record celery-tps "$(field tasks_per_s <<<"$line")"
  line=$(cd "$HERE/Peers" && "$PYTHON" celery_bench.py latency "$LAT_N")
  record celery-p50 "$(field p50_us <<<"$line")"; record celery-p99 "$(field p99_us <<<"$line")"
  stop_pids "$pid"  # a warm shutdown: the prefork master stops its own children
  WORKER_PIDS=()
}
for rep in $(seq "$REPS"); do
  echo "[compare-distributed] round $rep/$REPS" >&2
  [[ -n $PYTHON ]] && run_celery "$rep"
  run_weave "$rep"
done

top() { tr ' ' '\n' <<<"${results[$1]:-}" | grep -v '^$' | sort -g | tail -1; }
least() { tr ' ' '\n' <<<"${results[$1]:-}" | grep -v '^$' | sort -g | head -1; }
line() { printf '| %-40s | %13s | %13s | %7s |\n' "$@"; }
ratio() { [[ -n $1 && -n $2 ]] && python3 -c "print(f'{$1/$2:.1f}x')" || echo '-'; }
rule() { printf '|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..42})" "$(printf -- '-%.0s' {1..15})" "$(printf -- '-%.0s' {1..15})" "$(printf -- '-%.0s' {1..9})"; }
c_tps=$(top celery-tps); w_tps=$(top weave-tps)
c_p50=$(least celery-p50); w_p50=$(least weave-p50)
c_p99=$(least celery-p99); w_p99=$(least weave-p99)
echo
echo "RabbitMQ $VERSION, 2 worker processes each, prefetch $PREFETCH a process, best of $REPS;"
echo "throughput: $N trivial tasks; latency: $LAT_N round trips of one task (ratio: how many times better Weave is; target tasks/s >= 10x)"
line "" "Celery $CELERY_VERSION" "Weave" "ratio"
rule
line "tasks/s ($N tasks, 1 message each)" "${c_tps:--}" "${w_tps:--}" "$(ratio "$w_tps" "$c_tps")"
line "round trip of one task, p50 (us)" "${c_p50:--}" "${w_p50:--}" "$(ratio "$c_p50" "$w_p50")"
line "round trip of one task, p99 (us)" "${c_p99:--}" "${w_p99:--}" "$(ratio "$c_p99" "$w_p99")"
