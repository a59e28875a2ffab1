"""scripts/check-uapi.py on a fake tree: every #define, enumerator and struct
that a series adds under include/uapi (and every #define it adds to
include/linux/socket.h) must be in uapi/ with the value, size and field
offsets the compiler gives the series' own, and uapi/ must define nothing
else."""
import pathlib
import shutil
import subprocess
import sys
import tempfile
import unittest

TOP = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = TOP / "scripts" / "check-uapi.py"

BASE = """#ifndef _X_H
#define _X_H
#include <linux/types.h>

enum {
	X_NONE,
	X_UID,

	__X_MAX,
};
#endif
"""
PATCHED = """#ifndef _X_H
#define _X_H
#include <linux/types.h>

#define X_SHOW_NEW	0x80	/* new */
#define X_SHIFTED	(1 << 3)
#define X_FN(a)		((a) + 1)	/* function-like: not a name to carry */

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
#endif
"""
SOCKET_BASE = "#define SOL_A\t1\n"
SOCKET_PATCHED = "#define SOL_A\t1\n#define SOL_X\t(SOL_A + 287)\n"

# The same definitions, spelled differently: values as the compiler sees them.
OURS = """#ifndef X_NEW_H
#define X_NEW_H
#include <linux/types.h>
#define SOL_X		288
#define X_SHOW_NEW	(1 << 7)
#define X_SHIFTED	8
enum { X_NEW = 2 };
enum { X_ST_A = 0, X_ST_B = 5, X_ST_C };
struct x_new {
	__u32 a, b;
};
#endif
"""


def git(tree, *args):
    subprocess.run(["git", "-C", str(tree), *args], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@unittest.skipUnless(shutil.which("gcc"), "no gcc on this host")
class CheckUapi(unittest.TestCase):
    def setUp(self):
        self.d = pathlib.Path(tempfile.mkdtemp())
        self.tree = self.d / "tree"
        hdr = self.tree / "include" / "uapi" / "linux" / "x.h"
        hdr.parent.mkdir(parents=True)
        hdr.write_text(BASE)
        sock = self.tree / "include" / "linux" / "socket.h"
        sock.parent.mkdir()
        sock.write_text(SOCKET_BASE)
        git(self.tree, "init", "-q")
        git(self.tree, "add", ".")
        git(self.tree, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base")
        git(self.tree, "tag", "puds-base")
        hdr.write_text(PATCHED)
        sock.write_text(SOCKET_PATCHED)
        git(self.tree, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "series")
        self.uapi = self.d / "uapi" / "linux"
        self.uapi.mkdir(parents=True)

    def tearDown(self):
        shutil.rmtree(self.d)

    def run_check(self, ours):
        (self.uapi / "x_new.h").write_text(ours)
        r = subprocess.run([sys.executable, str(SCRIPT), "--tree", str(self.tree),
                            "--uapi", str(self.uapi.parent)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        return r

    def assertFails(self, r, *lines):
        self.assertEqual(1, r.returncode, r.stdout)
        for line in lines:
            self.assertIn("not ok - uapi: " + line, r.stdout)

    def test_identical_definitions_written_differently_pass(self):
        r = self.run_check(OURS)
        self.assertEqual(0, r.returncode, r.stdout)
        for line in ("SOL_X = 288 (0x120)", "X_SHOW_NEW = 128 (0x80)", "X_SHIFTED = 8",
                     "X_NEW = 2", "X_ST_A = 0", "X_ST_B = 5", "X_ST_C = 6",
                     "struct x_new = 8 bytes: a@0, b@4"):
            self.assertIn("ok - uapi: " + line + "\n", r.stdout)
        self.assertEqual(8, r.stdout.count("ok - uapi: "), r.stdout)
        # Names the series did not add, include guards and function-like
        # macros are not ours to carry.
        for name in ("X_UID", "__X_MAX", "SOL_A", "_X_H", "X_FN", "X_NEW_H"):
            self.assertNotIn(f" {name} ", r.stdout)

    def test_changed_value_fails(self):
        r = self.run_check(OURS.replace("X_NEW = 2", "X_NEW = 3"))
        self.assertFails(r, "X_NEW: the series defines 2, uapi/ has 3")

    def test_changed_value_written_as_expression_fails(self):
        r = self.run_check(OURS.replace("X_SHIFTED\t8", "X_SHIFTED\t0x10")
                               .replace("SOL_X\t\t288", "SOL_X\t\t(256 + 31)"))
        self.assertFails(r, "X_SHIFTED: the series defines 8, uapi/ has 16 (0x10)",
                         "SOL_X: the series defines 288 (0x120), uapi/ has 287 (0x11f)")

    def test_enumerator_counted_from_its_enum_fails(self):
        r = self.run_check(OURS.replace("X_ST_B = 5", "X_ST_B = 6"))
        self.assertFails(r, "X_ST_B: the series defines 5, uapi/ has 6",
                         "X_ST_C: the series defines 6, uapi/ has 7")

    def test_added_field_changes_size_fails(self):
        r = self.run_check(OURS.replace("__u32 a, b;", "__u32 a, b;\n\t__u32 c;"))
        self.assertFails(r, "struct x_new: sizeof is 8 in the series, 12 in uapi/; "
                            "field c is in uapi/ but not in the series")

    def test_wider_field_fails(self):
        r = self.run_check(OURS.replace("__u32 a, b;", "__u32 a;\n\t__u64 b;"))
        self.assertFails(r, "struct x_new: sizeof is 8 in the series, 16 in uapi/; "
                            "field b is at offset 4 size 4 in the series, offset 8 size 8 in uapi/")

    def test_swapped_fields_same_size_fail(self):
        r = self.run_check(OURS.replace("__u32 a, b;", "__u32 b;\n\t__u32 a;"))
        self.assertFails(r, "struct x_new: field a is at offset 0 size 4 in the series, "
                            "offset 4 size 4 in uapi/; field b is at offset 4 size 4 in the "
                            "series, offset 0 size 4 in uapi/")
        self.assertNotIn("sizeof is", r.stdout)

    def test_missing_names_fail(self):
        r = self.run_check(OURS.replace("#define X_SHOW_NEW\t(1 << 7)\n", "")
                               .replace("enum { X_NEW = 2 };\n", "")
                               .replace("struct x_new", "struct x_old"))
        self.assertFails(r, "X_SHOW_NEW is in the series but not in uapi/",
                         "X_NEW is in the series but not in uapi/ (",
                         "struct x_new is in the series but not in uapi/",
                         "struct x_old is in uapi/ but the series does not define it")

    def test_missing_field_fails(self):
        r = self.run_check(OURS.replace("__u32 a, b;", "__u32 a;\n\t__u32 c;"))
        self.assertFails(r, "struct x_new: field b is in the series but not in uapi/; "
                            "field c is in uapi/ but not in the series")

    def test_extra_names_fail(self):
        r = self.run_check(OURS.replace("#define X_SHIFTED", "#define X_OTHER 1\n#define X_SHIFTED")
                               .replace("X_ST_C }", "X_ST_C, X_ST_D }"))
        self.assertFails(r, "X_OTHER is in uapi/ but the series does not define it",
                         "X_ST_D is in uapi/ but the series does not define it")
        self.assertIn("ok - uapi: X_SHIFTED = 8\n", r.stdout)


if __name__ == "__main__":
    unittest.main()
