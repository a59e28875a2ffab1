#!/usr/bin/env python3
"""The figures of a `make check-debug` run, from its console and verdict.

Prints (and writes to --out as Markdown) what the stress did: iterations,
fds parked, adopted, truncated and released, queues parked/adopted/expired
by the kernel's own counters, cycles collected, and then what must be zero:
leaks (kmemleak objects, stress leak findings, counters off baseline) and
kernel splats.  A splat is decoded with the tree's
scripts/decode_stacktrace.sh against the debug vmlinux.

Exit status: 0 when the run passed and every must-be-zero figure is 0.
"""
import argparse
import json
import os
import re
import subprocess
import sys

STRESS_RE = re.compile(r"^# stress: (\w+) (-?\d+)$")
QUEUES_RE = re.compile(r"^# stress: netns(\d)_queues parked (\d+) adopted (\d+) expired (\d+)$")
KMEMLEAK_RE = re.compile(r"^# kmemleak: (\d+) unreferenced objects$")
TAP_RE = re.compile(r"^(not ok|ok) \d+ (.*)$")
KMSG = re.compile(r"^\[\s*\d+\.\d{6}\]\s")


def program_lines(console: str, name: str) -> list[str]:
    """The output lines of guest program @name."""
    out, inside = [], False
    for line in console.splitlines():
        if line.startswith(f"PUDS-TEST-BEGIN {name} "):
            inside = True
        elif line.startswith(f"PUDS-TEST-END {name} "):
            inside = False
        elif inside:
            out.append(line)
    return out


def first_splat_block(console: str, first: str) -> str:
    """The kernel messages from the first splat to the end of its trace."""
    lines = console.splitlines()
    try:
        start = next(i for i, l in enumerate(lines) if l.strip() == first.strip())
    except StopIteration:
        return first
    # Back up to "cut here" if it is just above.
    for j in range(start, max(start - 3, -1), -1):
        if "cut here" in lines[j]:
            start = j
            break
    block = []
    for line in lines[start:start + 200]:
        if not KMSG.match(line):
            continue
        block.append(line)
        if "end trace" in line or "Kernel Offset" in line or "end Kernel panic" in line:
            break
    return "\n".join(block)


