#!/usr/bin/env python3
"""make bench: the series' cost on paths of sockets that never set the option.

Boots the unpatched base kernel and the patched kernel alternately, ROUNDS
times each, runs selftests/bench/fastpath in each guest, and prints per
operation the fastest ns/op of each kernel and their ratio, measured side by
side in one run.  Under TCG the host's other work only adds time, so the
minimum is the least noisy estimate; absolute times mean little, and the
table shows the spread between rounds so that a reader can tell a cost from
noise.  Run it on an otherwise idle machine.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
RUN = os.path.join(HERE, "..", "qemu", "run.py")
LINE = re.compile(r"^BENCH (\S+) (\d+)", re.M)


def boot(kernel, initrd, timeout):
    with tempfile.TemporaryDirectory() as d:
        log = os.path.join(d, "console.log")
        p = subprocess.run([sys.executable, RUN, "--kernel", kernel, "--initrd", initrd,
                            "--timeout", str(timeout), "--quiet", "--log", log],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        text = open(log).read()
    if p.returncode != 0:
        sys.exit(f"bench: the guest run failed:\n{p.stdout}\n{text[-3000:]}")
    return {k: int(v) for k, v in LINE.findall(text)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True, help="bzImage of the unpatched tree")
    ap.add_argument("--patched", required=True, help="bzImage with the series")
    ap.add_argument("--initrd", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--report")
    a = ap.parse_args()
    runs = {"base": [], "patched": []}
    for r in range(a.rounds):
        for name, kernel in (("base", a.base), ("patched", a.patched)):
            res = boot(kernel, a.initrd, a.timeout)
            print(f"round {r + 1}/{a.rounds} {name:7}: " +
                  ", ".join(f"{k} {v} ns" for k, v in res.items()), flush=True)
            runs[name].append(res)
    ops = list(runs["base"][0])
    out = ["| operation | base ns/op (min) | patched ns/op (min) | patched/base | spread of rounds |",
           "| --- | ---: | ---: | ---: | ---: |"]
    for op in ops:
        b = [x[op] for x in runs["base"]]
        p = [x[op] for x in runs["patched"]]
        mb, mp = min(b), min(p)
        spread = max((max(v) - min(v)) / min(v) for v in (b, p))
        out.append(f"| {op} | {mb:.0f} | {mp:.0f} | {mp / mb:.3f} | {spread * 100:.1f}% |")
    text = "\n".join(out)
    print("\n" + text)
    if a.report:
        with open(a.report, "w") as f:
            f.write("# make bench: UNIX_DELAY_CLOSE fast-path cost\n\n"
                    f"{a.rounds} rounds, kernels booted alternately under QEMU TCG; "
                    "fastest of 7 runs inside each guest, fastest over rounds.\n\n" + text + "\n")


if __name__ == "__main__":
    main()
