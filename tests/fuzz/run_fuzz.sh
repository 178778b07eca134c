#!/usr/bin/env bash
# run_fuzz.sh [seconds] - builds the http_parser libFuzzer target with clang
# and runs it for a bounded time (default 30 s) on a scratch copy of the seed
# corpus. Exits nonzero if the fuzzer finds a crash, a sanitizer report or a
# leak; the reproducer is kept in $OUT (default /tmp/crunchd-fuzz).
#
#   OUT=dir   where the binary and crash artifacts go
#   CC=clang  the compiler (needs libFuzzer: libclang-rt-dev)
set -euo pipefail

cd "$(dirname "$0")/../.."

secs=${1:-30}
case $secs in
'' | *[!0-9]*)
    echo "usage: $0 [seconds]" >&2
    exit 2
    ;;
esac
OUT=${OUT:-/tmp/crunchd-fuzz}
CC=${CC:-clang}
mkdir -p "$OUT"

# UBSan reports are fatal so that libFuzzer sees them as crashes.
"$CC" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -Iworker/http worker/http/http_bytes.c worker/http/http_chunked.c worker/http/http_media.c \
    worker/http/http_parser.c \
    worker/http/http_url.c \
    tests/fuzz/fuzz_http_parser.c \
    -o "$OUT/fuzz_http_parser"

work=$(mktemp -d "${TMPDIR:-/tmp}/crunchd-fuzz-corpus.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/corpus"
cp -R tests/fuzz/corpus/http_parser/. "$work/corpus/"

# Tokens the parser branches on, so the fuzzer reaches them sooner.
cat >"$work/http.dict" <<'DICT'
"\x0d\x0a"
"\x0d\x0a\x0d\x0a"
"\x0a\x0a"
": "
"GET "
"POST "
"OPTIONS * "
" HTTP/1.1"
" HTTP/1.0"
" HTTP/2.0"
"http://"
"https://"
"Host: "
"Content-Length: "
"Transfer-Encoding: "
"chunked"
"Connection: "
"close"
"keep-alive"
"Expect: "
"100-continue"
"Content-Type: "
";ext=1"
";e=\"q\""
"%2F"
"%00"
"+"
"0\x0d\x0a\x0d\x0a"
"fffffffffffffff"
DICT

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

status=0
"$OUT/fuzz_http_parser" -max_total_time="$secs" -max_len=16384 -timeout=10 \
    -print_final_stats=1 -dict="$work/http.dict" -artifact_prefix="$OUT/" \
    "$work/corpus" > "$work/fuzz.log" 2>&1 || status=$?
if [ "$status" -ne 0 ]; then
    cat "$work/fuzz.log" >&2
    echo "run_fuzz.sh: fuzzer failed (exit $status); reproducers in $OUT/" >&2
    exit "$status"
fi
grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$work/fuzz.log" || true
echo "run_fuzz.sh: no crash in ${secs}s"
