#!/usr/bin/env bash
# Messages/s through a channel between two threads: Weave's CrossHubChannel between two hubs
# of a HubGroup beside a buffered Go channel between two goroutines (GOMAXPROCS=2).
#
#   bash Benchmarks/compare-crosshub.sh          (from the repo root, or from anywhere)
#
# Builds weave-crosshub (release) and Peers/go-crosshub, runs them alternately REPS times and
# prints the best run of each. Knobs (environment): REPS=3, MESSAGES=2000000, CAPACITY=1024,
# WEAVE_CROSSHUB / GO_CROSSHUB (binaries to use instead of building).
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

best_weave=0
best_go=0
for rep in $(seq "$REPS"); do
  for side in weave go; do
    if [[ $side == weave ]]; then
      line=$("$WEAVE_CROSSHUB" "$MESSAGES" "$CAPACITY")
    else
      line=$(GOMAXPROCS=2 "$GO_CROSSHUB" "$MESSAGES" "$CAPACITY")
    fi
    echo "[compare-crosshub] run $rep: $line" >&2
    rate=$(sed -E 's/.*"msgs_per_sec":([0-9]+).*/\1/' <<<"$line")
    if [[ $side == weave ]]; then (( rate > best_weave )) && best_weave=$rate
    else (( rate > best_go )) && best_go=$rate; fi
  done
done

printf '| %-44s | %14s |\n' "channel between two threads ($MESSAGES messages, capacity $CAPACITY)" "best msgs/s"
printf '|%s|%s|\n' "----------------------------------------------" "----------------"
printf '| %-44s | %14s |\n' "Weave CrossHubChannel, HubGroup of 2 hubs" "$best_weave"
printf '| %-44s | %14s |\n' "Go buffered channel, GOMAXPROCS=2" "$best_go"