def decode(block: str, vmlinux: str, tree: str) -> str:
    script = os.path.join(tree, "scripts", "decode_stacktrace.sh")
    if not (os.path.exists(script) and os.path.exists(vmlinux)):
        return f"(not decoded: {script} or {vmlinux} missing)\n" + block
    try:
        r = subprocess.run(["bash", script, vmlinux, tree], input=block, text=True,
                           capture_output=True, timeout=300)
        return r.stdout or r.stderr
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"(decode_stacktrace.sh failed: {e})\n" + block


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--console", required=True)
    ap.add_argument("--results", required=True, help="qemu/run.py's JSON verdict")
    ap.add_argument("--vmlinux", required=True)
    ap.add_argument("--tree", required=True)
    ap.add_argument("--out", help="write the report here as Markdown too")
    a = ap.parse_args()

    console = open(a.console, encoding="utf-8", errors="replace").read() \
        if os.path.exists(a.console) else ""
    try:
        verdict = json.load(open(a.results))
    except (OSError, ValueError):
        verdict = {"passed": 0, "failed": 1, "failures": ["no verdict"], "splats": []}

    stress = {}
    queues = {}
    stress_fail = []
    stress_lines = program_lines(console, "stress/unix_stress")
    for line in stress_lines:
        m = STRESS_RE.match(line)
        if m:
            stress[m.group(1)] = int(m.group(2))
        m = QUEUES_RE.match(line)
        if m:
            queues[m.group(1)] = tuple(int(x) for x in m.group(2, 3, 4))
        m = TAP_RE.match(line)
        if m and m.group(1) == "not ok":
            stress_fail.append(m.group(2))
    kmemleak = None
    for line in program_lines(console, "debug/kmemleak_check"):
        m = KMEMLEAK_RE.match(line)
        if m:
            kmemleak = int(m.group(1))
    seconds = re.search(r"# unix_stress: (\d+) s", console)
    ran = re.search(r"^# ran ([\d.]+) s", console, re.M)

    splats = verdict.get("splats", [])
    baseline_fail = [f for f in stress_fail if "baseline" in f or "adopted or expired" in f]
    token_leaks = sum(1 for l in stress_lines if "VIOLATION" in l and "(leak)" in l)
    leaks = (kmemleak or 0) + token_leaks + len(baseline_fail)

    rows = [
        ("stress run", f"{ran.group(1) if ran else '?'} s of {seconds.group(1) if seconds else '?'} s asked"),
        ("iterations", stress.get("iterations", 0)),
        ("parks (bind, set, queue, close/exit/SIGKILL)", stress.get("parks", 0)),
        ("binds of a stress path (adopting, or fresh)", stress.get("binds", 0)),
        ("queues parked / adopted / expired (kernel counters, both netns)",
         " / ".join(str(sum(q[i] for q in queues.values())) for i in range(3)) if queues else "?"),
        ("fds followed: sent into queues", stress.get("tokens_sent", 0)),
        ("... received exactly once", stress.get("tokens_received", 0)),
        ("... dropped at MSG_CTRUNC", stress.get("tokens_truncated", 0)),
        ("... released unread (expiry, collector)", stress.get("tokens_released", 0)),
        ("cycles made / collected (canaries released)",
         f"{stress.get('cycles_made', 0)} / {stress.get('cycles_collected', 0)}"),
        ("MSG_PEEK / MSG_CTRUNC receives", f"{stress.get('peeks', 0)} / {stress.get('ctrunc', 0)}"),
        ("limits hit (EDQUOT, EINVAL after sysctl changes)", stress.get("parks_refused", 0)),
        ("sysctl changes / netns switches",
         f"{stress.get('sysctl_changes', 0)} / {stress.get('netns_switches', 0)}"),
        ("invariant violations (must be 0)", stress.get("violations", "?")),
        ("leaks found (must be 0)",
         f"{leaks} (kmemleak {kmemleak if kmemleak is not None else 'not scanned'}, "
         f"fds never released {token_leaks}, counters off baseline {len(baseline_fail)})"),
        ("kernel splats: KASAN, lockdep, WARN, UBSAN, hung task (must be 0)", len(splats)),
        ("guest tests", f"{verdict.get('passed', 0)} passed, {verdict.get('failed', 0)} failed"),
    ]
    width = max(len(r[0]) for r in rows)
    text = ["check-debug summary"]
    text += [f"  {k:<{width}}  {v}" for k, v in rows]
    md = ["# make check-debug", "", "| figure | value |", "|---|---|"]
    md += [f"| {k} | {v} |" for k, v in rows]

    if splats:
        block = first_splat_block(console, splats[0])
        decoded = decode(block, a.vmlinux, a.tree)
        text += ["", "first splat, decoded with scripts/decode_stacktrace.sh:", decoded]
        md += ["", "## First splat (decoded)", "", "```", decoded, "```"]
        with open(os.path.join(os.path.dirname(a.console), "splat-decoded.txt"), "w") as f:
            f.write(decoded)

    print("\n".join(text))
    if a.out:
        with open(a.out, "w") as f:
            f.write("\n".join(md) + "\n")

    ran_names = {p.get("name") for p in verdict.get("programs", [])}
    ok = (verdict.get("failed", 1) == 0 and not splats and leaks == 0
          and (kmemleak is not None or "debug/kmemleak_check" not in ran_names)
          and (stress.get("violations", 1) == 0 or "stress/unix_stress" not in ran_names))
    if not ok and verdict.get("failed", 0) == 0:
        print("check-debug: the run passed its tests but a must-be-zero figure is not 0",
              file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
