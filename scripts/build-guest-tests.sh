#!/usr/bin/env bash
# Build the kselftest suites of selftests/guest-suites (or SUITES) from the
# patched tree, statically linked against the tree's own exported headers
# (Debian 12's linux-libc-dev is 6.1), and write OUT/list for the guest's init.
#   build-guest-tests.sh OUT [SUITES]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=$1
suites=${2:-$top/selftests/guest-suites}
tree=$top/build/linux
kobj=${KOBJ:-$top/build/kbuild}
hdr=$kobj/usr/include
mkdir -p "$out"
# Programs built from another source (build/linux made anew) start afresh.
. "$top/scripts/source-stamp.sh"
source_stamp "$out" "$(git -C "$tree" rev-parse puds-base)" stale

make -s -C "$tree" O="$kobj" ARCH=x86_64 headers_install >/dev/null

excluded() { grep -qE "^$1([[:space:]]|\$)" "$top/selftests/guest-excluded"; }

list=$out/list.tmp
: >"$list"
: >"$out/extra.tmp"
while read -r dir name timeout; do
	case $dir in '' | '#'*) continue ;; esac
	mkdir -p "$out/$name"
	case $dir in
	cmake:*)
		# A CMake project of this repository: its guest test programs
		# (tests/guest/<name>.cpp, each a static target of that name).
		proj=$top/${dir#cmake:}
		bdir=$top/build/${dir#cmake:}-guest
		cmake -S "$proj" -B "$bdir" -DPUDS_GUEST_TESTS=ON -DPUDS_TESTS=OFF \
			-DCMAKE_BUILD_TYPE=Release >/dev/null
		[ -x "$proj/tests/guest/extra.sh" ] &&
			"$proj/tests/guest/extra.sh" "$bdir" >>"$out/extra.tmp"
		for c in "$proj"/tests/guest/*.cpp; do
			p=$(basename "$c" .cpp)
			cmake --build "$bdir" -j"$(nproc)" --target "$p" >/dev/null
			cp "$bdir/$p" "$out/$name/$p"
			excluded "$name/$p" || echo "$name/$p $timeout" >>"$list"
		done
		continue ;;
	repo:*)
		# Programs of this repository: one static binary per .c file,
		# against uapi/ and the patched tree's headers.
		for c in "$top/${dir#repo:}"/*.c; do
			p=$(basename "$c" .c)
			[ "$out/$name/$p" -nt "$c" ] && [ "$out/$name/$p" -nt "$top/uapi" ] ||
				gcc -O2 -Wall -Wextra -Werror -static -I"$top/uapi" -isystem "$hdr" \
					-o "$out/$name/$p" "$c"
			excluded "$name/$p" || echo "$name/$p $timeout" >>"$list"
		done
		continue ;;
	esac
	src=$tree/tools/testing/selftests/$dir
	[ -d "$src" ] || { echo "build-guest-tests: no $src" >&2; exit 1; }
	# LDFLAGS from the environment, so that the suite's own "+=" still applies.
	LDFLAGS=-static make -s -C "$src" OUTPUT="$out/$name" KHDR_INCLUDES="-isystem $hdr" \
		CC=gcc all >/dev/null
	progs=$(printf 'include Makefile\nprint-progs:\n\t@echo $(notdir $(TEST_GEN_PROGS))\n' |
		make -s -C "$src" OUTPUT="$out/$name" -f - print-progs)
	for p in $progs; do
		[ -x "$out/$name/$p" ] || { echo "build-guest-tests: $dir did not build $p" >&2; exit 1; }
		if excluded "$name/$p"; then
			echo "build-guest-tests: not running $name/$p (selftests/guest-excluded)" >&2
			continue
		fi
		echo "$name/$p $timeout" >>"$list"
	done
done <"$suites"
cmp -s "$list" "$out/list" || mv "$list" "$out/list"
cmp -s "$out/extra.tmp" "$out/extra" || mv "$out/extra.tmp" "$out/extra"
rm -f "$out/extra.tmp"
rm -f "$list"
