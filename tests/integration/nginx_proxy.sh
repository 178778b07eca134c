#!/usr/bin/env bash
# nginx in front of crunchd, with the shipped example conf/nginx/crunchd.conf
# changed only in its ports and certificate paths: TLS ends at nginx, and a
# request reaches crunchd and comes back; the Authorization header arrives
# upstream as the client sent it (checked with a small upstream that echoes
# the headers it gets, behind a second copy of the same server block).
#
# Needs nginx (nginx-light), openssl, curl and python3 (scripts/setup.sh).
# Environment: CRUNCHD_BIN, CRUNCHD_SOURCE_ROOT (set by meson test).
# Every process is started here and stopped by its pid.
set -euo pipefail

bin=${CRUNCHD_BIN:?CRUNCHD_BIN is not set}
src=${CRUNCHD_SOURCE_ROOT:?CRUNCHD_SOURCE_ROOT is not set}
nginx=${NGINX_BIN:-$(command -v nginx || echo /usr/sbin/nginx)}
example="$src/conf/nginx/crunchd.conf"
tmp=$(mktemp -d /tmp/crunchd-nginx-XXXXXX)
declare -A pid=()

fail() {
    echo "nginx_proxy: FAIL: $*" >&2
    for f in "$tmp"/crunchd.log "$tmp"/nginx/error.log "$tmp"/echo.log; do
        [ -s "$f" ] && { echo "---- $f" >&2; tail -n 40 "$f" >&2; }
    done
    exit 1
}

stop() { # stop NAME: TERM, up to 5 s, then KILL; only the pid started here
    local p=${pid[$1]:-}
    [ -n "$p" ] || return 0
    unset "pid[$1]"
    kill -TERM "$p" 2>/dev/null || return 0
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    trap - EXIT
    stop nginx
    stop crunchd
    stop echo
    rm -rf "$tmp"
    exit "$rc"
}
trap cleanup EXIT

for tool in "$nginx" openssl curl python3; do
    command -v "$tool" >/dev/null || fail "$tool is missing (bash scripts/setup.sh installs it)"
done

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_http URL NAME: until URL answers (any status), up to 10 s.
wait_http() {
    for _ in $(seq 100); do
        kill -0 "${pid[$2]}" 2>/dev/null || fail "$2 exited while starting"
        curl -s -o /dev/null -k "$1" && return 0
        sleep 0.1
    done
    fail "$2 does not answer at $1 within 10 s"
}

# A certificate for localhost, and a token.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
    -subj /CN=localhost -addext subjectAltName=DNS:localhost \
    -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null || fail "openssl req failed"
minted=$("$bin" --mint-token proxy call,read 2>/dev/null) || fail "crunchd --mint-token failed"
secret=$(sed -n 's/^secret: //p' <<<"$minted")
sed -n 's/^line: //p' <<<"$minted" >"$tmp/tokens"

# crunchd on loopback, as the example's comment says.
cport=$(free_port)
cat >"$tmp/crunchd.json" <<EOF
{"listen": ["127.0.0.1:$cport"], "workers": 1, "data_dir": "$tmp",
 "store": {"kind": "sqlite", "path": "$tmp/crunchd.db"},
 "auth": {"tokens_file": "$tmp/tokens"}, "shutdown_timeout_s": 2}
EOF
"$bin" -c "$tmp/crunchd.json" >"$tmp/crunchd.log" 2>&1 </dev/null &
pid[crunchd]=$!
wait_http "http://127.0.0.1:$cport/healthz" crunchd

