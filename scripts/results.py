"""One step's result for scripts/summary.py: build/results/<step>.json.

    write(path, suite, passed, failures, skips=())   from Python
    python3 scripts/results.py PATH SUITE FAILURE     one failed step, from shell
"""
import json
import sys


def write(path, suite, passed, failures, skips=()):
    if not path:
        return
    with open(path, "w") as f:
        json.dump({"suite": suite, "passed": passed, "failed": len(failures),
                   "skipped": len(skips), "failures": list(failures),
                   "skips": list(skips)}, f)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: results.py PATH SUITE FAILURE")
    write(sys.argv[1], sys.argv[2], 0, [sys.argv[3]])
