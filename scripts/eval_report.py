#!/usr/bin/env python3
"""make eval's report: read what the guests measured and write
build/eval/report.md (the summary table, the expectations checked against
the numbers, the load sweep against its model, the systemd anchors, the
many-fds handoff, the details, the exact kernel and parameters) with its SVG
plots; print the summary.  Every number comes from this run; nothing is
typed in.

Input (stored runs of qemu/run.py, read through qemu/harness.py):
  --run RUN        the minimal guest: "PUDS-EVAL {json}" lines (one per
                   restart: selftests/eval/eval.c), "PUDS-EVAL-FDS {json}"
                   lines (the many-fds handoff) and "# eval: KEY N" lines
  --sd-run RUN     the real-systemd guest: "PUDS-EVAL-SD {json}" lines (one
                   per anchor, server and event) and "# eval-sd: ..." lines
Either may be missing; the report then says what did not run.

Exit status: 0 when every run went as planned (whether or not the numbers
meet the expectations, which the report discusses), 1 otherwise.
"""
import argparse
import datetime
import hashlib
import html
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "qemu"))
import harness  # noqa: E402  (qemu/harness.py: the stored run, keyed lines)

OUTCOMES = ["completed", "refused", "reset", "timeout", "error"]
COLORS = {"completed": "#2a9d3f", "refused": "#d62728", "reset": "#ff7f0e",
          "timeout": "#7f3fbf", "error": "#555555"}
EVENTS = [("restart", "old stops", "#444"), ("killed", "old killed", "#8c564b"),
          ("old_exit", "old gone", "#d62728"), ("new_listen", "new listens", "#1f77b4"),
          ("new_first_accept", "new accepts", "#2a9d3f")]

# The methods of the minimal guest: (method, what it is, needs overlap, needs PID 1).
METHODS = [
    ("naive", "naive restart (the server binds its own listener)", "no", "no"),
    ("reuseport", "SO_REUSEPORT + `tcp_migrate_req=1`", "yes", "no"),
    ("bpf-migrate", "SO_REUSEPORT + BPF `SK_REUSEPORT_SELECT_OR_MIGRATE`", "yes", "no"),
    ("scm-rights", "SCM_RIGHTS takeover over a unix socket", "yes", "no"),
    ("puds", "puds: `UNIX_DELAY_CLOSE` rendezvous", "no", "no"),
]
# The anchors of the real-systemd guest.
ANCHORS = [
    ("naive", "systemd `Restart=always`, the server binds its own listener", "no", "no"),
    ("socket-activation", "systemd socket activation (a `.socket` unit holds the listener)",
     "no", "yes"),
    ("fdstore", "systemd fd store (`FDSTORE=1`, `Restart=always`)", "no", "yes"),
    ("puds-run", "`puds run` under the same systemd", "no", "no"),
]
COLUMNS = [("planned", "planned restart"), ("crash", "crash"), ("stop-start", "stop, then start")]
SD_EVENT = {"planned": "restart", "crash": "sigkill", "stop-start": "stop-start"}
# Where a method has no run of its own for a column, the run it amounts to.
SAME_AS = {("naive", "stop-start"): "planned", ("puds", "stop-start"): "planned"}
# Does the method keep a listener (and its accept queue) through the gap of this variant?
KEEPS = {("reuseport", "planned"), ("bpf-migrate", "planned"), ("scm-rights", "planned"),
         ("puds", "planned"), ("puds", "stop-start"), ("puds", "crash"), ("puds", "crash-adopt")}


# --- reading the runs ---------------------------------------------------------

def records(run, prefix):
    """The JSON of every "<prefix> {json}" line of every program of @run."""
    out = []
    if run is None:
        return out
    for name in run.names:
        for line in run.output(name):
            if line.startswith(prefix + " {"):
                try:
                    out.append(json.loads(line[len(prefix) + 1:]))
                except ValueError:
                    out.append({"ok": False, "error": f"{name}: malformed {prefix} line",
                                "malformed": True})
    return out


def keyed(run, prefix):
    if run is None:
        return {}
    out = {}
    for name in run.names:
        out.update(harness.keyed(run.output(name), prefix))
    return out


def lost(r):
    return r["attempted"] - r["outcomes"]["completed"]


def in_hand(r):
    return r.get("in_hand", 0) or 0


def lost_queued(r):
    """Lost beyond the connections the killed process held in its hand."""
    return max(0, lost(r) - in_hand(r))


def model_lost(rate, gap_ms, backlog):
    """The issue's model for a method that keeps its listener: every
    connection of the gap waits in the accept queue, up to the backlog."""
    return max(0, round(rate * gap_ms / 1000) - backlog)


def dead_ms(r):
    """How long nobody accepted: from the old server's stop (or its death)
    to the new server's first accept, as measured."""
    e = r.get("events", {})
    start = e.get("restart") if e.get("restart") is not None else e.get("killed")
    end = e.get("new_first_accept")
    if start is None or end is None:
        return None
    return max(0.0, end - start)


def started_between(r, a, b):
    return sum(1 for s, _, _ in r.get("conns", []) if a <= s < b)


def fmt_ms(v):
    if v is None:
        return "-"
    return f"{v:.0f}" if round(v) else "0"       # never "-0"


