"""The kernel tree workflow of scripts/kernel-tree.sh, on a tiny fake source
tarball: unpack + base commit, commits exported as a format-patch series with
its cover letter, the series re-applied when it changes, and no work lost
when the tree and the series both changed."""
import os
import pathlib
import shutil
import subprocess
import tarfile
import time
import tempfile
import unittest

TOP = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = TOP / "scripts" / "kernel-tree.sh"

MAKEFILE = "kernelversion:\n\t@echo 6.12.117\n"


class KernelTree(unittest.TestCase):
    def setUp(self):
        self.d = pathlib.Path(tempfile.mkdtemp())
        src = self.d / "src" / "linux-source-6.12"
        (src / "net" / "unix").mkdir(parents=True)
        (src / "Makefile").write_text(MAKEFILE)
        (src / "net" / "unix" / "af_unix.c").write_text("int a;\n")
        self.tarball = self.d / "linux.tar.xz"
        with tarfile.open(self.tarball, "w:xz") as t:
            t.add(src, arcname="linux-source-6.12")
        self.patches = self.d / "kernel-patches"
        self.patches.mkdir()
        # The fake source is a 6.12 one, whatever the repository's series is on.
        (self.patches / "BASE").write_text("package=linux-source-6.12\n"
                                           "package_version=6.12.117-1~deb12u1\n"
                                           "upstream_version=6.12.117\n")
        self.tree = self.d / "tree"
        self.env = dict(os.environ, PUDS_KERNEL_TARBALL=str(self.tarball))

    def tearDown(self):
        shutil.rmtree(self.d)

    def kt(self, cmd, ok=True):
        p = subprocess.run(["bash", str(SCRIPT), cmd, str(self.tree), str(self.patches)],
                           env=self.env, text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if ok:
            self.assertEqual(p.returncode, 0, p.stdout)
        return p

    def git(self, *args):
        return subprocess.run(["git", "-C", str(self.tree), *args], check=True, text=True,
                              stdout=subprocess.PIPE).stdout

    def commit(self, text, subject):
        (self.tree / "net" / "unix" / "af_unix.c").write_text(text)
        self.git("commit", "-q", "-a", "-s", "-m", subject, "-m", "Why it is needed.")

    def patch_files(self):
        return sorted(p.name for p in self.patches.glob("*.patch"))

    def test_empty_series_gives_pristine_base(self):
        self.kt("prepare")
        self.assertEqual(self.git("rev-list", "--count", "HEAD").strip(), "1")
        self.assertEqual(self.git("rev-parse", "HEAD"), self.git("rev-parse", "puds-base"))
        self.assertEqual(self.git("status", "--porcelain"), "")

    def test_export_and_reapply_round_trip(self):
        self.kt("prepare")
        self.commit("int a;\nint b;\n", "af_unix: Add b.")
        self.commit("int a;\nint b;\nint c;\n", "af_unix: Add c.")
        self.git("config", "branch.puds.description", "af_unix: Letters.\n\nThe cover text.\n")
        self.kt("export")
        self.assertEqual(self.patch_files(), ["0000-cover-letter.patch", "0001-af_unix-Add-b.patch",
                                              "0002-af_unix-Add-c.patch"])
        cover = (self.patches / "0000-cover-letter.patch").read_text()
        self.assertIn("Subject: [PATCH RFC net-next 0/2] af_unix: Letters.", cover)
        self.assertIn("The cover text.", cover)
        self.assertIn("package=linux-source-6.12\n", (self.patches / "BASE").read_text())
        one = (self.patches / "0001-af_unix-Add-b.patch").read_text()
        self.assertIn("[PATCH RFC net-next 1/2]", one)
        # A fresh tree from the exported series has the same content and cover.
        shutil.rmtree(self.tree)
        self.kt("prepare")
        self.assertEqual((self.tree / "net/unix/af_unix.c").read_text(), "int a;\nint b;\nint c;\n")
        self.assertEqual(self.git("log", "--format=%s", "puds-base..HEAD").split("\n")[:2],
                         ["af_unix: Add c.", "af_unix: Add b."])
        self.assertIn("The cover text.", self.git("config", "branch.puds.description"))
        before = {p: p.read_text() for p in self.patches.glob("*")}
        time.sleep(1.1)  # a date taken from the clock would differ now
        self.kt("export")
        self.assertEqual(before, {p: p.read_text() for p in self.patches.glob("*")})

    def test_changed_series_is_reapplied_touching_only_its_files(self):
        (self.tarball.parent / "src/linux-source-6.12/other.c").write_text("x\n")
        with tarfile.open(self.tarball, "w:xz") as t:
            t.add(self.tarball.parent / "src/linux-source-6.12", arcname="linux-source-6.12")
        self.kt("prepare")
        self.commit("int a;\nint b;\n", "af_unix: Add b.")
        self.kt("export")
        other = self.tree / "other.c"
        os.utime(other, (1, 1))
        p = self.patches / "0001-af_unix-Add-b.patch"
        p.write_text(p.read_text().replace("+int b;", "+int z;"))
        self.assertIn("re-applying", self.kt("prepare").stdout)
        self.assertEqual((self.tree / "net/unix/af_unix.c").read_text(), "int a;\nint z;\n")
        self.assertEqual(other.stat().st_mtime, 1, "an untouched file was rewritten")
        self.assertEqual(self.kt("prepare").stdout, "")

    def test_reapply_keeps_mtime_of_files_whose_content_is_unchanged(self):
        self.kt("prepare")
        self.commit("int a;\nint b;\n", "af_unix: Add b.")
        (self.tree / "net" / "unix" / "garbage.c").write_text("int g;\n")
        self.git("add", "net/unix/garbage.c")
        self.git("commit", "-q", "-s", "-m", "af_unix: Add garbage.c.", "-m", "Why.")
        self.kt("export")
        af, gc = self.tree / "net/unix/af_unix.c", self.tree / "net/unix/garbage.c"
        os.utime(af, (5, 5))
        os.utime(gc, (5, 5))
        p = self.patches / "0002-af_unix-Add-garbage.c.patch"
        p.write_text(p.read_text().replace("+int g;", "+int h;"))
        self.kt("prepare")
        self.assertEqual(gc.read_text(), "int h;\n")
        self.assertEqual(af.stat().st_mtime, 5, "unchanged af_unix.c was rewritten")
        self.assertNotEqual(gc.stat().st_mtime, 5)

    def test_other_point_release_is_reported_and_build_goes_on(self):
        base = self.patches / "BASE"
        base.write_text(base.read_text().replace("package_version=", "package_version=0.0-was-"))
        # This machine "has" linux-source-6.12 6.12.117-1~deb12u1, whatever
        # it really has installed.
        bin_ = self.d / "bin"
        bin_.mkdir()
        (bin_ / "dpkg-query").write_text("#!/bin/sh\necho 6.12.117-1~deb12u1\n")
        (bin_ / "dpkg-query").chmod(0o755)
        self.env["PATH"] = f"{bin_}:{self.env['PATH']}"
        r = self.kt("prepare")
        self.assertIn("note: the series was last tested on linux-source-6.12 0.0-was-", r.stdout)
        self.assertEqual(self.git("rev-parse", "HEAD"), self.git("rev-parse", "puds-base"))

    def test_tree_commits_are_built_not_dropped(self):
        self.kt("prepare")
        self.commit("int a;\nint b;\n", "af_unix: Add b.")
        self.assertIn("not in kernel-patches", self.kt("prepare").stdout)
        self.assertEqual((self.tree / "net/unix/af_unix.c").read_text(), "int a;\nint b;\n")

    def test_both_changed_refuses_and_keeps_work(self):
        self.kt("prepare")
        self.commit("int a;\nint b;\n", "af_unix: Add b.")
        self.kt("export")
        self.commit("int a;\nint b;\nint c;\n", "af_unix: Add c.")
        p = self.patches / "0001-af_unix-Add-b.patch"
        p.write_text(p.read_text().replace("+int b;", "+int z;"))
        r = self.kt("prepare", ok=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("both kernel-patches/ and build/linux changed", r.stdout)
        self.assertEqual((self.tree / "net/unix/af_unix.c").read_text(), "int a;\nint b;\nint c;\n")

    def test_patch_that_does_not_apply_stops_the_build(self):
        self.kt("prepare")
        (self.patches / "0001-af_unix-Bad.patch").write_text(
            "From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\n"
            "From: A <a@b>\nDate: Mon, 1 Jan 2024 00:00:00 +0000\nSubject: [PATCH] af_unix: Bad\n\n"
            "x\n---\n net/unix/af_unix.c | 2 +-\n\ndiff --git a/net/unix/af_unix.c b/net/unix/af_unix.c\n"
            "--- a/net/unix/af_unix.c\n+++ b/net/unix/af_unix.c\n@@ -1 +1 @@\n-int nothere;\n+int y;\n"
            "-- \n2.39.5\n")
        for _ in range(2):  # the tree is left as it was, so the next build says the same
            r = self.kt("prepare", ok=False)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("0001-af_unix-Bad.patch does not apply", r.stdout)
            self.assertEqual(self.git("rev-parse", "HEAD"), self.git("rev-parse", "puds-base"))
            self.assertEqual(self.git("status", "--porcelain"), "")


if __name__ == "__main__":
    unittest.main()
