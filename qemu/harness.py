"""The harness's data, in one place.

Every format the build and boot harness writes or reads is defined here and
parsed nowhere else:

1. **Step results** (`write_result`, `read_results`, `summary`): one JSON
   per step of `make check` under build/results/, which `summary` adds up
   into the closing line "N passed, N failed".
2. **The test channel** (`parse_channel`): the guest's second serial port
   (ttyS1), on which qemu/init frames each program's output.  Kernel
   messages go to the first port (ttyS0, the console), so they never
   interleave with a program's output.  The framing:

       PUDS-GUEST-START kernel=<release> cmdline=<the guest's /proc/cmdline>
       PUDS-TEST-BEGIN <name> timeout=<s>
       ...the program's output...
       PUDS-TEST-END <name> rc=<exit status>
       PUDS-GUEST-DONE tests=<n>

   Exit status 4 means the program skipped, 124 that its timeout killed it
   (kselftest's runner reads them the same way).
3. **TAP and kselftest's Totals line** (`parse_tap`).
4. **Keyed lines** (`keyed`): what a program prints for a script to read,
   `# <prefix>: <key> <integer>`, e.g. `# stress: leaks 0`.  Scripts read
   these, never the wording of a message.
5. **Kernel splats** on the console (`find_splats`).
6. **A stored run** (`store_run`, `load_run`): qemu/run.py writes each
   program's output to <out>/programs/<name>.out and the verdict to
   <out>/run.json; the report writers (scripts/debug-report.py,
   scripts/eval_report.py, scripts/bench.py) and qemu/tests/boot_selftest.py
   read those, and none of them parses the console again.

Run as a program: `harness.py summary DIR` prints the closing line of the
results in DIR; `harness.py fail FILE SUITE MESSAGE` records a step that
failed as one failure.
"""
import json
import os
import pathlib
import re
import sys
from dataclasses import asdict, dataclass, field

# --- 1. step results ----------------------------------------------------------

def write_result(path, suite, passed, failures, skips=(), failed=None, skipped=None):
    """build/results/<step>.json: counts, and every failure and skip by name.
    @failed and @skipped default to the lengths of the lists (a kselftest
    Totals line may count cases that printed no line of their own)."""
    if not path:
        return
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    data = {"suite": suite, "passed": passed,
            "failed": len(failures) if failed is None else failed,
            "skipped": len(skips) if skipped is None else skipped,
            "failures": list(failures), "skips": list(skips)}
    with open(path, "w") as f:
        json.dump(data, f, indent=1)


def read_results(directory):
    return [json.loads(p.read_text()) for p in sorted(pathlib.Path(directory).glob("*.json"))]


def summary(directory, out=sys.stdout):
    """Print every step's counts and failures, then "N passed, N failed".
    Returns the exit status: 1 when anything failed or no step reported."""
    results = read_results(directory)
    passed = sum(r["passed"] for r in results)
    failed = sum(r["failed"] for r in results)
    skipped = sum(r.get("skipped", 0) for r in results)
    print("\n== summary", file=out)
    for r in results:
        print(f"   {r['suite']:<24} {r['passed']:>4} passed {r['failed']:>4} failed"
              f" {r.get('skipped', 0):>4} skipped", file=out)
        for f in r.get("failures", []):
            print(f"      FAIL {f}", file=out)
    if not results:
        failed = 1
        print("      FAIL no step reported a result", file=out)
    print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""),
          file=out)
    return 1 if failed else 0


# --- 2. the test channel --------------------------------------------------------

START_RE = re.compile(r"PUDS-GUEST-START kernel=(\S*)(?: cmdline=(.*))?$")
BEGIN_RE = re.compile(r"PUDS-TEST-BEGIN (\S+) timeout=(\d+)")
END_RE = re.compile(r"PUDS-TEST-END (\S+) rc=(\d+)")
DONE_RE = re.compile(r"PUDS-GUEST-DONE tests=(\d+)")
RC_SKIP = 4        # kselftest's KSFT_SKIP
RC_TIMEOUT = 124   # kselftest's runner (and timeout(1)): killed by its timeout