def markdown_table(head, rows, left=1):
    out = ["| " + " | ".join(head) + " |",
           "|" + "|".join(["---"] * left + ["---:"] * (len(head) - left)) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def text_table(head, rows):
    w = [max(len(x) for x in col) for col in zip(head, *rows)]
    line = lambda r: "  ".join(x.ljust(w[i]) for i, x in enumerate(r))
    return "\n".join([line(head), line(["-" * n for n in w])] + [line(r) for r in rows])


def by_key(runs, *keys):
    out = {}
    for r in runs:
        out.setdefault(tuple(r.get(k) for k in keys), []).append(r)
    return out


# --- the summary table ----------------------------------------------------------

def method_runs(matrix, method, variant):
    """The matrix runs of @method in column @variant (with the run it amounts
    to when it has none of its own), sorted by gap; and whether borrowed."""
    rs = [r for r in matrix if r["method"] == method and r["variant"] == variant]
    if not rs and (method, variant) in SAME_AS:
        return method_runs(matrix, method, SAME_AS[(method, variant)])[0], True
    return sorted(rs, key=lambda r: r["gap_ms"]), False


def cell(rs, borrowed=False):
    if not rs:
        return "not run"
    s = " · ".join(str(lost_queued(r)) for r in rs)
    held = sum(in_hand(r) for r in rs)
    if held:
        s += f" (+{held} in hand)"
    if any(not r["ok"] for r in rs):
        s += " (run failed)"
    return s + (" (= planned)" if borrowed else "")


def sd_cell(sd, anchor, event):
    rs = [r for r in sd if r["anchor"] == anchor and r["event"] == event]
    if not rs:
        return "-"
    parts = []
    for r in rs:
        s = f"{r['server']} {lost_queued(r)}"
        if in_hand(r):
            s += f" (+{in_hand(r)} in hand)"
        if not r.get("ok", True):
            s += " (run failed)"
        # Socket activation: the service stopped alone is started again by
        # the next connection; stopping its .socket too closes the listener.
        both = [x for x in sd if x["anchor"] == anchor and x["server"] == r["server"]
                and x["event"] == event + "-socket"]
        if both:
            s += f" (the .socket stopped too: {lost_queued(both[0])})"
        parts.append(s)
    return ", ".join(parts)


def summary(matrix, sd):
    gaps = sorted({r["gap_ms"] for r in matrix})
    head = ["method", "planned restart", "crash", "stop, then start", "needs overlap",
            "needs PID 1"]
    rows = []
    for m, what, overlap, pid1 in METHODS:
        row = [what]
        for col, _ in COLUMNS:
            rs, borrowed = method_runs(matrix, m, col)
            c = cell(rs, borrowed)
            if m == "puds" and col == "crash":
                adopt, _ = method_runs(matrix, m, "crash-adopt")
                c = f"old killed: {c}; successor killed adopting: {cell(adopt)}"
            row.append(c)
        rows.append(row + [overlap, pid1])
    for a, what, overlap, pid1 in ANCHORS:
        if not any(r["anchor"] == a for r in sd):
            continue
        rows.append([what] + [sd_cell(sd, a, SD_EVENT[c]) for c, _ in COLUMNS] + [overlap, pid1])
    return gaps, head, rows


# --- expectations -----------------------------------------------------------------

def counts(r):
    o = r["outcomes"]
    s = (f"gap {r['gap_ms']} ms: {o['completed']}/{r['attempted']} completed, "
         f"{o['refused']} refused, {o['reset']} reset, {o['timeout']} timed out")
    return s + (f", {in_hand(r)} in the killed process's hand" if in_hand(r) else "")


def expectations(matrix, sweep, sd, quick):
    """[(statement, agrees, detail)], each from the issue, checked on the numbers."""
    out = []

    def check(rs, statement, pred, explain=counts):
        if not rs:
            out.append((statement, False, "not run"))
            return
        bad = [r for r in rs if not r["ok"] or not pred(r)]
        out.append((statement, not bad, "; ".join(explain(r) for r in (bad or rs))))

    delay = next((r["delay_ms"] for r in matrix if r["method"] == "puds"), None)
    for variant, who in (("planned", "the old server parks and exits"),
                         ("crash", "the old server is SIGKILLed"),
                         ("crash-adopt", "the successor is SIGKILLed while adopting")):
        rs = [r for r in matrix if r["method"] == "puds" and r["variant"] == variant
              and (delay is None or r["gap_ms"] <= delay)]
        check(rs, f"puds, {who}: 0 lost at every gap up to the delay ({delay} ms) but "
              "what the killed process held", lambda r: lost_queued(r) == 0)
    for m in ("reuseport", "bpf-migrate", "scm-rights"):
        check([r for r in matrix if r["method"] == m and r["variant"] == "crash"],
              f"{m}, the old server killed before the handoff: the connections of the gap "
              "are lost (nothing holds the listener)",
              lambda r: r["gap_ms"] == 0 or lost_queued(r) >= max(1, gap_conns(r) // 2),
              lambda r: counts(r) + f" ({gap_conns(r)} started while nobody listened)")
        check([r for r in matrix if r["method"] == m and r["variant"] == "planned"],
              f"{m}, planned with overlap: loses none", lambda r: lost(r) == 0)
    check([r for r in matrix if r["method"] == "naive"],
          "naive loses connections at every gap above 0",
          lambda r: r["gap_ms"] == 0 or lost(r) > 0)
    ps = [r for r in sweep if r["method"] == "puds"]
    if sweep:
        check(ps, "puds sits on the model max(0, rate x gap - backlog) for the connections "
              "started in the gap (up to the model fed with the run's own arrivals in the gap "
              "and the queue's room; at the probed maximum, where the server is at its limit, "
              "the model is a floor)", on_model,
              lambda r: f"rate {r['rate']}, gap {r['gap_ms']}, backlog {r['backlog']}: "
              f"{queue_full(r)[1]} measured, model {model_text(r)}")
        # With room to spare the successor drains what the gap queued: only
        # the gap's connections find the queue full.  After the gap the
        # arrivals are up to twice the rate (the gap's SYNs come back):
        # room to spare is that at half the probed maximum.
        roomy = [r for r in ps if MAX_RATE and r["rate"] * 4 <= MAX_RATE]
        if roomy:
            check(roomy, f"puds with room to spare (twice the rate, the gap's retried SYNs "
                  f"included, at most half the probed maximum {MAX_RATE}/s): hardly a "
                  "connection started outside the gap finds the queue full (no more than the "
                  "slack, 3 or 5% of rate x gap: the successor drains what the gap queued, "
                  "those that come while its first accepts make room aside)",
                  lambda r: queue_full(r)[0] + queue_full(r)[2] <= slack(r),
                  lambda r: f"rate {r['rate']}, gap {r['gap_ms']}, backlog {r['backlog']}: "
                  f"{queue_full(r)[0]} before, {queue_full(r)[2]} after the gap")
    if not quick:
        for v in ("planned", "crash", "crash-adopt"):
            n = sum(r["attempted"] for r in matrix + sweep
                    if r["method"] == "puds" and r["variant"] == v)
            out.append((f"at least 10,000 connections through puds ({v})", n >= 10000,
                        f"{n} connections"))
    pr = [r for r in sd if r["anchor"] == "puds-run"]
    if sd:
        check(pr, "puds run under systemd: 0 lost in every event but what the killed "
              "process held", lambda r: lost_queued(r) == 0,
              lambda r: f"{r['server']} {r['event']}: {lost(r)}/{r['attempted']} lost, "
              f"{in_hand(r)} in hand")
    return out


def gap_conns(r):
    """Connections started while nobody listened, if the run recorded them."""
    e = r.get("events", {})
    # From the moment the old server stopped accepting (a crash: it took the
    # request it holds, then was killed) to the new one listening.
    a = e.get("restart") if e.get("restart") is not None else e.get("killed")
    b = e.get("new_listen")
    if a is None or b is None or not r.get("conns"):
        return round(r["rate"] * r["gap_ms"] / 1000)
    return started_between(r, a, b)


# --- the load sweep against its model ---------------------------------------------

def sweep_measured(r):
    """What the model counts: connections that found the queue full.  Linux
    drops their SYN; the client retries it (after 1 s, 3 s, ...), so one that
    is not lost shows up as a completed connection that needed a retry."""
    return lost_queued(r) + (r.get("syn_retried") or 0)


# Of the run as a whole, set by main() before any of the below is asked.
MAX_RATE = None     # the probed maximum rate (# eval: max_rate)
SWEEP = []          # every sweep run, to set a cell beside the others of its load


def queue_full(r):
    """(before, gap, after): the connections that found the queue full, by
    when they started: before the old server stopped accepting, in the gap
    (up to the new server's first accept), after it.  The model counts the
    gap's; a run that did not split them puts them all in the gap."""
    q = r.get("queue_full")
    if not q:
        return 0, sweep_measured(r), 0
    return q["before"], q["gap"], q["after"]


def room(r, least=True):
    """The accept queue's room as the gap began: the backlog less what
    waited in it then (a server near its limit does not keep it empty; its
    queue swings, so the least room over the 50 ms before the stop, or with
    @least False the most)."""
    q = r.get("queued_max" if least else "queued_min")
    if q is None:
        q = r.get("queued_at_stop")
    return max(0, r["backlog"] - q) if q and q > 0 else r["backlog"]


def arrivals(r):
    """The connections started in the gap the run really had (nobody
    accepting from the stop to the new server's first accept: the handoff's
    own time added): counted by the client where it did, else rate x the
    measured dead time."""
    if r.get("started_gap") is not None:
        return r["started_gap"]
    d = dead_ms(r)
    g = max(r["gap_ms"], d) if d is not None else r["gap_ms"]
    return round(r["rate"] * g / 1000)


def model_hi(r):
    """The model fed with what the run really had: the gap's arrivals less
    the queue's room."""
    return max(0, arrivals(r) - room(r))


def model_range(r):
    """From the least the model and its measured inputs give to the most."""
    m = model_lost(r["rate"], r["gap_ms"], r["backlog"])
    lo = max(0, arrivals(r) - room(r, least=False))
    return min(m, lo), max(m, model_hi(r))


def slack(r):
    return max(3, round(0.05 * r["rate"] * max(r["gap_ms"], 1) / 1000))


def at_limit(r):
    """The run's rate is the probed maximum: the server has no room to spare."""
    return bool(MAX_RATE) and r["rate"] >= MAX_RATE


def on_model(r):
    """The connections started in the gap sit on the model.  At the probed
    maximum the model is a floor: the server is at its limit and its queue
    swings faster than it is sampled, so the room the gap found is not
    known better than that."""
    lo, hi = model_range(r)
    m = queue_full(r)[1]
    if at_limit(r):
        return lo - slack(r) <= m
    return lo - slack(r) <= m <= hi + slack(r)


def over_model(r):
    """How far the gap's count is above the model's top, beyond the slack."""
    return queue_full(r)[1] - model_range(r)[1] - slack(r)




def explain_sweep(r):
    """Why a sweep cell is where it is, from its own numbers."""
    lo, hi = model_range(r)
    before, m, after = queue_full(r)
    k = r["kernel"]
    parts = []
    if on_model(r) and over_model(r) <= 0 and not before and not after:
        return None
    d = dead_ms(r)
    above = (f"{m - hi} more than the model with the gap's {arrivals(r)} arrivals (dead "
             f"{fmt_ms(d)} ms) and the queue's {'least ' if at_limit(r) else ''}room "
             f"({room(r)}) among those started in the gap")
    if at_limit(r) and over_model(r) > 0:
        same = [o for o in SWEEP if o is not r and (o["rate"], o["gap_ms"], o["backlog"]) ==
                (r["rate"], r["gap_ms"], r["backlog"])]
        parts.append(above + ": at the probed maximum the server is at its limit; its "
                     "queue " + (f"swung from {r['queued_min']} to {r['queued_max']} in the 50 ms "
                                 "before the stop (sampled every 5 ms) and "
                                 if r.get("queued_max") is not None else "") +
                     "fills between samples, so the model is a floor here; the same load with "
                     "the other methods: " +
                     ", ".join(f"{o['scenario']} {queue_full(o)[1] - model_range(o)[1]:+d}"
                               for o in same))
    elif on_model(r):
        parts.append(f"the {m} started in the gap sit on the model")
    elif m > hi:
        parts.append(above)
        if lost_queued(r):
            parts.append(f"{lost_queued(r)} lost outright ({r['outcomes']['timeout']} timed out, "
                         f"{r['outcomes']['reset']} reset, {r['outcomes']['refused']} refused): "
                         "a retried SYN that found the queue full again until the timeout")
    else:
        parts.append(f"{lo - m} fewer than the model: the client did not reach "
                     f"{r['rate']}/s in the gap, or the queue admitted backlog + 1 "
                     f"(ListenOverflows {k['ListenOverflows']})")
    if before:
        parts.append(f"{before} started before the old server stopped and found the queue "
                     "full already: at this rate it was at its limit (its queue was not empty "
                     "when the gap began)")
    if after and not m:
        parts.append(f"{after} started after the new server's first accept and found the "
                     "queue full, with nothing dropped in the gap: the server at its limit "
                     f"({r['rate']}/s" + (f", the probed maximum {MAX_RATE}/s)" if MAX_RATE else ")"))
    elif after:
        parts.append(f"{after} started after the new server's first accept and found the "
                     f"queue still full: the new server drains the queue the gap filled while "
                     f"new connections arrive ({r['rate']}/s) and the SYNs dropped in the gap "
                     "come back 1 s and 3 s after their first try, up to twice the rate in "
                     f"all{saturation(r)}")
    return "; ".join(parts)


def saturation(r):
    if not MAX_RATE:
        return ""
    return f" ({2 * r['rate']}/s against the {MAX_RATE}/s the client drove in the probe)"


def model_text(r):
    """"m", or "lo..hi" where the run's own inputs widen the model m."""
    lo, hi = model_range(r)
    return f"{lo}..{hi}" if lo != hi else str(lo)


def sweep_tables(sweep):
    out = []
    for m, v in sorted({(r["method"], r["variant"]) for r in sweep}):
        rs = [r for r in sweep if r["method"] == m and r["variant"] == v]
        gaps = sorted({r["gap_ms"] for r in rs})
        head = ["rate/s", "backlog"] + [f"gap {g} ms" for g in gaps]
        rows = []
        for (rate, backlog), group in sorted(by_key(rs, "rate", "backlog").items()):
            row = [str(rate), str(backlog)]
            for g in gaps:
                c = [r for r in group if r["gap_ms"] == g]
                if not c:
                    row.append("-")
                    continue
                r = c[0]
                before, _, after = queue_full(r)
                s = f"{sweep_measured(r)} ({lost_queued(r)} lost"
                s += f"; {before} before, {after} after the gap)" if before or after else ")"
                s += f" / model {model_text(r)}"
                if not r["ok"]:
                    s += " (run failed)"
                row.append(s)
            rows.append(row)
        out.append((f"{m} ({v})", head, rows))
    return out


def svg_model(sweep, path):
    """Measured (queue found full: lost + retried) against modelled, one dot
    per sweep run, coloured by method; the diagonal is the model."""
    W, H, L, B, T, R = 640, 480, 70, 50, 40, 170
    pts = [(model_lost(r["rate"], r["gap_ms"], r["backlog"]), queue_full(r)[1], r)
           for r in sweep]
    top = max([1] + [max(x, y) for x, y, _ in pts]) * 1.05
    sx = lambda v: L + (W - L - R) * v / top
    sy = lambda v: H - B - (H - B - T) * v / top
    palette = ["#1f77b4", "#d62728", "#2a9d3f", "#ff7f0e", "#7f3fbf", "#8c564b", "#555"]
    keys = sorted({(r["method"], r["variant"]) for _, _, r in pts})
    color = {k: palette[i % len(palette)] for i, k in enumerate(keys)}
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
           f'font-family="sans-serif" font-size="11">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{L}" y="20" font-size="14">Load sweep: queue found full, measured '
           f'against max(0, rate x gap - backlog)</text>',
           f'<rect x="{L}" y="{T}" width="{W - L - R}" height="{H - B - T}" fill="none" stroke="#999"/>',
           f'<line x1="{sx(0)}" y1="{sy(0)}" x2="{sx(top)}" y2="{sy(top)}" stroke="#999" '
           f'stroke-dasharray="4,3"/>']
    for i in range(6):
        v = top * i / 5
        out.append(f'<text x="{sx(v):.1f}" y="{H - B + 14}" text-anchor="middle">{v:.0f}</text>'
                   f'<text x="{L - 6}" y="{sy(v) + 4:.1f}" text-anchor="end">{v:.0f}</text>')
    out.append(f'<text x="{(L + W - R) / 2}" y="{H - 12}" text-anchor="middle">modelled '
               f'(connections)</text>'
               f'<text x="16" y="{(T + H - B) / 2}" transform="rotate(-90 16 {(T + H - B) / 2})" '
               f'text-anchor="middle">measured: started in the gap, lost + SYN retried</text>')
    for x, y, r in pts:
        out.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3.5" fill="none" '
                   f'stroke="{color[(r["method"], r["variant"])]}" stroke-width="1.5">'
                   f'<title>{html.escape(r["scenario"])} rate {r["rate"]} gap {r["gap_ms"]} '
                   f'backlog {r["backlog"]}</title></circle>')
    for i, k in enumerate(keys):
        y = T + 10 + 16 * i
        out.append(f'<circle cx="{W - R + 14}" cy="{y}" r="4" fill="none" stroke="{color[k]}" '
                   f'stroke-width="1.5"/><text x="{W - R + 22}" y="{y + 4}">'
                   f'{html.escape(k[0] + " (" + k[1] + ")")}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out))


# --- many fds ---------------------------------------------------------------------

def fds_table(fds):
    head = ["listeners", "fds in the parcel", "state bytes", "runs", "handoff ms (median)",
            "reclaim ms (median)", "samples ms", "served"]
    rows = []
    for r in sorted(fds, key=lambda r: r.get("fds", 0)):
        s = r.get("served", {})
        served = (f"tcp {s.get('tcp', '?')}/{r.get('listeners', '?')}, udp "
                  f"{'yes' if s.get('udp') else 'NO'}, unix {'yes' if s.get('unix') else 'NO'}, "
                  f"state {'intact' if s.get('state') else 'NOT intact'}")
        rows.append([str(r.get("listeners", "?")), str(r.get("fds", "?")),
                     str(r.get("state_bytes", "?")), str(r.get("runs", "?")),
                     fmt_ms(r.get("handoff_ms")), fmt_ms(r.get("reclaim_ms")),
                     " ".join(f"{x:.1f}" for x in r.get("samples_ms", [])),
                     served + ("" if r.get("ok") else " (run failed: " + r.get("error", "") + ")")])
    return head, rows


def svg_fds(fds, path):
    W, H, L, B, T, R = 560, 340, 60, 45, 40, 20
    pts = sorted((r["fds"], r["handoff_ms"], r.get("reclaim_ms")) for r in fds
                 if r.get("handoff_ms") is not None)
    if not pts:
        return False
    xmax = max(p[0] for p in pts) * 1.05
    ymax = max(max(p[1], p[2] or 0) for p in pts) * 1.15 or 1
    sx = lambda v: L + (W - L - R) * v / xmax
    sy = lambda v: H - B - (H - B - T) * v / ymax
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
           f'font-family="sans-serif" font-size="11">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{L}" y="20" font-size="14">Handoff time against the fds in one parcel</text>',
           f'<rect x="{L}" y="{T}" width="{W - L - R}" height="{H - B - T}" fill="none" stroke="#999"/>']
    for i in range(6):
        out.append(f'<text x="{sx(xmax * i / 5):.1f}" y="{H - B + 14}" text-anchor="middle">'
                   f'{xmax * i / 5:.0f}</text><text x="{L - 6}" y="{sy(ymax * i / 5) + 4:.1f}" '
                   f'text-anchor="end">{ymax * i / 5:.1f}</text>')
    for idx, (name, color) in enumerate((("handoff (first accept - start)", "#1f77b4"),
                                         ("reclaim (parcel in hand - start)", "#ff7f0e"))):
        line = [(sx(x), sy(y if idx == 0 else (z or 0))) for x, y, z in pts]
        out.append('<polyline fill="none" stroke="%s" points="%s"/>' %
                   (color, " ".join(f"{a:.1f},{b:.1f}" for a, b in line)))
        out += [f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3" fill="{color}"/>' for a, b in line]
        out.append(f'<text x="{L + 10}" y="{T + 16 + 14 * idx}" fill="{color}">{name}</text>')
    out.append(f'<text x="{(L + W - R) / 2}" y="{H - 10}" text-anchor="middle">fds in the '
               f'parcel</text><text x="14" y="{(T + H - B) / 2}" transform="rotate(-90 14 '
               f'{(T + H - B) / 2})" text-anchor="middle">ms (median)</text></svg>')
    with open(path, "w") as f:
        f.write("\n".join(out))
    return True


# --- details -------------------------------------------------------------------------

def matrix_table(runs):
    head = ["scenario", "variant", "gap ms", "attempted", "completed", "refused", "reset",
            "timed out", "in hand", "model", "p50 ms", "p99 ms", "max ms", "dead ms",
            "ListenDrops", "ListenOverflows", "MigrateReq ok/fail", "parked/adopted/expired"]
    rows = []
    for r in runs:
        o, k = r["outcomes"], r["kernel"]
        rows.append([r["scenario"], r["variant"], str(r["gap_ms"]), str(r["attempted"]),
                     str(o["completed"]), str(o["refused"]), str(o["reset"]), str(o["timeout"]),
                     str(in_hand(r)), str(matrix_model(r)), fmt_ms(r["p50_ms"]),
                     fmt_ms(r["p99_ms"]), fmt_ms(r["max_ms"]), fmt_ms(dead_ms(r)),
                     str(k["ListenDrops"]), str(k["ListenOverflows"]),
                     f"{k['TCPMigrateReqSuccess']}/{k['TCPMigrateReqFailure']}",
                     f"{k.get('UnixDelayCloseParked', '?')}/{k.get('UnixDelayCloseAdopted', '?')}"
                     f"/{k.get('UnixDelayCloseExpired', '?')}"])
    return head, rows


def matrix_model(r):
    """Modelled loss of a matrix run: a method that keeps its listener loses
    what overflows the backlog; one that closes it loses every connection
    started while nobody listened."""
    if (r["method"], r["variant"]) in KEEPS:
        return model_lost(r["rate"], r["gap_ms"], r["backlog"])
    return gap_conns(r)


def explain_matrix(r):
    """A sentence for a matrix run that differs from its model, from its numbers."""
    m, got = matrix_model(r), lost(r)
    if got == m:
        return None
    o, k = r["outcomes"], r["kernel"]
    bits = []
    if in_hand(r):
        bits.append(f"{in_hand(r)} connection(s) were in the killed process's hand (accepted, "
                    "not answered): they die with any method")
    if (r["method"], r["variant"]) in KEEPS:
        rest = got - in_hand(r)
        if rest > 0:
            bits.append(f"{rest} more ({o['refused']} refused, {o['reset']} reset, "
                        f"{o['timeout']} timed out; ListenOverflows {k['ListenOverflows']})")
    else:
        queued = o["reset"] - in_hand(r)
        if queued > 0:
            bits.append(f"{queued} reset: connections queued on the listener when it was "
                        "closed (the accept queue is dropped with it)"
                        + (f"; TCPMigrateReqFailure {k['TCPMigrateReqFailure']}: nothing left "
                           "in the group to migrate to" if k["TCPMigrateReqFailure"] > 0 else ""))
        d = dead_ms(r)
        if d is not None:
            bits.append(f"{o['refused']} refused: {gap_conns(r)} connections started from the "
                        f"old server's last accept to the new one listening; nobody accepted "
                        f"for {fmt_ms(d)} ms in all, the {r['gap_ms']} ms gap and the restart's "
                        "own time")
    if not bits:
        bits.append(f"{got} lost against a model of {m}")
    return f"- {r['scenario']}, gap {r['gap_ms']} ms: lost {got}, model {m}: " + "; ".join(bits) + "."


def svg_conns(sc, rs, path):
    """Connection outcomes over time, one panel per gap, events marked."""
    W, PH, L, R, T, GAP = 900, 150, 60, 20, 40, 40
    H = T + len(rs) * (PH + GAP) + 20
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
           f'font-family="sans-serif" font-size="11">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{L}" y="18" font-size="14">{html.escape(sc)}</text>']
    x = L
    for o in OUTCOMES:
        out.append(f'<circle cx="{x}" cy="30" r="3" fill="{COLORS[o]}"/>'
                   f'<text x="{x + 6}" y="34">{o}</text>')
        x += 75
    for ev, label, color in EVENTS:
        out.append(f'<line x1="{x}" y1="26" x2="{x}" y2="36" stroke="{color}" '
                   f'stroke-dasharray="3,2"/><text x="{x + 4}" y="34">{label}</text>')
        x += 80
    for i, r in enumerate(rs):
        y0 = T + i * (PH + GAP) + 10
        conns = r.get("conns") or []
        span = max([c[0] + c[1] for c in conns] + [1000.0])
        ymax = max([c[1] for c in conns] + [10.0]) * 1.1
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
            t = r.get("events", {}).get(ev)
            if t is not None:
                out.append(f'<line x1="{sx(t):.1f}" y1="{y0}" x2="{sx(t):.1f}" y2="{y0 + PH}" '
                           f'stroke="{color}" stroke-dasharray="3,2"/>')
        for start, lat, o in conns:
            out.append(f'<circle cx="{sx(start):.1f}" cy="{sy(lat):.1f}" r="2" '
                       f'fill="{COLORS[OUTCOMES[o]]}"/>')
    out.append(f'<text x="{W / 2}" y="{H - 4}" text-anchor="middle">'
               f'connection start, ms from the start of the load</text></svg>')
    with open(path, "w") as f:
        f.write("\n".join(out))


