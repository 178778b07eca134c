#!/usr/bin/env bash
# run_fuzz.sh [seconds] [target ...] - builds the libFuzzer targets of
# tests/fuzz/ with clang and runs each for a bounded time (default 30 s per
# target) on a scratch copy of its seed corpus (corpus/TARGET/) with its
# dictionary (dict/TARGET.dict). Every target runs; the script exits nonzero
# if any of them finds a crash, a broken invariant (CHECK), a sanitizer report
# or a leak. Reproducers are kept in $OUT (default /tmp/crunchd-fuzz).
#
# Targets (all by default):
#   http_parser  worker/http/: request heads, chunked bodies, URLs, media types
#   auth         common/auth*.c: the tokens file, lookups, Authorization: Bearer
#   rt_proto     common/fn/rt_proto.c: a runtime's hello and reply lines
#   rt_line      common/fn/rt_line.c: the line reader of a runtime's stdout and stderr
#
#   OUT=dir   where the binaries and crash artifacts go
#   CC=clang  the compiler (needs libFuzzer: libclang-rt-dev)
set -euo pipefail

cd "$(dirname "$0")/../.."

secs=${1:-30}
case $secs in
'' | *[!0-9]*)
    echo "usage: $0 [seconds] [http_parser|auth|rt_proto|rt_line ...]" >&2
    exit 2
    ;;
esac
shift $(($# > 0 ? 1 : 0))
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(http_parser auth rt_proto rt_line)
OUT=${OUT:-/tmp/crunchd-fuzz}
CC=${CC:-clang}
mkdir -p "$OUT"

# The sources each target tests (instrumented with it), its include
# directories and libraries.
sources() {
    case $1 in
    http_parser)
        echo "-Iworker/http worker/http/http_bytes.c worker/http/http_chunked.c" \
            "worker/http/http_media.c worker/http/http_parser.c worker/http/http_url.c"
        ;;
    auth)
        echo "-Icommon common/auth.c common/auth_parse.c common/utf8.c" \
            "tests/fuzz/fuzz_auth_model.c $(pkg-config --libs libcrypto)"
        ;;
    rt_proto)
        echo "-Icommon -Icommon/fn common/fn/rt_proto.c common/fn/fn.c" \
            "common/fn/fn_registry.c common/utf8.c $(pkg-config --libs jansson)"
        ;;
    rt_line)
        echo "-Icommon/fn common/fn/rt_line.c"
        ;;
    *)
        echo "run_fuzz.sh: unknown target $1" >&2
        return 1
        ;;
    esac
}

work=$(mktemp -d "${TMPDIR:-/tmp}/crunchd-fuzz-corpus.XXXXXX")
trap 'rm -rf "$work"' EXIT

# UBSan reports are fatal so that libFuzzer sees them as crashes.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=()
for t in "${targets[@]}"; do
    src=$(sources "$t")
    # shellcheck disable=SC2086 # src is a list of words
    "$CC" -g -O1 -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter -Werror \
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
        "tests/fuzz/fuzz_$t.c" $src -o "$OUT/fuzz_$t"

    mkdir "$work/$t"
    cp -R "tests/fuzz/corpus/$t/." "$work/$t/"
    echo "== fuzz_$t for ${secs}s"
    status=0
    "$OUT/fuzz_$t" -max_total_time="$secs" -max_len=16384 -timeout=10 \
        -print_final_stats=1 -dict="tests/fuzz/dict/$t.dict" -artifact_prefix="$OUT/$t-" \
        "$work/$t" > "$work/$t.log" 2>&1 || status=$?
    if [ "$status" -ne 0 ]; then
        tail -n 80 "$work/$t.log" >&2
        echo "run_fuzz.sh: fuzz_$t failed (exit $status); reproducer in $OUT/$t-*" >&2
        failed+=("$t")
        continue
    fi
    grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$work/$t.log" || true
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "run_fuzz.sh: failed: ${failed[*]}" >&2
    exit 1
fi
echo "run_fuzz.sh: no crash in ${secs}s per target (${targets[*]})"
