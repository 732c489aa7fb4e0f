#!/usr/bin/env bash
# Weave beside SwiftNIO's NIOCore and swift-subprocess in one program (Benchmarks/Coexistence):
# builds it and runs it once. Every name two of the modules export (Channel, IOError,
# SocketAddress, TerminationStatus, Subprocess) is written with its module there.
#
#   bash Benchmarks/check-coexistence.sh        (from the repo root, or from anywhere)
#
# Then builds the DottedSubprocess probe (swift-subprocess's names as `Subprocess.run`, with a
# dot) and says whether it compiles: it does not while Weave has a type named Subprocess, which
# shadows the module of that name. The exit status is the main check's alone.
# Not part of CI's run: the first build compiles swift-nio and swift-subprocess (minutes).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
PACKAGE=$HERE/Coexistence
pkg-config --exists libuv || { echo "[coexistence] libuv1-dev missing (apt-get install libuv1-dev)" >&2; exit 1; }

echo "[coexistence] swift build --package-path Benchmarks/Coexistence --product Coexistence" >&2
swift build --package-path "$PACKAGE" --product Coexistence
"$(swift build --package-path "$PACKAGE" --show-bin-path)/Coexistence"
echo "[coexistence] OK: Weave, NIOCore and Subprocess coexist with module-qualified names" >&2

LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT
if swift build --package-path "$PACKAGE" --product DottedSubprocess >"$LOG" 2>&1; then
  echo "[coexistence] probe: Subprocess.run and Subprocess.TerminationStatus (with a dot) compile" >&2
else
  echo "[coexistence] probe: Subprocess.run / Subprocess.TerminationStatus (with a dot) do not compile:" >&2
  grep -E '^/[^ ]+: error:' "$LOG" | sed "s|^$PACKAGE/|    |" | sort -u >&2 || tail -5 "$LOG" >&2
  echo "[coexistence] (expected while Weave has a type named Subprocess; Subprocess:: names the module)" >&2
fi
