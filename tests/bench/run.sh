#!/usr/bin/env bash
# tests/bench/run.sh - crunchd against nginx (static reply) and gunicorn (the
# same work in Python) on 127.0.0.1, bounded in time. How to run it and how to
# read it: tests/bench/README.md.
#
#   tests/bench/run.sh [--rounds N] [--duration S] [--workers N] [--smoke]
#                      [--write] [--only crunchd,nginx,gunicorn]
#
# Exit status: 0 when every server started and every wrk run completed
# (whatever the numbers); 1 when a server could not start or a run failed
# completely; 2 on bad usage. Servers are stopped at exit, also on error or
# Ctrl-C.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

usage() {
    sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
}

cmdline="tests/bench/run.sh${*:+ $*}"
rounds="" duration="" workers="" smoke=0 write=0 only="crunchd,nginx,gunicorn"
while [ $# -gt 0 ]; do
    case "$1" in
    --rounds) rounds=${2:?--rounds needs N}; shift 2 ;;
    --duration) duration=${2:?--duration needs S}; shift 2 ;;
    --workers) workers=${2:?--workers needs N}; shift 2 ;;
    --only) only=${2:?--only needs a list}; shift 2 ;;
    --smoke) smoke=1; shift ;;
    --write) write=1; shift ;;
    -h | --help) usage ;;
    *) echo "run.sh: unknown option $1" >&2; usage ;;
    esac
done

cpus=$(nproc)
if [ $smoke = 1 ]; then
    rounds=${rounds:-1} duration=${duration:-1}
    iterations=10000000 mem_target=10000 mem_budget=10 warmup=0 single_repeat=3
else
    rounds=${rounds:-3} duration=${duration:-10}
    iterations=100000000 mem_target=1000000 mem_budget=60 warmup=2 single_repeat=3
fi
workers=${workers:-$cpus}
gunicorn_workers=${GUNICORN_WORKERS:-2}
for v in rounds duration workers gunicorn_workers; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: $v must be a positive integer, not '${!v}'" >&2; exit 2; }
done
declare -A want=()
IFS=, read -ra only_list <<<"$only"
for s in "${only_list[@]}"; do
    case "$s" in
    crunchd | nginx | gunicorn) want[$s]=1 ;;
    *) echo "run.sh: --only takes crunchd, nginx, gunicorn; not '$s'" >&2; exit 2 ;;
    esac
done
servers=()
for s in crunchd nginx gunicorn; do [ -n "${want[$s]:-}" ] && servers+=("$s"); done

PY=${PYTHON:-python3}
export PYTHONDONTWRITEBYTECODE=1  # no __pycache__ in the tree (gunicorn imports wsgi_app)
bench() { "$PY" "$here/bench.py" "$@"; }
CRUNCHD_BIN=${CRUNCHD_BIN:-$root/build/crunchd}
NGINX_BIN=${NGINX_BIN:-$(command -v nginx || echo /usr/sbin/nginx)}
if [ -n "${GUNICORN_BIN:-}" ]; then
    gunicorn_cmd=("$GUNICORN_BIN")
elif [ -x /usr/bin/gunicorn ]; then
    gunicorn_cmd=(/usr/bin/gunicorn)
else
    gunicorn_cmd=(/usr/bin/python3 -m gunicorn)
fi

need() { command -v "$1" >/dev/null 2>&1 || { echo "run.sh: $1 not found ($2)" >&2; exit 1; }; }
need wrk "apt-get install wrk"
need "$PY" "python3"
[ -n "${want[crunchd]:-}" ] && { [ -x "$CRUNCHD_BIN" ] || { echo "run.sh: $CRUNCHD_BIN not found: ninja -C build, or set CRUNCHD_BIN" >&2; exit 1; }; }
[ -n "${want[nginx]:-}" ] && need "$NGINX_BIN" "apt-get install nginx-light"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/crunchd-bench.XXXXXX")
results=$tmp/results.jsonl
wrklog=$tmp/wrk.log
: >"$results"
declare -A pid=() port=()
failures=0
started_at=$SECONDS
load_before=$(cut -d' ' -f1 /proc/loadavg)

# ---- stopping (trap EXIT) --------------------------------------------------

