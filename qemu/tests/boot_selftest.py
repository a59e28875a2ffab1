#!/usr/bin/env python3
"""Boot the real guest with injected faults and check that the runner fails.

Each case boots the test kernel with "puds.only=none" (no test programs) and
one puds.inject= fault from qemu/init; the runner (qemu/run.py) must exit
non-zero and name the fault.  The clean case must pass.  This is how `make
check` proves, every run, that a failing test, a panic, a hang and a kernel
splat in the guest cannot end green.
"""
import argparse
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
RUN = os.path.join(HERE, "..", "run.py")
sys.path.insert(0, os.path.join(HERE, ".."))
import harness  # noqa: E402  (the stored run, the results format)

# name, kernel command line, runner timeout (s), expected exit, text a failure must contain
CASES = [
    ("clean boot passes", "puds.only=none", 120, 0, None),
    ("failing test fails the run", "puds.only=none puds.inject=fail", 120, 1, "injected_failure"),
    ("kernel panic fails the run", "puds.only=none puds.inject=panic", 120, 1, "kernel panic"),
    ("hung guest times out and fails", "puds.only=none puds.inject=hang", 15, 1, "timed out"),
    ("console WARNING fails the run", "puds.only=none puds.inject=warn", 120, 1, "splat"),
]


def run_case(kernel, initrd, append, timeout):
    with tempfile.TemporaryDirectory() as d:
        p = subprocess.run([sys.executable, RUN, "--kernel", kernel, "--initrd", initrd,
                            "--append", append, "--timeout", str(timeout), "--quiet",
                            "--out", d],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        run = harness.load_run(d)
        return p.returncode, run.verdict, p.stdout, run.console()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--initrd", required=True)
    ap.add_argument("--results", required=True)
    a = ap.parse_args()
    passed, failures = 0, []
    for name, append, timeout, want_rc, want_text in CASES:
        rc, verdict, out, console = run_case(a.kernel, a.initrd, append, timeout)
        text = " | ".join(verdict.get("failures", []))
        ok = rc == want_rc and (want_text is None or want_text in text)
        print(f"{'ok' if ok else 'not ok'} - harness: {name} (runner exit {rc}; {text or 'no failure'})")
        if ok:
            passed += 1
        else:
            failures.append(f"harness: {name}: runner exit {rc}, wanted {want_rc}"
                            f"{', containing ' + repr(want_text) if want_text else ''}; got: {text}")
            sys.stdout.write(out + "\n--- console ---\n" + console[-3000:] + "\n")
    harness.write_result(a.results, "harness", passed, failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
