"""Expected-output cases for the test channel and console formats
(qemu/harness.py) and qemu/run.py's verdict."""
import importlib.util
import io
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import harness  # noqa: E402

_spec = importlib.util.spec_from_file_location(
    "run", os.path.join(os.path.dirname(__file__), "..", "run.py"))
run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run)

HARNESS_OK = """\
PUDS-GUEST-START kernel=7.2.13 cmdline=console=ttyS0 panic=-1 puds.only=af_unix/unix_connect
PUDS-TEST-BEGIN af_unix/unix_connect timeout=300
TAP version 13
1..2
# Starting 2 tests from 2 test cases.
#  RUN           unix_connect.stream.test ...
#            OK  unix_connect.stream.test
ok 1 unix_connect.stream.test
#  RUN           unix_connect.dgram.test ...
#            OK  unix_connect.dgram.test
ok 2 unix_connect.dgram.test
# PASSED: 2 / 2 tests passed.
# Totals: pass:2 fail:0 xfail:0 xpass:0 skip:0 error:0
PUDS-TEST-END af_unix/unix_connect rc=0
PUDS-GUEST-DONE tests=1
"""


def verdict(channel, status=1, timed_out=False, expected=None, console="", skips=frozenset()):
    return run.judge_run(console, channel, status, timed_out, 60, expected, skips)


class Parse(unittest.TestCase):
    def test_all_pass(self):
        v = verdict(HARNESS_OK, expected=["af_unix/unix_connect"])
        self.assertEqual((v.passed, v.failed, v.skipped), (2, 0, 0))
        self.assertTrue(v.ok)

    def test_totals_line_counts_failures(self):
        text = HARNESS_OK.replace("ok 2 unix_connect.dgram.test", "not ok 2 unix_connect.dgram.test") \
            .replace("pass:2 fail:0", "pass:1 fail:1").replace("rc=0", "rc=1")
        v = verdict(text)
        self.assertEqual((v.passed, v.failed), (1, 1))
        self.assertIn("af_unix/unix_connect: unix_connect.dgram.test", v.failures)

    SKIPPED = HARNESS_OK.replace("ok 2 unix_connect.dgram.test", "ok 2 unix_connect.dgram.test # SKIP no x") \
        .replace("pass:2 fail:0 xfail:0 xpass:0 skip:0", "pass:1 fail:0 xfail:0 xpass:0 skip:1")

    def test_unlisted_skip_fails(self):
        v = verdict(self.SKIPPED)
        self.assertEqual((v.passed, v.failed, v.skipped), (1, 1, 1))
        self.assertIn("1 unexpected skip(s): af_unix/unix_connect: unix_connect.dgram.test", v.failures)

    def test_listed_skip_is_counted_not_passed(self):
        v = verdict(self.SKIPPED, skips={"af_unix/unix_connect: unix_connect.dgram.test"})
        self.assertEqual((v.passed, v.failed, v.skipped), (1, 0, 1))

    def test_skip_in_totals_only_fails(self):
        v = verdict(HARNESS_OK.replace("skip:0", "skip:1"))
        self.assertFalse(v.ok)

    def test_nonzero_exit_without_failing_case_fails(self):
        v = verdict(HARNESS_OK.replace("rc=0", "rc=1"))
        self.assertEqual(v.failed, 1)
        self.assertIn("exit status 1", v.failures[0])

    def test_timeout_kill_fails(self):
        text = HARNESS_OK.replace("# Totals: pass:2 fail:0 xfail:0 xpass:0 skip:0 error:0\n", "") \
            .replace("rc=0", "rc=124")
        v = verdict(text)
        self.assertEqual(v.failed, 1)
        self.assertIn("killed by its timeout", v.failures[0])

    def test_program_without_end_marker_fails(self):
        text = HARNESS_OK.split("# PASSED")[0]
        v = verdict(text, status=0)
        self.assertFalse(v.ok)
        self.assertTrue(any("did not finish" in f for f in v.failures))
        self.assertTrue(any("isa-debug-exit" in f for f in v.failures))

    def test_plain_tap_program(self):
        text = ("PUDS-TEST-BEGIN x/plain timeout=5\nTAP version 13\n1..3\nok 1 a\nnot ok 2 b\n"
                "ok 3 c # SKIP no ipv6\nPUDS-TEST-END x/plain rc=1\nPUDS-GUEST-DONE tests=1\n")
        v = verdict(text, skips={"x/plain: c"})
        self.assertEqual((v.passed, v.failed, v.skipped), (1, 1, 1))
        self.assertEqual(v.failures, ["x/plain: b"])

    def test_non_tap_program_counts_by_exit_status(self):
        ok = verdict("PUDS-TEST-BEGIN x/p timeout=5\nhello\nPUDS-TEST-END x/p rc=0\nPUDS-GUEST-DONE tests=1\n")
        bad = verdict("PUDS-TEST-BEGIN x/p timeout=5\nhello\nPUDS-TEST-END x/p rc=2\nPUDS-GUEST-DONE tests=1\n")
        self.assertEqual((ok.passed, ok.failed), (1, 0))
        self.assertEqual((bad.passed, bad.failed), (0, 1))

    def test_exit_status_4_is_a_skip(self):
        text = "PUDS-TEST-BEGIN x/p timeout=5\nno ipv6\nPUDS-TEST-END x/p rc=4\nPUDS-GUEST-DONE tests=1\n"
        v = verdict(text)
        self.assertEqual((v.passed, v.skipped), (0, 1))
        self.assertFalse(v.ok)      # not listed in the allowed skips
        v = verdict(text, skips={"x/p: (whole program, exit status 4)"})
        self.assertTrue(v.ok)

    def test_start_line_gives_kernel_and_cmdline(self):
        v = verdict(HARNESS_OK)
        self.assertEqual(v.kernel, "7.2.13")
        self.assertEqual(v.cmdline, "console=ttyS0 panic=-1 puds.only=af_unix/unix_connect")

    def test_program_output_is_kept(self):
        v = verdict(HARNESS_OK)
        self.assertEqual(v.programs[0].output[0], "TAP version 13")
        self.assertEqual(v.programs[0].output[-1], "# Totals: pass:2 fail:0 xfail:0 xpass:0 skip:0 error:0")

    def test_missing_program_fails(self):
        v = verdict(HARNESS_OK, expected=["af_unix/unix_connect", "af_unix/scm_rights"])
        self.assertTrue(any("never started: af_unix/scm_rights" in f for f in v.failures))


