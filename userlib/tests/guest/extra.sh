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
# get NAME FILE: Debian's package NAME, unpacked at $deb/NAME (FILE in it).
get() {
	local name=$1 file=$2
	if [ ! -e "$deb/$name/$file" ]; then
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
}
# examples/echo_server and its C twin (echo_check runs them): built in the guest build's tree.
for p in echo_server echo_server_c; do
	cmake --build "$work" --target $p >/dev/null
	echo "/opt/puds/$p $work/$p"
done
for pkg in lighttpd:usr/sbin/lighttpd nginx:usr/sbin/nginx haproxy:usr/sbin/haproxy; do
	name=${pkg%%:*} bin=${pkg#*:}
	get "$name" "$bin"
	echo "/opt/$name/$name $deb/$name/$bin"
done
# haproxy links libraries this host may lack (mkinitramfs.sh brings only
# what ldd finds here): they come from their Debian packages too, put where
# the guest's loader looks.  libopentracing-c-wrapper needs libopentracing.
multi=usr/lib/x86_64-linux-gnu
for pkg in liblua5.3-0:liblua5.3.so.0 libopentracing-c-wrapper0:libopentracing-c-wrapper.so.0 \
	libopentracing1:libopentracing.so.1; do
	name=${pkg%%:*} so=${pkg#*:}
	get "$name" "$multi/$so"
	echo "/lib/x86_64-linux-gnu/$so $(readlink -f "$deb/$name/$multi/$so")"
done
