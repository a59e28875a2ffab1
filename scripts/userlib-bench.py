#!/usr/bin/env python3
"""make bench, host part: userlib's fd passing against a hand-written
sendmsg/recvmsg loop (userlib/bench/fd_bench.cpp, Google Benchmark), in
one run; prints library/raw per number of fds.  The goal: at most 1.10 at
16 fds and above."""
import json
import os
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(TOP, "build", "userlib-bench")


def main():
    for cmd in (["cmake", "-S", os.path.join(TOP, "userlib"), "-B", BUILD, "-DPUDS_BENCH=ON",
                 "-DPUDS_TESTS=OFF", "-DCMAKE_BUILD_TYPE=Release"],
                ["cmake", "--build", BUILD, "-j", str(os.cpu_count() or 2), "--target", "fd_bench"]):
        if subprocess.run(cmd, stdout=subprocess.DEVNULL).returncode:
            sys.exit("userlib-bench: build failed: " + " ".join(cmd))
    out = subprocess.run([os.path.join(BUILD, "fd_bench"), "--benchmark_format=json",
                          "--benchmark_repetitions=12", "--benchmark_min_time=0.1",
                          "--benchmark_enable_random_interleaving=true"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, check=True)
    best = {}
    for b in json.loads(out.stdout)["benchmarks"]:
        if b.get("run_type") != "iteration":
            continue
        name, n = b["run_name"].split("/")
        best[name, int(n)] = min(best.get((name, int(n)), float("inf")), b["real_time"])
    lines = ["| fds | raw sendmsg/recvmsg ns | library (parcel) ns | library/raw |",
             "| ---: | ---: | ---: | ---: |"]
    worst = 0.0
    for n in (1, 16, 253, 1000):
        r, l = best["BM_raw", n], best["BM_library", n]
        if n >= 16:
            worst = max(worst, l / r)
        lines.append(f"| {n} | {r:.0f} | {l:.0f} | {l / r:.3f} |")
    lines += ["", f"Worst library/raw at 16 fds and above: {worst:.3f} "
              f"({'within' if worst <= 1.10 else 'ABOVE'} the 1.10 goal); fastest of 12 "
              "repetitions each, raw and library repetitions interleaved at random "
              "(so that drift of the host hits both), host CPU."]
    text = "\n".join(lines)
    print("\n## userlib fd passing (host)\n\n" + text)
    report = os.path.join(TOP, "build", "bench", "report.md")
    if os.path.exists(report):
        with open(report, "a") as f:
            f.write("\n## userlib fd passing (host)\n\n" + text + "\n")


if __name__ == "__main__":
    main()
