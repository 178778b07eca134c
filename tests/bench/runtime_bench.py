#!/usr/bin/env python3
"""Python functions through crunchd's language runtime, against the same
functions under gunicorn (standard library only; issue 11's benchmark).

It starts its own servers, from a temp dir, on 127.0.0.1:
  - crunchd (CRUNCHD_BIN, default build/crunchd): workers = CPUs, one
    runtime process per worker (per_worker 1) running tests/bench/
    py_handlers.py, which serves wsgi_app.py's own fib and count;
  - gunicorn (GUNICORN_BIN, or /usr/bin/gunicorn, or python3 -m gunicorn):
    2 sync workers serving wsgi_app.py (run.sh's gunicorn).
Both run the interpreter of /usr/bin/python3 (Debian's, as python3-gunicorn).
Then it measures:
  1. fib: wrk -t2 -c64 POST {"n": 40}, to /v1/fn/pyfib (crunchd) and
     /v1/fn/fib (gunicorn), alternating servers for --rounds rounds of
     --duration s; the medians of req/s and their ratio (issue 11: >= 2.5);
  2. the runtime pipe's cost per call: N sequential calls of a no-op Python
     function over one keep-alive connection: the median run_ms crunchd
     reports (the lane's whole exchange with the process: request line out,
     the runtime's read, parse, call, reply, our parse), and the end-to-end
     latency minus that of the built-in sleep {"ms": 0}, which takes the same
     hand-off to a pool thread without a process;
  3. CPU scaling: burn (a Python loop) alone, then 4 at once under wrk -t2
     -c4: calls/s against CPUs / single-call time (issue 11: >= 0.90).
The CPU time of each server (all its processes) is read from /proc.

    runtime_bench.py [--duration S] [--rounds N] [--smoke]

Prints one "name: figures" line per result (run.sh keeps them for its
report). Exit status 0 when every measurement completed; 1 when a server did
not start or a measurement failed; 2 on bad usage. The servers are stopped on
exit, also on an error or Ctrl-C.
"""

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import bench  # noqa: E402  (run_wrk, _post, _single_calls, fmt_us)

PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
FIB_BODY = '{"n":40}'


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_http(port, path, proc, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", path)
            ok = c.getresponse().status == 200
            c.close()
            if ok:
                return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


def start_crunchd(tmp, cpus):
    binary = os.environ.get("CRUNCHD_BIN", os.path.join(ROOT, "build", "crunchd"))
    d = os.path.join(tmp, "crunchd")
    os.makedirs(os.path.join(d, "data"))
    conf = {
        "listen": ["127.0.0.1:0"], "workers": cpus, "data_dir": os.path.join(d, "data"),
        "store": {"kind": "sqlite", "path": os.path.join(d, "crunchd.db")},
        "log": {"level": "notice", "access_log": ""},
        "functions": {"runtimes": [{
            "name": "py", "argv": [PYTHON, os.path.join(HERE, "py_handlers.py")],
            "per_worker": 1,
            "env": {"PYTHONPATH": os.path.join(ROOT, "runtimes", "python"),
                    "PYTHONDONTWRITEBYTECODE": "1"}}]},
    }
    with open(os.path.join(d, "crunchd.json"), "w") as f:
        json.dump(conf, f)
    log = open(os.path.join(d, "stderr"), "w+")
    proc = subprocess.Popen([binary, "-c", os.path.join(d, "crunchd.json")], stderr=log,
                            stdin=subprocess.DEVNULL)
    port = None
    deadline = time.monotonic() + 20
    while port is None and time.monotonic() < deadline and proc.poll() is None:
        log.seek(0)
        m = re.search(r"listening on 127\.0\.0\.1:(\d+)", log.read())
        port = int(m.group(1)) if m else None
        time.sleep(0.1)
    if port is None or not wait_http(port, "/healthz", proc):
        log.seek(0)
        sys.exit("runtime_bench: crunchd did not start:\n" + log.read())
    return proc, port


def start_gunicorn(tmp):
    d = os.path.join(tmp, "gunicorn")
    os.makedirs(d)
    if os.environ.get("GUNICORN_BIN"):
        cmd = [os.environ["GUNICORN_BIN"]]
    elif os.path.exists("/usr/bin/gunicorn"):
        cmd = ["/usr/bin/gunicorn"]
    else:
        cmd = [PYTHON, "-m", "gunicorn"]
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "GUNICORN_CMD_ARGS"}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    proc = subprocess.Popen(cmd + ["--chdir", HERE, "--workers", "2", "--worker-class", "sync",
                                   "--bind", "127.0.0.1:%d" % port, "--worker-tmp-dir", d,
                                   "--log-level", "warning", "wsgi_app:app"],
                            cwd=d, env=env, stdin=subprocess.DEVNULL,
                            stderr=open(os.path.join(d, "stderr"), "w"))
    if not wait_http(port, "/healthz", proc):
        sys.exit("runtime_bench: gunicorn did not start")
    return proc, port


