#!/usr/bin/env python3
"""make eval's report: read the PUDS-EVAL lines of the eval program's output
(the run qemu/run.py stored; qemu/harness.py) and write build/eval/report.md (the table, the expectations checked against the
numbers, a reading of them, the exact kernel and parameters) and one SVG plot
per scenario; print the table.  Every number comes from this run; nothing
is typed in.

Exit status: 0 when every run went as planned (whether or not the numbers
meet the expectations, which the report discusses), 1 otherwise.
"""
import argparse
import datetime
import html
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "qemu"))
import harness  # noqa: E402  (qemu/harness.py: the stored run)

EVAL = "eval/eval"

OUTCOMES = ["completed", "refused", "reset", "timeout", "error"]
COLORS = {"completed": "#2a9d3f", "refused": "#d62728", "reset": "#ff7f0e",
          "timeout": "#7f3fbf", "error": "#555555"}
TITLES = {
    "naive": "1. naive restart: old closes and exits, new binds after the gap",
    "reuseport-overlap": "2. SO_REUSEPORT + tcp_migrate_req=1, overlapping",
    "reuseport-gap": "3. SO_REUSEPORT + tcp_migrate_req=1, old closes before new binds",
    "bpf-migrate-overlap": "4. SO_REUSEPORT + BPF_SK_REUSEPORT_SELECT_OR_MIGRATE, overlapping",
    "scm-rights-takeover": "5. SCM_RIGHTS takeover (new takes the listener from old)",
    "puds-exit": "6a. UNIX_DELAY_CLOSE: old parks its listener and exits",
    "puds-sigkill": "6b. UNIX_DELAY_CLOSE: old parks its listener and is SIGKILLed",
}
EVENTS = [("restart", "old stops", "#444"), ("old_exit", "old gone", "#d62728"),
          ("new_listen", "new listens", "#1f77b4"), ("new_first_accept", "new accepts", "#2a9d3f")]


def lost(r):
    return r["attempted"] - r["outcomes"]["completed"]


def handoff(r):
    e = r["events"]
    if e["old_exit"] is None or e["new_first_accept"] is None:
        return None
    return e["new_first_accept"] - e["old_exit"]


def fmt_ms(v):
    if v is None:
        return "-"
    return f"{v:.0f}" if round(v) else "0"       # never "-0"


def load(run):
    """The eval program's results: one "PUDS-EVAL <json>" line per run."""
    return [json.loads(line[len("PUDS-EVAL "):]) for line in run.output(EVAL)
            if line.startswith("PUDS-EVAL ")]


# --- expectations ------------------------------------------------------------

def expectations(runs):
    """(scenario, statement, agrees, detail) for each expectation of the issue."""
    by = {}
    for r in runs:
        by.setdefault(r["scenario"], []).append(r)
    out = []

    def check(sc, statement, pred, explain):
        rs = by.get(sc, [])
        if not rs:
            out.append((sc, statement, False, "not run"))
            return
        bad = [r for r in rs if not pred(r)]
        detail = "; ".join(explain(r) for r in (bad or rs))
        out.append((sc, statement, not bad, detail))

    def counts(r):
        o = r["outcomes"]
        return (f"gap {r['gap_ms']} ms: {o['completed']}/{r['attempted']} completed, "
                f"{o['refused']} refused, {o['reset']} reset, {o['timeout']} timed out")

    delay = by["puds-exit"][0]["delay_ms"] if "puds-exit" in by else "?"
    check("puds-exit", f"completes every connection at every gap (delay {delay} ms)",
          lambda r: r["ok"] and lost(r) == 0, counts)
    # SIGKILLed at any moment, the old server may hold the one connection
    # it accepted and has not answered yet (it answers each before the next
    # accept()): that one dies with the process, reset, whatever the method
    # (selftests/restart/restart_check.c counts it the same way).
    check("puds-sigkill", f"completes every connection at every gap but the one the "
          f"SIGKILLed server may hold (delay {delay} ms)",
          lambda r: r["ok"] and lost(r) <= 1 and lost(r) == r["outcomes"]["reset"], counts)
    for sc in ("naive", "reuseport-gap"):
        check(sc, "loses connections at every gap above 0",
              lambda r: r["gap_ms"] == 0 or lost(r) > 0, counts)
    for sc in ("reuseport-overlap", "bpf-migrate-overlap"):
        check(sc, "loses none", lambda r: r["ok"] and lost(r) == 0, counts)
    return out


# --- plots -------------------------------------------------------------------

