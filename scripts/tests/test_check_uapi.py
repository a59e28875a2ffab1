"""scripts/check-uapi.py on a fake tree: every #define, enumerator and struct
that a series adds under include/uapi must be in uapi/ with the same value or
fields, and uapi/ must define nothing else."""
import pathlib
import shutil
import subprocess
import sys
import tempfile
import unittest

TOP = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = TOP / "scripts" / "check-uapi.py"

BASE = """enum {
	X_NONE,
	X_UID,

	__X_MAX,
};
"""
PATCHED = """#define X_SHOW_NEW	0x80	/* new */

enum {
	X_NONE,
	X_UID,
	X_NEW,		/* added */

	__X_MAX,
};

enum {
	X_ST_A,
	X_ST_B = 5,
	X_ST_C,
};

struct x_new {
	__u32	a;	/* one */
	__u32	b;
};
"""
OURS = """#ifndef X_SHOW_NEW
#define X_SHOW_NEW	0x80
enum { X_NEW = 2 };
enum { X_ST_A = 0, X_ST_B = 5, X_ST_C = 6 };
struct x_new {
	__u32 a;
	__u32 b;
};
#endif
"""


def git(tree, *args):
    subprocess.run(["git", "-C", str(tree), *args], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class CheckUapi(unittest.TestCase):
    def setUp(self):
        self.d = pathlib.Path(tempfile.mkdtemp())
        self.tree = self.d / "tree"
        hdr = self.tree / "include" / "uapi" / "linux" / "x.h"
        hdr.parent.mkdir(parents=True)
        hdr.write_text(BASE)
        git(self.tree, "init", "-q")
        git(self.tree, "add", ".")
        git(self.tree, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base")
        git(self.tree, "tag", "puds-base")
        hdr.write_text(PATCHED)
        git(self.tree, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "series")
        self.uapi = self.d / "uapi" / "linux"
        self.uapi.mkdir(parents=True)

    def tearDown(self):
        shutil.rmtree(self.d)

    def run_check(self, ours):
        (self.uapi / "x_new.h").write_text(ours)
        return subprocess.run([sys.executable, str(SCRIPT), "--tree", str(self.tree),
                               "--uapi", str(self.uapi.parent)],
                              stdout=subprocess.PIPE, text=True)

    def test_identical_definitions_pass(self):
        r = self.run_check(OURS)
        self.assertEqual(0, r.returncode, r.stdout)
        for name in ("X_SHOW_NEW = 0x80", "X_NEW = 2", "X_ST_B = 5", "X_ST_C = 6",
                     "struct x_new = __u32 a; __u32 b"):
            self.assertIn("ok - uapi: " + name, r.stdout)
        # Enumerators the series did not add are not ours to carry.
        self.assertNotIn("X_UID", r.stdout)

    def test_wrong_enumerator_value_fails(self):
        r = self.run_check(OURS.replace("X_NEW = 2", "X_NEW = 3"))
        self.assertEqual(1, r.returncode)
        self.assertIn("not ok - uapi: X_NEW: the series defines 2, uapi/ has 3", r.stdout)

    def test_struct_field_change_fails(self):
        r = self.run_check(OURS.replace("__u32 b;", "__u64 b;"))
        self.assertEqual(1, r.returncode)
        self.assertIn("not ok - uapi: struct x_new", r.stdout)

    def test_missing_and_extra_definitions_fail(self):
        r = self.run_check(OURS.replace("#define X_SHOW_NEW\t0x80\n", "#define X_OTHER 1\n"))
        self.assertEqual(1, r.returncode)
        self.assertIn("X_SHOW_NEW is in the series but not in uapi/", r.stdout)
        self.assertIn("X_OTHER is in uapi/ but the series does not define it", r.stdout)


if __name__ == "__main__":
    unittest.main()
