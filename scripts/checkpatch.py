#!/usr/bin/env python3
"""Run the tree's scripts/checkpatch.pl --strict on every patch of the series.

Each patch is one test: it passes with 0 errors, 0 warnings and 0 checks.
The cover letter (0000-cover-letter.patch) carries no diff and is skipped.
"""
import argparse
import json
import pathlib
import re
import subprocess
import sys

ap = argparse.ArgumentParser()
ap.add_argument("--tree", required=True)
ap.add_argument("--results")
ap.add_argument("dir")
a = ap.parse_args()
tree = pathlib.Path(a.tree)
script = tree / "scripts" / "checkpatch.pl"
patches = sorted(p for p in pathlib.Path(a.dir).glob("*.patch") if p.name != "0000-cover-letter.patch")
passed, failures = 0, []
if patches and not script.exists():
    sys.exit(f"checkpatch: {script} missing: run 'make kernel-tree' first")
for p in patches:
    r = subprocess.run(["perl", str(script), "--strict",
                        str(p.resolve())], cwd=tree, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    m = re.search(r"total: (\d+) errors, (\d+) warnings, (\d+) checks", r.stdout)
    if m and m.groups() == ("0", "0", "0"):
        passed += 1
        print(f"ok - checkpatch --strict {p.name}")
    else:
        failures.append(f"checkpatch: {p.name}: " + (m.group(0) if m else "no verdict"))
        print(f"not ok - checkpatch --strict {p.name}\n{r.stdout}")
print(f"checkpatch: {passed} clean, {len(failures)} not clean, of {len(patches)} patch(es)")
if a.results:
    with open(a.results, "w") as f:
        json.dump({"suite": "checkpatch", "passed": passed, "failed": len(failures),
                   "skipped": 0, "failures": failures}, f)
sys.exit(1 if failures else 0)
