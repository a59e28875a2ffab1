#!/usr/bin/env python3
"""Run the tree's scripts/checkpatch.pl --strict on every patch of the series.

Each patch is one test: it passes with 0 errors, 0 warnings and 0 checks.
The cover letter (0000-cover-letter.patch) carries no diff and is skipped.
kernel-patches/checkpatch-allow may name, per patch, message types that
are ignored; each must be justified there and in the cover letter.
With --man-pages SCRIPT, the unix(7) patch is one more test: SCRIPT
(scripts/check-manpage.sh) applies it to its man-pages base and lints it.
"""
import argparse
import os
import pathlib
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "qemu"))
import harness  # noqa: E402  (qemu/harness.py: the results format)

ap = argparse.ArgumentParser()
ap.add_argument("--tree", required=True)
ap.add_argument("--results")
ap.add_argument("--man-pages", metavar="SCRIPT")
ap.add_argument("dir")
a = ap.parse_args()
tree = pathlib.Path(a.tree).resolve()
script = tree / "scripts" / "checkpatch.pl"
patches = sorted(p for p in pathlib.Path(a.dir).glob("*.patch") if p.name != "0000-cover-letter.patch")
allow = {}
allow_file = pathlib.Path(a.dir) / "checkpatch-allow"
if allow_file.exists():
    for line in allow_file.read_text().splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) >= 2:
            allow.setdefault(words[0], []).extend(words[1:])
# checkpatch.pl runs scripts/spdxcheck.py with the system's python3 (python3-ply).
env = dict(os.environ, PATH="/usr/bin:" + os.environ.get("PATH", ""))
passed, failures = 0, []
if patches and not script.exists():
    sys.exit(f"checkpatch: {script} missing: run 'make kernel-tree' first")
for p in patches:
    ignore = ["--ignore", ",".join(allow[p.name])] if p.name in allow else []
    r = subprocess.run(["perl", str(script), "--strict", "--show-types", *ignore,
                        str(p.resolve())], cwd=tree, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, env=env)
    m = re.search(r"total: (\d+) errors, (\d+) warnings, (\d+) checks", r.stdout)
    if m and m.groups() == ("0", "0", "0"):
        passed += 1
        print(f"ok - checkpatch --strict {p.name}")
    else:
        failures.append(f"checkpatch: {p.name}: " + (m.group(0) if m else "no verdict"))
        print(f"not ok - checkpatch --strict {p.name}\n{r.stdout}")
if a.man_pages:
    r = subprocess.run(["bash", a.man_pages], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if r.returncode == 0:
        passed += 1
        print("ok - man-pages: the unix(7) patch applies to its base and lints clean")
    else:
        failures.append("man-pages: " + (r.stdout.strip().splitlines() or ["no output"])[-1])
        print(f"not ok - man-pages: the unix(7) patch\n{r.stdout}")
print(f"checkpatch: {passed} clean, {len(failures)} not clean, of {len(patches)} patch(es)"
      + (" and the man-pages patch" if a.man_pages else ""))
harness.write_result(a.results, "checkpatch", passed, failures)
sys.exit(1 if failures else 0)
