#!/usr/bin/env bash
# Fuzzes WeaveHTTP's HTTP/1.1 parser (Sources/WeaveHTTP/Parsing) with libFuzzer for a fixed
# time. Not run by CI, and not a SwiftPM target: it compiles the parser sources and the entry
# point in Tests/Fuzz/HTTPParserFuzz with `swiftc -sanitize=fuzzer,address` (swift-http-types
# from SwiftPM's checkout, built once as a module beside them).
#
#   bash Tests/Fuzz/fuzz-http-parser.sh            (SECONDS_TO_RUN=60 by default)
#   SECONDS_TO_RUN=300 JOBS=2 bash Tests/Fuzz/fuzz-http-parser.sh
#
# The corpus lives in .build/fuzz/http-parser/corpus (seeded from the seeds below); crashes
# are written to .build/fuzz/http-parser/ as crash-* files, which reproduce with
# `.build/fuzz/http-parser/http-parser-fuzz CRASH_FILE`.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SECONDS_TO_RUN=${SECONDS_TO_RUN:-60}
JOBS=${JOBS:-1}
OUT="$ROOT/.build/fuzz/http-parser"
mkdir -p "$OUT/corpus"

(cd "$ROOT" && swift package resolve >&2)
TYPES="$ROOT/.build/checkouts/swift-http-types/Sources/HTTPTypes"
[[ -d $TYPES ]] || { echo "[fuzz] swift-http-types not checked out at $TYPES" >&2; exit 1; }

AVAILABILITY=()
for version in 1.0 1.1 1.2 1.3 1.6 1.7; do
  AVAILABILITY+=(-enable-experimental-feature "AvailabilityMacro=HTTPTypes $version: macOS 10.0")
done

echo "[fuzz] swiftc: HTTPTypes module" >&2
swiftc -O -g -sanitize=address -parse-as-library -wmo -module-name HTTPTypes -package-name swift_http_types \
  "${AVAILABILITY[@]}" -enable-upcoming-feature InternalImportsByDefault \
  -emit-module -emit-module-path "$OUT/HTTPTypes.swiftmodule" -c -o "$OUT/HTTPTypes.o" "$TYPES"/*.swift

echo "[fuzz] swiftc -sanitize=fuzzer,address: parser and entry point" >&2
swiftc -O -g -sanitize=fuzzer,address -parse-as-library -module-name HTTPParserFuzz -package-name Weave \
  -I "$OUT" "$ROOT"/Sources/WeaveHTTP/Parsing/*.swift "$HERE"/HTTPParserFuzz/*.swift "$OUT/HTTPTypes.o" \
  -o "$OUT/http-parser-fuzz" 2> >(grep -v "Cannot export local symbol '__asan_" >&2)

# Seeds: well-formed messages of each shape, so that the fuzzer starts past the start line.
seed() { printf '%b' "$2" > "$OUT/corpus/seed-$1"; }
seed get 'GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n'
seed post 'POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello'
seed chunked-request 'PUT /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: v\r\n\r\n'
seed absolute 'GET http://example.com:8080/a?b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n'
seed response 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!'
seed chunked-response 'HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n0\r\n\r\n'
seed chunks '5\r\nhello\r\n1;ext\r\n \r\n0\r\nX: y\r\n\r\n'

echo "[fuzz] running for $SECONDS_TO_RUN s ($JOBS jobs)" >&2
cd "$OUT"
PARALLEL=()
# With more than one job libFuzzer runs workers and writes their output to fuzz-N.log.
((JOBS > 1)) && PARALLEL=(-jobs="$JOBS" -workers="$JOBS")
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0} "$OUT/http-parser-fuzz" -max_total_time="$SECONDS_TO_RUN" -max_len=4096 \
  "${PARALLEL[@]}" -print_final_stats=1 "$OUT/corpus"
