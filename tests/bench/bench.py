#!/usr/bin/env python3
"""Measurement helpers for tests/bench/run.sh (standard library only).

run.sh starts and stops the servers; this file measures and reports. Every
measurement appends one JSON object (a "record") to the results file given by
--out, and `report` turns that file into the markdown table.

    bench.py wait     --url URL --pid PID [--timeout S]
    bench.py wrk      --out F --server S --case C --round R --pid PID --url URL
                      [--threads T --conns N --duration S --script LUA --body JSON
                       --header H --log FILE --kind bench|warmup]
    bench.py rss      --out F --server S --pid PID --label L
    bench.py memory   --out F --server S --pid PID --url URL --target N --budget S
    bench.py scaling  --out F --server S --pid PID --url URL --body JSON
                      --repeat N --duration S --cpus N
    bench.py report   --results F [--meta K=V ...] [--async-text F] [--runtime-text F]

Exit codes: 0 done; 1 the measurement failed completely (a wrk run that
completed no successful request, a server that did not answer); 2 bad usage.
"""

import argparse
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
CLK_TCK = os.sysconf("SC_CLK_TCK")
WRK = os.environ.get("WRK", "wrk")

# ---------------------------------------------------------------- /proc


def _read_stat(pid):
    """(ppid, utime+stime+cutime+cstime in ticks) of pid, or None if it is gone.

    cutime/cstime hold the time of children the process has reaped, so a
    worker that exits between two samples still counts (in its master)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    # comm (field 2) may hold spaces and parentheses: split after the last ')'.
    rest = s[s.rfind(")") + 2 :].split()
    ppid = int(rest[1])
    ticks = sum(int(x) for x in rest[11:15])  # utime stime cutime cstime
    return ppid, ticks


def tree(root):
    """{pid: ticks} for root and all its descendants (one scan of /proc)."""
    stats = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = _read_stat(int(name))
            if st is not None:
                stats[int(name)] = st
    children = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if pid in stats and pid not in out:
            out[pid] = stats[pid][1]
            todo.extend(children.get(pid, []))
    return out


def tree_cpu_s(root):
    return sum(tree(root).values()) / CLK_TCK


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def children_of(pid):
    return sorted(p for p in tree(pid) if p != pid)


# ---------------------------------------------------------------- wrk

_UNIT_US = {"us": 1.0, "ms": 1e3, "s": 1e6, "m": 60e6, "h": 3600e6}


def parse_wrk(text):
    """The numbers of one `wrk --latency` run; missing ones are None / 0."""
    r = {"requests": 0, "seconds": None, "rps": None, "p50_us": None, "p99_us": None,
         "non2xx": 0, "socket_errors": {}}
    m = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m|h)", text)
    if m:
        r["requests"] = int(m.group(1))
        r["seconds"] = float(m.group(2)) * _UNIT_US[m.group(3)] / 1e6
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if m:
        r["rps"] = float(m.group(1))
    for pct, key in (("50", "p50_us"), ("99", "p99_us")):
        m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s|m|h)\s*$" % pct, text, re.M)
        if m:
            r[key] = float(m.group(1)) * _UNIT_US[m.group(2)]
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        r["socket_errors"] = {k: int(v) for k, v in
                              zip(("connect", "read", "write", "timeout"), m.groups()) if int(v)}
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if m:
        r["non2xx"] = int(m.group(1))
    return r


def run_wrk(url, pid, threads, conns, duration, script=None, body=None, headers=(), log=None,
            stop_after=None):
    """One wrk run with the server tree's CPU time sampled before and after."""
    cmd = [WRK, f"-t{threads}", f"-c{conns}", f"-d{duration}s", "--latency"]
    for h in headers:
        cmd += ["-H", h]
    if script:
        cmd += ["-s", script]
    cmd.append(url)
    env = dict(os.environ)
    if body is not None:
        env["BENCH_BODY"] = body
    if stop_after is not None:
        env["BENCH_STOP_AFTER"] = str(stop_after)
    cpu0 = tree_cpu_s(pid)
    try:
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=duration + 30)
        out, rc = p.stdout + p.stderr, p.returncode
    except subprocess.TimeoutExpired as e:
        out = e.stdout or ""
        out = out.decode(errors="replace") if isinstance(out, bytes) else out
        out, rc = out + "\n(wrk killed: it ran past its time limit)", -1
    cpu1 = tree_cpu_s(pid)
    if log:
        with open(log, "a") as f:
            f.write("$ " + " ".join(cmd) + "\n" + out + "\n")
    r = parse_wrk(out)
    r["wrk_rc"] = rc
    r["cpu_s"] = round(cpu1 - cpu0, 3)
    ok = r["requests"] - r["non2xx"]
    r["ok"] = rc == 0 and ok > 0
    r["cpu_us_per_req"] = (r["cpu_s"] * 1e6 / r["requests"]) if r["requests"] else None
    if not r["ok"]:
        r["error"] = out.strip().splitlines()[-1] if out.strip() else f"wrk exited {rc}"
    return r


