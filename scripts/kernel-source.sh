#!/usr/bin/env bash
# Find the kernel source tarball kernel-patches/BASE asks for, and say which
# version it is.  Prints three lines for scripts/kernel-tree.sh:
#   package=linux-source-X.Y
#   version=<Debian version>
#   tarball=<path of linux-source-X.Y.tar.xz>
#   origin=system|sid
#
#   kernel-source.sh find PATCHES     find (and fetch when needed) the source
#   kernel-source.sh origin PATCHES   print "system" or "sid" (scripts/deps.sh)
#
# PATCHES is the series folder (its BASE names the package and version).
#
# A package this machine's own apt sources know (Debian 12's
# linux-source-6.12) is used as installed (/usr/src, make deps installs it).
# Any other (linux-source-7.2) is fetched from Debian sid with a private apt
# configuration: its own sources list, lists, archives and status, under
# ${XDG_CACHE_HOME:-~/.cache}/puds/kernel-source.  The system's apt sources,
# lists and caches are never touched.  The .deb is kept per version, so that
# a fresh clone downloads nothing while sid's version is unchanged.
#
# When sid has another version of the package, or no longer has it but a
# newer linux-source-X.Y, this says so and goes on with that one: the
# series' git am decides.
#
# Environment (settings of the user, not paths the Makefile passes):
#   PUDS_KERNEL_TARBALL         use this tarball (tests), as BASE's package
#   PUDS_KERNEL_SOURCE_PACKAGE  use this package instead of BASE's
#   PUDS_KERNEL_SOURCE_VERSION  use exactly this Debian version (sid, or already cached)
#   PUDS_DEBIAN_MIRROR          the mirror (default: the one the system's apt sources name)
#   PUDS_SID_REFRESH            seconds before sid's lists are fetched again (default 3600)
#   PUDS_CACHE                  default ${XDG_CACHE_HOME:-$HOME/.cache}/puds
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
[ $# -eq 2 ] || { echo "usage: kernel-source.sh find|origin PATCHES" >&2; exit 2; }
patches=$2
cache=${PUDS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/puds}/kernel-source

say() { printf 'kernel-source: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

[ -f "$patches/BASE" ] || die "$patches/BASE is missing"
recorded() { sed -n "s/^$1=//p" "$patches/BASE"; }
base_pkg=$(recorded package)
base_ver=$(recorded package_version)
[ -n "$base_pkg" ] || die "$patches/BASE names no package="
pkg=${PUDS_KERNEL_SOURCE_PACKAGE:-$base_pkg}
[[ $pkg =~ ^linux-source-[0-9]+\.[0-9]+$ ]] || die "'$pkg' is not a linux-source-X.Y package name"

installed_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || true; }

# "system": installed, or known to the system's own apt sources.
origin() {
	[ -n "$(installed_version "$pkg")" ] && { echo system; return; }
	apt-cache show --no-all-versions "$pkg" >/dev/null 2>&1 && { echo system; return; }
	echo sid
}

# shellcheck source=scripts/sid-apt.sh
. "$top/scripts/sid-apt.sh"

upstream_of() { local v=${1%%-*}; echo "${v%%+*}"; }
series_of() { echo "${1#linux-source-}"; }

# The tarball of $pkg $ver: the cached .deb, or one downloaded from sid.
fetch_deb() {
	local dir=$cache/$pkg/$ver deb
	deb=$dir/${pkg}_${ver}_all.deb
	if [ ! -s "$deb" ]; then
		say "downloading $pkg $ver from $sid_mirror (sid, about 165 MB)"
		sid_download "$pkg" "$ver" "$deb"
	fi
	tarball=$dir/usr/src/$pkg.tar.xz
	if [ ! -s "$tarball" ]; then
		rm -rf "$dir/usr"
		dpkg-deb -x "$deb" "$dir"
		[ -s "$tarball" ] || die "$deb holds no usr/src/$pkg.tar.xz"
	fi
}

cmd_origin() { origin; }

found() { printf 'package=%s\nversion=%s\ntarball=%s\norigin=%s\n' "$pkg" "$ver" "$tarball" "$1"; }

cmd_find() {
	if [ -n "${PUDS_KERNEL_TARBALL:-}" ]; then
		tarball=$PUDS_KERNEL_TARBALL
		[ -f "$tarball" ] || die "$tarball is missing"
		ver=$(installed_version "$pkg")
		ver=${ver:-$base_ver}
		[ "$ver" = "$base_ver" ] ||
			say "note: the series was last tested on $pkg $base_ver; this machine has $ver. Going on."
		found system
		return
	fi
	if [ "$(origin)" = system ]; then
		# Debian 12's own package, installed by make deps.
		ver=$(installed_version "$pkg")
		tarball=/usr/src/$pkg.tar.xz
		[ -f "$tarball" ] || die "$tarball is missing: install the $pkg package (make deps)"
		if [ -n "$ver" ] && [ "$pkg" = "$base_pkg" ] && [ "$ver" != "$base_ver" ]; then
			say "note: the series was last tested on $pkg $base_ver; this machine has $ver. Going on."
		fi
		found system
		return
	fi
	for t in apt-get apt-cache dpkg-deb xz; do
		command -v "$t" >/dev/null || die "$t is missing (make deps)"
	done
	sid_apt_setup "$cache/apt"
	local want=${PUDS_KERNEL_SOURCE_VERSION:-} have newest newest_ver
	if [ -n "$want" ] && [ -s "$cache/$pkg/$want/${pkg}_${want}_all.deb" ]; then
		ver=$want
		say "using $pkg $ver from the cache ($cache/$pkg/$ver); the series was tested on $base_pkg $base_ver"
		fetch_deb
		found sid
		return
	fi
	sid_update
	have=$(sid_version "$pkg")
	# The newest linux-source-X.Y sid has, beside the one asked for.
	newest=$(apt-cache "${apt_opts[@]}" search --names-only '^linux-source-[0-9]+\.[0-9]+$' 2>/dev/null |
		cut -d' ' -f1 | sort -V | tail -1)
	newest_ver=${newest:+$(sid_version "$newest")}
	if [ -n "$want" ]; then
		if [ -z "$have" ]; then
			die "Debian sid has no $pkg, and $pkg $want is not in $cache"
		elif [ "$have" != "$want" ]; then
			die "Debian sid has $pkg $have, not $pkg $want, and $want is not in $cache"
		fi
		ver=$want
		say "Debian sid has $pkg $ver (Linux $(upstream_of "$ver")), as PUDS_KERNEL_SOURCE_VERSION asks; the series was tested on $base_pkg $base_ver"
	elif [ -n "$have" ]; then
		ver=$have
		if [ "$pkg" = "$base_pkg" ] && [ "$ver" = "$base_ver" ]; then
			say "Debian sid has $pkg $ver (Linux $(upstream_of "$ver")); the series was tested on $base_ver"
		else
			say "Debian sid has $pkg $ver (Linux $(upstream_of "$ver")); the series was tested on $base_pkg $base_ver. Going on with $ver."
		fi
		if [ -n "$newest" ] && [ "$newest" != "$pkg" ] &&
			[ "$(printf '%s\n%s\n' "$(series_of "$pkg")" "$(series_of "$newest")" | sort -V | tail -1)" = "$(series_of "$newest")" ]; then
			say "note: sid also has the newer $newest $newest_ver (PUDS_KERNEL_SOURCE_PACKAGE=$newest to try it)"
		fi
	elif [ -n "$newest" ]; then
		[ -z "${PUDS_KERNEL_SOURCE_PACKAGE:-}" ] || die "Debian sid has no $pkg (its newest is $newest $newest_ver)"
		pkg=$newest ver=$newest_ver
		say "Debian sid no longer has $base_pkg (the series was tested on $base_ver); its newest is $pkg $ver (Linux $(upstream_of "$ver")). Going on with it."
	else
		die "Debian sid has no $pkg and no other linux-source-X.Y package ($sid_mirror)"
	fi
	fetch_deb
	found sid
}

case $1 in
find) cmd_find ;;
origin) cmd_origin ;;
*) echo "usage: kernel-source.sh find|origin PATCHES" >&2; exit 2 ;;
esac