def sd_table(sd):
    head = ["anchor", "server", "event", "unit", "gap ms", "pause ms", "rate/s", "attempted",
            "completed", "refused", "reset", "timed out", "in hand", "p99 ms", "note"]
    rows = []
    for r in sd:
        o = r["outcomes"]
        rows.append([r["anchor"], r["server"], r["event"], f"`{r.get('unit', '?')}`",
                     fmt_ms(r.get("gap_ms")), str(r.get("pause_ms", 0)), str(r.get("rate", "?")),
                     str(r["attempted"]), str(o["completed"]), str(o["refused"]), str(o["reset"]),
                     str(o["timeout"]), str(in_hand(r)), fmt_ms(r.get("p99_ms")),
                     (r.get("note") or "") + ("" if r.get("ok", True)
                                              else f" (run failed: {r.get('error', '')})")])
    return head, rows


def sd_reading(sd):
    """Where systemd alone is as good as puds, and where it is not, per event
    and server, from the numbers."""
    out = []
    puds = {(r["server"], r["event"]): r for r in sd if r["anchor"] == "puds-run"}
    for a, what, _, _ in ANCHORS:
        if a == "puds-run":
            continue
        for r in [r for r in sd if r["anchor"] == a]:
            ev = "stop-start" if r["event"] == "stop-start-socket" else r["event"]
            p = puds.get((r["server"], ev))
            other = ""
            if p is None:       # the fd store's own server: against puds run with another
                p = next((x for (srv, e), x in sorted(puds.items()) if e == ev), None)
                other = f" with {p['server']}" if p else ""
            verdict = ""
            if p is not None:
                if lost_queued(r) <= lost_queued(p):
                    verdict = (f"as good as `puds run`{other} ({lost_queued(p)} lost beyond what "
                               "was in hand)")
                else:
                    verdict = (f"worse than `puds run`{other}: {lost_queued(r)} lost beyond what "
                               f"was in hand against {lost_queued(p)}")
            else:
                verdict = "(no `puds run` twin with this server: compare with the puds-run rows)"
            out.append(f"- {a}, {r['server']}, {r['event']}: {lost(r)} of {r['attempted']} lost "
                       f"({in_hand(r)} in hand), nothing served for {fmt_ms(r.get('gap_ms'))} ms: "
                       f"{verdict}." + (f" {r['note']}" if r.get("note") else ""))
    return out


