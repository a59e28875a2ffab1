#!/usr/bin/env python3
"""userlib's host tests for make check: configure and build userlib/ with
CMake (warnings are errors), run its Catch2 tests through ctest, then run
the libFuzzer target of the parcel decoder for a bounded time (ASan, UBSan,
an fd-leak check of its own).  Each ctest case is one test in the results,
and so is the fuzz run.  These need no kernel feature: they run on the
host's unpatched kernel.

    userlib-tests.py [--results F] [--fuzz-seconds N]
"""
import argparse
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "qemu"))
import harness  # noqa: E402  (qemu/harness.py: the results format)

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(TOP, "userlib")
BUILD = os.path.join(TOP, "build", "userlib")
FUZZ_BUILD = os.path.join(TOP, "build", "userlib-fuzz")


def run(cmd, **kw):
    print("userlib: " + " ".join(cmd), flush=True)
    return subprocess.run(cmd, **kw)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results")
    ap.add_argument("--fuzz-seconds", type=int, default=15)
    a = ap.parse_args()
    passed, failures = 0, []

    jobs = str(os.cpu_count() or 2)
    if (run(["cmake", "-S", SRC, "-B", BUILD, "-DCMAKE_BUILD_TYPE=Debug", "-DPUDS_TESTS=ON"],
            stdout=subprocess.DEVNULL).returncode or
            run(["cmake", "--build", BUILD, "-j", jobs]).returncode):
        failures.append("userlib: the library or its tests do not build")
    else:
        junit = os.path.join(BUILD, "ctest.xml")
        run(["ctest", "--test-dir", BUILD, "--output-on-failure", "--output-junit", junit])
        for case in ET.parse(junit).getroot().iter("testcase"):
            if case.get("status") == "run":
                passed += 1
            else:
                failures.append(f"userlib: {case.get('name')}")

    env = dict(os.environ, CXX="clang++")
    fuzz = os.path.join(FUZZ_BUILD, "fuzz", "parcel_fuzz")
    corpus = os.path.join(FUZZ_BUILD, "corpus")
    if (run(["cmake", "-S", SRC, "-B", FUZZ_BUILD, "-DPUDS_FUZZ=ON", "-DPUDS_TESTS=OFF",
              "-DCMAKE_BUILD_TYPE=Debug"],
            env=env, stdout=subprocess.DEVNULL).returncode or
            run(["cmake", "--build", FUZZ_BUILD, "-j", jobs, "--target", "parcel_fuzz"]).returncode):
        failures.append("userlib: the parcel fuzzer does not build")
    else:
        os.makedirs(corpus, exist_ok=True)
        subprocess.run([fuzz], env=dict(os.environ, PUDS_FUZZ_SEEDS=corpus),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        r = run([fuzz, f"-max_total_time={a.fuzz_seconds}", "-print_final_stats=1",
                 f"-artifact_prefix={FUZZ_BUILD}/", corpus],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        stats = [l for l in r.stdout.splitlines() if l.startswith(("Done", "stat::number"))]
        print("\n".join(stats))
        if r.returncode:
            print(r.stdout[-4000:])
            failures.append(f"userlib: parcel_fuzz found a crash or a leak (artifact in {FUZZ_BUILD})")
        else:
            passed += 1
    print(f"\n== userlib: {passed} passed, {len(failures)} failed")
    for f in failures:
        print(f"   FAIL {f}")
    harness.write_result(a.results, "userlib", passed, failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
