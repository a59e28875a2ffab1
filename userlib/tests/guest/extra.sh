#!/usr/bin/env bash
# Files the guest programs of userlib need besides themselves, as lines of
# "<path in the guest> <path here>" for qemu/mkinitramfs.sh (which also
# brings the shared libraries of what is dynamically linked).
#   extra.sh WORKDIR
# lighttpd comes from Debian's own package, unpacked, not installed: the
# server puds runs in the guest is the unmodified distribution binary.
set -euo pipefail
work=$1
deb=$work/debs
mkdir -p "$deb"
if [ ! -x "$deb/root/usr/sbin/lighttpd" ]; then
	(cd "$deb" && apt-get download -qq lighttpd 2>/dev/null)
	dpkg-deb -x "$deb"/lighttpd_*.deb "$deb/root"
fi
echo "/opt/lighttpd/lighttpd $deb/root/usr/sbin/lighttpd"