def reading(matrix, sd):
    """Which methods lost nothing beyond what was in hand, column by column,
    from the numbers of this run."""
    out = []
    for col, title in COLUMNS:
        zero, some = [], []
        for m, what, _, _ in METHODS:
            rs, _ = method_runs(matrix, m, col)
            if m == "puds" and col == "crash":
                rs = rs + method_runs(matrix, m, "crash-adopt")[0]
            if rs:
                n = sum(lost_queued(r) for r in rs)
                (zero if n == 0 else some).append(what if n == 0 else f"{what} ({n})")
        for a, what, _, _ in ANCHORS:
            evs = [SD_EVENT[col]] + (["stop-start-socket"] if col == "stop-start" else [])
            for ev in evs:
                rs = [r for r in sd if r["anchor"] == a and r["event"] == ev]
                if rs:
                    n = sum(lost_queued(r) for r in rs)
                    label = what + (" with its .socket stopped too" if ev.endswith("-socket") else "")
                    (zero if n == 0 else some).append(label if n == 0 else f"{label} ({n})")
        out.append(f"- {title}: nothing lost beyond what was in hand with "
                   f"{'; '.join(zero) or 'no method'}. Lost (all gaps or servers together): "
                   f"{'; '.join(some) or 'none'}.")
    return out