class WholeRun(unittest.TestCase):
    def test_panic_fails_even_with_status_zero(self):
        text = HARNESS_OK.replace("PUDS-GUEST-DONE tests=1\n", "")
        panic = "[    3.123456] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100\n"
        v = verdict(text, status=0, console=panic)
        self.assertFalse(v.ok)
        self.assertIn("guest: kernel panic", v.failures)

    def test_reboot_without_debug_exit_fails(self):
        v = verdict(HARNESS_OK, status=0)
        self.assertFalse(v.ok)

    def test_timeout_fails(self):
        v = verdict(HARNESS_OK.replace("PUDS-GUEST-DONE tests=1\n", ""), status=None, timed_out=True)
        self.assertTrue(any("timed out" in f for f in v.failures))

    def test_splat_fails_green_tests(self):
        for splat in ["[   12.000001] WARNING: CPU: 1 PID: 80 at net/unix/garbage.c:300 unix_gc+0x1/0x2",
                      "[   12.000001] BUG: KASAN: slab-use-after-free in unix_del_edges+0x1",
                      "[   12.000001] ======================================================\n"
                      "[   12.000002] WARNING: possible circular locking dependency detected",
                      "[   12.000001] unreferenced object 0xffff888003a1c000 (size 2048):",
                      "[   12.000001] Oops: general protection fault, probably for non-canonical address",
                      "[   12.000001] INFO: task kworker/1:1:42 blocked for more than 120 seconds.",
                      "ok 1 foo[   12.000001] BUG: unable to handle page fault"]:
            v = verdict(HARNESS_OK, console="[    0.000000] Linux version 7.2.13\n" + splat + "\n")
            self.assertFalse(v.ok, splat)
            self.assertTrue(any("splat" in f for f in v.failures), splat)

    def test_test_output_mentioning_bug_is_no_splat(self):
        text = HARNESS_OK.replace("# PASSED", "# scm_rights: check for the 2024 GC BUG: none\n# PASSED")
        self.assertTrue(verdict(text).ok)
        # The test channel is never scanned for splats: kernel messages are
        # on the console only.
        text = HARNESS_OK.replace("# PASSED", "[   12.000001] WARNING: in a test's output\n# PASSED")
        self.assertTrue(verdict(text).ok)


class Formats(unittest.TestCase):
    def test_keyed_lines(self):
        lines = ["# stress: leaks 0", "# stress: ran_ms 300400", "# stress: leaks 2",
                 "# stress: a sentence that says leaks 5", "# kmemleak: unreferenced 1",
                 "#stress: x 1", "# stress: neg -3"]
        self.assertEqual(harness.keyed(lines, "stress"), {"leaks": 2, "ran_ms": 300400, "neg": -3})
        self.assertEqual(harness.keyed(lines, "kmemleak"), {"unreferenced": 1})

    def test_stored_run_round_trip(self):
        v = verdict(HARNESS_OK)
        with tempfile.TemporaryDirectory() as d:
            harness.store_run(d, {"passed": v.passed, "failed": v.failed,
                                  "programs": [vars(p) for p in v.programs]})
            r = harness.load_run(d)
            self.assertTrue(r.ran("af_unix/unix_connect"))
            self.assertFalse(r.ran("af_unix/other"))
            self.assertEqual(r.output("af_unix/unix_connect"), v.programs[0].output)
            self.assertEqual(r.output("af_unix/other"), [])
            self.assertNotIn("output", r.verdict["programs"][0])

    def test_missing_stored_run_is_a_failure(self):
        with tempfile.TemporaryDirectory() as d:
            self.assertEqual(harness.load_run(d).verdict["failed"], 1)

    def test_summary_line(self):
        with tempfile.TemporaryDirectory() as d:
            harness.write_result(os.path.join(d, "a.json"), "a", 3, [])
            harness.write_result(os.path.join(d, "b.json"), "b", 2, ["b: x"], ["b: y"])
            out = io.StringIO()
            self.assertEqual(harness.summary(d, out), 1)
            self.assertEqual(out.getvalue().splitlines()[-1], "5 passed, 1 failed, 1 skipped")
            self.assertIn("FAIL b: x", out.getvalue())

    def test_no_result_is_a_failure(self):
        with tempfile.TemporaryDirectory() as d:
            out = io.StringIO()
            self.assertEqual(harness.summary(d, out), 1)
            self.assertEqual(out.getvalue().splitlines()[-1], "0 passed, 1 failed")


if __name__ == "__main__":
    unittest.main()
