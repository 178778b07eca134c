#!/usr/bin/env python3
"""A/B: two crunchd binaries measured in the same run, interleaved, so that a
change to a hot path is compared under the same machine conditions
(standard library only; needs wrk).

    ab.py BIN_A BIN_B [--rounds N] [--duration S] [--workers N] [--async]

Each round starts A, runs every case with wrk -t2 -c64 for S seconds, stops
it, then does the same with B (the order alternates per round: ABBA...).
Cases are those of run.sh: GET /healthz, POST /v1/fn/fib {"n":40}, GET
/healthz with Connection: close; with --async also async_bench.py --wrk
(jobs/s through the durable queue). It prints, per case, the median req/s
of each binary, B/A, and the server CPU time per request (from /proc: the
master and all its children, which is the figure to trust on a shared
machine). Exit status 0 when every run completed requests, 1 otherwise.
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402  (tree(): CPU ticks of a process tree)

WRK = os.environ.get("WRK", "wrk")
CASES = [
    ("healthz", "/healthz", []),
    ("fib", "/v1/fn/fib", ["-s", os.path.join(HERE, "post.lua")]),
    ("healthz_close", "/healthz", ["-H", "Connection: close"]),
]


def cpu_ticks(pid):
    return sum(bench.tree(pid).values())


def start(binary, workers, tmp):
    os.makedirs(f"{tmp}/data", exist_ok=True)
    cfg = f"{tmp}/crunchd.json"
    with open(cfg, "w") as f:
        f.write('{"listen": ["127.0.0.1:0"], "workers": %d, "data_dir": "%s/data", '
                '"store": {"kind": "sqlite", "path": "%s/crunchd.db"}, '
                '"log": {"level": "notice", "access_log": ""}}' % (workers, tmp, tmp))
    log = open(f"{tmp}/stderr", "w")
    p = subprocess.Popen([binary, "-c", cfg], stderr=log, stdin=subprocess.DEVNULL)
    for _ in range(100):
        m = re.search(r"listening on 127\.0\.0\.1:(\d+)", open(f"{tmp}/stderr").read())
        if m:
            port = int(m.group(1))
            if bench.cmd_wait(argparse.Namespace(url=f"http://127.0.0.1:{port}/healthz",
                                                 pid=p.pid, timeout=10)) == 0:
                return p, port
        time.sleep(0.1)
    p.kill()
    sys.exit(f"ab.py: {binary} did not start:\n" + open(f"{tmp}/stderr").read())


def stop(p):
    p.terminate()
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def run_wrk(port, path, extra, duration, pid):
    env = dict(os.environ, BODY='{"n":40}')
    t0 = cpu_ticks(pid)
    out = subprocess.run([WRK, "-t2", "-c64", f"-d{duration}s", *extra,
                          f"http://127.0.0.1:{port}{path}"],
                         capture_output=True, text=True, env=env).stdout
    ticks = cpu_ticks(pid) - t0
    rps = float(re.search(r"Requests/sec:\s*([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors or total == 0:
        print(out, file=sys.stderr)
        return None
    return rps, ticks / bench.CLK_TCK * 1e6 / total


def run_async(binary, duration):
    out = subprocess.run([sys.executable, os.path.join(HERE, "async_bench.py"), "--wrk",
                          "--duration", str(duration)],
                         capture_output=True, text=True, env=dict(os.environ, CRUNCHD_BIN=binary)).stdout
    m = re.search(r"completed: (\d+) jobs/s", out)
    return float(m.group(1).replace(",", "")) if m else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--async", dest="do_async", action="store_true")
    a = ap.parse_args()
    bins = {"A": os.path.abspath(a.a), "B": os.path.abspath(a.b)}
    res = {(k, c[0]): [] for k in bins for c in CASES + [("async", "", [])]}
    ok = True
    for r in range(a.rounds):
        for k in (("A", "B") if r % 2 == 0 else ("B", "A")):
            tmp = tempfile.mkdtemp(prefix="crunchd-ab-")
            p, port = start(bins[k], a.workers, tmp)
            for name, path, extra in CASES:
                got = run_wrk(port, path, extra, a.duration, p.pid)
                ok &= got is not None
                if got:
                    res[(k, name)].append(got)
            stop(p)
            shutil.rmtree(tmp, ignore_errors=True)
            if a.do_async:
                jobs = run_async(bins[k], a.duration)
                ok &= jobs is not None
                if jobs:
                    res[(k, "async")].append((jobs, 0.0))
    print(f"A = {bins['A']}\nB = {bins['B']}\n{a.rounds} rounds, alternating; wrk -t2 -c64 -d{a.duration}s")
    print("| case | A req/s | B req/s | B/A | A CPU µs/req | B CPU µs/req |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in [c[0] for c in CASES] + (["async"] if a.do_async else []):
        ra, rb = res[("A", name)], res[("B", name)]
        if not ra or not rb:
            continue
        ma, mb = statistics.median(x[0] for x in ra), statistics.median(x[0] for x in rb)
        ca, cb = statistics.median(x[1] for x in ra), statistics.median(x[1] for x in rb)
        unit = "jobs/s" if name == "async" else ""
        print(f"| {name} {unit} | {ma:,.0f} | {mb:,.0f} | {mb / ma:.3f} | {ca:.1f} | {cb:.1f} |")
        print(f"|  rounds | {', '.join(f'{x[0]:,.0f}' for x in ra)} | {', '.join(f'{x[0]:,.0f}' for x in rb)} | | | |")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
