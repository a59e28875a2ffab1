"""scripts/debug-report.py on made-up consoles: a clean run passes; a splat,
a kmemleak report, a leaked fd, a counter off its baseline or a missing
kmemleak scan each fail it, and the figures it prints come from the stress
program's own lines."""
import json
import pathlib
import subprocess
import sys
import tempfile
import unittest

TOP = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = TOP / "scripts" / "debug-report.py"

STRESS = """PUDS-TEST-BEGIN stress/unix_stress timeout=1500
TAP version 13
# unix_stress: 300 s, 4 workers (worker 0 as uid 65534), 12 paths, delays up to 1500 ms
# ran 300.4 s
ok 1 invariants held as it ran (0 violations)
ok 2 every parked queue was adopted or expired (ns0: 3 parked = 2 adopted + 1 expired)
{extra}# stress: iterations 9136
# stress: parks 681
# stress: tokens_sent 5511
# stress: tokens_received 175
# stress: cycles_made 1820
# stress: cycles_collected 1820
# stress: violations {violations}
# stress: netns0_queues parked 198 adopted 109 expired 89
# stress: netns1_queues parked 115 adopted 57 expired 58
PUDS-TEST-END stress/unix_stress rc=0
"""
KMEMLEAK = """PUDS-TEST-BEGIN debug/kmemleak_check timeout=900
# kmemleak: {n} unreferenced objects
PUDS-TEST-END debug/kmemleak_check rc=0
"""


class DebugReport(unittest.TestCase):
    def run_report(self, console, splats=(), failed=0, programs=("stress/unix_stress",
                                                                  "debug/kmemleak_check")):
        with tempfile.TemporaryDirectory() as d:
            d = pathlib.Path(d)
            (d / "console.log").write_text(console)
            (d / "guest.json").write_text(json.dumps({
                "passed": 10, "failed": failed, "splats": list(splats),
                "programs": [{"name": p} for p in programs]}))
            r = subprocess.run([sys.executable, str(SCRIPT), "--console", str(d / "console.log"),
                                "--results", str(d / "guest.json"), "--vmlinux", str(d / "none"),
                                "--tree", str(d), "--out", str(d / "report.md")],
                               capture_output=True, text=True)
            return r.returncode, r.stdout

    def console(self, kmemleak=0, extra="", violations=0):
        return STRESS.format(extra=extra, violations=violations) + KMEMLEAK.format(n=kmemleak)

    def test_clean_run_passes_and_reports_the_figures(self):
        rc, out = self.run_report(self.console())
        self.assertEqual(rc, 0, out)
        self.assertRegex(out, r"iterations\s+9136")
        self.assertRegex(out, r"queues parked / adopted / expired.*313 / 166 / 147")
        self.assertRegex(out, r"cycles made / collected.*1820 / 1820")
        self.assertRegex(out, r"leaks found \(must be 0\)\s+0 ")
        self.assertRegex(out, r"splats.*\s0$|splats.*\s0\n")

    def test_splat_fails_and_is_shown(self):
        line = "[   12.000000] BUG: KASAN: slab-use-after-free in unix_del_edges+0x1/0x2"
        rc, out = self.run_report(self.console() + line + "\n", splats=[line], failed=1)
        self.assertEqual(rc, 1)
        self.assertIn("first splat", out)
        self.assertIn("unix_del_edges", out)

    def test_kmemleak_report_fails(self):
        rc, out = self.run_report(self.console(kmemleak=2))
        self.assertEqual(rc, 1)
        self.assertIn("kmemleak 2", out)

    def test_leaked_fd_fails(self):
        leak = ("# VIOLATION (worker 1): token 7 (op 3, shape 0, canary 0): a read end is "
                "still open 61500 ms after the last park could have expired (leak)\n")
        rc, out = self.run_report(self.console(extra=leak, violations=1))
        self.assertEqual(rc, 1)
        self.assertIn("fds never released 1", out)

    def test_counter_off_baseline_fails(self):
        off = "not ok 5 socket counts back at baseline: unix 2/0, all 2/0\n"
        rc, out = self.run_report(self.console(extra=off))
        self.assertEqual(rc, 1)
        self.assertIn("counters off baseline 1", out)

    def test_missing_kmemleak_scan_fails(self):
        rc, _ = self.run_report(STRESS.format(extra="", violations=0))
        self.assertEqual(rc, 1)


if __name__ == "__main__":
    unittest.main()
