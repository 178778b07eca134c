"""crunchd_runtime: serve Python functions from crunchd (a language runtime).

    from crunchd_runtime import function, serve

    @function(kind="cpu", args={"n": {"type": "integer", "minimum": 0, "maximum": 90}})
    def pyfib(n):
        a, b = 0, 1
        for _ in range(n):
            a, b = b, a + b
        return a

    serve()

is a complete runtime: name it in crunchd's config ("functions": {"runtimes":
[{"name": "py", "argv": ["python3", "/srv/fns/handlers.py"]}]}) and
POST /v1/fn/pyfib {"n": 40} returns {"result": 102334155, ...}.

crunchd validates the arguments against the declared schema before a call, so
a function gets every argument (defaults filled in) with the right type and in
range. What it returns is sent back as JSON (integers outside the signed 64-bit
range as decimal strings). An exception becomes the error function_error with
the exception's type and message; its traceback goes to stderr, which crunchd
writes to its log. print() goes there too: stdout carries the protocol.

A call that passes its deadline or is cancelled gets Cancelled raised inside
it (at the next Python bytecode, or when a blocking call such as time.sleep
returns); a function that swallows it is killed after jobs.cancel_grace_ms / 2.

Standard library only. The protocol is described in crunchd's README, section
"Writing a runtime".
"""

import fcntl
import json
import os
import platform
import select
import signal
import sys
import time
import traceback
from collections import deque

__all__ = ["Cancelled", "cancelled", "deadline", "function", "progress", "serve"]

PROTOCOL = 1
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1

# Argument types crunchd validates, and the keys each takes (after aliases).
_TYPES = {
    "integer": {"min", "max", "default", "required", "doc"},
    "string": {"max_length", "default", "required", "doc"},
    "enum": {"choices", "default", "required", "doc"},
    "array<number>": {"max_length", "default", "required", "doc"},
}
# JSON-Schema spellings accepted for crunchd's own.
_ALIASES = {
    "minimum": "min",
    "maximum": "max",
    "maxLength": "max_length",
    "maxItems": "max_length",
    "description": "doc",
    "enum": "choices",
}

_functions = {}  # name -> (callable, declaration)
_server = None


class Cancelled(BaseException):
    """Raised inside a function whose call crunchd cancelled (timeout or cancel).

    A BaseException, so that "except Exception" in the function does not
    swallow it."""


def _schema_error(fname, aname, what):
    return TypeError("function %s: argument %s: %s" % (fname, aname, what))


def _is_int(v):
    return type(v) is int


def _arg_decl(fname, aname, spec):
    """One argument's declaration, as GET /v1/functions lists it."""
    if not isinstance(aname, str) or not isinstance(spec, dict):
        raise _schema_error(fname, aname, "expected a name and a dict")
    spec = {_ALIASES.get(k, k): v for k, v in spec.items()}
    t = spec.pop("type", None)
    items = spec.pop("items", None)
    if "choices" in spec and t in (None, "string"):
        t = "enum"
    elif t == "array" and (items is None or items == {"type": "number"}):
        t = "array<number>"
    if t not in _TYPES:
        raise _schema_error(fname, aname, "type %r is not one crunchd validates: "
                            "integer, string, enum, array of numbers" % (t,))
    decl = {"name": aname, "type": t}
    for k, v in spec.items():
        if k not in _TYPES[t]:
            raise _schema_error(fname, aname, "unknown key %r for type %s" % (k, t))
        decl[k] = v
    for k in ("min", "max", "max_length"):
        if k in decl and not _is_int(decl[k]):
            raise _schema_error(fname, aname, "%s must be an integer" % k)
    if "choices" in decl and (not decl["choices"] or
                              not all(isinstance(c, str) for c in decl["choices"])):
        raise _schema_error(fname, aname, "choices must be a non-empty list of strings")
    return decl


def function(fn=None, *, kind="cpu", args=None, name=None, doc=None):
    """Declares fn as a function crunchd serves.

    kind: "cpu" (runs on crunchd's cpu lane) or "io". args: {name: schema},
    where a schema is {"type": "integer", "minimum": 0, "maximum": 90},
    {"type": "string", "maxLength": 100}, {"enum": ["a", "b"]},
    {"type": "array", "items": {"type": "number"}, "maxItems": 1000}, each
    with an optional "default" (then the argument is optional) and "doc" or
    "description". crunchd's own key names (min, max, max_length, choices)
    work too. name defaults to fn.__name__, doc to its docstring's first line.
    Usable bare (@function) or with arguments (@function(kind="io", ...)).
    """
    if kind not in ("cpu", "io"):
        raise ValueError("kind must be \"cpu\" or \"io\", not %r" % (kind,))

    def register(f):
        fname = name or f.__name__
        text = doc
        if text is None:
            text = (f.__doc__ or "").strip().split("\n")[0]
        decl = {"name": fname, "kind": kind, "doc": text,
                "args": [_arg_decl(fname, a, s) for a, s in (args or {}).items()]}
        if fname in _functions:
            raise ValueError("function %s is declared twice" % fname)
        _functions[fname] = (f, decl)
        return f

    if fn is not None:
        return register(fn)
    return register


def cancelled():
    """True once crunchd has cancelled the running call (see Cancelled)."""
    return _server is not None and _server.cancel_seen


def deadline():
    """time.monotonic() at which the running call's time is up, or None."""
    return _server.deadline if _server is not None else None


def progress(value):
    """Reports the running call's progress (a number) to crunchd."""
    if _server is not None and _server.current is not None:
        _server.send({"id": _server.current, "progress": value})


