#!/usr/bin/env python3
"""Run the host-side tests of the build and boot harness (unittest) and
record their counts for scripts/summary.py.  userlib's ctest joins here once
it exists."""
import argparse
import os
import sys
import unittest

import results

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
results.write(a.results, "host", passed, failures,
              [f"host: {t.id()}: {why}" for t, why in r.skipped])
sys.exit(0 if r.wasSuccessful() and r.testsRun > 0 else 1)
