"""scripts/debug-report.py on made-up stored runs: a clean run passes; a
splat, a kmemleak report, a leaked fd, a count off its baseline or a missing
kmemleak scan each fail it, and the figures it prints come from the
programs' keyed lines (qemu/harness.py), never from their wording."""
import pathlib
import subprocess
import sys
import tempfile
import unittest

TOP = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = TOP / "scripts" / "debug-report.py"
sys.path.insert(0, str(TOP / "qemu"))
import harness  # noqa: E402

STRESS = """TAP version 13
# unix_stress: 300 s, 4 workers (worker 0 as uid 65534), 12 paths, delays up to 1500 ms
ok 1 invariants held as it ran (0 violations)
ok 2 every parked queue was adopted or expired (ns0: 3 parked = 2 adopted + 1 expired)
# stress: seconds_asked 300
# stress: ran_ms 300400
# stress: iterations 9136
# stress: parks 681
# stress: tokens_sent 5511
# stress: tokens_received 175
# stress: cycles_made 1820
# stress: cycles_collected 1820
# stress: violations {violations}
# stress: leaks {leaks}
# stress: baseline_off {off}
# stress: netns0_parked 198
# stress: netns0_adopted 109
# stress: netns0_expired 89
# stress: netns1_parked 115
# stress: netns1_adopted 57
# stress: netns1_expired 58
"""
KMEMLEAK = "# kmemleak: unreferenced {n}\nok 1 no leak reported ({n} objects)\n"


class DebugReport(unittest.TestCase):
    def run_report(self, stress, kmemleak=None, splats=(), failed=0, console=""):
        with tempfile.TemporaryDirectory() as d:
            programs = [{"name": "stress/unix_stress", "output": stress.splitlines()}]
            if kmemleak is not None:
                programs.append({"name": "debug/kmemleak_check",
                                 "output": kmemleak.splitlines()})
            harness.store_run(d, {"passed": 10, "failed": failed, "splats": list(splats),
                                  "programs": programs})
            pathlib.Path(d, "console.log").write_text(console)
            r = subprocess.run([sys.executable, str(SCRIPT), "--run", d,
                                "--vmlinux", str(pathlib.Path(d, "none")), "--tree", d,
                                "--out", str(pathlib.Path(d, "report.md"))],
                               capture_output=True, text=True)
            return r.returncode, r.stdout + r.stderr

    def stress(self, violations=0, leaks=0, off=0):
        return STRESS.format(violations=violations, leaks=leaks, off=off)

    def test_clean_run_passes_and_reports_the_figures(self):
        rc, out = self.run_report(self.stress(), KMEMLEAK.format(n=0))
        self.assertEqual(rc, 0, out)
        self.assertRegex(out, r"stress run\s+300.4 s of 300 s asked")
        self.assertRegex(out, r"iterations\s+9136")
        self.assertRegex(out, r"queues parked / adopted / expired.*313 / 166 / 147")
        self.assertRegex(out, r"cycles made / collected.*1820 / 1820")
        self.assertRegex(out, r"leaks found \(must be 0\)\s+0 ")
        self.assertRegex(out, r"splats.*\s0\n")

    def test_splat_fails_and_is_shown(self):
        line = "[   12.000000] BUG: KASAN: slab-use-after-free in unix_del_edges+0x1/0x2"
        rc, out = self.run_report(self.stress(), KMEMLEAK.format(n=0), splats=[line],
                                  failed=1, console=line + "\n")
        self.assertEqual(rc, 1)
        self.assertIn("first splat", out)
        self.assertIn("unix_del_edges", out)

    def test_kmemleak_report_fails(self):
        rc, out = self.run_report(self.stress(), KMEMLEAK.format(n=2))
        self.assertEqual(rc, 1)
        self.assertIn("kmemleak 2", out)

    def test_leaked_fd_fails(self):
        rc, out = self.run_report(self.stress(violations=1, leaks=1), KMEMLEAK.format(n=0))
        self.assertEqual(rc, 1)
        self.assertIn("fds never released 1", out)

    def test_count_off_baseline_fails(self):
        rc, out = self.run_report(self.stress(off=1), KMEMLEAK.format(n=0))
        self.assertEqual(rc, 1)
        self.assertIn("counts off baseline 1", out)

    def test_wording_is_not_read(self):
        # A sentence that says "leak" is not a figure: only keyed lines count.
        stress = self.stress() + "# VIOLATION (worker 1): token 7 ... (leak)\n"
        rc, out = self.run_report(stress, KMEMLEAK.format(n=0))
        self.assertEqual(rc, 0, out)

    def test_missing_kmemleak_scan_fails(self):
        rc, _ = self.run_report(self.stress(), "")
        self.assertEqual(rc, 1)


if __name__ == "__main__":
    unittest.main()
