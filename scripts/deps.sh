#!/usr/bin/env bash
# Install the Debian 12 packages the build and the tests need.  As root the
# missing ones are installed; otherwise the exact apt-get line is printed and
# the build stops.  Quiet when everything is there.
#   deps.sh PATCHES [eval]   (PATCHES: the series folder, for its BASE)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 1 ] || { echo "usage: deps.sh PATCHES [eval]" >&2; exit 2; }
patches=$1
pkgs=(
	build-essential bc bison flex libelf-dev xz-utils perl python3 python3-ply python3-git git file ccache rsync
	busybox-static qemu-system-x86
	cmake pkg-config catch2 libmnl-dev clang libclang-rt-14-dev libbenchmark-dev
	groff-base mandoc
	libpcre2-8-0 libnettle8 libxxhash0 libcrypt1 libssl3 zlib1g
)
# The kernel source kernel-patches/BASE names (scripts/kernel-source.sh):
# Debian 12's own package (linux-source-6.12) is installed; any other is
# fetched from sid with a private apt configuration, which needs only these.
if [ "$(id -u)" = 0 ] && ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
	apt-get update -qq  # a fresh machine: apt-cache knows no package yet
fi
if [ "$(bash "$top/scripts/kernel-source.sh" origin "$patches")" = system ]; then
	pkgs+=("${PUDS_KERNEL_SOURCE_PACKAGE:-$(sed -n "s/^package=//p" "$patches/BASE")}")
else
	pkgs+=(apt dpkg xz-utils debian-archive-keyring)
fi
# "deps.sh eval": what make eval adds (the BPF migration scenario, linked
# statically; bpftool writes its skeleton).
[ "${2:-}" = eval ] && pkgs+=(clang libbpf-dev zlib1g-dev libzstd-dev bpftool)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
line="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages; as root run:" >&2
	echo "  apt-get update && $line" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