def svg_plot(sc, rs, path):
    """Connection outcomes over time, one panel per gap, events marked."""
    W, PH, L, R, T, GAP = 900, 150, 60, 20, 40, 40
    H = T + len(rs) * (PH + GAP) + 20
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
           f'font-family="sans-serif" font-size="11">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{L}" y="18" font-size="14">{html.escape(TITLES.get(sc, sc))}</text>']
    # Legend.
    x = L
    for o in OUTCOMES:
        out.append(f'<circle cx="{x}" cy="30" r="3" fill="{COLORS[o]}"/>'
                   f'<text x="{x + 6}" y="34">{o}</text>')
        x += 80
    for ev, label, color in EVENTS:
        out.append(f'<line x1="{x}" y1="26" x2="{x}" y2="36" stroke="{color}" '
                   f'stroke-dasharray="3,2"/><text x="{x + 4}" y="34">{label}</text>')
        x += 90
    for i, r in enumerate(rs):
        y0 = T + i * (PH + GAP) + 10
        span = max([c[0] + c[1] for c in r["conns"]] + [1000.0])
        ymax = max([c[1] for c in r["conns"]] + [10.0]) * 1.1
        sx = lambda t: L + (W - L - R) * t / span
        sy = lambda v: y0 + PH - PH * v / ymax
        out.append(f'<rect x="{L}" y="{y0}" width="{W - L - R}" height="{PH}" '
                   f'fill="none" stroke="#999"/>')
        out.append(f'<text x="{L}" y="{y0 - 4}">gap {r["gap_ms"]} ms: '
                   f'{r["outcomes"]["completed"]}/{r["attempted"]} completed</text>')
        out.append(f'<text x="{L - 6}" y="{y0 + 8}" text-anchor="end">{ymax:.0f}</text>'
                   f'<text x="{L - 6}" y="{y0 + PH}" text-anchor="end">0</text>'
                   f'<text x="12" y="{y0 + PH / 2}" transform="rotate(-90 12 {y0 + PH / 2})" '
                   f'text-anchor="middle">latency ms</text>')
        for t in range(0, int(span) + 1, 500):
            out.append(f'<text x="{sx(t):.1f}" y="{y0 + PH + 12}" text-anchor="middle">{t}</text>')
        for ev, label, color in EVENTS:
            t = r["events"].get(ev)
            if t is not None:
                out.append(f'<line x1="{sx(t):.1f}" y1="{y0}" x2="{sx(t):.1f}" y2="{y0 + PH}" '
                           f'stroke="{color}" stroke-dasharray="3,2"/>')
        for start, lat, o in r["conns"]:
            out.append(f'<circle cx="{sx(start):.1f}" cy="{sy(lat):.1f}" r="2" '
                       f'fill="{COLORS[OUTCOMES[o]]}"/>')
    out.append(f'<text x="{W / 2}" y="{H - 4}" text-anchor="middle">'
               f'connection start, ms from the start of the load</text></svg>')
    with open(path, "w") as f:
        f.write("\n".join(out))


# --- the report ---------------------------------------------------------------

def table(runs):
    head = ["scenario", "gap ms", "attempted", "completed", "refused", "reset", "timed out",
            "p50 ms", "p99 ms", "max ms", "handoff ms", "ListenDrops", "ListenOverflows",
            "MigrateReq ok/fail", "AbortOnClose"]
    rows = []
    for r in runs:
        o, k = r["outcomes"], r["kernel"]
        rows.append([r["scenario"], str(r["gap_ms"]), str(r["attempted"]), str(o["completed"]),
                     str(o["refused"]), str(o["reset"]), str(o["timeout"]),
                     fmt_ms(r["p50_ms"]), fmt_ms(r["p99_ms"]), fmt_ms(r["max_ms"]),
                     fmt_ms(handoff(r)), str(k["ListenDrops"]), str(k["ListenOverflows"]),
                     f"{k['TCPMigrateReqSuccess']}/{k['TCPMigrateReqFailure']}",
                     str(k["TCPAbortOnClose"])])
    return head, rows


def markdown_table(head, rows):
    out = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def text_table(head, rows):
    w = [max(len(x) for x in col) for col in zip(head, *rows)]
    line = lambda r: "  ".join(x.ljust(w[i]) if i == 0 else x.rjust(w[i]) for i, x in enumerate(r))
    return "\n".join([line(head), line(["-" * n for n in w])] + [line(r) for r in rows])


def in_gap(r):
    """Connections the clients started while the old server no longer accepted
    and the new one did not yet: [restart, new_first_accept)."""
    e = r["events"]
    if e["restart"] is None:
        return 0
    end = e["new_first_accept"] if e["new_first_accept"] is not None else float("inf")
    return sum(1 for s, _, _ in r["conns"] if e["restart"] <= s < end)


