"""Functions for tests/integration/check_runtime.c, served by crunchd_runtime.

Functions that hang first write their pid to a marker file (written whole, by
rename), so that a test knows which process runs the call.
"""
import os
import sys
import time

from crunchd_runtime import Cancelled, function, progress, serve


def _mark(marker):
    if marker:
        with open(marker + ".tmp", "w") as f:
            f.write(str(os.getpid()))
        os.rename(marker + ".tmp", marker)


@function(kind="cpu", args={"n": {"type": "integer", "minimum": 0, "maximum": 90}})
def pyfib(n):
    """The n-th Fibonacci number."""
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


@function(args={"message": {"type": "string", "maxLength": 200, "default": "boom"}})
def fail(message):
    """Raises ValueError(message)."""
    raise ValueError(message)


@function(kind="io", args={
    "word": {"enum": ["a", "b"], "default": "a"},
    "values": {"type": "array", "items": {"type": "number"}, "maxItems": 10},
    "count": {"type": "integer", "minimum": 1, "maximum": 5, "default": 2},
})
def echo(word, values, count):
    """Returns its arguments."""
    return {"word": word, "values": values, "count": count}


@function(args={"marker": {"type": "string", "maxLength": 4096}})
def once_slow(marker):
    """The first call writes its pid to marker and hangs; the next ones return "again"."""
    if os.path.exists(marker):
        return "again"
    _mark(marker)
    time.sleep(3600)


@function(args={"marker": {"type": "string", "maxLength": 4096, "default": ""}})
def loop(marker):
    """while True, after writing its pid to marker."""
    _mark(marker)
    while True:
        pass


@function(args={"marker": {"type": "string", "maxLength": 4096, "default": ""}})
def stubborn(marker):
    """Swallows Cancelled and spins on: only a kill stops it."""
    _mark(marker)
    while True:
        try:
            while True:
                pass
        except Cancelled:
            print("stubborn: ignoring a cancel", file=sys.stderr)


@function(args={"n": {"type": "integer", "minimum": 0, "maximum": 1 << 26}})
def big(n):
    """A string of n bytes."""
    return "x" * n


@function()
def pid():
    """The pid of the process that runs the call."""
    return os.getpid()


@function(args={"steps": {"type": "integer", "minimum": 1, "maximum": 100, "default": 3}})
def steps(steps):
    """Reports progress steps times, returns 2**70 (an integer beyond int64)."""
    for i in range(steps):
        progress(i + 1)
    return 2 ** 70


@function()
def surroundings():
    """What the process was given: its descriptors, environment and directory."""
    fds = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            fds[fd] = os.readlink("/proc/self/fd/" + fd)
        except OSError:
            pass  # the directory listdir had open
    return {"fds": fds, "env": dict(os.environ), "cwd": os.getcwd()}


@function(args={"mb": {"type": "integer", "minimum": 1, "maximum": 4096}})
def alloc(mb):
    """Allocates mb MiB (MemoryError past memory_mb)."""
    return len(bytearray(mb << 20))


serve()
