#!/usr/bin/env python3
"""Boot the puds test kernel in QEMU, collect its two serial ports, judge the run.

The guest's init (qemu/init) runs the test programs and frames their output
on the second serial port (ttyS1, the test channel; qemu/harness.py defines
the framing); the first (ttyS0) is the kernel's console.  init then writes 0
to the isa-debug-exit port, which ends QEMU with status 1.  A panic with
panic=-1 and -no-reboot ends QEMU with status 0, like a plain reboot: that
is why the run only counts as finished with both the DONE line and status 1.

The verdict (exit status 0 only if every check holds):
  - every test program ran to its END marker and its cases passed;
  - the guest reached PUDS-GUEST-DONE and left through isa-debug-exit;
  - the console shows no kernel splat (BUG, WARNING, Oops, KASAN, lockdep...);
  - the whole run ended before --timeout.
With --out DIR it stores the console (console.log), the test channel
(tests.log), each program's output and the verdict (harness.store_run);
--results writes the step's counts for the closing line of make check.
"""
import argparse
import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field, asdict

import harness

GUEST_FINISHED = 1  # QEMU status after guest-exit 0: (0 << 1) | 1


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
    kernel: str = ""
    cmdline: str = ""

    @property
    def ok(self) -> bool:
        return self.failed == 0


def judge_run(console: str, channel: str, qemu_status: int | None, timed_out: bool,
              timeout: float, expected_programs: list[str] | None,
              allowed_skips: set[str] = frozenset()) -> Verdict:
    """The whole run's verdict: the programs' counts, then the run's own
    checks (boot, exit path, splats, timeout, programs that never ran, skips)."""
    ch = harness.parse_channel(channel)
    v = Verdict(programs=ch.programs, done=ch.done, kernel=ch.kernel, cmdline=ch.cmdline,
                splats=harness.find_splats(console))
    for p in v.programs:
        v.passed += p.passed
        v.failed += p.failed
        v.skipped += p.skipped
        v.failures += p.failures
        v.skips += p.skips

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
             f"DONE line {'seen' if v.done else 'missing'})")
    if v.splats:
        fail(f"guest: {len(v.splats)} kernel splat line(s) on the console, first: {v.splats[0]}")
    if expected_programs is not None:
        ran = {p.name for p in v.programs}
        missing = [n for n in expected_programs if n not in ran]
        if missing and not timed_out:
            fail(f"guest: programs never started: {', '.join(missing)}")
    return v


def qemu_command(a, channel_path) -> list[str]:
    accel = ["-accel", "kvm", "-cpu", "host"] if a.kvm else ["-accel", "tcg", "-cpu", "max"]
    if a.icount:
        # Guest time advances by instructions executed (1 ns each): timings
        # inside the guest count instructions, free of the host's noise.
        accel += ["-icount", "shift=0,sleep=off"]
    append = f"console=ttyS0 panic=-1 oops=panic loglevel=6 {guest_append(a)}".strip()
    # ttyS0: the kernel's console; ttyS1: the test channel (a file).
    channel = ["-serial", f"file:{channel_path}" if channel_path else "null"]
    return [a.qemu, "-M", "pc", *accel, "-smp", str(a.smp), "-m", a.memory,
            "-nodefaults", "-display", "none", "-no-reboot", "-net", "none",
            "-serial", "mon:stdio" if a.interactive else "stdio", *channel,
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
            "-kernel", a.kernel, "-initrd", a.initrd, "-append", append]


def guest_append(a) -> str:
    return " ".join(x for x in (f"puds.only={a.only}" if a.only else "", a.append) if x)


class Tail(threading.Thread):
    """Follows the test channel's file while QEMU writes it, echoing lines."""

    def __init__(self, path, echo):
        super().__init__(daemon=True)
        self.path, self.echo, self.stop = path, echo, threading.Event()

    def run(self):
        pending = b""
        with open(self.path, "rb") as f:
            while True:
                chunk = f.read()
                if chunk:
                    pending += chunk
                    *lines, pending = pending.split(b"\n")
                    for line in lines:
                        self.echo(line.decode("utf-8", "replace").rstrip("\r") + "\n")
                elif self.stop.is_set():
                    break
                else:
                    time.sleep(0.1)


