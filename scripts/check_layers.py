#!/usr/bin/env python3
"""Checks the source layout: no include cycle between modules, layers that
point down, and no source file over a size limit.

Usage: check_layers.py [--root DIR] [--layers ORDER | --no-layers]
                       [--max-lines N] [--graph] [DIR ...]

DIRs (relative to --root, default: the repository this script is in) are the
folders scanned for .c and .h files, recursively; default: common worker
server include.

Modules. x.c and x.h in one folder are module x. A file that has no partner
is a part of the module whose name it extends at an underscore, when there
is one in its folder:
  - x_<part>.c without x_<part>.h (listener_check.c, fn_math.c) implements
    what x or x's private headers declare: it is part of x;
  - x_<part>.h without x_<part>.c (listener_int.h, store_sqlite_int.h) is a
    private header of x as long as only x's files include it; a header that
    some other module includes is a module of its own (a lower layer that
    both use).
Anything else (main.c, wire.h) is a module of its own.

Includes. Only #include "..." lines count. A name is resolved the way the
build's include paths find it: relative to the including file first, then as
a path under each scanned folder or any folder below it; among several
matches the one nearest to the including file wins (most leading path
components in common). Names that match no scanned file (system or library
headers) are ignored.

Checks; each failure is printed, and the exit code is 1 if any:
  1. no include cycle between modules: each cycle is named module by module,
     with the #include line behind each step;
  2. no .c or .h file over --max-lines lines (default 700);
  3. layers (unless --no-layers): with LAYERS below or --layers, a file may
     include files of its own layer or of a layer below it, never above.
     A folder belongs to the longest layer entry that is it or contains it;
     files in folders no entry covers are not checked, in either direction.
Exit code 2: bad usage.
"""

import argparse
import os
import re
import sys

# Top to bottom; entries on one line, separated by commas, are one layer.
# "worker" covers the files directly in worker/ (worker.c wires the layers
# below it together) and any worker/ subfolder not listed on its own.
LAYERS = """
server
worker
worker/http
worker/svc
worker/engine
common
include
"""

DEFAULT_DIRS = ("common", "worker", "server", "include")
MAX_LINES = 700
INCLUDE_RE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def parse_layers(text):
    """'a > b, c > d' or one layer per line -> {folder: rank}, 0 = top."""
    ranks = {}
    groups = [g for g in re.split(r"[>\n]", text) if g.strip()]
    for rank, group in enumerate(groups):
        for folder in group.split(","):
            folder = folder.strip().strip("/")
            if not folder:
                continue
            if folder in ranks:
                raise ValueError(f"layer {folder!r} is listed twice")
            ranks[folder] = rank
    return ranks


def scan(root, dirs):
    """Relative paths of the .c and .h files under root/dirs, sorted."""
    files = []
    for d in dirs:
        top = os.path.join(root, d)
        if not os.path.isdir(top):
            continue
        for base, subdirs, names in os.walk(top):
            subdirs.sort()
            for name in names:
                if name.endswith((".c", ".h")):
                    path = os.path.relpath(os.path.join(base, name), root)
                    files.append(path.replace(os.sep, "/"))
    return sorted(set(files))


def read(root, path):
    with open(os.path.join(root, path), encoding="utf-8", errors="replace") as f:
        return f.read()


def stem(path):
    return path[:-2]


def common_prefix_len(a, b):
    n = 0
    for x, y in zip(a.split("/")[:-1], b.split("/")[:-1]):
        if x != y:
            break
        n += 1
    return n


class Tree:
    def __init__(self, root, dirs):
        self.root = root
        self.files = scan(root, dirs)
        self.fileset = set(self.files)
        self.texts = {p: read(root, p) for p in self.files}
        self.includes = {p: self._resolve_all(p) for p in self.files}
        self.owner = self._modules()

    # ---- includes ----

    def _resolve(self, includer, name):
        name = os.path.normpath(name).replace(os.sep, "/")
        here = os.path.dirname(includer)
        local = os.path.normpath(os.path.join(here, name)).replace(os.sep, "/")
        if local in self.fileset:
            return local
        hits = [p for p in self.files if p == name or p.endswith("/" + name)]
        if not hits:
            return None
        return max(hits, key=lambda p: (common_prefix_len(p, includer), -len(p), p))

    def _resolve_all(self, path):
        out = []
        text = self.texts[path]
        for m in INCLUDE_RE.finditer(text):
            target = self._resolve(path, m.group(1))
            if target and target != path:
                line = text.count("\n", 0, m.start()) + 1
                out.append((target, line, m.group(1)))
        return out

    # ---- modules ----

    def _modules(self):
        kinds = {}
        for p in self.files:
            kinds.setdefault(stem(p), set()).add(p[-1])

        def parent(s):  # the longest stem s extends at an underscore, same folder
            folder, base = os.path.split(s)
            parts = base.split("_")
            for k in range(len(parts) - 1, 0, -1):
                p = "/".join(filter(None, [folder, "_".join(parts[:k])]))
                if p in kinds:
                    return p
            return None

        up = {s: (None if kinds[s] == {"c", "h"} else parent(s)) for s in kinds}
        private = {s: False for s in kinds if up[s] and kinds[s] == {"h"}}

        def module(s):
            while up[s] is not None and private.get(s, kinds[s] == {"c"}):
                s = up[s]
            return s

        includers = {}
        for p, incs in self.includes.items():
            for target, _, _ in incs:
                includers.setdefault(stem(target), set()).add(stem(p))
        changed = True
        while changed:  # monotone: a header only ever joins a module
            changed = False
            for s in private:
                if private[s]:
                    continue
                home = module(up[s])
                if all(module(i) == home for i in includers.get(s, ()) if i != s):
                    private[s] = changed = True
        return {p: module(stem(p)) for p in self.files}

    def graph(self):
        """{module: {module: (file, line, name)}}, first include per edge."""
        g = {}
        for p in self.files:
            a = self.owner[p]
            g.setdefault(a, {})
            for target, line, name in self.includes[p]:
                b = self.owner[target]
                if b != a and b not in g[a]:
                    g[a][b] = (p, line, name)
        return g


