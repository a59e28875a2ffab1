"""scripts/kernel-source.sh against a fake apt (apt-get, apt-cache, dpkg-deb
on PATH): which source it picks from Debian sid and what it says, that it
keeps the .deb in its cache, and that Debian 12's own package is used as
installed."""
import os
import pathlib
import shutil
import subprocess
import tempfile
import textwrap
import unittest

TOP = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = TOP / "scripts" / "kernel-source.sh"

# FAKE_SID="pkg=ver ..." is what sid has; the system's apt knows linux-source-6.12.
FAKES = {
    "apt-cache": r"""
        case " $* " in *Dir::State::Lists*) have=$FAKE_SID ;; *) have="linux-source-6.12=6.12.1-1" ;; esac
        case " $* " in
        *" search "*) for pv in $have; do echo "${pv%%=*} - Linux kernel source"; done ;;
        *" show "*) for a; do last=$a; done
            for pv in $have; do [ "${pv%%=*}" = "$last" ] && { echo "Package: $last"; echo "Version: ${pv#*=}"; exit 0; }; done
            exit 100 ;;
        esac
    """,
    "apt-get": r"""
        echo "apt-get $*" >>"$FAKE_LOG"
        case " $* " in
        *" update "*) ;;
        *" download "*) for a; do last=$a; done; echo deb >"${last%%=*}_${last#*=}_all.deb" ;;
        esac
    """,
    "dpkg-deb": r"""
        name=$(basename "$2"); mkdir -p "$3/usr/src"; echo tar >"$3/usr/src/${name%%_*}.tar.xz"
    """,
    "dpkg-query": "exit 1",
}


class KernelSource(unittest.TestCase):
    def setUp(self):
        self.d = pathlib.Path(tempfile.mkdtemp())
        bin_ = self.d / "bin"
        bin_.mkdir()
        for name, body in FAKES.items():
            (bin_ / name).write_text("#!/bin/bash\n" + textwrap.dedent(body))
            (bin_ / name).chmod(0o755)
        self.patches = self.d / "series"
        self.patches.mkdir()
        self.set_base("linux-source-7.2", "7.2.13-1")
        self.log = self.d / "apt.log"
        self.env = dict(os.environ, PATH=f"{bin_}:{os.environ['PATH']}",
                        PUDS_CACHE=str(self.d / "cache"),
                        PUDS_DEBIAN_MIRROR="http://mirror.test/debian", FAKE_LOG=str(self.log),
                        FAKE_SID="linux-source-7.2=7.2.13-1")
        self.env.pop("PUDS_KERNEL_TARBALL", None)
        self.env.pop("PUDS_KERNEL_PATCHES", None)
        self.env.pop("PUDS_KERNEL_SOURCE_PACKAGE", None)
        self.env.pop("PUDS_KERNEL_SOURCE_VERSION", None)

    def tearDown(self):
        shutil.rmtree(self.d)

    def set_base(self, pkg, ver):
        (self.patches / "BASE").write_text(
            f"package={pkg}\npackage_version={ver}\nupstream_version={ver.split('-')[0]}\n")

    def ks(self, cmd="find", ok=True, **env):
        p = subprocess.run(["bash", str(SCRIPT), cmd, str(self.patches)],
                           env=dict(self.env, **env), text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if ok:
            self.assertEqual(p.returncode, 0, p.stderr)
        out = dict(line.split("=", 1) for line in p.stdout.splitlines() if "=" in line)
        return out, p.stderr

    def test_the_tested_version(self):
        out, err = self.ks()
        self.assertIn("Debian sid has linux-source-7.2 7.2.13-1 (Linux 7.2.13); "
                      "the series was tested on 7.2.13-1", err)
        self.assertEqual((out["package"], out["version"], out["origin"]),
                         ("linux-source-7.2", "7.2.13-1", "sid"))
        self.assertTrue(pathlib.Path(out["tarball"]).is_file())
        self.assertIn("deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "
                      "http://mirror.test/debian sid main",
                      (self.d / "cache/kernel-source/apt/sources.list").read_text())
        for line in self.log.read_text().splitlines():
            self.assertIn("Dir::Etc::sourceparts=-", line)

    def test_the_deb_is_kept_and_not_downloaded_again(self):
        self.ks()
        shutil.rmtree(self.d / "cache/kernel-source/linux-source-7.2/7.2.13-1/usr")
        out, _ = self.ks(PUDS_SID_REFRESH="0")
        self.assertEqual(self.log.read_text().count(" download "), 1)
        self.assertTrue(pathlib.Path(out["tarball"]).is_file())

    def test_another_point_release_is_said_and_used(self):
        out, err = self.ks(FAKE_SID="linux-source-7.2=7.2.14-1")
        self.assertIn("Debian sid has linux-source-7.2 7.2.14-1 (Linux 7.2.14); the series was "
                      "tested on linux-source-7.2 7.2.13-1. Going on with 7.2.14-1.", err)
        self.assertEqual(out["version"], "7.2.14-1")

    def test_a_newer_series_beside_is_mentioned(self):
        out, err = self.ks(FAKE_SID="linux-source-7.2=7.2.13-1 linux-source-7.3=7.3.1-1")
        self.assertIn("sid also has the newer linux-source-7.3 7.3.1-1", err)
        self.assertEqual(out["package"], "linux-source-7.2")

    def test_gone_package_gives_the_newest(self):
        out, err = self.ks(FAKE_SID="linux-source-7.3=7.3.1-1 linux-source-7.10=7.10.2-1")
        self.assertIn("Debian sid no longer has linux-source-7.2 (the series was tested on 7.2.13-1); "
                      "its newest is linux-source-7.10 7.10.2-1 (Linux 7.10.2). Going on with it.", err)
        self.assertEqual((out["package"], out["version"]), ("linux-source-7.10", "7.10.2-1"))

    def test_version_asked_for_must_exist(self):
        _, err = self.ks(ok=False, PUDS_KERNEL_SOURCE_VERSION="7.2.9-1")
        self.assertIn("Debian sid has linux-source-7.2 7.2.13-1, not linux-source-7.2 7.2.9-1", err)

    def test_debian12_package_is_the_systems(self):
        self.set_base("linux-source-6.12", "6.12.1-1")
        out, _ = self.ks("origin")
        self.assertEqual(list(out), [])
        p = subprocess.run(["bash", str(SCRIPT), "origin", str(self.patches)], env=self.env, text=True,
                           stdout=subprocess.PIPE)
        self.assertEqual(p.stdout.strip(), "system")
        self.set_base("linux-source-7.2", "7.2.13-1")
        p = subprocess.run(["bash", str(SCRIPT), "origin", str(self.patches)], env=self.env, text=True,
                           stdout=subprocess.PIPE)
        self.assertEqual(p.stdout.strip(), "sid")


if __name__ == "__main__":
    unittest.main()
