#!/usr/bin/env python3
"""Make the real-systemd guest's root from Debian 12's own packages, no root
privileges needed.

    mkroot.py ROOT CACHE PACKAGE...

Downloads (apt-get download, into CACHE, kept per version) each PACKAGE
and the libraries it depends on, transitively: a dependency is followed
when it is a library package (lib*) or one of PACKAGES, so that systemd
brings libsystemd-shared, libc6 and the rest, not dpkg, perl or debconf,
which only its maintainer scripts need.  Every .deb is unpacked into ROOT
with dpkg-deb -x (no maintainer script runs), /bin, /sbin and /lib are
merged into /usr as Debian 12 has them, and qemu/systemd/rootfs (users,
os-release, units) is copied over it.  qemu/mkinitramfs.sh packs ROOT
under the test programs.

ROOT is made anew when the package set or a version changes (ROOT/.stamp).
"""
import os
import pathlib
import re
import shutil
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
DEP_RE = re.compile(r"^\s+(?:\|)?(PreDepends|Depends): (<?)([^\s>]+)>?")


def say(msg):
    print(f"mkroot: {msg}", file=sys.stderr, flush=True)


def depends(pkgs):
    """{package: [packages it depends on]}; alternatives: the first real one."""
    out = subprocess.run(["apt-cache", "depends", "--no-recommends", "--no-suggests",
                          "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances",
                          *pkgs], capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"mkroot: apt-cache depends {' '.join(pkgs)}: {out.stderr.strip()}")
    deps, cur, alt = {}, None, False
    for line in out.stdout.splitlines():
        if not line.startswith(" "):
            cur = line.strip()
            deps[cur] = []
            alt = False
            continue
        m = DEP_RE.match(line)
        if not m:
            continue
        virtual, name = m.group(2), m.group(3).split(":")[0]
        # "|Depends: a" is followed by the next alternative: take the first.
        if not alt and not virtual:
            deps[cur].append(name)
        alt = line.lstrip().startswith("|")
    return deps


def closure(wanted):
    seen, todo = set(), list(wanted)
    while todo:
        batch = sorted(set(todo) - seen)
        todo = []
        if not batch:
            break
        seen.update(batch)
        for deps in depends(batch).values():
            todo += [d for d in deps if d not in seen and (d.startswith("lib") or d in wanted)]
    return sorted(seen)


def versions(pkgs):
    out = subprocess.run(["apt-cache", "policy", *pkgs], capture_output=True, text=True,
                         check=True).stdout
    v, cur = {}, None
    for line in out.splitlines():
        if not line.startswith(" "):
            cur = line.rstrip(":")
        elif line.strip().startswith("Candidate:"):
            v[cur] = line.split()[1]
    missing = [p for p in pkgs if v.get(p) in (None, "(none)")]
    if missing:
        sys.exit(f"mkroot: no candidate version of {', '.join(missing)} (apt-get update?)")
    return v


def download(pkg, ver, cache):
    deb = cache / f"{pkg}_{ver.replace(':', '%3a')}_amd64.deb"
    alls = cache / f"{pkg}_{ver.replace(':', '%3a')}_all.deb"
    for d in (deb, alls):
        if d.exists():
            return d
    r = subprocess.run(["apt-get", "download", "-qq", f"{pkg}={ver}"], cwd=cache,
                       capture_output=True, text=True)
    if r.returncode and os.geteuid() == 0:
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True)
        r = subprocess.run(["apt-get", "download", "-qq", f"{pkg}={ver}"], cwd=cache,
                           capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"mkroot: apt-get download {pkg}={ver}: {r.stderr.strip()}")
    for d in (deb, alls):
        if d.exists():
            return d
    sys.exit(f"mkroot: apt-get download {pkg}={ver} wrote no {deb.name}")


def merge_usr(root):
    """Debian 12 is merged-/usr: /bin, /sbin, /lib* are links into /usr."""
    for top in ("bin", "sbin", "lib", "lib64"):
        src, dst = root / top, root / "usr" / top
        if src.is_symlink():
            continue
        dst.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, symlinks=True, dirs_exist_ok=True)
            shutil.rmtree(src)
        src.symlink_to(f"usr/{top}")


def main(argv):
    if len(argv) < 3:
        print("usage: mkroot.py ROOT CACHE PACKAGE...", file=sys.stderr)
        return 2
    root, cache, wanted = pathlib.Path(argv[0]), pathlib.Path(argv[1]), argv[2:]
    pkgs = closure(wanted)
    ver = versions(pkgs)
    overlay = HERE / "rootfs"
    stamp_text = "".join(f"{p} {ver[p]}\n" for p in pkgs)
    stamp = root / ".stamp"
    newest = max((p.stat().st_mtime for p in overlay.rglob("*")), default=0)
    if stamp.exists() and stamp.read_text() == stamp_text and stamp.stat().st_mtime >= newest:
        return 0
    cache.mkdir(parents=True, exist_ok=True)
    say(f"{len(pkgs)} Debian packages: {' '.join(pkgs)}")
    debs = [download(p, ver[p], cache) for p in pkgs]
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    for deb in debs:
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    merge_usr(root)
    # Documentation is not needed in the guest.
    for d in ("usr/share/doc", "usr/share/man", "usr/share/locale", "usr/share/lintian"):
        shutil.rmtree(root / d, ignore_errors=True)
    shutil.copytree(overlay, root, symlinks=True, dirs_exist_ok=True)
    stamp.write_text(stamp_text)
    size = sum(f.stat().st_size for f in root.rglob("*") if f.is_file() and not f.is_symlink())
    say(f"{root}: {size / 1e6:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