def cross_checks(runs):
    """What the kernel's counters say beside what the clients saw."""
    out = []
    for r in runs:
        k, o, sc = r["kernel"], r["outcomes"], r["scenario"]
        g = r["gap_ms"]
        if sc in ("reuseport-overlap", "bpf-migrate-overlap", "reuseport-gap"):
            out.append(f"- {sc}, gap {g} ms: {in_gap(r)} connections started while nobody "
                       f"accepted; TCPMigrateReqSuccess {k['TCPMigrateReqSuccess']}, "
                       f"TCPMigrateReqFailure {k['TCPMigrateReqFailure']}; clients saw "
                       f"{o['reset']} reset and {o['refused']} refused.")
        elif sc == "naive":
            out.append(f"- naive, gap {g} ms: clients saw {o['reset']} reset (accept queue "
                       f"dropped at close) and {o['refused']} refused (nobody listening); the "
                       f"netns sent {k['OutRsts']} RSTs (OutRsts), TCPAbortOnClose "
                       f"{k['TCPAbortOnClose']}.")
        elif sc.startswith("puds"):
            d = r["diag"]
            out.append(f"- {sc}, gap {g} ms: unix_diag listed {d['parked']} parked queue(s) "
                       f"holding {d['fds']} fd(s) just before the new server bound the path; "
                       f"/proc/net/unix_delay_close counted {k.get('UnixDelayCloseParked', '?')} "
                       f"parked, {k.get('UnixDelayCloseAdopted', '?')} adopted, "
                       f"{k.get('UnixDelayCloseExpired', '?')} expired; "
                       f"{in_gap(r)} connections started in the gap, the new server accepted "
                       f"{r['new_accepted']} in all, ListenDrops {k['ListenDrops']}, "
                       f"ListenOverflows {k['ListenOverflows']}.")
    return out


def config_hash(kobj):
    import hashlib
    try:
        return hashlib.sha256(open(os.path.join(kobj, ".config"), "rb").read()).hexdigest()[:16]
    except OSError:
        return "?"


def source_package(tree):
    """"linux-source-6.12 6.12.118-1~deb12u1" from the base commit's subject
    (scripts/kernel-tree.sh: "Linux V as shipped by Debian's PKG VERSION")."""
    m = re.search(r"shipped by Debian's (.*)", git(tree, "show", "-s", "--format=%s", "puds-base") or "")
    return m.group(1) if m else "linux-source"


