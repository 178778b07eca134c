#!/usr/bin/env python3
"""Asynchronous jobs benchmark: how many jobs per second crunchd accepts and
finishes through POST /v1/jobs, and how long a job takes from submission to
its final state (standard library only).

It starts its own crunchd (CRUNCHD_BIN, default build/crunchd) from a temp
dir: listen 127.0.0.1:0 (the port is read from the "listening on
127.0.0.1:PORT" line of its log), workers = CPUs, no access log, log level
notice (the level of the "listening on" line; nothing is logged per request
or per job at that level), store and data_dir in the temp dir. Then, after a
short warm-up that is not counted:

  --mode wait (default)  each of N threads, over its own keep-alive
                         connection, loops: POST /v1/jobs with
                         `Prefer: wait=5` and {"fn": "count", "args":
                         {"iterations": 0}}. A 200 reply carries the final
                         job; a 202 (not final within 5 s) is followed by
                         GET /v1/jobs/{id}?wait=5 until it is.
  --mode poll            POST /v1/jobs without waiting (202), then long-poll
                         GET /v1/jobs/{id}?wait=5 until final: two requests
                         per job on the same connection.
  --wrk                  instead of Python threads, wrk -t2 -c16 posts the same
                         body to /v1/jobs?wait=5; a Lua script counts the
                         replies by status, and wrk's requests/s times the
                         share of 200s with "succeeded" is completed jobs/s.

It prints one line per figure and a markdown table row for the README. The
CPU time of the client (this process, all threads) and of the server (the
master and every descendant) comes from /proc; when the client uses most of
one CPU (Python runs one thread at a time), the rate is the client's limit,
not the server's, and the output says so: use --wrk then.

    async_bench.py [--duration S] [--connections N] [--mode wait|poll]
                   [--wrk] [--smoke] [--workers N] [--iterations K] [--keep]

Exit status: 0 when the run completed jobs; 1 when the server did not start
or no job completed; 2 on bad usage. The server is stopped on exit, also on
an error or Ctrl-C.
"""

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CLK_TCK = os.sysconf("SC_CLK_TCK")
WAIT_S = 5  # the long-poll of every request: a reply within it means "final"
BODY_FMT = '{"fn":"count","args":{"iterations":%d}}'
CLIENT_BOUND = 0.85  # share of one CPU above which the Python client is the limit
SLOW_S = 1.0  # a count of 0 that takes this long was not woken up

# ---------------------------------------------------------------- /proc


def _stat(pid):
    """(ppid, utime+stime+cutime+cstime ticks) of pid, or None if gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    rest = s[s.rfind(")") + 2 :].split()  # comm may hold spaces and ')'
    return int(rest[1]), sum(int(x) for x in rest[11:15])


def tree_cpu_s(root):
    """CPU seconds of root and all its descendants (one scan of /proc).
    cutime/cstime keep the time of reaped children (a respawned worker)."""
    stats = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = _stat(int(name))
            if st:
                stats[int(name)] = st
    kids = {}
    for pid, (ppid, _) in stats.items():
        kids.setdefault(ppid, []).append(pid)
    total, todo, seen = 0, [root], set()
    while todo:
        pid = todo.pop()
        if pid in stats and pid not in seen:
            seen.add(pid)
            total += stats[pid][1]
            todo.extend(kids.get(pid, []))
    return total / CLK_TCK


def self_cpu_s():
    """CPU seconds of this process, all threads (user + system)."""
    t = os.times()
    return t.user + t.system


def machine_busy_s():
    """CPU seconds the whole machine spent busy (all CPUs, /proc/stat): what
    is not ours in it is other processes competing for the CPUs."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)  # idle + iowait
    return (sum(v[:8]) - idle) / CLK_TCK


def reaped_children_cpu_s():
    """CPU seconds of the children this process has reaped (wrk; crunchd is
    reaped only at the end)."""
    t = os.times()
    return t.children_user + t.children_system


# ---------------------------------------------------------------- the server


