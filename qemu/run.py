#!/usr/bin/env python3
"""Boot the puds test kernel in QEMU, stream its console, judge the run.

The guest's init (qemu/init) runs the test programs and frames their output
with PUDS-TEST-BEGIN/END markers, prints PUDS-GUEST-DONE and writes 0 to the
isa-debug-exit port, which ends QEMU with status 1.  A panic with panic=-1
and -no-reboot ends QEMU with status 0, like a plain reboot: that is why the
run only counts as finished with both the sentinel line and status 1.

The verdict (exit status 0 only if every check holds):
  - every test program ran to its END marker and its cases passed;
  - the guest reached PUDS-GUEST-DONE and left through isa-debug-exit;
  - the console shows no kernel splat (BUG, WARNING, Oops, KASAN, lockdep...);
  - the whole run ended before --timeout.
Counts go to --results as JSON for scripts/summary.py.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field, asdict

# A kernel message: "[   12.345678] ..." (CONFIG_PRINTK_TIME), possibly in
# the middle of a line that a test program was writing at the same time.
KMSG = r"\[\s*\d+\.\d{6}\]\s"
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
SPLAT_RE = re.compile(KMSG + r".*?(" + "|".join(SPLAT_PATTERNS) + ")")
TOTALS_RE = re.compile(
    r"^# Totals: pass:(\d+) fail:(\d+) xfail:(\d+) xpass:(\d+) skip:(\d+) error:(\d+)")
TAP_RE = re.compile(r"^(not ok|ok) \d+ (.*?)(?:\s+#\s*(SKIP|TODO)\b.*)?$", re.I)
BEGIN_RE = re.compile(r"PUDS-TEST-BEGIN (\S+)")
END_RE = re.compile(r"PUDS-TEST-END (\S+) rc=(\d+)")
DONE_RE = re.compile(r"PUDS-GUEST-DONE tests=(\d+)")

GUEST_FINISHED = 1  # QEMU status after guest-exit 0: (0 << 1) | 1


@dataclass
class Program:
    name: str
    rc: int | None = None
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    failures: list = field(default_factory=list)
    skips: list = field(default_factory=list)
    totals: bool = False
    lines: int = 0


@dataclass
class Verdict:
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    failures: list = field(default_factory=list)
    skips: list = field(default_factory=list)
    programs: list = field(default_factory=list)
    splats: list = field(default_factory=list)
    done: bool = False

    @property
    def ok(self) -> bool:
        return self.failed == 0


def _judge_program(p: Program) -> None:
    """Turn a program's collected TAP results and exit status into counts."""
    if p.rc is None:
        p.failed += 1
        p.failures.append(f"{p.name}: did not finish (no END marker: guest died or hung)")
        return
    if p.rc == 137:
        p.failed += 1
        p.failures.append(f"{p.name}: killed by its timeout")
    elif p.rc != 0 and p.failed == 0:
        # A failing exit status with no failing case is still a failure: a
        # crash after the last case, or a setup error before the first one.
        p.failed += 1
        p.failures.append(f"{p.name}: exit status {p.rc} with no failing case reported")
    if p.passed + p.failed + p.skipped == 0:
        # Not a TAP producer: its exit status is its one result.
        p.passed = 1