def git(tree, *args):
    try:
        return subprocess.run(["git", "-C", tree, *args], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True, check=True).stdout.strip()
    except (subprocess.CalledProcessError, FileNotFoundError):
        return "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", required=True, help="the run qemu/run.py stored (--out)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--tree", required=True)
    ap.add_argument("--kobj", required=True)
    a = ap.parse_args()

    stored = harness.load_run(a.run)
    runs = load(stored)
    if not runs:
        sys.exit(f"eval_report: no PUDS-EVAL line in {a.run}: the guest did not run {EVAL}")
    os.makedirs(a.out, exist_ok=True)
    scenarios = []
    for r in runs:
        if r["scenario"] not in scenarios:
            scenarios.append(r["scenario"])
    for sc in scenarios:
        svg_plot(sc, [r for r in runs if r["scenario"] == sc], os.path.join(a.out, f"{sc}.svg"))

    head, rows = table(runs)
    exp = expectations(runs)
    failed_runs = [r for r in runs if not r["ok"]]
    p = runs[0]
    release = "?"
    try:
        release = open(os.path.join(a.kobj, "include/config/kernel.release")).read().strip()
    except OSError:
        pass
    cmdline = stored.verdict.get("cmdline") or "?"

    md = [f"# make eval: restarting a server without losing connections",
          "",
          f"Generated {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC} by "
          f"`make eval` from `{os.path.relpath(a.run)}`; every number below comes from "
          f"that run.",
          "",
          "## What ran",
          "",
          f"- Kernel: Linux {release}, Debian's {source_package(a.tree)} with the series "
          f"(`{git(a.tree, 'rev-parse', '--short', 'HEAD')}`, "
          f"{git(a.tree, 'rev-list', '--count', 'puds-base..HEAD')} patches on tag `puds-base`), "
          f"config: tinyconfig + `qemu/guest.config` (`{os.path.relpath(os.path.join(a.kobj, '.config'))}`, "
          f"sha256 `{config_hash(a.kobj)}`); QEMU TCG (no KVM), 2 vCPUs, 1 GiB.",
          f"- Guest command line: `{cmdline}`",
          f"- Load: {p['rate']} connections/s on 127.0.0.1:8080 from one client process, "
          f"{p['before_ms']} ms before the restart, the gap, {p['after_ms']} ms after it; "
          f"each connection sends a request and waits {p['timeout_ms']} ms at most for the "
          f"reply. Listen backlog {p['backlog']}. UNIX_DELAY_CLOSE {p['delay_ms']} ms.",
          "- The gap is the time from the moment the old server stops accepting to the new "
          "server's start. In scenarios 2, 4 and 5 the old listener stays open during it "
          "(its accept queue fills), in 1 and 3 it is closed at its start, in 6 it is parked "
          "(6a: the old server exits; 6b: it is SIGKILLed, having parked the listener at "
          "start-up). Each run has a network namespace of its own, so the kernel counters "
          "are the run's alone.",
          "- Outcomes: completed = the reply came; refused = ECONNREFUSED (nobody listened); "
          "reset = RST or EOF before the reply (an accept queue dropped with its listener); "
          "timed out = no reply in time. Latency is connect() to reply. Handoff = the new "
          "server's first accept minus the old server's exit (negative when they overlap).",
          "",
          "## Results",
          "",
          markdown_table(head, rows),
          "",
          "## Expectations",
          ""]
    for sc, statement, ok, detail in exp:
        md.append(f"- {'agrees' if ok else '**DISAGREES**'}: {sc} {statement}. {detail}.")
    md += ["", "## Reading", ""]
    md += reading(runs, exp)
    md += ["", "## The kernel's counters beside the clients", ""]
    md += cross_checks(runs)
    if failed_runs:
        md += ["", "## Runs that did not go as planned", ""]
        md += [f"- {r['scenario']} gap {r['gap_ms']} ms: {r['error'] or 'see ' + os.path.relpath(os.path.join(a.run, harness.program_file(EVAL)))}"
               for r in failed_runs]
    md += ["", "## Plots", "",
           "Each dot is one connection: when it started (x) and how long it took to get its "
           "reply or its failure (y), coloured by outcome; dashed lines mark the old server "
           "stopping, the old server gone, the new server listening and its first accept.", ""]
    md += [f"![{sc}]({sc}.svg)" for sc in scenarios]
    report = os.path.join(a.out, "report.md")
    with open(report, "w") as f:
        f.write("\n".join(md) + "\n")

    print()
    print(text_table(head, rows))
    print()
    for sc, statement, ok, detail in exp:
        print(f"{'agrees    ' if ok else 'DISAGREES '} {sc} {statement}")
    print(f"\neval: report in {os.path.relpath(report)}, plots beside it")
    return 1 if failed_runs else 0


def reading(runs, exp):
    """A short reading, written from the numbers of this run."""
    by = {}
    for r in runs:
        by.setdefault(r["scenario"], []).append(r)
    out = []

    def total_lost(sc):
        return sum(lost(r) for r in by.get(sc, [])), sum(r["attempted"] for r in by.get(sc, []))

    for sc in ("naive", "reuseport-gap"):
        l, t = total_lost(sc)
        if sc in by:
            out.append(f"- Without overlap, {sc} lost {l} of {t} connections over all gaps: "
                       "with no listener, new connections are refused, and the accept queue "
                       "of the closed listener is dropped with it (reuseport migration needs "
                       "another listener in the group to migrate to).")
    for sc in ("reuseport-overlap", "bpf-migrate-overlap", "scm-rights-takeover"):
        l, t = total_lost(sc)
        if sc in by:
            worst = max(by[sc], key=lambda r: r["p99_ms"])
            out.append(f"- {sc} lost {l} of {t}: the old listener stayed open through the gap, "
                       f"so connections waited in its accept queue (p99 {worst['p99_ms']:.0f} ms "
                       f"at gap {worst['gap_ms']} ms) and the new server took them over. This "
                       "needs both processes alive at once: a crash of the old one during the "
                       "gap loses the queue.")
    for sc in ("puds-exit", "puds-sigkill"):
        l, t = total_lost(sc)
        if sc in by:
            worst = max(by[sc], key=lambda r: r["p99_ms"])
            out.append(f"- {sc} lost {l} of {t} with no process alive during the gap: the "
                       "parked listener kept completing handshakes into its accept queue, and "
                       f"the new server accepted them (p99 {worst['p99_ms']:.0f} ms at gap "
                       f"{worst['gap_ms']} ms: the price is the wait, not the connection).")
    bad = [e for e in exp if not e[2]]
    if bad:
        out.append("- Disagreements with the expectations are listed above with their counts; "
                   "they are reported as measured, not tuned away.")
    out.append("- Under TCG, absolute latencies are the emulator's; compare scenarios within "
               "this run only.")
    return out


if __name__ == "__main__":
    sys.exit(main())