def cycles(g):
    """[(modules, [cycle, ...]), ...]: each knot of modules that include each
    other (a strongly connected component of g), with cycles, each in order,
    that together name every module of the knot."""
    index, low, on, stack, comps = {}, {}, set(), [], []
    counter = [0]

    def visit(v):  # Tarjan, iterative
        work = [(v, iter(sorted(g.get(v, ()))))]
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        while work:
            node, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(g.get(w, ())))))
                    break
                if w in on:
                    low[node] = min(low[node], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == node:
                            break
                    if len(comp) > 1:
                        comps.append(set(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    out = []
    for comp in comps:
        covered, cycs = set(), []
        for v in sorted(comp):  # a shortest cycle through each module not named yet
            if v not in covered:
                cyc = shortest_cycle(g, comp, v)
                covered.update(cyc)
                cycs.append(cyc)
        out.append((sorted(comp), cycs))
    return sorted(out)


def shortest_cycle(g, comp, start):
    """[start, ..., last] where last includes start again; BFS inside comp."""
    prev, frontier = {start: None}, [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(g.get(v, ())):
                if w == start:
                    path = []
                    while v is not None:
                        path.append(v)
                        v = prev[v]
                    return path[::-1]
                if w in comp and w not in prev:
                    prev[w] = v
                    nxt.append(w)
        frontier = nxt
    raise AssertionError(f"{start} is in a strongly connected component but on no cycle")


def layer_of(path, ranks):
    folder = os.path.dirname(path)
    best = None
    for entry in ranks:
        if folder == entry or folder.startswith(entry + "/"):
            if best is None or len(entry) > len(best):
                best = entry
    return best


def check(root, dirs, ranks, max_lines, show_graph=False, out=sys.stdout):
    tree = Tree(root, dirs)
    g = tree.graph()
    failures = 0

    if show_graph:
        for a in sorted(g):
            print(f"{a}: {' '.join(sorted(g[a])) or '-'}", file=out)

    for knot, cycs in cycles(g):
        failures += 1
        print(f"include cycle between {len(knot)} modules: {', '.join(knot)}", file=out)
        for cyc in cycs:
            print("  " + " -> ".join(cyc + [cyc[0]]), file=out)
            for a, b in zip(cyc, cyc[1:] + cyc[:1]):
                p, line, name = g[a][b]
                print(f"    {p}:{line}: #include \"{name}\"", file=out)

    for p in tree.files:
        n = tree.texts[p].count("\n") + (not tree.texts[p].endswith("\n") and tree.texts[p] != "")
        if n > max_lines:
            failures += 1
            print(f"too long: {p} has {n} lines (at most {max_lines}; split it)", file=out)

    if ranks:
        for p in tree.files:
            lp = layer_of(p, ranks)
            if lp is None:
                continue
            for target, line, name in tree.includes[p]:
                lt = layer_of(target, ranks)
                if lt is not None and ranks[lt] < ranks[lp]:
                    failures += 1
                    print(f"layer: {p}:{line}: #include \"{name}\": {lp}/ may not include "
                          f"{target} ({lt}/ is a higher layer)", file=out)
    return failures


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dirs", nargs="*", help="folders to scan (default: %s)" % " ".join(DEFAULT_DIRS))
    ap.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                    help="the tree's top folder (default: this repository)")
    ap.add_argument("--layers", help='layer order, top first: "server > worker/http > common"; '
                    "commas join folders into one layer (default: the LAYERS table)")
    ap.add_argument("--no-layers", action="store_true", help="skip the layer check")
    ap.add_argument("--max-lines", type=int, default=MAX_LINES,
                    help="longest file allowed (default %(default)s)")
    ap.add_argument("--graph", action="store_true", help="print the module graph first")
    args = ap.parse_args(argv)
    try:
        ranks = {} if args.no_layers else parse_layers(args.layers if args.layers is not None
                                                         else LAYERS)
    except ValueError as e:
        ap.error(str(e))
    if not os.path.isdir(args.root):
        ap.error(f"--root {args.root}: not a directory")
    failures = check(args.root, args.dirs or DEFAULT_DIRS, ranks, args.max_lines, args.graph)
    if failures:
        print(f"check_layers: {failures} problem{'s' if failures != 1 else ''}", file=sys.stdout)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
