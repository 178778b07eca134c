"""Unit tests of runtimes/python/crunchd_runtime.py (standard library only):
schemas as declared (JSON-Schema spellings turned into crunchd's), refusals
at import time, results beyond int64, and the protocol as a runtime process
speaks it: hello, result, function_error, unknown function, progress, a
cancel interrupting `while True`, print() kept off stdout, exit at end of
input.

    python3 tests/unit/test_crunchd_runtime.py   (meson: suite "python")
"""
import json
import os
import subprocess
import sys
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODULE_DIR = os.path.join(ROOT, "runtimes", "python")
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, MODULE_DIR)
import crunchd_runtime as rt  # noqa: E402


class Declaring(unittest.TestCase):
    def setUp(self):
        rt._functions.clear()

    def decl(self, name):
        return rt._functions[name][1]

    def test_issue_example(self):
        @rt.function(kind="cpu", args={"n": {"type": "integer", "minimum": 0, "maximum": 90}})
        def pyfib(n):
            return n
        self.assertEqual(self.decl("pyfib"), {
            "name": "pyfib", "kind": "cpu", "doc": "",
            "args": [{"name": "n", "type": "integer", "min": 0, "max": 90}]})

    def test_spellings(self):
        @rt.function(kind="io", name="other", args={
            "s": {"type": "string", "maxLength": 9, "default": "x", "description": "text"},
            "w": {"enum": ["a", "b"], "default": "a"},
            "v": {"type": "array", "items": {"type": "number"}, "maxItems": 3},
            "k": {"type": "integer", "min": -1, "max": 1, "required": True, "doc": "own keys"},
        })
        def f(s, w, v, k):
            """First line.

            More."""
        d = self.decl("other")
        self.assertEqual(d["kind"], "io")
        self.assertEqual(d["doc"], "First line.")
        self.assertEqual(d["args"], [
            {"name": "s", "type": "string", "max_length": 9, "default": "x", "doc": "text"},
            {"name": "w", "type": "enum", "choices": ["a", "b"], "default": "a"},
            {"name": "v", "type": "array<number>", "max_length": 3},
            {"name": "k", "type": "integer", "min": -1, "max": 1, "required": True,
             "doc": "own keys"},
        ])

    def test_bare_decorator(self):
        @rt.function
        def g():
            return 1
        self.assertEqual(self.decl("g")["args"], [])

    def test_refusals(self):
        bad = [
            ({"x": {"type": "number"}}, "type 'number' is not one crunchd validates"),
            ({"x": {"type": "object"}}, "type 'object' is not one crunchd validates"),
            ({"x": {"type": "array", "items": {"type": "string"}}}, "type 'array'"),
            ({"x": {"type": "integer", "maximum": 1.5}}, "max must be an integer"),
            ({"x": {"type": "integer", "pattern": "a"}}, "unknown key 'pattern' for type integer"),
            ({"x": {"enum": []}}, "choices must be a non-empty list of strings"),
            ({"x": "integer"}, "expected a name and a dict"),
        ]
        for args, want in bad:
            with self.assertRaises(TypeError) as e:
                rt.function(args=args)(lambda x: x)
            self.assertIn(want, str(e.exception))
        with self.assertRaises(ValueError):
            rt.function(kind="gpu")
        rt.function(name="h")(lambda: 1)
        with self.assertRaises(ValueError):
            rt.function(name="h")(lambda: 2)

    def test_jsonable(self):
        big = 2 ** 70
        self.assertEqual(rt._jsonable({"a": [big, -big, 1, True, 2.5], "b": (2 ** 63 - 1,)}),
                         {"a": [str(big), str(-big), 1, True, 2.5], "b": [2 ** 63 - 1]})
        self.assertEqual(rt._jsonable(-2 ** 63), -2 ** 63)
        self.assertEqual(rt._jsonable(2 ** 63), str(2 ** 63))


RUNTIME = r'''
import time
from crunchd_runtime import function, progress, serve

@function(args={"n": {"type": "integer"}})
def double(n):
    print("to the log")
    return 2 * n

@function()
def fails():
    raise KeyError("k")

@function()
def stuck():
    while True:
        pass

@function()
def steps():
    progress(1)
    progress(2)
    return "done"

serve()
'''


class Protocol(unittest.TestCase):
    def setUp(self):
        env = dict(os.environ, PYTHONPATH=MODULE_DIR, PYTHONDONTWRITEBYTECODE="1")
        self.p = subprocess.Popen([sys.executable, "-c", RUNTIME], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)

    def tearDown(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()
        for f in (self.p.stdin, self.p.stdout, self.p.stderr):
            f.close()

    def send(self, obj):
        self.p.stdin.write((json.dumps(obj) + "\n").encode())
        self.p.stdin.flush()

    def read(self):
        line = self.p.stdout.readline()
        self.assertTrue(line.endswith(b"\n"), line)
        return json.loads(line)

    def test_conversation(self):
        hello = self.read()
        self.assertEqual(hello["hello"], 1)
        self.assertTrue(hello["runtime"].startswith("python "))
        self.assertEqual([f["name"] for f in hello["functions"]],
                         ["double", "fails", "stuck", "steps"])
        self.send({"id": 1, "fn": "double", "args": {"n": 21}, "deadline_ms": 1000})
        self.assertEqual(self.read(), {"id": 1, "result": 42})
        self.send({"id": 2, "fn": "fails", "args": {}, "deadline_ms": 0})
        self.assertEqual(self.read(), {"id": 2, "error": {"code": "function_error",
                                                          "message": "KeyError: 'k'"}})
        self.send({"id": 3, "fn": "nope", "args": {}, "deadline_ms": 0})
        self.assertEqual(self.read()["error"]["code"], "unknown_function")
        self.send({"id": 4, "fn": "steps", "args": {}, "deadline_ms": 0})
        self.assertEqual([self.read() for _ in range(3)],
                         [{"id": 4, "progress": 1}, {"id": 4, "progress": 2},
                          {"id": 4, "result": "done"}])
        self.send({"id": 5, "fn": "stuck", "args": {}, "deadline_ms": 0})
        self.send({"cancel": 4})  # an old call: ignored
        self.send({"cancel": 5})
        self.assertEqual(self.read(), {"id": 5, "error": {"code": "cancelled",
                                                          "message": "cancelled"}})
        self.send({"id": 6, "fn": "double", "args": {"n": 1}, "deadline_ms": 0})
        self.assertEqual(self.read(), {"id": 6, "result": 2})
        self.p.stdin.close()
        self.assertEqual(self.p.wait(10), 0)
        self.assertEqual(self.p.stdout.read(), b"")
        err = self.p.stderr.read().decode()
        self.assertIn("to the log", err)
        self.assertIn("Traceback", err)


if __name__ == "__main__":
    unittest.main()