def run_qemu(cmd, console_path, channel_path, timeout, echo_console, echo_channel):
    """Run QEMU; returns (console, channel, QEMU status or None, timed out)."""
    out = []
    if channel_path:
        open(channel_path, "wb").close()
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
    except OSError as e:
        print(f"run.py: cannot start {cmd[0]}: {e.strerror}", file=sys.stderr)
        return "", "", None, False
    log = open(console_path, "w", encoding="utf-8", errors="replace") if console_path else None

    def pump():
        for chunk in iter(proc.stdout.readline, b""):
            s = chunk.decode("utf-8", "replace")
            out.append(s)
            if log:
                log.write(s)
                log.flush()
            echo_console(s)

    t = threading.Thread(target=pump, daemon=True)
    t.start()
    tail = Tail(channel_path, echo_channel) if channel_path else None
    if tail:
        tail.start()
    timed_out = False
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        proc.kill()
        proc.wait()
    t.join(5)
    if tail:
        tail.stop.set()
        tail.join(5)
    if log:
        log.close()
    channel = ""
    if channel_path:
        with open(channel_path, encoding="utf-8", errors="replace") as f:
            channel = f.read()
    return "".join(out), channel, (None if timed_out else proc.returncode), timed_out


def read_list(path, only):
    """The program names of a test list ("<name> <timeout>" lines)."""
    names = []
    with open(path) as f:
        for line in f:
            name = line.split("#", 1)[0].split()
            if name and (only is None or name[0] in only):
                names.append(name[0])
    return names


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--initrd", required=True)
    ap.add_argument("--append", default="", help="extra kernel command line")
    ap.add_argument("--only", default="", metavar="A,B",
                    help="run only these programs of the list (puds.only= for qemu/init)")
    ap.add_argument("--timeout", type=float, default=1200, help="whole run, seconds")
    ap.add_argument("--out", help="store console.log, tests.log, programs/*.out and run.json here")
    ap.add_argument("--results", help="write the step's counts here (make check's closing line)")
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
                    help="with --quiet, still echo the test channel lines that match")
    ap.add_argument("--interactive", action="store_true",
                    help="console on this terminal (Ctrl-A X quits), no verdict")
    a = ap.parse_args()

    if a.kvm and not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("run.py: --kvm asked for, but /dev/kvm is not usable", file=sys.stderr)
        return 2
    if a.interactive:
        return subprocess.call(qemu_command(a, None))

    only = set(a.only.split(",")) if a.only else None
    expected = read_list(a.expect_list, only) if a.expect_list else None
    allowed_skips = set()
    if a.allowed_skips:
        with open(a.allowed_skips) as f:
            allowed_skips = {l.split("#", 1)[0].strip() for l in f} - {""}

    out = a.out
    tmp = None
    if not out:
        import tempfile
        tmp = tempfile.TemporaryDirectory()
        out = tmp.name
    os.makedirs(out, exist_ok=True)
    console_path = os.path.join(out, "console.log")
    channel_path = os.path.join(out, "tests.log")
    progress = re.compile(a.progress) if a.progress else None

    def echo_console(s):
        if not a.quiet:
            sys.stdout.write(s)
            sys.stdout.flush()

    def echo_channel(s):
        if not a.quiet or (progress and progress.search(s)):
            sys.stdout.write(s)
            sys.stdout.flush()

    start = time.monotonic()
    console, channel, status, timed_out = run_qemu(
        qemu_command(a, channel_path), console_path, channel_path, a.timeout,
        echo_console, echo_channel)
    elapsed = time.monotonic() - start
    v = judge_run(console, channel, status, timed_out, a.timeout, expected, allowed_skips)

    print(f"\n== {a.suite}: {v.passed} passed, {v.failed} failed, {v.skipped} skipped "
          f"in {elapsed:.1f} s (QEMU status {status})")
    for f in v.failures:
        print(f"   FAIL {f}")
    for s in v.skips:
        print(f"   SKIP {s}")
    verdict = {"suite": a.suite, "passed": v.passed, "failed": v.failed,
               "skipped": v.skipped, "failures": v.failures, "skips": v.skips,
               "splats": v.splats, "seconds": round(elapsed, 1), "qemu_status": status,
               "kernel": v.kernel, "cmdline": v.cmdline,
               "programs": [asdict(p) for p in v.programs]}
    harness.store_run(out, verdict)
    harness.write_result(a.results, a.suite, v.passed, v.failures, v.skips,
                         failed=v.failed, skipped=v.skipped)
    if tmp:
        tmp.cleanup()
    return 0 if v.ok else 1


if __name__ == "__main__":
    sys.exit(main())
