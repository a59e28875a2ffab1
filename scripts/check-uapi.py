#!/usr/bin/env python3
"""uapi/ must carry exactly the definitions the kernel series adds.

Every #define, enumerator and struct the series adds to include/uapi/ (and
the SOL_UNIX level it adds to include/linux/socket.h) must appear in uapi/
with the same value (enumerators: the value they get in the patched header,
counted from the enum's start) or the same fields, and uapi/ must define
nothing the series does not.  Each definition is one test in the results.
"""
import argparse
import os
import pathlib
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "qemu"))
import harness  # noqa: E402  (qemu/harness.py: the results format)

DEFINE = re.compile(r"^\+?\s*#define\s+([A-Z][A-Z0-9_]*)\s+(\S+)", re.M)

ap = argparse.ArgumentParser()
ap.add_argument("--tree", required=True)
ap.add_argument("--uapi", default="uapi")
ap.add_argument("--results")
a = ap.parse_args()

diff = subprocess.run(["git", "-C", a.tree, "diff", "puds-base", "HEAD", "--",
                       "include/uapi", "include/linux/socket.h"],
                      stdout=subprocess.PIPE, text=True, check=True).stdout
plus = [line[1:] for line in diff.splitlines()
        if line.startswith("+") and not line.startswith("+++")]
added = {m.group(1): m.group(2) for line in plus
         for m in [DEFINE.match("+" + line)] if m}


def strip_comments(text):
    return re.sub(r"/\*.*?\*/|//[^\n]*", "", text, flags=re.S)


def enumerators(text):
    """{name: value} of every enumerator in @text, values counted as C does."""
    out = {}
    for body in re.findall(r"\benum\b[^{;]*\{(.*?)\}", strip_comments(text), re.S):
        value = -1
        for item in body.split(","):
            item = item.strip()
            if not item:
                continue
            name, _, expr = item.partition("=")
            value = int(expr.strip(), 0) if expr.strip() else value + 1
            out[name.strip()] = str(value)
    return out


def structs(text):
    """{"struct name": "type field; ..."} of every struct defined in @text."""
    out = {}
    for name, body in re.findall(r"\bstruct\s+(\w+)\s*\{(.*?)\}\s*;",
                                 strip_comments(text), re.S):
        fields = [" ".join(f.split()) for f in body.split(";") if f.strip()]
        out["struct " + name] = "; ".join(fields)
    return out


# Enumerators and structs the series adds, with what the patched header says.
files = subprocess.run(["git", "-C", a.tree, "diff", "--name-only", "puds-base", "HEAD",
                        "--", "include/uapi"],
                       stdout=subprocess.PIPE, text=True, check=True).stdout.split()
new_enum = {m.group(1) for line in plus
            for m in [re.match(r"\s*([A-Z][A-Z0-9_]*)\s*(=[^,]*)?,", line)] if m}
new_struct = {"struct " + m.group(1) for line in plus
              for m in [re.match(r"struct\s+(\w+)\s*\{", line)] if m}
for f in files:
    text = subprocess.run(["git", "-C", a.tree, "show", f"HEAD:{f}"],
                          stdout=subprocess.PIPE, text=True, check=True).stdout
    added.update({k: v for k, v in enumerators(text).items() if k in new_enum})
    added.update({k: v for k, v in structs(text).items() if k in new_struct})

ours = {}
for h in sorted(pathlib.Path(a.uapi).rglob("*.h")):
    text = h.read_text()
    for m in DEFINE.finditer(text):
        if not m.group(1).startswith("_"):
            ours[m.group(1)] = m.group(2)
    ours.update(enumerators(text))
    ours.update(structs(text))

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
harness.write_result(a.results, "uapi", passed, failures)
sys.exit(1 if failures else 0)