class Server:
    """One crunchd started from a temp dir; stop() ends it (TERM, then KILL)."""

    def __init__(self, binary, workers, keep):
        self.dir = tempfile.mkdtemp(prefix="crunchd-async-bench.")
        self.keep = keep
        self.proc = None
        self.port = 0
        os.mkdir(os.path.join(self.dir, "data"))
        cfg = {
            "listen": ["127.0.0.1:0"],
            "workers": workers,
            "data_dir": os.path.join(self.dir, "data"),
            "store": {"kind": "sqlite", "path": os.path.join(self.dir, "crunchd.db")},
            "log": {"level": "notice", "access_log": ""},
            "shutdown_timeout_s": 5,
        }
        self.cfg_path = os.path.join(self.dir, "crunchd.json")
        with open(self.cfg_path, "w") as f:
            json.dump(cfg, f, indent=2)
        self.log_path = os.path.join(self.dir, "crunchd.log")
        self.binary = binary
        self.workers = workers

    def start(self, timeout=10.0):
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([self.binary, "-c", self.cfg_path], cwd=self.dir,
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"crunchd exited with {self.proc.returncode} at start:\n"
                                   + self.log_tail())
            with open(self.log_path, errors="replace") as f:
                m = re.search(r"listening on 127\.0\.0\.1:(\d+)\D", f.read())
            if m:
                self.port = int(m.group(1))
                break
            time.sleep(0.02)
        else:
            raise RuntimeError("no 'listening on 127.0.0.1:PORT' in the log within "
                               f"{timeout:.0f} s:\n" + self.log_tail())
        while time.monotonic() < deadline:  # every worker up
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                c.request("GET", "/v1/workers")
                r = c.getresponse()
                ws = json.loads(r.read()).get("workers", [])
                c.close()
                if len(ws) == self.workers and all(w.get("state") == "running" for w in ws):
                    return
            except (OSError, ValueError, http.client.HTTPException):
                pass
            time.sleep(0.05)
        raise RuntimeError("workers not all running within the start timeout:\n"
                           + self.log_tail())

    def log_tail(self, n=4000):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-n:]
        except OSError:
            return "(no log)"

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()  # our own child only
                self.proc.wait(5)
        if self.keep:
            print(f"kept: {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------- the Python client


class Tally:
    """What one client thread saw; merged at the end (no shared state while
    running, so threads never wait on each other)."""

    def __init__(self):
        self.submitted = 0  # POSTs answered 200 or 202: jobs the server accepted
        self.completed = 0  # jobs seen final (any final state)
        self.in_time = 0  # of those, seen final before the deadline: the rate counts these
        self.succeeded = 0
        self.refused = 0  # 429/503 (queue full, draining)
        self.errors = 0  # other statuses, broken connections
        self.latencies = []  # seconds from sending the POST to seeing the job final
        self.first_error = None

    def merge(self, o):
        for k in ("submitted", "completed", "in_time", "succeeded", "refused", "errors"):
            setattr(self, k, getattr(self, k) + getattr(o, k))
        self.latencies.extend(o.latencies)
        self.first_error = self.first_error or o.first_error


def _request(conn, method, path, body=None, headers=None):
    h = {"Content-Type": "application/json"} if body is not None else {}
    h.update(headers or {})
    conn.request(method, path, body=body, headers=h)
    r = conn.getresponse()
    return r.status, r.read(), r


def _job_until_final(conn, job):
    """Long-polls until the job is final; returns it."""
    while job.get("state") not in ("succeeded", "failed", "cancelled"):
        st, data, _ = _request(conn, "GET", f"/v1/jobs/{job['id']}?wait={WAIT_S}")
        if st != 200:
            raise RuntimeError(f"GET /v1/jobs/{job['id']}: HTTP {st}: {data[:200]!r}")
        job = json.loads(data)
    return job


def client_thread(port, mode, body, deadline, tally, timeout):
    conn = None
    while time.monotonic() < deadline:
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
            t0 = time.perf_counter()
            if mode == "wait":
                st, data, r = _request(conn, "POST", "/v1/jobs", body, {"Prefer": f"wait={WAIT_S}"})
            else:
                st, data, r = _request(conn, "POST", "/v1/jobs", body)
            if st in (429, 503):
                tally.refused += 1
                time.sleep(min(float(r.getheader("Retry-After") or 1), 1.0))
                continue
            if st not in (200, 202):
                tally.errors += 1
                tally.first_error = tally.first_error or f"POST /v1/jobs: HTTP {st}: {data[:200]!r}"
                continue
            tally.submitted += 1
            job = _job_until_final(conn, json.loads(data))
            tally.latencies.append(time.perf_counter() - t0)
            tally.completed += 1
            tally.in_time += time.monotonic() <= deadline
            tally.succeeded += job.get("state") == "succeeded"
        except (OSError, ValueError, RuntimeError, http.client.HTTPException) as e:
            tally.errors += 1
            tally.first_error = tally.first_error or f"{type(e).__name__}: {e}"
            if conn is not None:
                conn.close()
            conn = None
            time.sleep(0.01)
    if conn is not None:
        conn.close()


def run_clients(port, mode, body, connections, duration):
    """Runs the threads for duration s (they then finish the jobs in flight,
    which count in the latencies but not in the rates); returns (tally, wall s)."""
    tallies = [Tally() for _ in range(connections)]
    t0 = time.monotonic()
    deadline = t0 + duration
    threads = [threading.Thread(target=client_thread,
                                args=(port, mode, body, deadline, t, WAIT_S + 5), daemon=True)
               for t in tallies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - t0  # includes the jobs in flight at the deadline
    total = Tally()
    for t in tallies:
        total.merge(t)
    return total, wall


def pct(sorted_xs, p):
    """Nearest-rank percentile of a sorted list (None if empty)."""
    if not sorted_xs:
        return None
    k = max(0, min(len(sorted_xs) - 1, int(round(p / 100.0 * len(sorted_xs) + 0.5)) - 1))
    return sorted_xs[k]


def ms(x):
    return "–" if x is None else f"{x * 1000:.2f} ms"


# ---------------------------------------------------------------- wrk

WRK_LUA = r"""
-- POST the job with ?wait=5 (URL) and count the replies: a 200 whose job
-- "succeeded" is a completed job; a 202 is a job not final within the wait.
wrk.method = "POST"
wrk.body = os.getenv("ASYNC_BODY")
wrk.headers["Content-Type"] = "application/json"
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) ok = 0; other200 = 0; accepted = 0; other = 0 end
function response(status, headers, body)
  if status == 200 then
    if string.find(body, '"state":"succeeded"', 1, true) then ok = ok + 1
    else other200 = other200 + 1 end
  elseif status == 202 then accepted = accepted + 1
  else other = other + 1 end
end
function done(summary, latency, requests)
  local a, b, c, d = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("ok"); b = b + t:get("other200"); c = c + t:get("accepted"); d = d + t:get("other")
  end
  io.write(string.format("async-statuses succeeded=%d final-other=%d accepted=%d other=%d\n",
                         a, b, c, d))
end
"""

_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def _dur(text):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    return float(m.group(1)) * _UNITS[m.group(2)] if m else None


def run_wrk(server, body, duration, tmpdir):
    wrk = os.environ.get("WRK", "wrk")
    if not shutil.which(wrk):
        raise RuntimeError(f"{wrk} not found (apt-get install wrk)")
    script = os.path.join(tmpdir, "async_post.lua")
    with open(script, "w") as f:
        f.write(WRK_LUA)
    url = f"http://127.0.0.1:{server.port}/v1/jobs?wait={WAIT_S}"
    cmd = [wrk, "-t2", "-c16", f"-d{max(1, int(round(duration)))}s", "--latency",
           "--timeout", f"{WAIT_S + 5}s", "-s", script, url]
    env = dict(os.environ, ASYNC_BODY=body)
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=duration + 60)
    text = out.stdout + out.stderr
    if out.returncode != 0:
        raise RuntimeError(f"wrk exited with {out.returncode}:\n{text}")
    rps = re.search(r"Requests/sec:\s*([\d.]+)", text)
    st = re.search(r"async-statuses succeeded=(\d+) final-other=(\d+) accepted=(\d+) other=(\d+)",
                   text)
    lat = {p: _dur(v) for p, v in re.findall(r"^\s+(50|99)(?:\.000)?%\s+(\S+)", text, re.M)}
    errs = re.search(r"Socket errors:.*", text)
    lmax = re.search(r"^\s+Latency\s+\S+\s+\S+\s+(\S+)", text, re.M)
    if not rps or not st:
        raise RuntimeError(f"cannot read wrk's output:\n{text}")
    return {"rps": float(rps.group(1)), "succeeded": int(st.group(1)),
            "final_other": int(st.group(2)), "accepted": int(st.group(3)),
            "other": int(st.group(4)), "p50": lat.get("50"), "p99": lat.get("99"),
            "max": _dur(lmax.group(1)) if lmax else None,
            "socket_errors": errs.group(0) if errs else None, "text": text}


# ---------------------------------------------------------------- main


def warm_up(port, body, seconds):
    """A few jobs from a few connections, not counted: the workers' first
    claims, SQLite's caches and the run-time estimate settle."""
    if seconds > 0:
        run_clients(port, "wait", body, 4, seconds)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, help="seconds of the measured run (default 10)")
    ap.add_argument("--connections", type=int, help="client threads/connections (default 16)")
    ap.add_argument("--mode", choices=("wait", "poll"), default="wait")
    ap.add_argument("--wrk", action="store_true", help="load with wrk -t2 -c16 instead")
    ap.add_argument("--smoke", action="store_true", help="2 s, 4 connections")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--iterations", type=int, default=0, help="count iterations per job")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (config, log)")
    a = ap.parse_args(argv)
    duration = a.duration if a.duration is not None else (2.0 if a.smoke else 10.0)
    conns = a.connections if a.connections is not None else (4 if a.smoke else 16)
    if duration <= 0 or conns < 1 or a.workers < 1 or a.iterations < 0:
        ap.error("--duration, --connections and --workers must be positive")
    if a.wrk:
        conns = 16
    binary = os.environ.get("CRUNCHD_BIN") or os.path.join(ROOT, "build", "crunchd")
    if not os.access(binary, os.X_OK):
        print(f"async_bench: {binary} is not executable (build it, or set CRUNCHD_BIN)",
              file=sys.stderr)
        return 1
    body = BODY_FMT % a.iterations
    cpus = os.cpu_count() or 1
    srv = Server(binary, a.workers, a.keep)
    try:
        srv.start()
        warm_up(srv.port, body, 0.5 if a.smoke else 1.0)
        load = "wrk -t2 -c16, ?wait=5" if a.wrk else (
            f"python, {conns} connections, " + ("Prefer: wait=5" if a.mode == "wait"
                                               else "POST then GET ?wait=5"))
        print(f"async_bench: crunchd {binary}, {a.workers} workers on {cpus} CPUs; "
              f"count {{\"iterations\": {a.iterations}}}; {load}; {duration:g} s")
        srv_cpu0, cli_cpu0 = tree_cpu_s(srv.proc.pid), self_cpu_s()
        wrk_cpu0, busy0 = reaped_children_cpu_s(), machine_busy_s()
        if a.wrk:
            t0 = time.monotonic()
            w = run_wrk(srv, body, duration, srv.dir)
            wall = time.monotonic() - t0
            total_replies = w["succeeded"] + w["final_other"] + w["accepted"] + w["other"]
            completed = w["rps"] * (w["succeeded"] / total_replies) if total_replies else 0.0
            submitted = w["rps"] * ((total_replies - w["other"]) / total_replies) \
                if total_replies else 0.0
            n_completed = w["succeeded"]
            p50, p99, lmax, slow = w["p50"], w["p99"], w["max"], None
            errors = w["other"]
            refused = 0
        else:
            t, wall = run_clients(srv.port, a.mode, body, conns, duration)
            lat = sorted(t.latencies)
            submitted, completed = t.submitted / duration, t.in_time / duration
            n_completed = t.completed
            p50, p99 = pct(lat, 50), pct(lat, 99)
            lmax = lat[-1] if lat else None
            slow = sum(1 for x in lat if x >= SLOW_S)
            errors, refused = t.errors, t.refused
        srv_cpu = tree_cpu_s(srv.proc.pid) - srv_cpu0
        cli_cpu = self_cpu_s() - cli_cpu0
        if a.wrk:
            cli_cpu = reaped_children_cpu_s() - wrk_cpu0

        print(f"submitted: {submitted:.0f} jobs/s")
        print(f"completed: {completed:.0f} jobs/s ({n_completed} jobs"
              + (f", {n_completed - t.in_time} of them after the deadline, not in the rate)"
                 if not a.wrk and n_completed != t.in_time else ")"))
        print(f"latency submit to final: p50 {ms(p50)}, p99 {ms(p99)}, max {ms(lmax)}"
              + (" (wrk's request latency)" if a.wrk else f"; {slow} jobs took {SLOW_S:g} s "
                 "or more"))
        if lmax is not None and lmax >= SLOW_S and a.iterations == 0:
            print(f"note: a job that does nothing took {lmax:.2f} s from submission to final: "
                  "a long-poll that was not woken when its job ended answers only when its "
                  f"wait ({WAIT_S} s) runs out")
        if a.wrk:
            print(f"replies: {w['succeeded']} 200 succeeded, {w['final_other']} 200 other, "
                  f"{w['accepted']} 202 not final within {WAIT_S} s, {w['other']} other"
                  + (f"; {w['socket_errors']}" if w["socket_errors"] else ""))
        else:
            print(f"errors: {errors}, refused (429/503): {refused}"
                  + (f"; first: {t.first_error}" if t.first_error else ""))
            if t.completed != t.succeeded:
                print(f"not succeeded: {t.completed - t.succeeded} of {t.completed} final jobs")
        per_job = srv_cpu / n_completed * 1e6 if n_completed else None
        print(f"server CPU: {srv_cpu:.2f} s = {srv_cpu / wall:.2f} of {cpus} CPUs"
              + (f", {per_job:.0f} µs per completed job" if per_job else ""))
        share = cli_cpu / wall
        print(f"client CPU ({'wrk' if a.wrk else 'this process'}): {cli_cpu:.2f} s = "
              f"{share:.2f} CPUs")
        ours = srv_cpu / wall + share
        others = max(0.0, (machine_busy_s() - busy0) / wall - ours)
        if not a.wrk and share >= CLIENT_BOUND:
            print(f"bottleneck: the Python client ({share:.2f} CPUs; it runs one thread at a "
                  "time): these rates are the client's limit, the server can do more; see --wrk")
        elif ours + others >= 0.85 * cpus:
            print(f"bottleneck: the CPUs (server {srv_cpu / wall:.2f} + client {share:.2f}"
                  f" + other load {others:.2f} of {cpus}): client and server share them")
        else:
            print("bottleneck: no CPU is saturated: the time goes to waiting (round trips, the "
                  "store's commits to disk); more --connections may raise the rate")
        if others >= 0.2:
            print(f"note: other load used {others:.2f} CPUs during the run (other processes, "
                  "and interrupts, part of them loopback TCP and disk work caused by this run); "
                  "above a few tenths the figures are lower than on an idle machine")
        loader = "wrk -t2 -c16" if a.wrk else f"python x{conns}"
        how = "?wait=5" if a.wrk else ("Prefer: wait=5" if a.mode == "wait" else "202 + GET ?wait=5")
        print(f"markdown: | async jobs, count {a.iterations}, {how}, {loader} | "
              f"{completed:.0f} jobs/s | {ms(p50)} | {ms(p99)} | "
              + (f"{per_job:.0f} µs/job |" if per_job else "– |"))
        return 0 if n_completed > 0 else 1
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
        print(f"async_bench: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 1
    finally:
        srv.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
