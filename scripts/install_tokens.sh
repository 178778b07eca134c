#!/bin/sh
# meson install script: creates CONF_DIR/tokens from tokens.example on a
# fresh install, so that the shipped config (auth.tokens_file) passes
# `crunchd -t` at once (with no token, every request is refused until one is
# added). An existing tokens file is never touched: reinstalling or
# upgrading keeps the tokens in force.
set -eu
conf_dir="${DESTDIR:-}$1"
if [ ! -e "$conf_dir/tokens" ]; then
  install -m 0644 "$conf_dir/tokens.example" "$conf_dir/tokens"
  echo "Installing $conf_dir/tokens (no token yet: crunchd --mint-token makes one)"
fi
