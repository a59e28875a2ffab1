"""userlib as its users get it: configured (Release, no tests), built and
installed with `cmake --install --prefix` into a prefix other than the one
it was configured for, once as libpuds.a and once as libpuds.so; then a
program outside the repository that includes <puds/diag.hpp> and
<puds/handoff.hpp> and calls both is built against the installed copy with
find_package(puds) and with plain `g++ $(pkg-config --cflags --libs puds)`,
and run.  On a kernel without UNIX_DELAY_CLOSE it prints the library's
error; it must link and run either way."""
import glob
import os
import pathlib
import shlex
import shutil
import subprocess
import tempfile
import unittest

TOP = pathlib.Path(__file__).resolve().parents[2]
SRC = TOP / "userlib"

PROGRAM = r"""
#include <cstdio>
#include <puds/diag.hpp>
#include <puds/handoff.hpp>

int main(int argc, char **argv)
{
	auto list = puds::list_delay_close();
	if (list)
		std::printf("diag: %zu sockets\n", list.value().size());
	else
		std::printf("diag error: %s\n", list.error().message.c_str());
	if (argc > 1) {
		auto rv = puds::Rendezvous::open(argv[1], 1000);
		std::printf("rendezvous: %s\n", rv ? "open" : rv.error().message.c_str());
	}
	return 0;
}
"""

CONSUMER_CMAKE = """cmake_minimum_required(VERSION 3.22)
project(puds_consumer LANGUAGES CXX)
find_package(puds 0.1 REQUIRED)
add_executable(consumer consumer.cpp)
target_link_libraries(consumer PRIVATE puds::puds)
"""



def have_tools():
    return (all(shutil.which(t) for t in ("cmake", "pkg-config", "g++", "readelf")) and
            subprocess.run(["pkg-config", "--exists", "libmnl"]).returncode == 0)


def run(cmd, **kw):
    r = subprocess.run([str(c) for c in cmd], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, **kw)
    if r.returncode:
        raise AssertionError(f"{' '.join(map(str, cmd))}: exit {r.returncode}\n{r.stdout[-6000:]}")
    return r.stdout


@unittest.skipUnless(have_tools(), "needs cmake, pkg-config, g++, readelf and libmnl (scripts/deps.sh)")
class InstalledUserlib(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = pathlib.Path(tempfile.mkdtemp(prefix="puds-install-"))
        cls.prefix = {}
        cls.failed = {}
        launcher = ["-DCMAKE_CXX_COMPILER_LAUNCHER=ccache"] if shutil.which("ccache") else []
        for variant, shared in (("static", "OFF"), ("shared", "ON")):
            build = cls.tmp / f"build-{variant}"
            prefix = cls.tmp / variant / "some" / "odd" / "prefix"
            try:
                # Configured for a prefix that never exists: a path baked in
                # at configure time shows up as a failure below.
                run(["cmake", "-S", SRC, "-B", build, "-DCMAKE_BUILD_TYPE=Release",
                     "-DPUDS_TESTS=OFF", "-DCMAKE_DISABLE_FIND_PACKAGE_Catch2=ON",
                     f"-DBUILD_SHARED_LIBS={shared}",
                     f"-DCMAKE_INSTALL_PREFIX={cls.tmp}/configured-prefix", *launcher])
                run(["cmake", "--build", build, "-j2"])
                run(["cmake", "--install", build, "--prefix", prefix])
                cls.prefix[variant] = prefix
            except AssertionError as e:
                cls.failed[variant] = str(e)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def installed(self, variant):
        if variant in self.failed:
            self.fail(f"userlib ({variant}) does not build or install:\n{self.failed[variant]}")
        prefix = self.prefix[variant]
        lib = "libpuds.so" if variant == "shared" else "libpuds.a"
        found = glob.glob(f"{prefix}/lib*/**/{lib}", recursive=True)
        self.assertTrue(found, f"no {lib} under {prefix}")
        return prefix, pathlib.Path(found[0]).parent

    def consumer_dir(self, name):
        d = self.tmp / name
        d.mkdir()
        (d / "consumer.cpp").write_text(PROGRAM)
        return d

    def check_runs(self, exe, variant, env=None):
        if variant == "shared":
            needed = run(["readelf", "-d", exe])
            self.assertIn("libpuds.so.0", needed, "not linked to the shared libpuds")
        else:
            self.assertNotIn("libpuds.so", run(["readelf", "-d", exe]))
        out = run([exe, self.tmp / f"{exe.name}.rendezvous"], env=env)
        self.assertRegex(out, r"^diag(: \d+ sockets| error: .*UNIX_DELAY_CLOSE)")
        self.assertIn("rendezvous: ", out)
        self.assertNotIn("kernel-patches", out)

    def find_package(self, variant):
        prefix, _ = self.installed(variant)
        d = self.consumer_dir(f"cmake-{variant}")
        (d / "CMakeLists.txt").write_text(CONSUMER_CMAKE)
        run(["cmake", "-S", d, "-B", d / "build", f"-DCMAKE_PREFIX_PATH={prefix}"])
        run(["cmake", "--build", d / "build"])
        # CMake's build rpath finds libpuds.so: no LD_LIBRARY_PATH.
        self.check_runs(d / "build" / "consumer", variant)

    def pkg_config(self, variant):
        prefix, libdir = self.installed(variant)
        d = self.consumer_dir(f"pkgconfig-{variant}")
        env = dict(os.environ, PKG_CONFIG_PATH=str(libdir / "pkgconfig"))
        flags = run(["pkg-config", "--cflags", "--libs", "puds"], env=env)
        self.assertNotIn("configured-prefix", flags)
        exe = d / "consumer"
        run(["g++", d / "consumer.cpp", "-o", exe, *shlex.split(flags)])
        self.check_runs(exe, variant, dict(os.environ, LD_LIBRARY_PATH=str(libdir)))

    def test_static_find_package(self):
        self.find_package("static")

    def test_static_pkg_config(self):
        self.pkg_config("static")

    def test_shared_find_package(self):
        self.find_package("shared")

    def test_shared_pkg_config(self):
        self.pkg_config("shared")

    def test_shared_command_finds_its_library(self):
        prefix, _ = self.installed("shared")
        r = subprocess.run([prefix / "bin" / "puds", "check"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        self.assertNotIn("error while loading shared libraries", r.stdout)
        self.assertNotEqual(r.returncode, 127, r.stdout)


if __name__ == "__main__":
    unittest.main()