# Descendants of $1 (by parent pid), deepest last.
descendants() {
    local c
    for c in $(pgrep -P "$1" 2>/dev/null); do
        echo "$c"
        descendants "$c"
    done
}

# stop NAME SIGNAL: signal the master, wait up to 10 s, then SIGKILL it and
# whatever it had forked, by pid.
stop() {
    local name=$1 sig=$2 p=${pid[$1]:-} kids i
    [ -n "$p" ] || return 0
    unset "pid[$name]"
    kill -0 "$p" 2>/dev/null || { wait "$p" 2>/dev/null || true; return 0; }
    kids=$(descendants "$p")
    kill -"$sig" "$p" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$p" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$p" 2>/dev/null; then
        echo "run.sh: $name (pid $p) did not stop on SIG$sig within 10 s: killing it" >&2
        kill -KILL "$p" 2>/dev/null || true
    fi
    wait "$p" 2>/dev/null || true
    for k in $kids; do kill -KILL "$k" 2>/dev/null || true; done
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop crunchd TERM  # fast stop
    stop nginx TERM    # fast shutdown
    stop gunicorn INT  # quick shutdown (TERM would wait for graceful_timeout)
    if [ "${BENCH_KEEP:-0}" = 1 ]; then
        echo "run.sh: kept $tmp" >&2
    else
        rm -rf "$tmp"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'echo "run.sh: interrupted" >&2; exit 130' INT
trap 'exit 143' TERM

die_start() {
    echo "run.sh: $1 could not start; its log:" >&2
    if [ -s "$2" ]; then sed 's/^/    /' "$2" >&2; else echo "    (empty)" >&2; fi
    exit 1
}

free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ---- starting ----------------------------------------------------------------

start_crunchd() {
    local d=$tmp/crunchd i
    mkdir -p "$d/data" "$d/var"
    # Level notice, not warn: "listening on 127.0.0.1:PORT" is a notice. No
    # notice is logged per request, so this costs nothing while measuring.
    cat >"$d/crunchd.json" <<EOF
{
  "listen": ["127.0.0.1:0"],
  "workers": $workers,
  "data_dir": "$d/data",
  "store": {"kind": "sqlite", "path": "$d/var/crunchd.db"},
  "log": {"level": "notice", "access_log": ""}
}
EOF
    "$CRUNCHD_BIN" -t -c "$d/crunchd.json" >"$d/stderr" 2>&1 || die_start crunchd "$d/stderr"
    "$CRUNCHD_BIN" -c "$d/crunchd.json" 2>"$d/stderr" </dev/null &
    pid[crunchd]=$!
    for ((i = 0; i < 100; i++)); do
        port[crunchd]=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$d/stderr" | head -n 1)
        [ -n "${port[crunchd]}" ] && break
        kill -0 "${pid[crunchd]}" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "${port[crunchd]}" ] || die_start crunchd "$d/stderr"
    bench wait --url "http://127.0.0.1:${port[crunchd]}/healthz" --pid "${pid[crunchd]}" ||
        die_start crunchd "$d/stderr"
}

start_nginx() {
    local d=$tmp/nginx
    mkdir -p "$d/logs" "$d/tmp"
    for _ in 1 2 3; do  # a free port may be taken before nginx binds it
        port[nginx]=$(free_port)
        cat >"$d/nginx.conf" <<EOF
worker_processes $workers;
pid $d/nginx.pid;
error_log $d/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000000;
    keepalive_timeout 75s;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    server {
        listen 127.0.0.1:${port[nginx]} reuseport;
        location / {
            default_type application/json;
            return 200 '{"status":"ok"}';
        }
    }
}
EOF
        "$NGINX_BIN" -p "$d/" -c "$d/nginx.conf" -e "$d/logs/error.log" -g 'daemon off;' \
            >"$d/stderr" 2>&1 </dev/null &
        pid[nginx]=$!
        if bench wait --url "http://127.0.0.1:${port[nginx]}/" --pid "${pid[nginx]}" 2>>"$d/stderr"; then
            return 0
        fi
        stop nginx TERM
    done
    cat "$d/logs/error.log" >>"$d/stderr" 2>/dev/null || true
    die_start nginx "$d/stderr"
}

