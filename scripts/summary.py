#!/usr/bin/env python3
"""Add up the results of one `make check` and print its closing line.

Every step writes build/results/<step>.json with "passed", "failed",
"skipped" and "failures".  This prints each step's counts, every failure by
name, and last the one line CI reads: "N passed, N failed" (", N skipped"
when there are skips).  Exit status 1 when anything failed or no step ran.
"""
import json
import pathlib
import sys

d = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "build/results")
results = [json.loads(p.read_text()) for p in sorted(d.glob("*.json"))]
passed = sum(r["passed"] for r in results)
failed = sum(r["failed"] for r in results)
skipped = sum(r.get("skipped", 0) for r in results)
print("\n== summary")
for r in results:
    print(f"   {r['suite']:<24} {r['passed']:>4} passed {r['failed']:>4} failed"
          f" {r.get('skipped', 0):>4} skipped")
    for f in r.get("failures", []):
        print(f"      FAIL {f}")
if not results:
    failed = 1
    print("      FAIL no step reported a result")
print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
sys.exit(1 if failed else 0)