@dataclass
class Program:
    name: str
    timeout: int = 0
    rc: int | None = None       # None: no END marker (the guest died or hung)
    output: list = field(default_factory=list)
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    failures: list = field(default_factory=list)
    skips: list = field(default_factory=list)


@dataclass
class Channel:
    kernel: str = ""
    cmdline: str = ""
    started: bool = False
    done: bool = False
    programs: list = field(default_factory=list)


def parse_channel(text):
    """Split the test channel into programs, each with its output lines."""
    ch = Channel()
    cur = None
    for raw in text.splitlines():
        line = raw.rstrip("\r")
        m = BEGIN_RE.match(line)
        if m:
            cur = Program(m.group(1), int(m.group(2)))
            ch.programs.append(cur)
            continue
        m = END_RE.match(line)
        if m and cur is not None and m.group(1) == cur.name:
            cur.rc = int(m.group(2))
            cur = None
            continue
        m = START_RE.match(line)
        if m:
            ch.started, ch.kernel, ch.cmdline = True, m.group(1), (m.group(2) or "").strip()
            continue
        if DONE_RE.match(line):
            ch.done = True
            cur = None
            continue
        if cur is not None:
            cur.output.append(line)
    for p in ch.programs:
        judge_program(p)
    return ch


# --- 3. TAP -------------------------------------------------------------------

TOTALS_RE = re.compile(
    r"^# Totals: pass:(\d+) fail:(\d+) xfail:(\d+) xpass:(\d+) skip:(\d+) error:(\d+)")
TAP_RE = re.compile(r"^(not ok|ok) \d+ (.*?)(?:\s+#\s*(SKIP|TODO)\b.*)?$", re.I)


@dataclass
class Tap:
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    failures: list = field(default_factory=list)   # descriptions of failing cases
    skips: list = field(default_factory=list)      # descriptions of skipped cases
    totals: bool = False                           # a kselftest Totals line was seen


def parse_tap(lines):
    """Counts of a TAP/KTAP stream.  kselftest's Totals line, when present,
    is authoritative over the per-case lines (a harness program prints its
    subtests' lines as well)."""
    t = Tap()
    for line in lines:
        m = TOTALS_RE.match(line)
        if m:
            p, f, xf, xp, s, e = map(int, m.groups())
            t.passed, t.failed, t.skipped = p + xf, f + xp + e, s
            t.totals = True
            continue
        m = TAP_RE.match(line)
        if not m:
            continue
        status, desc, directive = m.group(1).lower(), m.group(2).strip(), m.group(3)
        if directive and directive.upper() == "SKIP":
            t.skips.append(desc)
            if not t.totals:
                t.skipped += 1
        elif status == "not ok":
            t.failures.append(desc)
            if not t.totals:
                t.failed += 1
        elif not t.totals:
            t.passed += 1
    return t


def judge_program(p):
    """A program's counts: its TAP cases, and its exit status."""
    t = parse_tap(p.output)
    p.passed, p.failed, p.skipped = t.passed, t.failed, t.skipped
    p.failures = [f"{p.name}: {d}" for d in t.failures]
    p.skips = [f"{p.name}: {d}" for d in t.skips]
    cases = p.passed + p.failed + p.skipped
    if p.rc is None:
        p.failed += 1
        p.failures.append(f"{p.name}: did not finish (no END marker: the guest died or hung)")
    elif p.rc == RC_TIMEOUT:
        p.failed += 1
        p.failures.append(f"{p.name}: killed by its timeout ({p.timeout} s)")
    elif p.rc == RC_SKIP and not cases:
        p.skipped += 1
        p.skips.append(f"{p.name}: (whole program, exit status 4)")
    elif p.rc != 0 and p.failed == 0 and p.rc != RC_SKIP:
        # A failing exit status with no failing case is still a failure: a
        # crash after the last case, or a setup error before the first one.
        p.failed += 1
        p.failures.append(f"{p.name}: exit status {p.rc} with no failing case reported")
    if p.passed + p.failed + p.skipped == 0:
        # Not a TAP producer: its exit status is its one result.
        p.passed = 1


# --- 4. keyed lines -------------------------------------------------------------

