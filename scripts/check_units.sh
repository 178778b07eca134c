#!/usr/bin/env bash
# Checks the systemd units: `systemd-analyze verify` must be silent, and the
# service's `systemd-analyze security --offline=true` exposure level must be
# at most MAX_EXPOSURE (default 2.5). Works without systemd running as PID 1
# (containers, CI): verify only needs the binary named by ExecStart= to
# exist, so the units are checked in a temp dir with /usr/sbin/crunchd
# replaced by the built binary (BUILD_DIR, default ./build).
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=${BUILD_DIR:-build}
max=${MAX_EXPOSURE:-2.5}
bin="$(pwd)/$build_dir/crunchd"

if ! command -v systemd-analyze >/dev/null; then
  echo "check_units: systemd-analyze not found (apt-get install systemd)" >&2
  exit 1
fi
if [ ! -x "$bin" ]; then
  echo "check_units: $bin is missing: build first (ninja -C $build_dir)" >&2
  exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed "s#/usr/sbin/crunchd#$bin#g" systemd/crunchd.service > "$tmp/crunchd.service"
cp systemd/crunchd.socket "$tmp/crunchd.socket"

echo "== systemd-analyze verify"
if ! out=$(systemd-analyze verify --man=no "$tmp/crunchd.service" "$tmp/crunchd.socket" 2>&1); then
  echo "$out" >&2
  echo "check_units: systemd-analyze verify failed" >&2
  exit 1
fi
if [ -n "$out" ]; then
  echo "$out" >&2
  echo "check_units: systemd-analyze verify printed warnings" >&2
  exit 1
fi
echo "ok"

echo "== systemd-analyze security --offline=true"
out=$(systemd-analyze security --offline=true "$tmp/crunchd.service" 2>&1 || true)
line=$(printf '%s\n' "$out" | grep 'Overall exposure level' || true)
level=$(printf '%s\n' "$line" | sed -n 's/.*: \([0-9][0-9]*\.[0-9]\).*/\1/p')
if [ -z "$level" ]; then
  printf '%s\n' "$out" >&2
  echo "check_units: no \"Overall exposure level\" line in the output" >&2
  exit 1
fi
echo "$line"
if ! awk -v l="$level" -v m="$max" 'BEGIN { exit !(l + 0 <= m + 0) }'; then
  printf '%s\n' "$out" | grep '✗' >&2 || true
  echo "check_units: exposure level $level is above $max" >&2
  exit 1
fi
echo "check_units: 2 passed, 0 failed"
