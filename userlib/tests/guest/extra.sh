#!/usr/bin/env bash
# Files the guest programs of userlib need besides themselves, as lines of
# "<path in the guest> <path here>" for qemu/mkinitramfs.sh (which also
# brings the shared libraries of what is dynamically linked).
#   extra.sh WORKDIR
# The servers come from Debian's own packages, unpacked, not installed:
# what puds runs in the guest are the unmodified distribution binaries.
set -euo pipefail
work=$1
deb=$work/debs
mkdir -p "$deb"
for pkg in lighttpd:usr/sbin/lighttpd nginx:usr/sbin/nginx; do
	name=${pkg%%:*} bin=${pkg#*:}
	if [ ! -x "$deb/$name/$bin" ]; then
		# Package lists may have been cleaned (container images): update once.
		if ! (cd "$deb" && apt-get download -qq "$name" 2>/dev/null); then
			[ "$(id -u)" = 0 ] && apt-get update -qq >/dev/null 2>&1
			(cd "$deb" && apt-get download -qq "$name") || {
				echo "extra.sh: cannot download Debian's $name package (apt-get download $name)" >&2
				exit 1
			}
		fi
		dpkg-deb -x "$deb/${name}"_*.deb "$deb/$name"
	fi
	echo "/opt/$name/$name $deb/$name/$bin"
done