def keyed(lines, prefix):
    """{key: int} of the lines "# <prefix>: <key> <integer>"; the last wins."""
    rx = re.compile(r"^# " + re.escape(prefix) + r": (\w+) (-?\d+)$")
    out = {}
    for line in lines:
        m = rx.match(line)
        if m:
            out[m.group(1)] = int(m.group(2))
    return out


# --- 5. kernel splats -------------------------------------------------------------

# A kernel message: "[   12.345678] ..." (CONFIG_PRINTK_TIME).
KMSG_RE = re.compile(r"\[\s*\d+\.\d{6}\]\s")
SPLAT_PATTERNS = [
    r"BUG:", r"WARNING:", r"Oops", r"Kernel panic", r"kernel BUG at",
    r"general protection fault", r"KASAN:", r"UBSAN:", r"KFENCE:",
    r"Call Trace:", r"unreferenced object", r"kmemleak:.*leak",
    r"possible circular locking dependency", r"possible recursive locking",
    r"inconsistent lock state", r"suspicious RCU usage",
    r"INFO: task .* blocked for more than", r"soft lockup", r"hard LOCKUP",
    r"rcu: INFO: .* stall", r"refcount_t:", r"list_(add|del) corruption",
    r"ODEBUG:", r"DEBUG_LOCKS_WARN_ON", r"Unable to handle kernel",
]
SPLAT_RE = re.compile(KMSG_RE.pattern + r".*?(" + "|".join(SPLAT_PATTERNS) + ")")


def find_splats(console):
    return [line.strip() for line in console.splitlines() if SPLAT_RE.search(line)]


def splat_block(console, first):
    """The kernel messages from the splat line @first to the end of its trace."""
    lines = console.splitlines()
    try:
        start = next(i for i, l in enumerate(lines) if l.strip() == first.strip())
    except StopIteration:
        return first
    for j in range(start, max(start - 3, -1), -1):
        if "cut here" in lines[j]:
            start = j
            break
    block = []
    for line in lines[start:start + 200]:
        if not KMSG_RE.match(line):
            continue
        block.append(line)
        if "end trace" in line or "Kernel Offset" in line or "end Kernel panic" in line:
            break
    return "\n".join(block)


# --- 6. a stored run ----------------------------------------------------------------

def program_file(name):
    """programs/<name>.out, the program's path with '/' kept as directories."""
    return os.path.join("programs", *name.split("/")) + ".out"


def store_run(out, verdict):
    """Write @verdict (a dict: counts, failures, programs with their output)
    to @out/run.json and each program's output to @out/programs/."""
    os.makedirs(out, exist_ok=True)
    programs = []
    for p in verdict.get("programs", []):
        path = os.path.join(out, program_file(p["name"]))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write("".join(l + "\n" for l in p["output"]))
        programs.append({k: v for k, v in p.items() if k != "output"})
    with open(os.path.join(out, "run.json"), "w") as f:
        json.dump(dict(verdict, programs=programs), f, indent=1)


@dataclass
class Run:
    """A stored run: the verdict (run.json) and each program's output."""
    out: str
    verdict: dict

    def output(self, name):
        """The output lines of program @name ([] if it did not run)."""
        try:
            with open(os.path.join(self.out, program_file(name)), encoding="utf-8",
                      errors="replace") as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def ran(self, name):
        return any(p["name"] == name for p in self.verdict.get("programs", []))

    def console(self):
        path = os.path.join(self.out, "console.log")
        return open(path, encoding="utf-8", errors="replace").read() \
            if os.path.exists(path) else ""

    @property
    def names(self):
        return [p["name"] for p in self.verdict.get("programs", [])]


def load_run(out):
    try:
        with open(os.path.join(out, "run.json")) as f:
            verdict = json.load(f)
    except (OSError, ValueError):
        verdict = {"passed": 0, "failed": 1, "failures": [f"no verdict in {out}/run.json"],
                   "splats": [], "programs": []}
    return Run(out, verdict)


def main(argv):
    if len(argv) == 2 and argv[0] == "summary":
        return summary(argv[1])
    if len(argv) == 4 and argv[0] == "fail":
        write_result(argv[1], argv[2], 0, [argv[3]])
        return 0
    print("usage: harness.py summary DIR | harness.py fail FILE SUITE MESSAGE", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