def parse_console(text: str) -> Verdict:
    v = Verdict()
    cur: Program | None = None
    for raw in text.splitlines():
        line = raw.rstrip("\r")
        m = SPLAT_RE.search(line)
        if m:
            v.splats.append(line.strip())
        m = BEGIN_RE.search(line)
        if m:
            if cur is not None:
                _judge_program(cur)
                v.programs.append(cur)
            cur = Program(m.group(1))
            continue
        m = END_RE.search(line)
        if m and cur is not None and m.group(1) == cur.name:
            cur.rc = int(m.group(2))
            _judge_program(cur)
            v.programs.append(cur)
            cur = None
            continue
        m = DONE_RE.search(line)
        if m:
            v.done = True
            continue
        if cur is None:
            continue
        cur.lines += 1
        m = TOTALS_RE.match(line)
        if m:
            p, f, xf, xp, s, e = map(int, m.groups())
            # The Totals line is authoritative over the per-case lines.
            cur.passed, cur.failed, cur.skipped = p + xf, f + xp + e, s
            cur.totals = True
            continue
        m = TAP_RE.match(line)
        if m and not cur.totals:
            status, desc, directive = m.group(1).lower(), m.group(2).strip(), m.group(3)
            if directive and directive.upper() == "SKIP":
                cur.skipped += 1
                cur.skips.append(f"{cur.name}: {desc}")
            elif status == "ok":
                cur.passed += 1
            else:
                cur.failed += 1
                cur.failures.append(f"{cur.name}: {desc}")
        elif m and m.group(1).lower() == "not ok":
            cur.failures.append(f"{cur.name}: {m.group(2).strip()}")
        elif m and m.group(3) and m.group(3).upper() == "SKIP":
            cur.skips.append(f"{cur.name}: {m.group(2).strip()}")
    if cur is not None:
        _judge_program(cur)
        v.programs.append(cur)
    for p in v.programs:
        v.passed += p.passed
        v.failed += p.failed
        v.skipped += p.skipped
        v.failures += p.failures
        v.skips += p.skips
    return v


def judge_run(v: Verdict, qemu_status: int | None, timed_out: bool,
              timeout: float, expected_programs: list[str] | None,
              allowed_skips: set[str] = frozenset()) -> Verdict:
    """Add the whole-run checks (boot, exit path, splats, timeout, skips)."""
    def fail(msg):
        v.failed += 1
        v.failures.append(msg)

    # A skipped case is a check that did not run: it fails the run unless it
    # is listed, with its reason, in selftests/guest-skips.
    for p in v.programs:
        allowed = [s for s in p.skips if s in allowed_skips]
        if p.skipped > len(allowed):
            names = [s for s in p.skips if s not in allowed_skips] or [p.name]
            fail(f"{p.skipped - len(allowed)} unexpected skip(s): {', '.join(names)}")

    if timed_out:
        fail(f"guest: run timed out after {timeout:.0f} s (hung guest); QEMU killed")
    elif any("Kernel panic" in s for s in v.splats):
        fail("guest: kernel panic")
    elif qemu_status != GUEST_FINISHED or not v.done:
        fail(f"guest: did not finish through isa-debug-exit (QEMU status {qemu_status}, "
             f"sentinel {'seen' if v.done else 'missing'})")
    if v.splats:
        fail(f"guest: {len(v.splats)} kernel splat line(s) on the console, first: {v.splats[0]}")
    if expected_programs is not None:
        ran = {p.name for p in v.programs}
        missing = [n for n in expected_programs if n not in ran]
        if missing and not timed_out:
            fail(f"guest: programs never started: {', '.join(missing)}")
    return v


def qemu_command(a) -> list[str]:
    accel = ["-accel", "kvm", "-cpu", "host"] if a.kvm else ["-accel", "tcg", "-cpu", "max"]
    if a.icount:
        # Guest time advances by instructions executed (1 ns each): timings
        # inside the guest count instructions, free of the host's noise.
        accel += ["-icount", "shift=0,sleep=off"]
    append = f"console=ttyS0 panic=-1 oops=panic loglevel=6 {a.append}".strip()
    return [a.qemu, "-M", "pc", *accel, "-smp", str(a.smp), "-m", a.memory,
            "-nodefaults", "-display", "none", "-no-reboot", "-net", "none",
            "-serial", "mon:stdio" if a.interactive else "stdio",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
            "-kernel", a.kernel, "-initrd", a.initrd, "-append", append]


