#!/usr/bin/env bash
# Build the guest's initramfs without root: busybox-static, qemu/init, the
# guest-exit helper and the statically linked test programs, packed by the
# kernel's own usr/gen_init_cpio from a list (device nodes need no mknod).
#
#   mkinitramfs.sh TREE TESTDIR OUT.cpio [ROOT]
#
# TREE is the kernel source (its usr/gen_init_cpio.c packs the archive).
# TESTDIR holds the test programs (any depth) and "list", one line per
# program: "<path relative to TESTDIR> <timeout seconds>".
# ROOT, for the real-systemd guest, is a root made from Debian's packages
# (qemu/systemd/mkroot.py): packed first, whole; busybox then adds only the
# commands ROOT lacks, and a program's shared libraries come from ROOT
# when it has them.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
[ $# -eq 3 ] || [ $# -eq 4 ] || { echo "usage: mkinitramfs.sh TREE TESTDIR OUT.cpio [ROOT]" >&2; exit 2; }
tree=$1 testdir=$2 out=$3 root=${4:-}
tools=$(dirname "$out")/.tools
busybox=/bin/busybox

mkdir -p "$tools"
[ -x "$busybox" ] && "$busybox" --list-full >/dev/null 2>&1 ||
	{ echo "mkinitramfs: $busybox is not a static busybox (apt-get install busybox-static)" >&2; exit 1; }
file -L "$busybox" 2>/dev/null | grep -q 'statically linked' ||
	{ echo "mkinitramfs: $busybox is not statically linked (install busybox-static)" >&2; exit 1; }

src=$tree/usr/gen_init_cpio.c
[ "$tools/gen_init_cpio" -nt "$src" ] || cc -O2 -o "$tools/gen_init_cpio" "$src"
[ "$tools/guest-exit" -nt "$top/qemu/guest-exit.c" ] ||
	cc -O2 -static -Wall -o "$tools/guest-exit" "$top/qemu/guest-exit.c"

# in_root PATH: ROOT has PATH (following ROOT's own relative links).
in_root() { [ -n "$root" ] && { [ -e "$root$1" ] || [ -L "$root$1" ]; }; }

list=$out.list
{
	if [ -n "$root" ]; then
		# The initramfs unpacker follows links in a path's directories:
		# ROOT's /bin -> usr/bin must come before anything under /bin.
		(cd "$root" && find . -mindepth 1 ! -name .stamp -printf '%y %P %m %l\n') |
			while read -r type path mode target; do
				case $type in
				d) echo "dir /$path $mode 0 0" ;;
				f) echo "file /$path $root/$path $mode 0 0" ;;
				l) echo "slink /$path $target 777 0 0" ;;
				esac
			done
	fi
	for d in /bin /sbin /usr /usr/bin /usr/sbin /dev /proc /sys /tmp /run /root /etc /tests /tests/bin; do
		in_root "$d" || echo "dir $d 755 0 0"
	done
	echo "nod /dev/console 600 0 0 c 5 1"
	echo "nod /dev/null 666 0 0 c 1 3"
	echo "file /init $top/qemu/init 755 0 0"
	echo "file /bin/run-tests $top/qemu/run-tests 755 0 0"
	echo "file /bin/busybox $busybox 755 0 0"
	echo "file /bin/guest-exit $tools/guest-exit 755 0 0"
	"$busybox" --list-full | while read -r applet; do
		[ "$applet" = bin/busybox ] || in_root "/$applet" || echo "slink /$applet /bin/busybox 777 0 0"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$out.passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$out.group"
	in_root /etc/passwd || echo "file /etc/passwd $out.passwd 644 0 0"
	in_root /etc/group || echo "file /etc/group $out.group 644 0 0"
	echo "file /tests/list $testdir/list 644 0 0"
	# "file" with its parent directories first, as gen_init_cpio wants them.
	put() {
		local dirs= p
		p=$(dirname "$1")
		while [ "$p" != / ]; do
			dirs="$p $dirs"
			p=$(dirname "$p")
		done
		# A "dir" entry replaces a link of ROOT's (/lib -> usr/lib) by a
		# directory: the unpacker does not follow the last component.
		for p in $dirs; do in_root "$p" || echo "dir $p 755 0 0"; done
		echo "file $1 $2 ${4:-755} 0 0"
		# A dynamically linked program brings its shared libraries and
		# the loader (ldd lists them all), at the paths it looks them up by.
		if [ -z "${3:-}" ] && file -L "$2" | grep -q 'dynamically linked'; then
			ldd "$2" | grep -o '/[^ ]*' | while read -r lib; do
				in_root "$lib" || put "$lib" "$(readlink -f "$lib")" lib
			done
		fi
	}
	while read -r prog _; do
		case $prog in '' | '#'*) continue ;; esac
		put "/tests/bin/$prog" "$testdir/$prog"
	done <"$testdir/list"
	# Other files the programs need: "<guest path> <path here> [mode]" lines.
	if [ -f "$testdir/extra" ]; then
		while read -r g h m; do
			[ -n "$g" ] && put "$g" "$h" "" "$m"
		done <"$testdir/extra"
	fi
} | awk '!seen[$0]++' >"$list"

"$tools/gen_init_cpio" "$list" >"$out.tmp"
mv "$out.tmp" "$out"