start_gunicorn() {
    local d=$tmp/gunicorn i
    mkdir -p "$d"
    # From $d so that no gunicorn.conf.py of the caller's directory applies.
    (cd "$d" && exec env -u GUNICORN_CMD_ARGS "${gunicorn_cmd[@]}" --chdir "$here" \
        --workers "$gunicorn_workers" --worker-class sync --bind 127.0.0.1:0 \
        --worker-tmp-dir "$d" --log-level info wsgi_app:app) 2>"$d/stderr" </dev/null &
    pid[gunicorn]=$!
    for ((i = 0; i < 150; i++)); do
        port[gunicorn]=$(sed -n 's/.*Listening at: http:\/\/127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$d/stderr" | head -n 1)
        [ -n "${port[gunicorn]}" ] && break
        kill -0 "${pid[gunicorn]}" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "${port[gunicorn]}" ] || die_start gunicorn "$d/stderr"
    bench wait --url "http://127.0.0.1:${port[gunicorn]}/healthz" --pid "${pid[gunicorn]}" ||
        die_start gunicorn "$d/stderr"
}

# ---- measuring -----------------------------------------------------------------

# bench.py arguments (URL, wrk script, body, header) of CASE against SERVER, in
# the array cargs. nginx answers every path with its static JSON: it is the
# reference "static reply" for every case.
case_args() {
    local base="http://127.0.0.1:${port[$1]}"
    case "$2" in
    healthz) cargs=(--url "$base/healthz") ;;
    fib) cargs=(--url "$base/v1/fn/fib" --script "$here/post.lua" --body '{"n":40}') ;;
    healthz_close) cargs=(--url "$base/healthz" --header "Connection: close") ;;
    esac
}

wrk_run() {  # SERVER CASE ROUND KIND DURATION
    local cargs
    case_args "$1" "$2"
    bench wrk --out "$results" --log "$wrklog" --server "$1" --case "$2" --round "$3" --kind "$4" \
        --pid "${pid[$1]}" --threads 2 --conns 64 --duration "$5" "${cargs[@]}" || failures=$((failures + 1))
}

echo "== crunchd benchmark: ${servers[*]}; $workers workers (gunicorn $gunicorn_workers sync);" \
    "wrk -t2 -c64 -d${duration}s; $rounds round(s)$([ $smoke = 1 ] && echo '; smoke mode')"
for s in "${servers[@]}"; do
    "start_$s"
    echo "  started $s: pid ${pid[$s]}, 127.0.0.1:${port[$s]}"
done

if [ -n "${pid[crunchd]:-}" ]; then
    echo "== memory: crunchd workers idle, then after $mem_target GET /healthz (at most ${mem_budget} s)"
    bench rss --out "$results" --server crunchd --pid "${pid[crunchd]}" --label idle || failures=$((failures + 1))
    bench memory --out "$results" --log "$wrklog" --server crunchd --pid "${pid[crunchd]}" \
        --url "http://127.0.0.1:${port[crunchd]}/healthz" --target "$mem_target" --budget "$mem_budget" ||
        failures=$((failures + 1))
fi

if [ "$warmup" -gt 0 ]; then
    echo "== warm-up (${warmup} s each, not counted)"
    for s in "${servers[@]}"; do wrk_run "$s" healthz 0 warmup "$warmup"; done
fi

echo "== rounds"
for ((r = 1; r <= rounds; r++)); do
    # Rotate the order every round, so no server always runs first or last.
    order=("${servers[@]:$(((r - 1) % ${#servers[@]}))}" "${servers[@]:0:$(((r - 1) % ${#servers[@]}))}")
    for c in healthz fib healthz_close; do
        for s in "${order[@]}"; do wrk_run "$s" "$c" "$r" bench "$duration"; done
    done
done

if [ -n "${pid[crunchd]:-}" ]; then
    echo "== CPU scaling: count {\"iterations\": $iterations}"
    bench scaling --out "$results" --log "$wrklog" --server crunchd --pid "${pid[crunchd]}" \
        --url "http://127.0.0.1:${port[crunchd]}/v1/fn/count" --body "{\"iterations\": $iterations}" \
        --repeat "$single_repeat" --threads 2 --conns 4 --duration "$duration" --cpus "$cpus" ||
        failures=$((failures + 1))
    bench rss --out "$results" --server crunchd --pid "${pid[crunchd]}" --label end || failures=$((failures + 1))