def append(path, rec):
    with open(path, "a") as f:
        f.write(json.dumps(rec) + "\n")


def fmt_us(us):
    if us is None:
        return "–"
    if us < 1000:
        return f"{us:.0f} µs"
    if us < 1e6:
        return f"{us / 1000:.2f} ms"
    return f"{us / 1e6:.2f} s"


def describe(r):
    s = (f"{r['rps'] or 0:>10,.0f} req/s  p50 {fmt_us(r['p50_us']):>9}  p99 {fmt_us(r['p99_us']):>9}"
         f"  {r['cpu_us_per_req'] or 0:6.1f} µs CPU/req  ({r['requests']} requests)")
    problems = []
    if r["non2xx"]:
        problems.append(f"{r['non2xx']} non-2xx")
    if r["socket_errors"]:
        problems.append("socket errors " + ", ".join(f"{k} {v}" for k, v in r["socket_errors"].items()))
    if not r["ok"]:
        problems.append("FAILED: " + r.get("error", ""))
    return s + ("  [" + "; ".join(problems) + "]" if problems else "")


# ---------------------------------------------------------------- commands


def cmd_wait(a):
    """Waits until GET url answers 200 while pid lives (a server that is up)."""
    u = urllib.parse.urlsplit(a.url)
    deadline = time.monotonic() + a.timeout
    while time.monotonic() < deadline:
        if not os.path.exists(f"/proc/{a.pid}"):
            print(f"pid {a.pid} exited", file=sys.stderr)
            return 1
        try:
            c = http.client.HTTPConnection(u.hostname, u.port, timeout=1)
            c.request("GET", u.path or "/")
            if c.getresponse().status == 200:
                return 0
        except OSError:
            pass
        time.sleep(0.05)
    print(f"{a.url} did not answer 200 within {a.timeout} s", file=sys.stderr)
    return 1


def cmd_wrk(a):
    r = run_wrk(a.url, a.pid, a.threads, a.conns, a.duration, a.script, a.body, a.header, a.log)
    r.update(type=a.kind, server=a.server, case=a.case, round=a.round,
             threads=a.threads, conns=a.conns, duration=a.duration)
    append(a.out, r)
    print(f"  {a.kind} r{a.round} {a.server:<9} {a.case:<14} {describe(r)}", flush=True)
    return 0 if r["ok"] else 1


def _rss_record(a, label, extra=None):
    workers = children_of(a.pid)
    rec = {"type": "rss", "server": a.server, "label": label,
           "master_kib": rss_kib(a.pid),
           "workers_kib": [k for k in (rss_kib(p) for p in workers) if k is not None]}
    rec.update(extra or {})
    append(a.out, rec)
    print(f"  rss {a.server} {label}: master {rec['master_kib']} KiB, workers "
          + ", ".join(f"{k} KiB" for k in rec["workers_kib"]), flush=True)
    return rec


def cmd_rss(a):
    rec = _rss_record(a, a.label)
    return 0 if rec["workers_kib"] else 1


