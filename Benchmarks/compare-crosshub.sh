#!/usr/bin/env bash
# Messages/s through a channel between two threads: Weave's CrossHubChannel between two hubs
# of a HubGroup beside a buffered Go channel between two goroutines (GOMAXPROCS=2).
#
#   bash Benchmarks/compare-crosshub.sh          (from the repo root, or from anywhere)
#
# Builds weave-crosshub (release) and Peers/go-crosshub, runs them alternately REPS times,
# prints every run (rate, and CPU time per message over both threads) and the best of each.
# Knobs (environment): REPS=3, MESSAGES=2000000, CAPACITY=1024, WEAVE_CROSSHUB / GO_CROSSHUB
# (binaries to use instead of building), WEAVE_CROSSHUB_BASE (a second weave-crosshub, e.g.
# built from another commit, run in the same alternation as a third row).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPS=${REPS:-3}
MESSAGES=${MESSAGES:-2000000}
CAPACITY=${CAPACITY:-1024}

if [[ -z "${WEAVE_CROSSHUB:-}" ]]; then
  echo "[compare-crosshub] swift build -c release --product weave-crosshub" >&2
  (cd "$HERE" && swift build -c release --product weave-crosshub >&2)
  WEAVE_CROSSHUB="$(cd "$HERE" && swift build -c release --show-bin-path)/weave-crosshub"
fi
if [[ -z "${GO_CROSSHUB:-}" ]]; then
  command -v go >/dev/null || { echo "[compare-crosshub] go not found (apt-get install golang-go)" >&2; exit 1; }
  GO_CROSSHUB=$(mktemp -d)/go-crosshub
  echo "[compare-crosshub] go build Peers/go-crosshub" >&2
  (cd "$HERE/Peers/go-crosshub" && GOFLAGS=-mod=mod GOPROXY=off go build -trimpath -o "$GO_CROSSHUB" .)
fi

sides=(weave go)
[[ -n "${WEAVE_CROSSHUB_BASE:-}" ]] && sides+=(base)
declare -A best=([weave]=0 [go]=0 [base]=0) best_cpu=([weave]=0 [go]=0 [base]=0)

echo "[compare-crosshub] load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for rep in $(seq "$REPS"); do
  for side in "${sides[@]}"; do
    case $side in
      weave) command=("$WEAVE_CROSSHUB" "$MESSAGES" "$CAPACITY") ;;
      base) command=("$WEAVE_CROSSHUB_BASE" "$MESSAGES" "$CAPACITY") ;;
      go) command=(env GOMAXPROCS=2 "$GO_CROSSHUB" "$MESSAGES" "$CAPACITY") ;;
    esac
    # CPU time of the whole process (both threads), from bash's `time`.
    TIMEFORMAT='%U %S'
    { times_line=$( { time "${command[@]}" >"${TMPDIR:-/tmp}/crosshub.$$" ; } 2>&1 ); } || true
    line=$(cat "${TMPDIR:-/tmp}/crosshub.$$")
    rate=$(sed -E 's/.*"msgs_per_sec":([0-9]+).*/\1/' <<<"$line")
    cpu_ns=$(awk -v t="$times_line" -v n="$MESSAGES" 'BEGIN { split(t, a, " "); printf "%.1f", (a[1] + a[2]) * 1e9 / n }')
    echo "[compare-crosshub] run $rep $side: $rate msgs/s, $cpu_ns ns CPU/msg, load $(cut -d' ' -f1 /proc/loadavg)" >&2
    if (( rate > best[$side] )); then best[$side]=$rate; best_cpu[$side]=$cpu_ns; fi
  done
done
rm -f "${TMPDIR:-/tmp}/crosshub.$$"

printf '| %-44s | %14s | %12s |\n' "channel between two threads ($MESSAGES messages, capacity $CAPACITY)" "best msgs/s" "ns CPU/msg"
printf '|%s|%s|%s|\n' "----------------------------------------------" "----------------" "--------------"
printf '| %-44s | %14s | %12s |\n' "Weave CrossHubChannel, HubGroup of 2 hubs" "${best[weave]}" "${best_cpu[weave]}"
[[ -n "${WEAVE_CROSSHUB_BASE:-}" ]] &&
  printf '| %-44s | %14s | %12s |\n' "Weave CrossHubChannel (WEAVE_CROSSHUB_BASE)" "${best[base]}" "${best_cpu[base]}"
printf '| %-44s | %14s | %12s |\n' "Go buffered channel, GOMAXPROCS=2" "${best[go]}" "${best_cpu[go]}"