# The echo upstream: answers every request with the headers it got, as JSON.
eport=$(free_port)
python3 - "$eport" >"$tmp/echo.log" 2>&1 </dev/null <<'EOF' &
import http.server, json, sys
class Echo(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = json.dumps({k.lower(): v for k, v in self.headers.items()}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Echo).serve_forever()
EOF
pid[echo]=$!
wait_http "http://127.0.0.1:$eport/" echo

# nginx: the example's server block twice, before crunchd and before echo.
nport=$(free_port)
eport_tls=$(free_port)
mkdir -p "$tmp/nginx/tmp"
site() { # site UPSTREAM_NAME UPSTREAM_PORT LISTEN_PORT
    sed -e "s#^upstream crunchd {#upstream $1 {#" \
        -e "s#server 127.0.0.1:8080;#server 127.0.0.1:$2;#" \
        -e "s#proxy_pass http://crunchd;#proxy_pass http://$1;#" \
        -e "s#listen 443 ssl;#listen 127.0.0.1:$3 ssl;#" \
        -e "/listen \[::\]:443 ssl;/d" \
        -e "s#/etc/ssl/certs/crunchd.example.com.pem#$tmp/cert.pem#" \
        -e "s#/etc/ssl/private/crunchd.example.com.key#$tmp/key.pem#" "$example"
}
site crunchd "$cport" "$nport" >"$tmp/nginx/crunchd.conf"
site echo "$eport" "$eport_tls" >"$tmp/nginx/echo.conf"
for want in "upstream crunchd {" "server 127.0.0.1:$cport;" "listen 127.0.0.1:$nport ssl;" \
    "ssl_certificate     $tmp/cert.pem;" "ssl_certificate_key $tmp/key.pem;"; do
    grep -qF "$want" "$tmp/nginx/crunchd.conf" ||
        fail "the example no longer has the line this test rewrites into \"$want\""
done
user=""
[ "$(id -u)" = 0 ] && user="user root;" # workers read the 0700 temp dir
cat >"$tmp/nginx/nginx.conf" <<EOF
$user
worker_processes 1;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $tmp/nginx/tmp/body;
    proxy_temp_path $tmp/nginx/tmp/proxy;
    fastcgi_temp_path $tmp/nginx/tmp/fastcgi;
    uwsgi_temp_path $tmp/nginx/tmp/uwsgi;
    scgi_temp_path $tmp/nginx/tmp/scgi;
    include $tmp/nginx/crunchd.conf;
    include $tmp/nginx/echo.conf;
}
EOF
"$nginx" -p "$tmp/nginx/" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/error.log" -g 'daemon off;' \
    >>"$tmp/nginx/error.log" 2>&1 </dev/null &
pid[nginx]=$!
wait_http "https://127.0.0.1:$nport/healthz" nginx

https() { # https PORT PATH [curl args]: body, then the status on a line of its own
    local port=$1 path=$2
    shift 2
    curl -sS --cacert "$tmp/cert.pem" --resolve "localhost:$port:127.0.0.1" \
        -w '\n%{http_code}' "$@" "https://localhost:$port$path"
}

# Through TLS to crunchd and back, with the token.
out=$(https "$nport" /healthz) || fail "GET /healthz through nginx: curl failed"
[ "$(tail -n 1 <<<"$out")" = 200 ] || fail "GET /healthz through nginx: $out"
out=$(https "$nport" /v1/fn/fib -H "Authorization: Bearer $secret" \
    -H 'Content-Type: application/json' -d '{"n": 10}') || fail "POST /v1/fn/fib: curl failed"
[ "$(tail -n 1 <<<"$out")" = 200 ] || fail "POST /v1/fn/fib through nginx: $out"
grep -q '"result":55' <<<"$out" || fail "POST /v1/fn/fib through nginx: $out"
for i in 1 2 3; do # kept-alive upstream connections serve more requests
    out=$(https "$nport" /v1/functions -H "Authorization: Bearer $secret") || fail "GET /v1/functions"
    [ "$(tail -n 1 <<<"$out")" = 200 ] || fail "GET /v1/functions through nginx ($i): $out"
done

# The Authorization header reaches the upstream as sent.
out=$(https "$eport_tls" /v1/functions -H "Authorization: Bearer $secret") || fail "echo: curl failed"
[ "$(tail -n 1 <<<"$out")" = 200 ] || fail "GET through nginx to the echo upstream: $out"
python3 -c '
import json, sys
got = json.loads(sys.argv[1].rsplit("\n", 1)[0])
want = "Bearer " + sys.argv[2]
assert got.get("authorization") == want, "authorization upstream: %r, sent %r" % (got.get("authorization"), want)
assert got.get("x-forwarded-proto") == "https", got
' "$out" "$secret" || fail "the echo upstream got: $out"

echo "nginx_proxy: ok (TLS by nginx $("$nginx" -v 2>&1 | sed 's#.*/##'), crunchd behind it, Authorization passed on)"
