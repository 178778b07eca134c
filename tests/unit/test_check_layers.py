#!/usr/bin/env python3
"""Unit test of scripts/check_layers.py: small fake source trees in a temp
dir, the script run on each as CI runs it (a subprocess), its exit code and
report checked.

Usage: test_check_layers.py [PATH_TO_check_layers.py] [unittest options]
(default: ../../scripts/check_layers.py from this file).
"""

import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "..", "scripts", "check_layers.py")
if len(sys.argv) > 1 and sys.argv[1].endswith(".py"):
    SCRIPT = sys.argv.pop(1)


def inc(*names):
    return "".join(f'#include "{n}"\n' for n in names)


class Tree:
    """A temp dir holding {relative path: text}."""

    def __init__(self, files):
        self.tmp = tempfile.TemporaryDirectory()
        self.root = self.tmp.name
        for path, text in files.items():
            full = os.path.join(self.root, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w") as f:
                f.write(text)

    def run(self, *args):
        """(exit code, stdout + stderr) of the script on this tree."""
        p = subprocess.run([sys.executable, SCRIPT, "--root", self.root, *args],
                           capture_output=True, text=True, timeout=60)
        return p.returncode, p.stdout + p.stderr

    def close(self):
        self.tmp.cleanup()


class CheckLayersTest(unittest.TestCase):
    def check(self, files, *args):
        t = Tree(files)
        self.addCleanup(t.close)
        return t.run(*args)

    def assertClean(self, files, *args):
        rc, out = self.check(files, *args)
        self.assertEqual(rc, 0, out)
        self.assertEqual(out, "")

    # ---- a clean tree ----

    def test_clean_tree_passes(self):
        self.assertClean({
            "common/log.h": "",
            "common/log.c": inc("log.h"),
            "common/wire.h": "",
            "worker/conn.h": inc("log.h"),
            "worker/conn.c": inc("conn.h", "wire.h", "log.h", "stdio.h"),
            "server/main.c": inc("conn.h", "log.h"),
        })

    def test_system_and_unknown_headers_are_ignored(self):
        self.assertClean({"common/a.c": inc("sqlite3.h", "event2/event.h") + "#include <stdio.h>\n"})

    # ---- cycles ----

    def test_two_module_cycle_fails_naming_both(self):
        rc, out = self.check({
            "common/a.h": inc("b.h"),
            "common/a.c": inc("a.h"),
            "common/b.h": "",
            "common/b.c": inc("b.h", "a.h"),
        })
        self.assertEqual(rc, 1, out)
        self.assertIn("common/a -> common/b -> common/a", out)
        self.assertIn('common/a.h:1: #include "b.h"', out)
        self.assertIn('common/b.c:2: #include "a.h"', out)

    def test_three_module_cycle_is_named_in_order(self):
        rc, out = self.check({
            "worker/x.h": "", "worker/x.c": inc("x.h", "y.h"),
            "worker/y.h": "", "worker/y.c": inc("y.h", "z.h"),
            "worker/z.h": "", "worker/z.c": inc("z.h", "x.h"),
            "worker/w.h": inc("x.h"), "worker/w.c": inc("w.h"),  # outside the knot
        })
        self.assertEqual(rc, 1, out)
        self.assertIn("include cycle between 3 modules: worker/x, worker/y, worker/z", out)
        self.assertIn("worker/x -> worker/y -> worker/z -> worker/x", out)
        self.assertNotIn("worker/w", out)

    def test_every_module_of_a_knot_is_named(self):
        # a <-> b and b <-> c: one knot, two cycles.
        rc, out = self.check({
            "common/a.h": "", "common/a.c": inc("a.h", "b.h"),
            "common/b.h": "", "common/b.c": inc("b.h", "a.h", "c.h"),
            "common/c.h": "", "common/c.c": inc("c.h", "b.h"),
        })
        self.assertEqual(rc, 1, out)
        self.assertIn("common/a -> common/b -> common/a", out)
        self.assertIn("common/c -> common/b -> common/c", out)
        self.assertIn("check_layers: 1 problem\n", out)

    def test_private_header_belongs_to_its_module(self):
        # x_int.h and x_part.c are x's: x.c including x_int.h is no edge,
        # and x_part.c reaching x.h is not a cycle.
        self.assertClean({
            "server/x.h": "",
            "server/x_int.h": inc("x.h"),
            "server/x.c": inc("x_int.h"),
            "server/x_part.c": inc("x_int.h"),
        })

    def test_cycle_through_a_private_header_is_found(self):
        # x_int.h is private to x and includes y.h; y.c includes x.h.
        rc, out = self.check({
            "server/x.h": "", "server/x_int.h": inc("y.h"),
            "server/x.c": inc("x.h", "x_int.h"),
            "server/y.h": "", "server/y.c": inc("y.h", "x.h"),
        })
        self.assertEqual(rc, 1, out)
        self.assertIn("server/x -> server/y -> server/x", out)
        self.assertIn('server/x_int.h:1: #include "y.h"', out)

    def test_shared_header_is_a_module_of_its_own(self):
        # m.c calls s.h; s.c and m.c share the state in m_int.h: m_int.h is
        # not m's private header (s includes it), so there is no cycle.
        self.assertClean({
            "server/m.h": "", "server/m_int.h": inc("cfg.h"),
            "server/m.c": inc("m.h", "m_int.h", "s.h"),
            "server/s.h": inc("m_int.h"), "server/s.c": inc("s.h"),
            "server/cfg.h": "",
        })

    def test_subfolders_are_modules_and_resolve_nearest_first(self):
        # Two jobs.h: worker/http/ files mean theirs, worker/svc/ files theirs.
        files = {
            "worker/http/jobs.h": "", "worker/http/jobs.c": inc("jobs.h", "svc/jobs.h"),
            "worker/svc/jobs.h": "", "worker/svc/jobs.c": inc("jobs.h", "plugin.h"),
            "include/crunchd/plugin.h": "",
            "common/fn/fn.c": inc("crunchd/plugin.h"),
        }
        rc, out = self.check(files, "--graph", "--no-layers")
        self.assertEqual(rc, 0, out)
        self.assertIn("worker/http/jobs: worker/svc/jobs\n", out)
        self.assertIn("worker/svc/jobs: include/crunchd/plugin\n", out)
        self.assertIn("common/fn/fn: include/crunchd/plugin\n", out)

    def test_cycle_across_subfolders(self):
        rc, out = self.check({
            "common/store/store.h": "", "common/store/store.c": inc("store.h", "sqlite.h"),
            "common/store/sqlite.h": "", "common/store/sqlite.c": inc("sqlite.h", "store.h"),
        }, "--no-layers")
        self.assertEqual(rc, 1, out)
        self.assertIn("common/store/sqlite -> common/store/store -> common/store/sqlite", out)

    # ---- layers ----

    def test_upward_include_fails(self):
        rc, out = self.check({
            "worker/http/conn.h": "",
            "worker/engine/lanes.h": "",
            "worker/engine/lanes.c": inc("lanes.h", "conn.h"),
        })
        self.assertEqual(rc, 1, out)
        self.assertIn('layer: worker/engine/lanes.c:2: #include "conn.h"', out)
        self.assertIn("worker/http/ is a higher layer", out)

    def test_common_never_includes_worker_or_server(self):
        for target in ("worker/w.h", "server/s.h", "worker/svc/jobs.h"):
            rc, out = self.check({target: "", "common/log.c": inc(os.path.basename(target))})
            self.assertEqual(rc, 1, out)
            self.assertIn("common/ may not include " + target, out)

    def test_downward_and_same_layer_includes_pass(self):
        self.assertClean({
            "server/master.c": inc("worker.h", "conn.h", "jobs.h", "lanes.h", "log.h"),
            "worker/worker.h": "",
            "worker/http/conn.h": inc("jobs.h", "lanes.h", "log.h", "routes.h"),
            "worker/http/routes.h": "",
            "worker/svc/jobs.h": inc("lanes.h", "log.h"),
            "worker/engine/lanes.h": inc("log.h"),
            "common/log.h": "",
        })

    def test_layers_from_the_command_line(self):
        files = {"a/x.h": "", "b/y.c": inc("x.h")}
        self.assertClean(files, "a", "b", "--layers", "b > a")
        rc, out = self.check(files, "a", "b", "--layers", "a > b")
        self.assertEqual(rc, 1, out)
        self.assertIn("b/ may not include a/x.h", out)
        self.assertClean(files, "a", "b", "--layers", "a, b")  # one layer
        self.assertClean(files, "a", "b", "--layers", "a > b", "--no-layers")

    def test_unknown_folders_are_not_checked(self):
        self.assertClean({"tools/t.h": "", "common/c.c": inc("t.h"),
                          "tools/u.c": inc("w.h"), "worker/w.h": ""},
                         "common", "worker", "tools")

    def test_bad_layer_order_is_a_usage_error(self):
        rc, out = self.check({"common/a.c": ""}, "--layers", "common > worker > common")
        self.assertEqual(rc, 2, out)
        self.assertIn("listed twice", out)

    # ---- file size ----

    def test_oversized_file_fails(self):
        rc, out = self.check({"worker/big.c": "x;\n" * 701, "worker/ok.c": "x;\n" * 700})
        self.assertEqual(rc, 1, out)
        self.assertIn("too long: worker/big.c has 701 lines (at most 700", out)
        self.assertNotIn("ok.c", out)

    def test_oversized_header_and_last_line_without_newline(self):
        rc, out = self.check({"include/crunchd/p.h": "x;\n" * 700 + "y;"})
        self.assertEqual(rc, 1, out)
        self.assertIn("include/crunchd/p.h has 701 lines", out)

    def test_max_lines_option(self):
        files = {"server/a.c": "x;\n" * 50}
        self.assertClean(files)
        rc, out = self.check(files, "--max-lines", "49")
        self.assertEqual(rc, 1, out)
        self.assertIn("server/a.c has 50 lines (at most 49", out)

    def test_only_scanned_folders_count(self):
        self.assertClean({"tests/unit/huge.c": "x;\n" * 2000, "common/a.c": ""})


if __name__ == "__main__":
    unittest.main(verbosity=2)
