#!/usr/bin/env python3
"""make bench: what the series costs, measured side by side in one run.

1. Fast path, for sockets that never set the option: boots the unpatched
   base kernel and the patched kernel alternately, ROUNDS times each, runs
   selftests/bench/fastpath in each guest, and prints per operation the
   fastest ns/op of each kernel and their ratio.
2. Adoption (patched kernel only, selftests/bench/adopt, booted ROUNDS
   times): bind-and-reclaim of 1, 16 and 253 fds against a plain bind plus
   recvmsg of the same fds from a live socket, adoption with 1, 100 and
   10,000 other queues parked, and the slab bytes per parked queue.  Under TCG the host's other work only adds time, so the
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
LINE = re.compile(r"^(?:BENCH|MEM) (\S+) (-?\d+)", re.M)


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
    ap.add_argument("--adopt-initrd", help="initramfs running selftests/bench/adopt")
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
    adopt = adoption(a) if a.adopt_initrd else ""
    if a.report:
        with open(a.report, "w") as f:
            f.write("# make bench: UNIX_DELAY_CLOSE costs\n\n## Fast path\n\n"
                    f"{a.rounds} rounds, kernels booted alternately under QEMU TCG; "
                    "fastest of 7 runs inside each guest, fastest over rounds.\n\n" + text +
                    "\n" + adopt)


def adoption(a):
    runs = []
    for r in range(a.rounds):
        res = boot(a.patched, a.adopt_initrd, a.timeout)
        print(f"round {r + 1}/{a.rounds} adopt  : " +
              ", ".join(f"{k} {v}" for k, v in res.items()), flush=True)
        runs.append(res)
    best = {k: min(x[k] for x in runs) for k in runs[0]}
    spread = {k: (max(x[k] for x in runs) - best[k]) / best[k] if best[k] > 0 else 0
              for k in runs[0]}
    out = ["| fds | adopt ns/op (min) | live bind + recvmsg ns/op (min) | adopt/live | spread |",
           "| ---: | ---: | ---: | ---: | ---: |"]
    for n in (1, 16, 253):
        ad, lv = best[f"adopt_{n}"], best[f"live_{n}"]
        sp = max(spread[f"adopt_{n}"], spread[f"live_{n}"])
        out.append(f"| {n} | {ad} | {lv} | {ad / lv:.3f} | {sp * 100:.1f}% |")
    out += ["", "| other queues parked | adopt_1 ns/op (min) | ratio to 1 parked | spread |",
            "| ---: | ---: | ---: | ---: |"]
    one = best["adopt_1_parked_1"]
    for k in (1, 100, 10000):
        v = best[f"adopt_1_parked_{k}"]
        out.append(f"| {k} | {v} | {v / one:.3f} | {spread[f'adopt_1_parked_{k}'] * 100:.1f}% |")
    flat = best["adopt_1_parked_10000"] / one
    out += ["", f"Adoption with 10,000 queues parked / with 1: {flat:.3f} "
            f"({'flat: within 1.2' if flat <= 1.2 else 'NOT flat: above 1.2'}).", "",
            "| kernel memory (slab, /proc/meminfo) | bytes |", "| --- | ---: |",
            f"| per parked empty queue, its path's inode and dentry included | "
            f"{min(x['mem_per_parked_queue'] for x in runs)} |",
            f"| per live bound datagram socket, for comparison | "
            f"{min(x['mem_per_live_socket'] for x in runs)} |"]
    text = "\n".join(out)
    print("\n" + text)
    return ("\n## Adoption (patched kernel)\n\n"
            f"{a.rounds} boots; fastest of 5 runs of 200 adoptions inside each guest, fastest "
            "over boots; the parking before each adoption is not timed.\n\n" + text + "\n")


if __name__ == "__main__":
    main()
