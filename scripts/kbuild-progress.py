#!/usr/bin/env python3
"""Throttle a kernel build's output to one progress line every few seconds.

    make ... 2>&1 | kbuild-progress.py NAME COUNT_FILE

Reads kbuild's short lines ("  CC      net/unix/af_unix.o") from stdin and
prints "NAME: 1234 of ~2900 steps (42%), 95 s" at most every 15 s, and once
at the end.  Every other line (a warning, an error, a message of a script)
passes through at once.  The total is the count of the last complete build,
kept in COUNT_FILE; a first build says "of ?".  An incremental build that
has nothing to do prints nothing.
"""
import re
import sys
import time

STEP = re.compile(r"^  [A-Z][A-Z0-9_\[\] -]{1,9} +\S")
NOISE = re.compile(r"^make(\[\d+\])?: (Entering|Leaving) directory")


def main(argv):
    if len(argv) != 2:
        print("usage: kbuild-progress.py NAME COUNT_FILE", file=sys.stderr)
        return 2
    name, count_file = argv
    try:
        total = int(open(count_file).read())
    except (OSError, ValueError):
        total = 0
    start = last = time.monotonic()
    steps = 0

    def show():
        of = f"of ~{total} ({min(99, 100 * steps // total)}%)" if total else "of ?"
        print(f"{name}: {steps} steps {of}, {time.monotonic() - start:.0f} s", flush=True)

    for line in sys.stdin:
        if STEP.match(line):
            steps += 1
            if time.monotonic() - last >= 15:
                last = time.monotonic()
                show()
        elif not NOISE.match(line):
            sys.stdout.write(line)
            sys.stdout.flush()
    # A build that had little to do (relinking the image) says nothing.
    if steps >= 50 or last != start:
        show()
        # Only a build from scratch (or nearly: hundreds of steps) sets
        # the total; an incremental one says nothing about it.
        if steps > max(total, 500):
            with open(count_file, "w") as f:
                f.write(f"{steps}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
