#!/usr/bin/env python3
"""uapi/ must carry exactly the definitions the kernel series adds.

Every #define the series adds to include/uapi/ (and the SOL_UNIX level it
adds to include/linux/socket.h) must appear in uapi/ with the same value,
and uapi/ must define nothing the series does not.  Each definition is one
test in the results.
"""
import argparse
import pathlib
import re
import subprocess
import sys

import results

DEFINE = re.compile(r"^\+?\s*#define\s+([A-Z][A-Z0-9_]*)\s+(\S+)", re.M)

ap = argparse.ArgumentParser()
ap.add_argument("--tree", required=True)
ap.add_argument("--uapi", default="uapi")
ap.add_argument("--results")
a = ap.parse_args()

diff = subprocess.run(["git", "-C", a.tree, "diff", "puds-base", "HEAD", "--",
                       "include/uapi", "include/linux/socket.h"],
                      stdout=subprocess.PIPE, text=True, check=True).stdout
added = {m.group(1): m.group(2) for line in diff.splitlines()
         if line.startswith("+") and not line.startswith("+++")
         for m in [DEFINE.match(line)] if m}
ours = {}
for h in sorted(pathlib.Path(a.uapi).rglob("*.h")):
    for m in DEFINE.finditer(h.read_text()):
        if not m.group(1).startswith("_"):
            ours[m.group(1)] = m.group(2)

passed, failures = 0, []
for name in sorted(set(added) | set(ours)):
    want, got = added.get(name), ours.get(name)
    if want == got:
        passed += 1
        print(f"ok - uapi: {name} = {got}")
    else:
        msg = (f"uapi: {name}: the series defines {want}, uapi/ has {got}"
               if want and got else
               f"uapi: {name} is in the series but not in uapi/" if want else
               f"uapi: {name} is in uapi/ but the series does not define it")
        failures.append(msg)
        print(f"not ok - {msg}")
results.write(a.results, "uapi", passed, failures)
sys.exit(1 if failures else 0)
