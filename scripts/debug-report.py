#!/usr/bin/env python3
"""The figures of a `make check-debug` run, from the run qemu/run.py stored.

Reads the verdict and the programs' keyed lines ("# stress: leaks 0",
"# kmemleak: unreferenced 0"; qemu/harness.py) and prints (and writes to --out as Markdown) what the stress did: iterations,
fds parked, adopted, truncated and released, queues parked/adopted/expired
by the kernel's own counters, cycles collected, and then what must be zero:
leaks (kmemleak objects, stress leak findings, counters off baseline) and
kernel splats.  A splat is decoded with the tree's
scripts/decode_stacktrace.sh against the debug vmlinux.

Exit status: 0 when the run passed and every must-be-zero figure is 0.
"""
import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "qemu"))
import harness  # noqa: E402  (qemu/harness.py: the stored run, keyed lines, splats)

STRESS = "stress/unix_stress"
KMEMLEAK = "debug/kmemleak_check"


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
    ap.add_argument("--run", required=True, help="the run qemu/run.py stored (--out)")
    ap.add_argument("--vmlinux", required=True)
    ap.add_argument("--tree", required=True)
    ap.add_argument("--out", help="write the report here as Markdown too")
    a = ap.parse_args()

    run = harness.load_run(a.run)
    verdict = run.verdict
    stress = harness.keyed(run.output(STRESS), "stress")
    kmemleak = harness.keyed(run.output(KMEMLEAK), "kmemleak").get("unreferenced")
    splats = verdict.get("splats", [])
    token_leaks = stress.get("leaks", 0)
    baseline_off = stress.get("baseline_off", 0)
    leaks = (kmemleak or 0) + token_leaks + baseline_off
    queues = [sum(stress.get(f"netns{ns}_{k}", 0) for ns in (0, 1))
              for k in ("parked", "adopted", "expired")]

    rows = [
        ("stress run", f"{stress['ran_ms'] / 1000:.1f} s of {stress['seconds_asked']} s asked"
         if "ran_ms" in stress else "not run"),
        ("iterations", stress.get("iterations", 0)),
        ("parks (bind, set, queue, close/exit/SIGKILL)", stress.get("parks", 0)),
        ("binds of a stress path (adopting, or fresh)", stress.get("binds", 0)),
        ("queues parked / adopted / expired (kernel counters, both netns)",
         " / ".join(map(str, queues))),
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
         f"fds never released {token_leaks}, counts off baseline {baseline_off})"),
        ("kernel splats: KASAN, lockdep, WARN, UBSAN, hung task (must be 0)", len(splats)),
        ("guest tests", f"{verdict.get('passed', 0)} passed, {verdict.get('failed', 0)} failed"),
    ]
    width = max(len(r[0]) for r in rows)
    text = ["check-debug summary"]
    text += [f"  {k:<{width}}  {v}" for k, v in rows]
    md = ["# make check-debug", "", "| figure | value |", "|---|---|"]
    md += [f"| {k} | {v} |" for k, v in rows]

    if splats:
        block = harness.splat_block(run.console(), splats[0])
        decoded = decode(block, a.vmlinux, a.tree)
        text += ["", "first splat, decoded with scripts/decode_stacktrace.sh:", decoded]
        md += ["", "## First splat (decoded)", "", "```", decoded, "```"]
        with open(os.path.join(a.run, "splat-decoded.txt"), "w") as f:
            f.write(decoded)

    print("\n".join(text))
    if a.out:
        with open(a.out, "w") as f:
            f.write("\n".join(md) + "\n")

    ok = (verdict.get("failed", 1) == 0 and not splats and leaks == 0
          and (kmemleak is not None or not run.ran(KMEMLEAK))
          and (stress.get("violations", 1) == 0 or not run.ran(STRESS)))
    if not ok and verdict.get("failed", 0) == 0:
        print("check-debug: the run passed its tests but a must-be-zero figure is not 0",
              file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
