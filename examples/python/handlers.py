"""Example functions served by crunchd through its Python runtime.

    ./build/crunchd -c examples/python/crunchd.json
    curl -s -X POST localhost:8080/v1/fn/pyfib -d '{"n": 40}' -H 'Content-Type: application/json'
"""
import hashlib
import time

from crunchd_runtime import Cancelled, function, progress, serve


@function(kind="cpu", args={"n": {"type": "integer", "minimum": 0, "maximum": 90}})
def pyfib(n):
    """The n-th Fibonacci number, iteratively."""
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


@function(kind="cpu", args={
    "text": {"type": "string", "maxLength": 1 << 20, "description": "the text to look at"},
    "top": {"type": "integer", "minimum": 1, "maximum": 100, "default": 5},
})
def word_stats(text, top):
    """Words, distinct words and the most frequent ones of a text."""
    counts = {}
    for word in text.lower().split():
        word = word.strip(".,;:!?\"'()[]")
        if word:
            counts[word] = counts.get(word, 0) + 1
    common = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    return {"words": sum(counts.values()), "distinct": len(counts),
            "top": [{"word": w, "count": c} for w, c in common]}


@function(kind="cpu", args={
    "data": {"type": "string", "maxLength": 1 << 20},
    "algorithm": {"enum": ["sha256", "sha1", "md5", "blake2b"], "default": "sha256"},
})
def digest(data, algorithm):
    """Hex digest of a UTF-8 string."""
    return hashlib.new(algorithm, data.encode("utf-8")).hexdigest()


@function(kind="io", args={"ms": {"type": "integer", "minimum": 0, "maximum": 60000, "default": 100}})
def nap(ms):
    """Sleeps ms milliseconds, reporting progress every 100 ms (cancel stops it)."""
    end = time.monotonic() + ms / 1000.0
    slept = 0
    while time.monotonic() < end:
        time.sleep(min(0.1, end - time.monotonic()))
        slept += 100
        progress(min(slept, ms))
    return {"slept_ms": ms}


@function(args={"values": {"type": "array", "items": {"type": "number"}, "maxItems": 100000}})
def mean(values):
    """Arithmetic mean of a list of numbers (ValueError on an empty list)."""
    if not values:
        raise ValueError("mean of an empty list")
    return sum(values) / len(values)


serve()