def run_qemu(cmd, log_path, timeout, quiet, progress=None) -> tuple[str, int | None, bool]:
    out = []
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
    except OSError as e:
        print(f"run.py: cannot start {cmd[0]}: {e.strerror}", file=sys.stderr)
        return "", None, False
    log = open(log_path, "w", encoding="utf-8", errors="replace") if log_path else None

    def pump():
        for chunk in iter(proc.stdout.readline, b""):
            s = chunk.decode("utf-8", "replace")
            out.append(s)
            if log:
                log.write(s)
                log.flush()
            if not quiet or (progress and progress.search(s)):
                sys.stdout.write(s)
                sys.stdout.flush()

    t = threading.Thread(target=pump, daemon=True)
    t.start()
    timed_out = False
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        proc.kill()
        proc.wait()
    t.join(5)
    if log:
        log.close()
    return "".join(out), (None if timed_out else proc.returncode), timed_out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--initrd", required=True)
    ap.add_argument("--append", default="", help="extra kernel command line")
    ap.add_argument("--timeout", type=float, default=1200, help="whole run, seconds")
    ap.add_argument("--log", help="write the console here")
    ap.add_argument("--results", help="write the verdict here as JSON")
    ap.add_argument("--suite", default="guest", help="name in the results")
    ap.add_argument("--expect-list", help="test list: every program in it must run")
    ap.add_argument("--allowed-skips", help="file of '<program>: <case>  # reason' lines")
    ap.add_argument("--qemu", default="qemu-system-x86_64")
    ap.add_argument("--kvm", action="store_true", help="use KVM (hangs under nested virt here)")
    ap.add_argument("--smp", type=int, default=2)
    ap.add_argument("--memory", default="1G")
    ap.add_argument("--quiet", action="store_true", help="do not echo the console")
    ap.add_argument("--icount", action="store_true",
                    help="TCG with -icount shift=0: guest clocks count instructions")
    ap.add_argument("--progress", metavar="REGEX",
                    help="with --quiet, still echo the console lines that match")
    ap.add_argument("--interactive", action="store_true",
                    help="console on this terminal (Ctrl-A X quits), no verdict")
    a = ap.parse_args()

    if a.kvm and not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("run.py: --kvm asked for, but /dev/kvm is not usable", file=sys.stderr)
        return 2
    cmd = qemu_command(a)
    if a.interactive:
        return subprocess.call(cmd)

    expected = None
    if a.expect_list:
        expected = []
        only = re.search(r"puds\.only=(\S*)", a.append)
        allowed = set(only.group(1).split(",")) if only else None
        with open(a.expect_list) as f:
            for line in f:
                name = line.split("#", 1)[0].split()
                if name and (allowed is None or name[0] in allowed):
                    expected.append(name[0])

    allowed_skips = set()
    if a.allowed_skips:
        with open(a.allowed_skips) as f:
            allowed_skips = {l.split("#", 1)[0].strip() for l in f} - {""}

    start = time.monotonic()
    text, status, timed_out = run_qemu(cmd, a.log, a.timeout, a.quiet,
                                       re.compile(a.progress) if a.progress else None)
    elapsed = time.monotonic() - start
    v = judge_run(parse_console(text), status, timed_out, a.timeout, expected, allowed_skips)

    print(f"\n== {a.suite}: {v.passed} passed, {v.failed} failed, {v.skipped} skipped "
          f"in {elapsed:.1f} s (QEMU status {status})")
    for f in v.failures:
        print(f"   FAIL {f}")
    for s in v.skips:
        print(f"   SKIP {s}")
    if a.results:
        os.makedirs(os.path.dirname(os.path.abspath(a.results)), exist_ok=True)
        with open(a.results, "w") as f:
            json.dump({"suite": a.suite, "passed": v.passed, "failed": v.failed,
                       "skipped": v.skipped, "failures": v.failures, "skips": v.skips,
                       "splats": v.splats,
                       "seconds": round(elapsed, 1), "qemu_status": status,
                       "programs": [asdict(p) for p in v.programs]}, f, indent=1)
    return 0 if v.ok else 1


if __name__ == "__main__":
    sys.exit(main())