def _jsonable(v):
    """v with integers outside int64 as decimal strings (crunchd's JSON is int64)."""
    t = type(v)
    if t is int:
        return v if _INT64_MIN <= v <= _INT64_MAX else str(v)
    if t is list or t is tuple:
        return [_jsonable(x) for x in v]
    if t is dict:
        return {k: _jsonable(x) for k, x in v.items()}
    return v


def _dumps(obj):
    return (json.dumps(obj, allow_nan=False, ensure_ascii=False, separators=(",", ":")) +
            "\n").encode("utf-8")


def _error(rid, code, message):
    return {"id": rid, "error": {"code": code, "message": message}}


class _Server:
    """The protocol over two descriptors: rfd (requests) and wfd (replies).

    One call at a time, on the main thread. While a call runs, rfd has O_ASYNC
    set, so a cancel line raises SIGIO, whose handler reads it and raises
    Cancelled in the function."""

    def __init__(self, rfd, wfd):
        self.rfd, self.wfd = rfd, wfd
        self.buf = bytearray()
        self.lines = deque()
        self.current = None      # id of the running call; the handler raises only then
        self.cancel_seen = False
        self.deadline = None
        self.in_handler = False
        self.eof = False
        flags = fcntl.fcntl(rfd, fcntl.F_GETFL)
        self.flags_sync, self.flags_async = flags & ~os.O_ASYNC, flags | os.O_ASYNC
        fcntl.fcntl(rfd, fcntl.F_SETOWN, os.getpid())
        signal.signal(signal.SIGIO, self._on_sigio)

    # ---- lines in ----

    def _split(self):
        while True:
            i = self.buf.find(b"\n")
            if i < 0:
                return
            self.lines.append(bytes(self.buf[:i]))
            del self.buf[:i + 1]

    def _read_available(self):
        while not self.eof and select.select([self.rfd], [], [], 0)[0]:
            chunk = os.read(self.rfd, 1 << 16)
            if not chunk:
                self.eof = True
            self.buf += chunk
        self._split()

    def _next_line(self):
        while not self.lines:
            if self.eof:
                return None
            chunk = os.read(self.rfd, 1 << 16)
            if not chunk:
                self.eof = True
            self.buf += chunk
            self._split()
        return self.lines.popleft()

    def _take_cancel(self):
        """Drops the cancel lines buffered; True if one is for the running call."""
        hit, keep = False, deque()
        for raw in self.lines:
            try:
                msg = json.loads(raw)
            except ValueError:
                msg = None
            if isinstance(msg, dict) and "cancel" in msg:
                hit = hit or msg["cancel"] == self.current
            else:
                keep.append(raw)
        self.lines = keep
        if hit:
            self.cancel_seen = True
        return hit

    def _on_sigio(self, signum, frame):
        if self.current is None or self.in_handler:
            return
        self.in_handler = True
        try:
            self._read_available()
            hit = self._take_cancel()
        finally:
            self.in_handler = False
        if hit:
            raise Cancelled()

    # ---- lines out ----

    def send(self, obj):
        try:
            data = _dumps(_jsonable(obj))
        except (TypeError, ValueError, RecursionError) as e:
            data = _dumps(_error(obj.get("id"), "function_error", _describe(e)))
        view = memoryview(data)
        while view:
            view = view[os.write(self.wfd, view):]

    # ---- calls ----

    def _run(self, rid, fn, args):
        """Runs fn(**args); returns the reply object. Cancelled can only be
        raised while current is set, and every path clears it first thing."""
        try:
            self.current = rid
            fcntl.fcntl(self.rfd, fcntl.F_SETFL, self.flags_async)
            self._read_available()  # a cancel that came before O_ASYNC
            if self._take_cancel():
                raise Cancelled()
            result = fn(**args)
            self.current = None
        except Cancelled:
            self.current = None
            return _error(rid, "cancelled", "cancelled")
        except Exception as e:
            self.current = None
            traceback.print_exc()
            return _error(rid, "function_error", _describe(e))
        except BaseException:
            self.current = None  # SystemExit and the like end the process
            raise
        finally:
            fcntl.fcntl(self.rfd, fcntl.F_SETFL, self.flags_sync)
        return {"id": rid, "result": result}

    def _call(self, msg):
        rid, name = msg.get("id"), msg.get("fn")
        entry = _functions.get(name)
        if entry is None:
            self.send(_error(rid, "unknown_function", "no function named %r here" % (name,)))
            return
        ms = msg.get("deadline_ms") or 0
        self.deadline = time.monotonic() + ms / 1000.0 if ms else None
        self.cancel_seen = False
        self.send(self._run(rid, entry[0], msg.get("args") or {}))

    def hello(self):
        self.send({"hello": PROTOCOL,
                   "runtime": "python %s (crunchd_runtime)" % platform.python_version(),
                   "functions": [decl for _, decl in _functions.values()]})

    def loop(self):
        while True:
            raw = self._next_line()
            if raw is None:
                return
            try:
                msg = json.loads(raw)
            except ValueError:
                print("crunchd_runtime: a line from crunchd is not JSON; ignored", file=sys.stderr)
                continue
            if isinstance(msg, dict) and "cancel" not in msg:
                self._call(msg)  # a cancel here is for a call that has ended


def _describe(e):
    text = str(e)
    return "%s: %s" % (type(e).__name__, text) if text else type(e).__name__


def serve():
    """Serves the declared functions to crunchd until stdin ends, then returns.

    Prints the hello line first. stdout and stdin are kept for the protocol:
    afterwards print() and anything written to descriptor 1 go to stderr,
    and stdin reads nothing."""
    global _server
    rfd, wfd = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    _server = _Server(rfd, wfd)
    _server.hello()
    _server.loop()
