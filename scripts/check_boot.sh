#!/usr/bin/env bash
# Boots the shipped systemd unit under a real systemd (PID 1 of a throwaway
# systemd-nspawn container of this machine's /usr, with no network) and
# checks that, hardening and all, it serves:
#   - crunchd is installed by `meson install` with --prefix=/opt/crunchd
#     (the units are rewritten for that prefix) into a staging dir, which the
#     container sees as /opt/crunchd; the unit is enabled as shipped;
#   - the config listens on 0.0.0.0 with a tokens file (protected mode is
#     satisfied) and a Python runtime (examples/python/handlers.py) with
#     memory_mb 512;
#   - a check unit inside the container: the service is active, a request
#     without a token is 401, POST /v1/fn/pyfib {"n":40} with one answers
#     102334155, a job with ?wait=5 succeeds, the runtime processes run as
#     the unit's dynamic user with RLIMIT_AS 512 MiB, `systemctl reload`
#     (HUP) leaves it active and the new workers serve, `systemctl stop`
#     ends it with exit code 0; then it powers the container off.
# Needs root and systemd-container (scripts/setup.sh installs it). Bounded:
# the container is killed after BOOT_TIMEOUT seconds (default 240).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ] || ! command -v systemd-nspawn >/dev/null; then
  echo "check_boot: needs root and systemd-nspawn (apt-get install systemd-container)" >&2
  exit 1
fi
timeout_s=${BOOT_TIMEOUT:-240}
tmp=$(mktemp -d /tmp/crunchd-boot.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
src=$(pwd)

echo "== meson install --prefix=/opt/crunchd (release build in $tmp/build)"
meson setup "$tmp/build" --prefix=/opt/crunchd --buildtype=release -Dtests=false \
  -Dpython_moduledir=/opt/crunchd/lib/python >"$tmp/setup.log" 2>&1 ||
  { cat "$tmp/setup.log" >&2; exit 1; }
ninja -C "$tmp/build" >"$tmp/build.log" 2>&1 || { tail -n 40 "$tmp/build.log" >&2; exit 1; }
meson install -C "$tmp/build" --no-rebuild --quiet --destdir "$tmp/stage" >/dev/null
opt="$tmp/stage/opt/crunchd"
etc="$opt/etc/crunchd"

# The secret of one admin token, and the config.
mint=$("$opt/sbin/crunchd" --mint-token boot call,submit,read,cancel,admin 2>&1)
secret=$(printf '%s\n' "$mint" | sed -n 's/^secret: //p')
printf '%s\n' "$mint" | sed -n 's/^line: //p' >"$etc/tokens"
cat >"$etc/crunchd.json" <<EOF
{"listen": ["0.0.0.0:8080"], "workers": 2, "data_dir": "/var/lib/crunchd/data",
 "store": {"kind": "sqlite", "path": "/var/lib/crunchd/crunchd.db"},
 "pid_file": "/run/crunchd/crunchd.pid", "shutdown_timeout_s": 30,
 "log": {"level": "info", "access_log": "/var/log/crunchd/access.log"},
 "auth": {"tokens_file": "/opt/crunchd/etc/crunchd/tokens"},
 "functions": {"runtimes": [{"name": "py", "argv": ["python3", "/srv/fns/handlers.py"],
   "env": {"PYTHONPATH": "/opt/crunchd/lib/python"}, "per_worker": 1, "memory_mb": 512}]}}
EOF
mkdir -p "$tmp/fns" "$tmp/out" "$tmp/units/multi-user.target.wants"
cp examples/python/handlers.py "$tmp/fns/"
chmod -R a+rX "$tmp/stage" "$tmp/fns"
chmod 777 "$tmp/out"

# The check that runs inside, as a unit after crunchd.service.
cat >"$tmp/check.sh" <<EOF
#!/bin/bash
exec >/out/report 2>&1
T='Authorization: Bearer $secret'
J='Content-Type: application/json'
ok() { echo "PASS \$1"; }
bad() { echo "FAIL \$1"; }
expect() { # expect NAME WANT GOT
  case "\$3" in *"\$2"*) ok "\$1" ;; *) bad "\$1: want \$2, got \$3" ;; esac
}
for i in \$(seq 1 100); do curl -sf localhost:8080/healthz >/dev/null && break; sleep 0.1; done
expect active active "\$(systemctl is-active crunchd.service)"
expect no-token-401 401 "\$(curl -s -o /dev/null -w '%{http_code}' -H "\$J" localhost:8080/v1/fn/pyfib -d '{"n":40}')"
expect pyfib '"result":102334155' "\$(curl -s -H "\$T" -H "\$J" localhost:8080/v1/fn/pyfib -d '{"n":40}')"
expect job '"state":"succeeded"' "\$(curl -s -H "\$T" -H "\$J" 'localhost:8080/v1/jobs?wait=5' -d '{"fn":"pyfib","args":{"n":50}}')"
py=\$(pgrep -f /srv/fns/handlers.py | head -n 1)
expect runtime-user-not-root yes "\$([ -n "\$py" ] && [ "\$(stat -c %u /proc/\$py)" != 0 ] && echo yes)"
expect runtime-rlimit-as 536870912 "\$(grep 'Max address space' /proc/\$py/limits)"
systemctl reload crunchd.service
expect reload-active active "\$(systemctl is-active crunchd.service)"
for i in \$(seq 1 50); do journalctl -u crunchd.service | grep -q 'reload complete' && break; sleep 0.1; done
expect after-reload '"result":55' "\$(curl -s -H "\$T" -H "\$J" localhost:8080/v1/fn/pyfib -d '{"n":10}')"
systemctl stop crunchd.service
expect stopped inactive "\$(systemctl is-active crunchd.service)"
expect exit-0 'exiting with code 0' "\$(journalctl -u crunchd.service --no-pager)"
echo '---- journal'
journalctl -u crunchd.service --no-pager | tail -n 40
echo END
systemctl poweroff
EOF
chmod 755 "$tmp/check.sh"
cat >"$tmp/units/crunchd-check.service" <<'EOF'
[Unit]
Description=check crunchd under systemd
After=crunchd.service
Wants=crunchd.service
[Service]
Type=oneshot
ExecStart=/check.sh
EOF
cp "$opt/lib/systemd/system/crunchd.service" "$tmp/units/"
ln -s ../crunchd.service "$tmp/units/multi-user.target.wants/crunchd.service"
ln -s ../crunchd-check.service "$tmp/units/multi-user.target.wants/crunchd-check.service"
ln -s /dev/null "$tmp/units/systemd-firstboot.service"

