#!/usr/bin/env bash
# Files the real-systemd guest's programs need besides themselves, as lines
# of "<path in the guest> <path here> [mode]" for qemu/mkinitramfs.sh: the
# `puds` command and the example units and configs of contrib/systemd.
# systemd and lighttpd themselves come from Debian's packages
# (qemu/systemd/mkroot.py).
#   extra.sh WORKDIR   (WORKDIR: userlib's CMake build directory)
set -euo pipefail
work=$1
src=$(cd "$(dirname "$0")/../.." && pwd)
cmake --build "$work" -j"$(nproc)" --target puds_cmd >/dev/null
echo "/usr/bin/puds $work/puds"
for f in "$src"/contrib/systemd/*.service "$src"/contrib/systemd/*.socket; do
	echo "/etc/systemd/system/$(basename "$f") $f 644"
done
for f in "$src"/contrib/systemd/lighttpd/*.conf; do
	echo "/etc/lighttpd/$(basename "$f") $f 644"
done
