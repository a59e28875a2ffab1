#!/usr/bin/env python3
"""Run the host-side tests of the build and boot harness (unittest) and
record their counts for scripts/summary.py.  userlib's ctest joins here once
it exists."""
import argparse
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "qemu"))
import harness  # noqa: E402  (qemu/harness.py: the results format)

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIRS = ["qemu/tests", "scripts/tests"]

ap = argparse.ArgumentParser()
ap.add_argument("--results")
a = ap.parse_args()
suite = unittest.TestSuite()
for d in DIRS:
    suite.addTests(unittest.defaultTestLoader.discover(os.path.join(TOP, d), pattern="test_*.py",
                                                       top_level_dir=os.path.join(TOP, d)))
r = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
failures = [f"host: {t.id()}" for t, _ in r.failures + r.errors]
skipped = len(r.skipped)
passed = r.testsRun - len(failures) - skipped
harness.write_result(a.results, "host", passed, failures,
              [f"host: {t.id()}: {why}" for t, why in r.skipped])
sys.exit(0 if r.wasSuccessful() and r.testsRun > 0 else 1)
