#!/usr/bin/env bash
# Installs what crunchd needs from Debian 12 and builds it into ./build.
# Run as root (or with sudo) on a fresh Debian 12 machine.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential pkg-config meson ninja-build
  libevent-dev libjansson-dev libsqlite3-dev libssl-dev check
  clang libclang-rt-14-dev valgrind curl python3
  wrk nginx-light gunicorn systemd systemd-container openssl
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

werror=false
[ "${CI:-}" = "true" ] && werror=true
if [ ! -d build ]; then
  meson setup build --buildtype=debugoptimized -Dwerror=$werror
fi
ninja -C build
mkdir -p var data
