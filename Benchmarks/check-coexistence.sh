#!/usr/bin/env bash
# Weave beside SwiftNIO's NIOCore and swift-subprocess in one program (Benchmarks/Coexistence):
# builds it and runs it once. Every name two of the modules export (Channel, IOError,
# SocketAddress, TerminationStatus) is written with its module there, and swift-subprocess's
# `Subprocess.run` sits beside Weave's `Command.run`.
#
#   bash Benchmarks/check-coexistence.sh        (from the repo root, or from anywhere)
#
# Not part of CI's run: the first build compiles swift-nio and swift-subprocess (minutes).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
PACKAGE=$HERE/Coexistence
pkg-config --exists libuv || { echo "[coexistence] libuv1-dev missing (apt-get install libuv1-dev)" >&2; exit 1; }

echo "[coexistence] swift build --package-path Benchmarks/Coexistence --product Coexistence" >&2
swift build --package-path "$PACKAGE" --product Coexistence
"$(swift build --package-path "$PACKAGE" --show-bin-path)/Coexistence"
echo "[coexistence] OK: Weave, NIOCore and Subprocess coexist with module-qualified names" >&2