echo "== booting systemd in a container (at most ${timeout_s} s)"
rc=0
timeout --kill-after=10 "$timeout_s" systemd-nspawn -D / --volatile=yes --private-network \
  --register=no --keep-unit --quiet \
  --bind-ro="$tmp/units:/etc/systemd/system" \
  --bind-ro="$opt:/opt/crunchd" \
  --bind-ro="$tmp/fns:/srv/fns" \
  --bind-ro="$tmp/check.sh:/check.sh" \
  --bind="$tmp/out:/out" \
  -b >"$tmp/boot.log" 2>&1 || rc=$?
if [ ! -s "$tmp/out/report" ] || ! grep -q '^END$' "$tmp/out/report"; then
  tail -n 40 "$tmp/boot.log" >&2
  [ -s "$tmp/out/report" ] && cat "$tmp/out/report" >&2
  echo "check_boot: the check did not finish (systemd-nspawn exit status $rc)" >&2
  exit 1
fi
grep -E '^(PASS|FAIL) ' "$tmp/out/report"
if grep -q '^FAIL ' "$tmp/out/report" || ! grep -q '^PASS exit-0' "$tmp/out/report"; then
  sed -n '/^---- journal/,$p' "$tmp/out/report" >&2
  echo "check_boot: failed" >&2
  exit 1
fi
echo "check_boot: ok ($(grep -c '^PASS ' "$tmp/out/report") checks under systemd $(systemctl --version 2>/dev/null | head -n 1 | awk '{print $2}'))"
