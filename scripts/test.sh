#!/usr/bin/env bash
# Runs every test: unit and integration tests, the same under AddressSanitizer
# and UBSan, the unit tests under valgrind, the parser fuzzers for a bounded
# time (FUZZ_SECONDS, default 30), the systemd units (checked, and booted under a
# real systemd in a container) and the benchmark's smoke run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

werror=false
[ "${CI:-}" = "true" ] && werror=true

echo "== source layout: no include cycle, layers point down, no file over 700 lines"
python3 scripts/check_layers.py

echo "== unit and integration tests"
meson test -C build --print-errorlogs --num-processes 2

echo "== the same under AddressSanitizer + UBSan"
if [ ! -d build-asan ]; then
  meson setup build-asan --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false -Dwerror=$werror
fi
ninja -C build-asan
meson test -C build-asan --setup asan --print-errorlogs --num-processes 2

echo "== unit tests under valgrind"
meson test -C build --setup valgrind --suite unit --print-errorlogs

echo "== fuzzing the parsers (HTTP, tokens, runtime protocol and lines) for ${FUZZ_SECONDS:-30} s each"
bash tests/fuzz/run_fuzz.sh "${FUZZ_SECONDS:-30}"

echo "== systemd units: systemd-analyze verify and the security score"
bash scripts/check_units.sh

echo "== the unit under a real systemd (systemd-nspawn): serve, reload, stop"
bash scripts/check_boot.sh

echo "== benchmark smoke run (keeps the suite working; gates nothing on a number)"
bash tests/bench/run.sh --smoke

echo "all tests passed"
