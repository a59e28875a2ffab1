#!/usr/bin/env python3
"""make bench: what the series costs, measured side by side in one run.

Every guest runs under QEMU's -icount shift=0: the guest clock counts
instructions, so the timings the programs print are instruction counts,
deterministic and free of the host's noise.

1. Fast path, for sockets that never set the option: selftests/bench/fastpath
   on the unpatched base kernel and on the patched one, each booted normally
   and with slab_nomerge, instructions per operation and their ratio.
2. Adoption (patched kernel only, selftests/bench/adopt): bind-and-reclaim
   of 1, 16 and 253 fds against a plain bind plus recvmsg of the same fds
   from a live socket, adoption with 1, 100 and 10,000 other queues parked,
   and the slab bytes per parked queue.

Why two boot modes: the guest's tinyconfig kernel uses SLUB_TINY with slab
merging, and struct unix_sock growing from 1072 to 1088 bytes changes which
cache the AF_UNIX socket cache merges with, which costs every socket's
allocation and free about 550 instructions that have nothing to do with
the series' code.  slab_nomerge shows the series' own cost.
"""
import argparse
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
RUN = os.path.join(HERE, "..", "qemu", "run.py")
sys.path.insert(0, os.path.join(HERE, "..", "qemu"))
import harness  # noqa: E402  (qemu/harness.py: the stored run)


def boot(kernel, initrd, timeout, append=""):
    """One guest run under -icount: every timing inside counts instructions."""
    with tempfile.TemporaryDirectory() as d:
        p = subprocess.run([sys.executable, RUN, "--kernel", kernel, "--initrd", initrd,
                            "--timeout", str(timeout), "--quiet", "--icount", "--out", d,
                            "--append", append],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        run = harness.load_run(d)
        if p.returncode != 0:
            sys.exit(f"bench: the guest run failed:\n{p.stdout}\n{run.console()[-3000:]}")
        # Each program prints its figures as "# bench: <name> <integer>".
        return harness.keyed([line for name in run.names for line in run.output(name)], "bench")


MODES = [("", "default boot"),
         ("slab_nomerge", "slab_nomerge: every slab cache its own")]


def fast_path(a):
    """Instructions per operation, base and patched, per boot mode."""
    res = {}
    for append, _ in MODES:
        for name, kernel in (("base", a.base), ("patched", a.patched)):
            runs = [boot(kernel, a.initrd, a.timeout, append) for _ in range(a.rounds)]
            res[append, name] = {k: min(r[k] for r in runs) for k in runs[0]}
            spread = max((max(r[k] for r in runs) - res[append, name][k]) / res[append, name][k]
                         for k in runs[0])
            print(f"{name:7} {append or 'default':12}: " +
                  ", ".join(f"{k} {v}" for k, v in res[append, name].items()) +
                  f" (spread over {a.rounds} boots {spread * 100:.2f}%)", flush=True)
    ops = list(res["", "base"])
    head = "| operation |"
    rule = "| --- |"
    for _, label in MODES:
        head += f" base | patched | patched/base ({label.split(':')[0]}) |"
        rule += " ---: | ---: | ---: |"
    out = [head, rule]
    for op in ops:
        row = f"| {op} |"
        for append, _ in MODES:
            b, p = res[append, "base"][op], res[append, "patched"][op]
            row += f" {b} | {p} | {p / b:.3f} |"
        out.append(row)
    worst = max(res["slab_nomerge", "patched"][op] / res["slab_nomerge", "base"][op]
                for op in ops)
    worst_default = max(res["", "patched"][op] / res["", "base"][op] for op in ops)
    out += ["", f"Worst ratio: {worst_default:.3f} with the default boot, {worst:.3f} with "
            f"slab_nomerge ({'within' if worst <= 1.02 else 'above'} the 1.02 goal)."]
    return "\n".join(out)


def adoption(a):
    runs = [boot(a.patched, a.adopt_initrd, a.timeout) for _ in range(a.rounds)]
    best = {k: min(x[k] for x in runs) for k in runs[0]}
    print("adopt  : " + ", ".join(f"{k} {v}" for k, v in best.items()), flush=True)
    out = ["| fds | adopt (instructions) | live bind + recvmsg (instructions) | adopt/live |",
           "| ---: | ---: | ---: | ---: |"]
    for n in (1, 16, 253):
        ad, lv = best[f"adopt_{n}"], best[f"live_{n}"]
        out.append(f"| {n} | {ad} | {lv} | {ad / lv:.3f} |")
    out += ["", "| other queues parked | adopt_1 (instructions) | ratio to 1 parked |",
            "| ---: | ---: | ---: |"]
    one = best["adopt_1_parked_1"]
    for k in (1, 100, 10000):
        v = best[f"adopt_1_parked_{k}"]
        out.append(f"| {k} | {v} | {v / one:.3f} |")
    flat = best["adopt_1_parked_10000"] / one
    out += ["", f"Adoption with 10,000 queues parked / with 1: {flat:.3f} "
            f"({'flat: within 1.2' if flat <= 1.2 else 'NOT flat: above 1.2'}).", "",
            "| kernel memory (slab, /proc/meminfo) | bytes |", "| --- | ---: |",
            f"| per parked empty queue, its path's inode and dentry included | "
            f"{best['mem_per_parked_queue']} |",
            f"| per live bound datagram socket, for comparison | "
            f"{best['mem_per_live_socket']} |"]
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", required=True, help="bzImage of the unpatched tree")
    ap.add_argument("--patched", required=True, help="bzImage with the series")
    ap.add_argument("--initrd", required=True, help="initramfs running selftests/bench/fastpath")
    ap.add_argument("--adopt-initrd", help="initramfs running selftests/bench/adopt")
    ap.add_argument("--rounds", type=int, default=1,
                    help="boots per kernel and mode (instruction counts barely vary)")
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--report")
    a = ap.parse_args()
    fast = fast_path(a)
    print("\n" + fast)
    adopt = adoption(a) if a.adopt_initrd else ""
    if adopt:
        print("\n" + adopt)
    if a.report:
        with open(a.report, "w") as f:
            f.write("# make bench: what UNIX_DELAY_CLOSE costs\n\n"
                    "Measured in instructions, not time: QEMU runs the guests with "
                    "`-icount shift=0`, so the guest's clock advances one nanosecond per "
                    "instruction executed and every \"ns\" the programs print is an instruction "
                    "count, free of the host's noise (wall-clock TCG timings of the same ops "
                    "varied by 5-50% between boots).\n\n## Fast path: sockets that never set "
                    "the option\n\n" + fast + "\n" +
                    ("\n## Adoption (patched kernel)\n\nThe parking before each adoption is "
                     "not timed.\n\n" + adopt + "\n" if adopt else ""))


if __name__ == "__main__":
    main()
