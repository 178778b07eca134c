"""The crunchd side of tests/bench/runtime_bench.py: the functions of
wsgi_app.py (the gunicorn side), served through crunchd's Python runtime, so
that both servers run exactly the same Python code.

    pyfib  {"n"}           wsgi_app's iterative fib
    burn   {"iterations"}  wsgi_app's count: a Python loop (CPU scaling)
    noop   {}              nothing: what is left is the runtime pipe's cost
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import wsgi_app  # noqa: E402
from crunchd_runtime import function, serve  # noqa: E402


@function(kind="cpu", args={"n": {"type": "integer", "minimum": 0, "maximum": 93, "default": 10}})
def pyfib(n):
    """wsgi_app's fib: the same code gunicorn runs."""
    return wsgi_app._fib({"n": n})


@function(kind="cpu", args={"iterations": {"type": "integer", "minimum": 0,
                                           "maximum": 10 ** 10, "default": 1000000}})
def burn(iterations):
    """wsgi_app's count: iterations of a Python loop."""
    return wsgi_app._count({"start": 0, "iterations": iterations})


@function(kind="cpu")
def noop():
    """Does nothing."""
    return None


serve()
