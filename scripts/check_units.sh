#!/usr/bin/env bash
# Checks the systemd units: `systemd-analyze verify` must be silent, and the
# service's `systemd-analyze security --offline=true` exposure level must be
# at most MAX_EXPOSURE (default 2.5). Works without systemd running as PID 1
# (containers, CI): verify only needs the binary named by ExecStart= to
# exist, so the units are checked in a temp dir with /usr/sbin/crunchd
# replaced by the built binary (BUILD_DIR, default ./build). Last, a fresh
# `meson install` into a temp dir must give a config that passes the unit's
# ExecStartPre= (`crunchd -t`; its /etc, /run, /var paths moved into the temp
# dir), and a second install must keep the tokens file.
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

echo "== fresh install: ExecStartPre=crunchd -t"
dest="$tmp/root"
meson install -C "$build_dir" --no-rebuild --quiet --destdir "$dest" >/dev/null
conf=$(find "$dest" -path '*/crunchd/crunchd.json' | head -n 1)
if [ -z "$conf" ]; then
  echo "check_units: meson install put no crunchd/crunchd.json under $dest" >&2
  exit 1
fi
etc=$(dirname "$conf")
mkdir -p "$tmp/run" "$tmp/lib/data" "$tmp/log"
sed -e "s#${etc#"$dest"}#$etc#g" -e "s#/run/crunchd#$tmp/run#g" \
    -e "s#/var/lib/crunchd#$tmp/lib#g" -e "s#/var/log/crunchd#$tmp/log#g" "$conf" > "$tmp/crunchd.json"
if ! out=$("$bin" -t -c "$tmp/crunchd.json" 2>&1); then
  echo "$out" >&2
  echo "check_units: crunchd -t fails on the freshly installed config" >&2
  exit 1
fi
echo "$out"
token="x call $(printf '%064d' 0)"
echo "$token" >> "$etc/tokens"
meson install -C "$build_dir" --no-rebuild --quiet --destdir "$dest" >/dev/null
if ! grep -qx "$token" "$etc/tokens"; then
  echo "check_units: a second meson install replaced $etc/tokens" >&2
  exit 1
fi
echo "ok (a reinstall keeps the tokens file)"
echo "check_units: 3 passed, 0 failed"
