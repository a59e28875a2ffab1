#!/usr/bin/env python3
"""struct unix_sock must keep the size it has upstream.

The series adds one pointer to struct unix_sock and promises that the
structure does not grow (a bigger object changes slab merging and costs
every AF_UNIX socket).  What the compiler sees decides, not a reading of
the header: a probe file is compiled with the exact command line Kbuild
used for net/unix/garbage.o (so with this kernel's config, compiler and
flags), once against the patched tree's include/net/af_unix.h and once
against the base's (git show puds-base:...), and the sizes and the offset
of the one field the series adds are read from the generated assembly,
the way asm-offsets does it.
"""
import argparse
import os
import pathlib
import re
import shlex
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "qemu"))
import harness  # noqa: E402  (qemu/harness.py: the results format)

PROBE = r"""
#include <net/af_unix.h>
#include <linux/stddef.h>
#define SHOW(name, val) asm volatile("\n.ascii \"->" #name " %0\"" : : "i" (val))
void puds_probe(void);
void puds_probe(void)
{
	SHOW(size, sizeof(struct unix_sock));
	SHOW(peer_wq, offsetof(struct unix_sock, peer_wq));
#ifdef PUDS_PATCHED
	SHOW(parked, offsetof(struct unix_sock, parked));
#endif
}
"""

ap = argparse.ArgumentParser()
ap.add_argument("--tree", required=True)
ap.add_argument("--kobj", required=True)
ap.add_argument("--results")
a = ap.parse_args()

kobj = pathlib.Path(a.kobj).resolve()
cmdfile = kobj / "net/unix/.garbage.o.cmd"
failures, passed = [], 0


def fail(msg):
    failures.append(msg)
    print(f"struct-size: FAIL: {msg}", file=sys.stderr)


def compile_probe(tmp, extra_include, defines):
    saved = re.search(r"^savedcmd_\S+ := (.*)$", cmdfile.read_text(), re.M).group(1)
    argv = shlex.split(saved.split(";")[0])
    # Drop the object and the source; keep every flag Kbuild used.
    out = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == "-o":
            skip = True
            continue
        if arg in ("-c",) or arg.endswith("garbage.c") or arg.startswith("-Wp,-MMD"):
            continue
        out.append(arg)
    if out[0] == "ccache":
        out = out[1:]
    src = pathlib.Path(tmp) / "probe.c"
    src.write_text(PROBE)
    asm = pathlib.Path(tmp) / f"probe{len(defines)}.s"
    cmd = [out[0]] + (["-I", extra_include] if extra_include else []) + defines + out[1:] + \
        ["-S", "-o", str(asm), str(src)]
    subprocess.run(cmd, cwd=kobj, check=True)
    return {m.group(1): int(m.group(2))
            for m in re.finditer(r'"->(\w+) \$?(\d+)"', asm.read_text())}


if not cmdfile.exists():
    fail(f"{cmdfile} is missing: build the kernel first")
else:
    with tempfile.TemporaryDirectory() as tmp:
        base_inc = pathlib.Path(tmp) / "base"
        (base_inc / "net").mkdir(parents=True)
        header = subprocess.run(["git", "-C", a.tree, "show", "puds-base:include/net/af_unix.h"],
                                stdout=subprocess.PIPE, text=True, check=True).stdout
        (base_inc / "net/af_unix.h").write_text(header)
        patched = compile_probe(tmp, None, ["-DPUDS_PATCHED"])
        base = compile_probe(tmp, str(base_inc), [])
    print(f"struct-size: struct unix_sock: {base['size']} bytes upstream, "
          f"{patched['size']} with the series (parked at {patched['parked']}, "
          f"peer_wq at {patched['peer_wq']})")
    if patched["size"] == base["size"]:
        passed += 1
    else:
        fail(f"struct unix_sock grows from {base['size']} to {patched['size']} bytes")
    if patched["peer_wq"] == base["peer_wq"]:
        passed += 1
    else:
        fail(f"peer_wq moves from {base['peer_wq']} to {patched['peer_wq']}")

harness.write_result(a.results, "struct-size", passed, failures)
sys.exit(1 if failures else 0)