def config_hash(kobj):
    try:
        return hashlib.sha256(open(os.path.join(kobj, ".config"), "rb").read()).hexdigest()[:16]
    except OSError:
        return "?"


def source_package(tree):
    """"linux-source-7.2 7.2.13-1" from the base commit's subject
    (scripts/kernel-tree.sh: "Linux V as shipped by Debian's PKG VERSION")."""
    m = re.search(r"shipped by Debian's (.*)", git(tree, "show", "-s", "--format=%s", "puds-base") or "")
    return m.group(1) if m else "linux-source"


def git(tree, *args):
    try:
        return subprocess.run(["git", "-C", tree, *args], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True, check=True).stdout.strip()
    except (subprocess.CalledProcessError, FileNotFoundError):
        return "?"


def load_optional(path):
    if not path or not os.path.exists(os.path.join(path, "run.json")):
        return None
    return harness.load_run(path)


# --- main ------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", required=True, help="the minimal guest's stored run (qemu/run.py --out)")
    ap.add_argument("--sd-run", help="the real-systemd guest's stored run")
    ap.add_argument("--out", required=True)
    ap.add_argument("--tree", required=True)
    ap.add_argument("--kobj", required=True)
    a = ap.parse_args()

    run, sdrun = load_optional(a.run), load_optional(a.sd_run)
    runs = records(run, "PUDS-EVAL")
    bad_lines = [r for r in runs if r.get("malformed")]
    runs = [r for r in runs if not r.get("malformed")]
    if not runs:
        sys.exit(f"eval_report: no PUDS-EVAL line in {a.run}: the guest did not run the eval program")
    for r in runs:
        if not all(k in r for k in ("part", "method", "variant")):
            r.update(ok=False, error=f"{r.get('scenario', '?')}: no part/method/variant "
                     "(an eval program older than this report?)", part="", method="", variant="")
    matrix = [r for r in runs if r["part"] == "matrix"]
    sweep = [r for r in runs if r["part"] == "sweep"]
    fds = records(run, "PUDS-EVAL-FDS")
    sd = records(sdrun, "PUDS-EVAL-SD")
    bad_lines += [r for r in fds + sd if r.get("malformed")]
    fds = [r for r in fds if not r.get("malformed")]
    sd = [r for r in sd if not r.get("malformed")]
    keys = keyed(run, "eval")
    sdkeys_lines = [l for n in (sdrun.names if sdrun else []) for l in sdrun.output(n)
                    if l.startswith("# eval-sd: systemd ")]
    cmdline = (run.verdict.get("cmdline") if run else None) or "?"
    quick = "puds.eval=quick" in cmdline
    os.makedirs(a.out, exist_ok=True)

    gaps, shead, srows = summary(matrix, sd)
    global MAX_RATE
    try:
        MAX_RATE = int(keys.get("max_rate", ""))
    except ValueError:
        MAX_RATE = None
    SWEEP[:] = sweep
    exp = expectations(matrix, sweep, sd, quick)
    failed = [r for r in runs + fds + sd if not r.get("ok", True)] + bad_lines
    for name, verdict in (("minimal guest", run), ("systemd guest", sdrun)):
        if verdict is not None and verdict.verdict.get("failed"):
            failed.append({"scenario": name, "error": "; ".join(verdict.verdict.get("failures", []))})
    release = "?"
    try:
        release = open(os.path.join(a.kobj, "include/config/kernel.release")).read().strip()
    except OSError:
        pass
    p = matrix[0] if matrix else runs[0]

    md = ["# make eval: restarting a server without losing connections", "",
          f"Generated {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC} by "
          f"`make eval` from `{os.path.relpath(a.run)}`"
          + (f" and `{os.path.relpath(a.sd_run)}`" if sdrun else "")
          + "; every number below comes from this run" + (" (quick mode)" if quick else "") + ".",
          "", "## Summary: connections lost", "",
          f"Each cell: connections lost at the gaps {' · '.join(str(g) for g in gaps)} ms "
          f"({p['rate']} connections/s, backlog {p['backlog']}), beyond those the killed "
          "process held in its hand (\"in hand\": accepted, not answered; they die with "
          "any method). The systemd rows: lost per server in one event each (gaps measured, "
          "below). \"needs overlap\": the old and the new process must run at once; \"needs "
          "PID 1\": PID 1 holds the fds.", "",
          markdown_table(shead, srows, left=4), "", "## Expectations", ""]
    for statement, ok, detail in exp:
        md.append(f"- {'agrees' if ok else '**DISAGREES**'}: {statement}. {detail}.")
    if not sdrun:
        md.append("- The real-systemd guest did not run (no `--sd-run`): its anchors are "
                  "missing above.")
    md += ["", "## Reading", ""] + reading(matrix, sd)

    md += ["", "## What ran", "",
           f"- Kernel: Linux {release}, Debian's {source_package(a.tree)} with the series "
           f"(`{git(a.tree, 'rev-parse', '--short', 'HEAD')}`, "
           f"{git(a.tree, 'rev-list', '--count', 'puds-base..HEAD')} patches on tag `puds-base`), "
           f"config: tinyconfig + `qemu/guest.config` (`{os.path.relpath(os.path.join(a.kobj, '.config'))}`, "
           f"sha256 `{config_hash(a.kobj)}`); QEMU TCG (no KVM), 2 vCPUs.",
           f"- Minimal guest command line: `{cmdline}`",
           f"- Restarts: {p['rate']} connections/s on 127.0.0.1:8080 from one client process, "
           f"{p['before_ms']} ms before the restart, the gap, {p['after_ms']} ms after it; each "
           f"connection sends a request and waits {p['timeout_ms']} ms at most for the reply. "
           f"Listen backlog {p['backlog']}. UNIX_DELAY_CLOSE {p['delay_ms']} ms. Each run has a "
           "network namespace of its own, so the kernel counters are the run's alone.",
           f"- The most the guest's client drives: {keys.get('max_rate', '?')} connections/s; "
           f"the most `net.core.somaxconn` allows: {keys.get('somaxconn_max', '?')}.",
           "- Gap: from the moment the old server stops accepting (or is killed) to the new "
           "server's start. Planned: the old listener stays open through it where the method "
           "allows (reuseport, BPF, SCM_RIGHTS: overlap), or is parked (puds). Crash: the old "
           "server is SIGKILLed at the worst moment for its method (before it sent the fds; "
           "before the new listener is bound; for puds anywhere, and the successor while it "
           "adopts), the successor starts after the gap, as a supervisor would start it. "
           "Stop, then start: the old server exits with nobody to hand to. \"dead ms\": "
           "measured time from the stop to the new server's first accept.",
           "- Outcomes: completed = the reply came; refused = ECONNREFUSED (nobody listened); "
           "reset = RST or EOF before the reply (an accept queue dropped with its listener, "
           "or the connection died in a killed process's hand); timed out = no reply in time."]
    if sdkeys_lines:
        md.append(f"- Real-systemd guest: {sdkeys_lines[0][len('# eval-sd: '):]} as PID 1, "
                  f"command line `{sdrun.verdict.get('cmdline') or '?'}`.")

    md += ["", "## Planned restarts and crashes, every gap", "",
           "\"model\": a method that keeps its listener loses what overflows the backlog, "
           "max(0, rate x gap - backlog); one that closes it loses every connection started "
           "while nobody listened.", "",
           markdown_table(*matrix_table(matrix), left=2), ""]
    diffs = [e for e in (explain_matrix(r) for r in matrix) if e]
    if diffs:
        md += ["Cells that differ from the model, and why:", ""] + diffs + [""]

    if sweep:
        svg_model(sweep, os.path.join(a.out, "model.svg"))
        md += ["## Load up to the backlog's limit", "",
               "Every method that keeps a listener through the gap, at every rate, gap and "
               "backlog. Linux drops a SYN that finds the accept queue full (counted in "
               "`ListenOverflows`, and in `ListenDrops`, which counts every drop); the client "
               "sends it again after 1 s, 3 s, ... So a connection the model counts as lost is "
               "either lost (timed out) or completed after a SYN retry: each cell gives both "
               "together, then those lost outright, then the model, max(0, rate x gap - "
               "backlog), and after \"..\" the model fed with what the run really had: the "
               "connections the client started while nobody accepted (from the stop to the new "
               "server's first accept: the handoff's own time added, and the client's own "
               "unevenness), less the queue's room (the backlog less what waited in it, sampled "
               "every 5 ms over the 50 ms before the gap: its least and its most, for a queue "
               "near its limit swings). "
               "The model counts the connections started in the gap; a cell that also counts "
               "some started before or after it says how many, and the notes below say why.", "",
               "![measured against modelled](model.svg)", ""]
        for title, head, rows in sweep_tables(sweep):
            md += [f"### {title}", "", markdown_table(head, rows, left=2), ""]
        notes = [f"- {r['scenario']}, rate {r['rate']}, gap {r['gap_ms']} ms, backlog "
                 f"{r['backlog']}: {e}." for r in sweep for e in [explain_sweep(r)] if e]
        md += (["Cells off the model, and why:", ""] + notes + [""]) if notes else \
              ["Every cell sits on the model (within its slack: 3 connections or 5% of rate x gap).", ""]
        totals = {}
        for r in matrix + sweep:
            totals[r["scenario"]] = totals.get(r["scenario"], 0) + r["attempted"]
        md += ["Connections through each configuration in this run: " +
               ", ".join(f"{k} {v}" for k, v in sorted(totals.items())) + ".", ""]
    else:
        md += ["## Load up to the backlog's limit", "", "Not run (no sweep run in the output).", ""]

    md += ["## systemd: the anchors that hold fds in PID 1", ""]
    if sd:
        md += [markdown_table(*sd_table(sd), left=4), "", "Where systemd alone is as good as "
               "puds, and where it is not (lost beyond what the killed process held):", ""]
        md += sd_reading(sd) + [""]
    else:
        md += ["The real-systemd guest did not run, or printed no PUDS-EVAL-SD line.", ""]

    md += ["## Many fds in one parcel", ""]
    if fds:
        md += ["TCP listeners, a UDP socket, a unix stream listener and a memfd with state, "
               "parked in one parcel by a server that exits; during the gap a client connects "
               "to every listener, sends a datagram and connects to the unix listener; the new "
               "server reclaims the parcel and serves them all. Handoff = the new server's first "
               "accept minus its start.", "", markdown_table(*fds_table(fds)), ""]
        if svg_fds(fds, os.path.join(a.out, "fds.svg")):
            md += ["![handoff time against fds](fds.svg)", ""]
    else:
        md += ["Not run (no PUDS-EVAL-FDS line in the minimal guest's output).", ""]

    if failed:
        md += ["## Runs that did not go as planned", ""]
        md += [f"- {r.get('scenario') or r.get('anchor', '?') + '/' + str(r.get('server', '?'))}"
               f"{' gap ' + str(r['gap_ms']) + ' ms' if 'gap_ms' in r else ''}: "
               f"{r.get('error') or 'see the stored run'}" for r in failed]
        md.append("")
    md += ["## Plots of every restart", "",
           "Each dot is one connection: when it started (x) and how long it took to get its "
           "reply or its failure (y), coloured by outcome; dashed lines mark the old server "
           "stopping or killed, gone, the new server listening and its first accept.", ""]
    for sc in dict.fromkeys(r["scenario"] for r in matrix):
        rs = sorted([r for r in matrix if r["scenario"] == sc], key=lambda r: r["gap_ms"])
        svg_conns(sc, rs, os.path.join(a.out, f"{sc}.svg"))
        md.append(f"![{sc}]({sc}.svg)")
    md += ["", "Under TCG, absolute times are the emulator's; compare within this run only."]
    report = os.path.join(a.out, "report.md")
    with open(report, "w") as f:
        f.write("\n".join(md) + "\n")

    print()
    print(f"connections lost (gaps {' · '.join(str(g) for g in gaps)} ms, beyond those in a "
          "killed process's hand):")
    print(text_table(shead, srows))
    print()
    for statement, ok, detail in exp:
        print(f"{'agrees    ' if ok else 'DISAGREES '} {statement}")
    print(f"\neval: report in {os.path.relpath(report)}, plots beside it")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