fi

# ---- async jobs ------------------------------------------------------------------
# async_bench.py starts a crunchd of its own (a fresh store) and loads it with
# wrk posting count {"iterations": 0} jobs to /v1/jobs?wait=5; its figures go
# to the report as they are.
bench_async() {
    local args=(--wrk --duration "$duration")
    [ $smoke = 1 ] && args=(--wrk --smoke)
    echo "== async jobs: tests/bench/async_bench.py ${args[*]}"
    if ! CRUNCHD_BIN="$CRUNCHD_BIN" "$PY" "$here/async_bench.py" "${args[@]}" > "$tmp/async.txt" 2>&1; then
        cat "$tmp/async.txt" >&2
        failures=$((failures + 1))
    fi
    grep -E '^(submitted|completed|latency|server CPU|bottleneck):' "$tmp/async.txt" || true
}
[ -n "${pid[crunchd]:-}" ] && bench_async

# ---- Python functions (language runtime) ------------------------------------------
# runtime_bench.py starts its own crunchd (a Python runtime, per_worker 1) and
# gunicorn (2 sync workers), both serving wsgi_app.py's fib and count; its
# figures go to the report as they are.
bench_runtime() {
    local args=(--duration "$duration" --rounds "$rounds")
    [ $smoke = 1 ] && args=(--smoke)
    echo "== Python functions: tests/bench/runtime_bench.py ${args[*]}"
    if ! CRUNCHD_BIN="$CRUNCHD_BIN" "$PY" "$here/runtime_bench.py" "${args[@]}" > "$tmp/runtime.txt" 2>&1; then
        cat "$tmp/runtime.txt" >&2
        failures=$((failures + 1))
    fi
    grep -E '^(fib|pipe cost|cpu scaling)' "$tmp/runtime.txt" || true
}
[ -n "${pid[crunchd]:-}" ] && [ -n "${want[gunicorn]:-}" ] && bench_runtime

# ---- report ----------------------------------------------------------------------

stop_all_quietly() { stop crunchd TERM; stop nginx TERM; stop gunicorn INT; }
stop_all_quietly  # the report needs no server, and the machine is freed earlier

crunchd_version=$("$CRUNCHD_BIN" -v 2>&1 | head -n 1 | sed 's/^crunchd //' || true)
# Read-only git (--no-optional-locks: not even the index is refreshed).
commit=$(git -C "$root" --no-optional-locks rev-parse --short HEAD 2>/dev/null || echo "?")
if [ -n "$(git -C "$root" --no-optional-locks status --porcelain -- common server worker meson.build 2>/dev/null)" ]; then
    commit+=" with uncommitted changes"
fi
report=$tmp/report.md
bench report --results "$results" --async-text "$tmp/async.txt" --runtime-text "$tmp/runtime.txt" \
    --meta "date=$(date -u +%Y-%m-%d)" \
    --meta "cpus=$cpus" \
    --meta "cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)" \
    --meta "kernel=Linux $(uname -r)" \
    --meta "load=$load_before / $(cut -d' ' -f1 /proc/loadavg)" \
    --meta "crunchd_version=${crunchd_version:-?}" \
    --meta "commit=commit $commit" \
    --meta "nginx_version=$("$NGINX_BIN" -v 2>&1 | sed 's/^nginx version: //')" \
    --meta "gunicorn_version=$("${gunicorn_cmd[@]}" --version 2>&1 | head -n 1 | sed 's/ (version \(.*\))/ \1/')" \
    --meta "wrk_version=$(wrk -v 2>&1 | head -n 1 | awk '{print "wrk " $2}')" \
    --meta "workers=$workers" --meta "gunicorn_workers=$gunicorn_workers" \
    --meta "duration=$duration" --meta "rounds=$rounds" --meta "only=$only" \
    --meta "command=$cmdline" >"$report"
echo
cat "$report"
if [ $write = 1 ]; then
    cp "$report" "$here/results.md"
    echo "(written to tests/bench/results.md)"
fi
echo
echo "run.sh: done in $((SECONDS - started_at)) s; $failures failed measurement(s)"
[ "$failures" = 0 ]