def stop(proc, sig):
    if proc and proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def pipe_cost(port, calls):
    """(median run_ms of noop in us, median latency noop us, median latency sleep 0 us)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for _ in range(200):  # warm-up: both lanes, the process, the connection
        bench._post(conn, "/v1/fn/noop", "{}")
        bench._post(conn, "/v1/fn/sleep", '{"ms":0}')
    noop, sleep0 = [], []
    for _ in range(calls):  # interleaved, so drift hits both alike
        noop.append(bench._post(conn, "/v1/fn/noop", "{}"))
        sleep0.append(bench._post(conn, "/v1/fn/sleep", '{"ms":0}'))
    conn.close()
    run_us = statistics.median(r["run_ms"] for _, r in noop) * 1000
    return (run_us, statistics.median(w for w, _ in noop) * 1e6,
            statistics.median(w for w, _ in sleep0) * 1e6)


def scaling(port, pid, cpus, iterations, duration, repeat):
    url = "http://127.0.0.1:%d/v1/fn/burn" % port
    body = '{"iterations":%d}' % iterations
    before = bench._single_calls(url, body, repeat)
    r = bench.run_wrk(url, pid, 2, 4, duration, os.path.join(HERE, "post.lua"), body)
    after = bench._single_calls(url, body, repeat)
    single = min(statistics.median(w for w, _ in before), statistics.median(w for w, _ in after))
    limit = cpus / single
    return single, r, (r["rps"] or 0) / limit, limit


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--duration", type=int, default=10)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--smoke", action="store_true", help="1 s runs, few calls: it works, no figures")
    a = p.parse_args(argv)
    if a.duration < 1 or a.rounds < 1:
        p.error("--duration and --rounds must be positive")
    if shutil.which(bench.WRK) is None:
        sys.exit("runtime_bench: wrk not found (apt-get install wrk)")
    if a.smoke:
        a.duration, a.rounds = 1, 1
    calls, iterations, repeat = (200, 300000, 2) if a.smoke else (2000, 3000000, 5)
    cpus = len(os.sched_getaffinity(0))
    tmp = tempfile.mkdtemp(prefix="crunchd-rtbench.")
    crunchd = gunicorn = None
    failed = 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        crunchd, cport = start_crunchd(tmp, cpus)
        gunicorn, gport = start_gunicorn(tmp)
        print("== runtime benchmark: crunchd %d workers (per_worker 1, %s) vs gunicorn 2 sync; "
              "wrk -t2 -c64 -d%ds; %d round(s)" % (cpus, PYTHON, a.duration, a.rounds), flush=True)
        targets = {"crunchd": (crunchd.pid, "http://127.0.0.1:%d/v1/fn/pyfib" % cport),
                   "gunicorn": (gunicorn.pid, "http://127.0.0.1:%d/v1/fn/fib" % gport)}
        for name, (pid, url) in targets.items():  # warm-up, not counted
            bench.run_wrk(url, pid, 2, 64, 1, os.path.join(HERE, "post.lua"), FIB_BODY)
        runs = {"crunchd": [], "gunicorn": []}
        for rnd in range(a.rounds):
            order = ["crunchd", "gunicorn"] if rnd % 2 == 0 else ["gunicorn", "crunchd"]
            for name in order:
                pid, url = targets[name]
                r = bench.run_wrk(url, pid, 2, 64, a.duration, os.path.join(HERE, "post.lua"),
                                  FIB_BODY)
                failed += not r["ok"] or r["non2xx"] > 0
                runs[name].append(r)
        med = {}
        for name in ("crunchd", "gunicorn"):
            rs = runs[name]
            med[name] = statistics.median(r["rps"] or 0 for r in rs)
            cpu = statistics.median(r["cpu_us_per_req"] or 0 for r in rs)
            print("fib %s: %s req/s (median; rounds: %s), p50 %s, p99 %s, %.1f us CPU/req, "
                  "%d non-2xx" % (name, format(round(med[name]), ","),
                                  ", ".join(format(round(r["rps"] or 0), ",") for r in rs),
                                  bench.fmt_us(statistics.median(r["p50_us"] or 0 for r in rs)),
                                  bench.fmt_us(statistics.median(r["p99_us"] or 0 for r in rs)),
                                  cpu, sum(r["non2xx"] for r in rs)), flush=True)
        ratio = med["crunchd"] / med["gunicorn"] if med["gunicorn"] else 0
        print("fib ratio: crunchd/gunicorn %.2f (issue 11 target: >= 2.5)" % ratio, flush=True)
        run_us, noop_us, sleep_us = pipe_cost(cport, calls)
        print("pipe cost: %.1f us per call (run_ms of a no-op Python function, median of %d); "
              "end to end %.1f us vs %.1f us for the built-in sleep {\"ms\":0}: +%.1f us"
              % (run_us, calls, noop_us, sleep_us, noop_us - sleep_us), flush=True)
        single, r, frac, limit = scaling(cport, crunchd.pid, cpus, iterations, a.duration, repeat)
        failed += not r["ok"]
        busy = r["cpu_s"] / r["seconds"] if r["seconds"] else 0
        print("cpu scaling: burn {\"iterations\": %d} alone %.1f ms; 4 at once (wrk -t2 -c4): "
              "%.2f calls/s = %.2f of %d CPUs / single-call time (%.2f/s) (issue 11 target: "
              ">= 0.90); crunchd and its Python processes kept %.2f CPUs busy meanwhile"
              % (iterations, single * 1000, r["rps"] or 0, frac, cpus, limit, busy), flush=True)
    except (OSError, RuntimeError, ValueError) as e:
        print("runtime_bench: %s" % e, file=sys.stderr)
        failed += 1
    finally:
        stop(crunchd, signal.SIGTERM)
        stop(gunicorn, signal.SIGINT)
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