def cmd_memory(a):
    """GET a.url with wrk until a.target requests succeeded (or a.budget s
    passed), then records each worker's RSS."""
    done, failed, t0 = 0, False, time.monotonic()
    chunk = 1  # the first run measures the rate
    while done < a.target:
        left = a.budget - (time.monotonic() - t0)
        if left < 1:
            break
        # Each of the threads stops after its share of what is left.
        share = -(-(a.target - done) // a.threads)
        r = run_wrk(a.url, a.pid, a.threads, a.conns, int(min(chunk, left)),
                    os.path.join(HERE, "stop_after.lua"), log=a.log, stop_after=share)
        print(f"  memory {a.server:<9} {describe(r)}", flush=True)
        if not r["ok"]:
            failed = True
            break
        done += r["requests"] - r["non2xx"]
        rate = (r["requests"] - r["non2xx"]) / max(r["seconds"] or 1, 1e-3)
        chunk = max(1, int((a.target - done) / max(rate, 1) * 1.1) + 1)
    _rss_record(a, "after", {"requests": done, "target": a.target,
                             "seconds": round(time.monotonic() - t0, 1)})
    return 1 if failed or done == 0 else 0


def _post(conn, path, body):
    """Wall time in s and the decoded reply of one POST over conn."""
    t0 = time.perf_counter()
    conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    data = resp.read()
    wall = time.perf_counter() - t0
    if resp.status != 200:
        raise RuntimeError(f"POST {path} answered {resp.status}: {data[:200]!r}")
    return wall, json.loads(data)


def _single_calls(url, body, repeat):
    """Wall times and replies of `repeat` calls one at a time, after a warm-up."""
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    _post(conn, u.path, body)  # warm-up: connection, page faults, caches
    calls = [_post(conn, u.path, body) for _ in range(repeat)]
    conn.close()
    return calls


def cmd_scaling(a):
    """Single-job wall time of one call alone, then jobs/s under wrk, then the
    single call again: a shared VM's CPU speed drifts between minutes, so the
    faster of the two medians is the limit (the stricter test)."""
    try:
        before = _single_calls(a.url, a.body, a.repeat)
    except (OSError, RuntimeError, ValueError) as e:
        print(f"  scaling: single call failed: {e}", file=sys.stderr)
        return 1
    r = run_wrk(a.url, a.pid, a.threads, a.conns, a.duration, os.path.join(HERE, "post.lua"),
                a.body, log=a.log)
    try:
        after = _single_calls(a.url, a.body, a.repeat)
    except (OSError, RuntimeError, ValueError):
        after = []
    calls = before + after
    walls = [w for w, _ in calls]
    single = min(statistics.median([w for w, _ in before]),
                 statistics.median([w for w, _ in after]) if after else float("inf"))
    server_run_ms = _median(reply.get("run_ms") for _, reply in calls)
    rec = {"type": "scaling", "server": a.server, "body": a.body, "single_s": single,
           "single_all_s": walls, "server_run_ms": server_run_ms, "cpus": a.cpus,
           "conns": a.conns, "threads": a.threads, "duration": a.duration, **r}
    rec["limit_jobs_s"] = a.cpus / single
    rec["fraction"] = (r["rps"] or 0) / rec["limit_jobs_s"]
    append(a.out, rec)
    print(f"  scaling {a.server}: one call alone {single * 1000:.1f} ms; wrk -c{a.conns}: "
          f"{r['rps'] or 0:.1f} jobs/s = {rec['fraction']:.2f} of {rec['limit_jobs_s']:.1f} "
          f"({'ok' if r['ok'] else 'FAILED'})", flush=True)
    return 0 if r["ok"] else 1


# ---------------------------------------------------------------- report

SERVERS = ("crunchd", "nginx", "gunicorn")
CASES = {
    "healthz": "GET /healthz",
    "fib": 'POST /v1/fn/fib {"n":40}',
    "healthz_close": "GET /healthz, Connection: close",
}


def _median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def _mib(kib):
    return f"{kib / 1024:.1f} MiB" if kib is not None else "–"


def report(records, meta, async_text=None, runtime_text=None):
    bench = [r for r in records if r.get("type") == "bench"]
    lines = []
    m = meta
    lines.append(f"## Benchmark: crunchd against nginx and gunicorn ({m.get('date', '')})")
    lines.append("")
    lines.append(f"- machine: {m.get('cpus', '?')} CPUs ({m.get('cpu_model', '?')}), "
                 f"{m.get('kernel', '?')}; wrk and the servers share the CPUs; "
                 f"load average (1 min) before / after: {m.get('load', '?')}")
    lines.append(f"- crunchd {m.get('crunchd_version', '?')} ({m.get('commit', '?')}), "
                 f"{m.get('nginx_version', 'nginx ?')}, {m.get('gunicorn_version', 'gunicorn ?')}, "
                 f"{m.get('wrk_version', 'wrk ?')}")
    lines.append(f"- workers: crunchd {m.get('workers', '?')}, nginx {m.get('workers', '?')}, "
                 f"gunicorn {m.get('gunicorn_workers', '?')} sync; "
                 f"`wrk -t{m.get('threads', 2)} -c{m.get('conns', 64)} -d{m.get('duration', '?')}s --latency`, "
                 f"{m.get('rounds', '?')} round(s) alternating servers, medians over rounds")
    lines.append(f"- command: `{m.get('command', 'tests/bench/run.sh')}`")
    lines.append("")
    lines.append("| server | case | req/s (median) | p50 | p99 | CPU µs/req | ratio to nginx | ratio to gunicorn |")
    lines.append("|---|---|---:|---:|---:|---:|---:|---:|")

    med = {}
    for case in CASES:
        for srv in SERVERS:
            rs = [r for r in bench if r["server"] == srv and r["case"] == case and r["ok"]]
            if rs:
                med[srv, case] = {
                    "rps": _median(r["rps"] for r in rs),
                    "p50": _median(r["p50_us"] for r in rs),
                    "p99": _median(r["p99_us"] for r in rs),
                    "cpu": _median(r["cpu_us_per_req"] for r in rs),
                    "rounds": [r["rps"] for r in sorted(rs, key=lambda r: r["round"])],
                }

    def ratio(srv, case, ref):
        a, b = med.get((srv, case)), med.get((ref, case))
        if not a or not b or not b["rps"]:
            return "–"
        return f"{a['rps'] / b['rps']:.2f}"

    for case, label in CASES.items():
        for srv in SERVERS:
            x = med.get((srv, case))
            if not x:
                continue
            shown = label
            if srv == "nginx" and case == "fib":
                shown += " (static reply)"
            lines.append(f"| {srv} | {shown} | {x['rps']:,.0f} | {fmt_us(x['p50'])} | {fmt_us(x['p99'])} | "
                         f"{x['cpu']:.1f} | {ratio(srv, case, 'nginx')} | {ratio(srv, case, 'gunicorn')} |")
    lines.append("")
    lines.append("Ratios are of req/s medians (above 1: more requests per second than the reference). "
                 "CPU µs/req is the server's own CPU time (master and all children, user + system, "
                 "from /proc/PID/stat) per request wrk completed.")

    per_round = [f"{srv} {case}: " + ", ".join(f"{v:,.0f}" for v in x["rounds"])
                 for (srv, case), x in med.items() if len(x["rounds"]) > 1]
    if per_round:
        lines.append("")
        lines.append("req/s in each round: " + "; ".join(per_round) + ".")

    problems = []
    for r in bench:
        bad = []
        if not r["ok"]:
            bad.append("failed: " + r.get("error", "?"))
        if r["non2xx"]:
            bad.append(f"{r['non2xx']} non-2xx replies")
        if r["socket_errors"]:
            bad.append("socket errors " + ", ".join(f"{k} {v}" for k, v in r["socket_errors"].items()))
        if bad:
            problems.append(f"round {r['round']} {r['server']} {r['case']}: " + "; ".join(bad))
    if problems:
        lines.append("")
        lines.append("Errors seen by wrk (counted in req/s as wrk counts them):")
        lines += [f"- {p}" for p in problems]

    lines.append("")
    sc = [r for r in records if r.get("type") == "scaling"]
    for r in sc:
        lines.append(f"**CPU scaling (crunchd):** `POST /v1/fn/count {r['body']}` alone takes "
                     f"{r['single_s'] * 1000:.1f} ms of wall time (the faster of two medians of "
                     f"{len(r['single_all_s']) // 2} calls, before and after the load; "
                     f"the server's own run_ms: {r['server_run_ms']}); under "
                     f"`wrk -t{r['threads']} -c{r['conns']} -d{r['duration']}s` crunchd completes "
                     f"{r['rps'] or 0:.1f} jobs/s, **{r['fraction']:.2f}** of the limit "
                     f"{r['cpus']} CPUs / {r['single_s'] * 1000:.1f} ms = {r['limit_jobs_s']:.1f} jobs/s"
                     + ("" if r["ok"] else " (the wrk run FAILED)") + ".")
    if not sc and "crunchd" in m.get("only", "crunchd"):
        lines.append("**CPU scaling (crunchd):** not measured.")

    rss = {r["label"]: r for r in records if r.get("type") == "rss" and r["server"] == "crunchd"}
    if rss:
        def workers(label):
            r = rss.get(label)
            return ", ".join(_mib(k) for k in r["workers_kib"]) if r else "–"
        parts = [f"idle right after start: {workers('idle')}"]
        if "after" in rss:
            parts.append(f"after {rss['after']['requests']:,} GET /healthz: {workers('after')}")
        if "end" in rss:
            total = sum(r["requests"] for r in records
                        if r.get("server") == "crunchd" and r.get("type") in ("bench", "warmup", "scaling"))
            total += rss.get("after", {}).get("requests", 0)
            parts.append(f"at the end of the run (about {total:,} requests in all): {workers('end')}")
        master = rss.get("end") or rss.get("idle")
        lines.append("")
        lines.append("**Memory (crunchd, VmRSS of each worker):** " + "; ".join(parts)
                     + f". Master: {_mib(master['master_kib'])}.")

    lines.append("")
    figures = []
    if async_text and os.path.exists(async_text):
        with open(async_text) as f:
            keep = ("submitted:", "completed:", "latency", "server CPU:", "bottleneck:")
            figures = [l.strip() for l in f if l.startswith(keep)]
    if figures:
        lines.append("**Async jobs** (`tests/bench/async_bench.py --wrk`: wrk -t2 -c16 posting "
                     "`count {\"iterations\": 0}` to `/v1/jobs?wait=5`, a fresh SQLite store): "
                     + "; ".join(figures) + ".")
    else:
        lines.append("**Async jobs:** not measured in this run.")
    figures = []
    if runtime_text and os.path.exists(runtime_text):
        with open(runtime_text) as f:
            figures = [l.strip() for l in f if l.startswith(("fib ", "pipe cost:", "cpu scaling:"))]
    lines.append("")
    if figures:
        lines.append("**Python functions** (`tests/bench/runtime_bench.py`: wsgi_app.py's code "
                     "through crunchd's Python runtime, per_worker 1, and under gunicorn 2 sync):")
        lines.append("")
        lines.extend("- " + l for l in figures)
    else:
        lines.append("**Python functions:** not measured in this run.")
    return "\n".join(lines) + "\n"


def cmd_report(a):
    records = []
    with open(a.results) as f:
        for line in f:
            if line.strip():
                records.append(json.loads(line))
    meta = dict(kv.split("=", 1) for kv in a.meta)
    sys.stdout.write(report(records, meta, a.async_text, a.runtime_text))
    return 0


# ---------------------------------------------------------------- main


def main(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    def common(sp, url=True):
        sp.add_argument("--out", required=True)
        sp.add_argument("--server", required=True)
        sp.add_argument("--pid", type=int, required=True)
        if url:
            sp.add_argument("--url", required=True)
        sp.add_argument("--log")

    s = sub.add_parser("wait")
    s.add_argument("--url", required=True)
    s.add_argument("--pid", type=int, required=True)
    s.add_argument("--timeout", type=float, default=10)
    s.set_defaults(fn=cmd_wait)

    s = sub.add_parser("wrk")
    common(s)
    s.add_argument("--case", required=True)
    s.add_argument("--round", type=int, default=0)
    s.add_argument("--kind", default="bench", choices=("bench", "warmup"))
    s.add_argument("--threads", type=int, default=2)
    s.add_argument("--conns", type=int, default=64)
    s.add_argument("--duration", type=int, default=10)
    s.add_argument("--script")
    s.add_argument("--body")
    s.add_argument("--header", action="append", default=[])
    s.set_defaults(fn=cmd_wrk)

    s = sub.add_parser("rss")
    common(s, url=False)
    s.add_argument("--label", required=True)
    s.set_defaults(fn=cmd_rss)

    s = sub.add_parser("memory")
    common(s)
    s.add_argument("--target", type=int, required=True)
    s.add_argument("--budget", type=float, default=60)
    s.add_argument("--threads", type=int, default=2)
    s.add_argument("--conns", type=int, default=64)
    s.set_defaults(fn=cmd_memory)

    s = sub.add_parser("scaling")
    common(s)
    s.add_argument("--body", required=True)
    s.add_argument("--repeat", type=int, default=3)
    s.add_argument("--threads", type=int, default=2)
    s.add_argument("--conns", type=int, default=4)
    s.add_argument("--duration", type=int, default=10)
    s.add_argument("--cpus", type=int, default=os.cpu_count())
    s.set_defaults(fn=cmd_scaling)

    s = sub.add_parser("report")
    s.add_argument("--results", required=True)
    s.add_argument("--meta", action="append", default=[], help="KEY=VALUE shown in the header")
    s.add_argument("--async-text", help="output of async_bench.py to include")
    s.add_argument("--runtime-text", help="output of runtime_bench.py to include")
    s.set_defaults(fn=cmd_report)

    a = p.parse_args(argv)
    return a.fn(a)


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)
