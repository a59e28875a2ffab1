#!/usr/bin/env bash
# Install the Debian 12 packages the build and the tests need.  As root the
# missing ones are installed; otherwise the exact apt-get line is printed and
# the build stops.  Quiet when everything is there.
set -euo pipefail
pkgs=(
	build-essential bc bison flex libelf-dev xz-utils perl python3 python3-ply python3-git git file ccache rsync
	linux-source-6.12 busybox-static qemu-system-x86
	cmake pkg-config catch2 libmnl-dev clang libclang-rt-14-dev libbenchmark-dev
	libpcre2-8-0 libnettle8 libxxhash0 libcrypt1 libssl3 zlib1g
)
# "deps.sh eval": what make eval adds (the BPF migration scenario, linked statically).
[ "${1:-}" = eval ] && pkgs+=(clang libbpf-dev zlib1g-dev libzstd-dev)
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
