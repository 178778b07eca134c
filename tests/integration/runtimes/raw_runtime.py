"""A runtime written without crunchd_runtime, straight from the protocol, to
test how crunchd takes what runtimes say (check_runtime_proto.c).

    raw_runtime.py MODE [GATE]

MODE "ok" says a valid hello and serves:
    echo      {"id", "result": args}
    garbage   a line that is not JSON
    wrong_id  a reply for another id
    chatty    its reply, then one more line
    die       exits (status 3) without a reply
    progress  a progress line, then the reply
    pid       {"id", "result": its pid}
With GATE, a path: while that file exists, it exits (status 3) before its
hello, as a runtime that cannot start.
Other modes fail the start: "silent" (never says hello), "exit" (exits 3
after a line on stderr), "badhello" (a JSON-Schema key crunchd does not
take), "notjson" (a hello that is not JSON), "clash" (declares "fib"),
"twice" (declares "echo" twice).
"""
import json
import os
import sys
import time

mode = sys.argv[1] if len(sys.argv) > 1 else "ok"
out = sys.stdout
if len(sys.argv) > 2 and os.path.exists(sys.argv[2]):
    print("raw_runtime: %s exists" % sys.argv[2], file=sys.stderr, flush=True)
    sys.exit(3)


def say(obj):
    out.write(json.dumps(obj) + "\n")
    out.flush()


def fn(name):
    return {"name": name, "kind": "cpu", "doc": "raw " + name, "args": []}


ECHO = {"name": "echo", "kind": "io", "doc": "returns its args",
        "args": [{"name": "n", "type": "integer", "min": 0, "max": 9, "default": 1}]}
NAMES = ["garbage", "wrong_id", "chatty", "die", "progress", "pid"]

if mode == "silent":
    time.sleep(3600)
if mode == "exit":
    print("raw_runtime: giving up before the hello", file=sys.stderr, flush=True)
    sys.exit(3)
if mode == "notjson":
    out.write("hello there\n")
    out.flush()
    time.sleep(3600)
if mode == "badhello":
    say({"hello": 1, "functions": [{"name": "x", "args": [
        {"name": "n", "type": "integer", "maximum": 3}]}]})
    time.sleep(3600)
if mode == "clash":
    say({"hello": 1, "functions": [fn("fib")]})
elif mode == "twice":
    say({"hello": 1, "functions": [ECHO, ECHO]})
else:
    say({"hello": 1, "runtime": "raw", "functions": [ECHO] + [fn(n) for n in NAMES]})

for line in sys.stdin:
    msg = json.loads(line)
    if "cancel" in msg:
        continue
    rid, name = msg["id"], msg["fn"]
    if name == "echo":
        say({"id": rid, "result": msg["args"]})
    elif name == "garbage":
        out.write("this is not json\n")
        out.flush()
    elif name == "wrong_id":
        say({"id": rid + 1000, "result": 1})
    elif name == "chatty":  # both lines in one write: crunchd reads them together
        out.write(json.dumps({"id": rid, "result": 1}) + "\n" +
                  json.dumps({"id": rid, "progress": 2}) + "\n")
        out.flush()
    elif name == "die":
        os._exit(3)
    elif name == "progress":
        say({"id": rid, "progress": 1})
        say({"id": rid, "result": "done"})
    elif name == "pid":
        say({"id": rid, "result": os.getpid()})
