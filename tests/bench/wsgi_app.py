"""The gunicorn side of the benchmark: the same work as each crunchd route measured.

    gunicorn --chdir tests/bench -w 2 -b 127.0.0.1:0 wsgi_app:app

GET  /healthz      -> {"status":"ok"}
POST /v1/fn/fib    -> parse the JSON body, fib(n) iteratively,
                      {"result", "fn", "run_ms", "cpu_ms", "worker"} like crunchd
POST /v1/fn/count  -> start + iterations by a Python loop, as in the seed notes

Standard library only (it runs under Debian's /usr/bin/python3). Errors have
crunchd's shape, {"error": {"code", "message"}}, so a broken benchmark shows up
as non-2xx replies in wrk's output rather than as fast wrong answers.
"""

import json
import os
import time

_INT62 = 1 << 62


def _fib(args):
    n = args.get("n", 10)
    if type(n) is not int or not 0 <= n <= 93:
        raise ValueError("n")
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    # crunchd returns fib(93), which does not fit a signed 64-bit integer, as a string.
    return a if a < (1 << 63) else str(a)


def _count(args):
    start = args.get("start", 0)
    iterations = args.get("iterations", 10000000)
    if type(start) is not int or not -_INT62 <= start <= _INT62:
        raise ValueError("start")
    if type(iterations) is not int or not 0 <= iterations <= 100000000000:
        raise ValueError("iterations")
    total = start
    for _ in range(iterations):
        total += 1
    return total


FUNCTIONS = {"fib": _fib, "count": _count}


def _reply(start_response, status, obj):
    body = json.dumps(obj, separators=(",", ":")).encode()
    start_response(
        status,
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
    )
    return [body]


def _error(start_response, status, code, message, arg=None):
    err = {"code": code, "message": message}
    if arg is not None:
        err["arg"] = arg
    return _reply(start_response, status, {"error": err})


def _call(environ, start_response, name):
    fn = FUNCTIONS.get(name)
    if fn is None:
        return _error(start_response, "404 Not Found", "unknown_function", "no such function")
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    raw = environ["wsgi.input"].read(length) if length > 0 else b""
    try:
        args = json.loads(raw) if raw else {}
    except ValueError:
        return _error(start_response, "400 Bad Request", "bad_json", "the body is not JSON")
    if not isinstance(args, dict):
        return _error(start_response, "400 Bad Request", "bad_json", "the body is not an object")
    t0, c0 = time.perf_counter(), time.thread_time()
    try:
        result = fn(args)
    except ValueError as e:
        return _error(start_response, "400 Bad Request", "invalid_args", "bad argument", str(e))
    run_ms = (time.perf_counter() - t0) * 1000.0
    cpu_ms = (time.thread_time() - c0) * 1000.0
    return _reply(
        start_response,
        "200 OK",
        {
            "result": result,
            "fn": name,
            "run_ms": round(run_ms, 3),
            "cpu_ms": round(cpu_ms, 3),
            "worker": os.getpid(),
        },
    )


def app(environ, start_response):
    path = environ.get("PATH_INFO", "")
    method = environ.get("REQUEST_METHOD", "GET")
    if path == "/healthz":
        if method not in ("GET", "HEAD"):
            return _error(start_response, "405 Method Not Allowed", "method_not_allowed", "use GET")
        return _reply(start_response, "200 OK", {"status": "ok"})
    if path.startswith("/v1/fn/"):
        if method != "POST":
            return _error(start_response, "405 Method Not Allowed", "method_not_allowed", "use POST")
        return _call(environ, start_response, path[len("/v1/fn/"):])
    return _error(start_response, "404 Not Found", "not_found", "no such route")
