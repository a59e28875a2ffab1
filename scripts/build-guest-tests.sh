#!/usr/bin/env bash
# The one build rule of every guest program: builds what a suites file
# (selftests/guest-suites, debug-suites, eval-suites, bench-suites,
# bench-adopt-suites) names, statically linked against the headers the
# kernel object tree KOBJ exports from TREE (Debian 12's linux-libc-dev is
# 6.1), and writes OUT/list for the guest's init ("<name>/<program>
# <timeout>" lines).  Intermediate files stay under OUT/.work.
#   build-guest-tests.sh TREE KOBJ OUT SUITES
#
# A suites line is "<source> <guest name> <timeout per program (s)> [with=DIR,...]":
#   <kselftest dir>     e.g. net/af_unix: built and installed by kselftest's
#                       own "make install" (TARGETS=<dir>); the programs are
#                       those of its kselftest-list.txt.
#   repo:<folder>       every .c file there that has a main() is a program;
#                       the folder's other .c files, those of the with=
#                       folders, and selftests/lib/*.c are linked into each.
#                       A <name>.bpf.c is compiled for BPF and its skeleton
#                       (bpftool gen skeleton: <name>.skel.h) put on the
#                       include path; the programs then link libbpf.
#   repo:<folder>/<program>.c   only that program of the folder.
#   cmake:<project>[:<folder>]   that CMake project's guest programs
#                       (<folder>/<name>.cpp, each a target of that name;
#                       <folder> is tests/guest unless given), and the
#                       files <folder>/extra.sh names.
set -euo pipefail
shopt -s nullglob
top=$(cd "$(dirname "$0")/.." && pwd)
[ $# -eq 4 ] || { echo "usage: build-guest-tests.sh TREE KOBJ OUT SUITES" >&2; exit 2; }
tree=$1 kobj=$2 out=$3 suites=$4
work=$out/.work
hdr=$kobj/usr/include
lib=$top/selftests/lib
mkdir -p "$out"
# Programs built from another source (build/linux made anew) start afresh.
. "$top/scripts/source-stamp.sh"
source_stamp "$out" "$(git -C "$tree" rev-parse puds-base)" stale

make -s -C "$tree" O="$kobj" ARCH=x86_64 headers_install >/dev/null

excluded() { grep -qE "^$1([[:space:]]|\$)" "$top/selftests/guest-excluded"; }
has_main() { grep -qE '^int main\(' "$1"; }
# True if $1 is missing or any later argument (file or folder) has a newer file.
stale() {
	local bin=$1
	shift
	[ -e "$bin" ] || return 0
	[ -n "$(find "$@" -newer "$bin" -print -quit)" ]
}

list=$out/list.tmp
: >"$list"
: >"$out/extra.tmp"
add() { # add <name>/<program> <timeout>, unless selftests/guest-excluded says not
	if excluded "$1"; then
		echo "build-guest-tests: not running $1 (selftests/guest-excluded)" >&2
	else
		echo "$1 $2" >>"$list"
	fi
}

# repo: programs.  build_repo NAME TIMEOUT FOLDER [PROGRAM.c] [WITH...]
build_repo() {
	local name=$1 timeout=$2 dir=$3 only=$4 c p gen
	shift 4
	local libs=() inc=(-I"$top/uapi" -I"$lib") link=() bpf=() deps=("$lib" "$top/uapi" "$hdr")
	for d in "$dir" "$@"; do
		inc+=(-I"$d")
		deps+=("$d")
		for c in "$d"/*.c; do
			case $c in *.bpf.c) bpf+=("$c"); continue ;; esac
			has_main "$c" || libs+=("$c")
		done
	done
	if [ ${#bpf[@]} -gt 0 ]; then
		# Each BPF object becomes a skeleton header (typed access to its
		# programs and maps, the object's bytes inside).
		gen=$work/gen/$name
		mkdir -p "$gen"
		inc+=(-I"$gen")
		link=(-lbpf -lelf -lz -lzstd)
		for c in "${bpf[@]}"; do
			p=$(basename "$c" .bpf.c)
			stale "$gen/$p.skel.h" "$c" "$hdr" || continue
			clang -O2 -g -target bpf -isystem "$hdr" -I/usr/include/x86_64-linux-gnu \
				-c "$c" -o "$gen/$p.bpf.o"
			bpftool gen skeleton "$gen/$p.bpf.o" name "$p" >"$gen/$p.skel.h.tmp"
			mv "$gen/$p.skel.h.tmp" "$gen/$p.skel.h"
		done
		deps+=("$gen")
	fi
	for c in "$dir"/*.c; do
		case $c in *.bpf.c) continue ;; esac
		has_main "$c" || continue
		p=$(basename "$c" .c)
		[ -z "$only" ] || [ "$p" = "$only" ] || continue
		if stale "$out/$name/$p" "${deps[@]}"; then
			gcc -O2 -Wall -Wextra -Werror -static "${inc[@]}" -isystem "$hdr" \
				-o "$out/$name/$p" "$c" "${libs[@]}" "$lib"/*.c "${link[@]}"
		fi
		add "$name/$p" "$timeout"
	done
}

# kselftest dirs: kselftest's own install, into a staging folder beside OUT.
build_kselftest() {
	local name=$1 timeout=$2 dir=$3 stage=$work/kselftest/$name entry p
	[ -d "$tree/tools/testing/selftests/$dir" ] ||
		{ echo "build-guest-tests: no $tree/tools/testing/selftests/$dir" >&2; exit 1; }
	# LDFLAGS from the environment, so that the suite's own "+=" still applies.
	LDFLAGS=-static make -s -C "$tree/tools/testing/selftests" TARGETS="$dir" \
		O="$kobj" KSFT_INSTALL_PATH="$stage" CC=gcc install >/dev/null
	while IFS= read -r entry; do
		[ "${entry%%:*}" = "$dir" ] || continue
		p=${entry#*:}
		[ -x "$stage/$dir/$p" ] || { echo "build-guest-tests: $dir did not install $p" >&2; exit 1; }
		cmp -s "$stage/$dir/$p" "$out/$name/$p" || cp "$stage/$dir/$p" "$out/$name/$p"
		add "$name/$p" "$timeout"
	done <"$stage/kselftest-list.txt"
}

# cmake: guest programs of a CMake project of this repository.
build_cmake() {
	local name=$1 timeout=$2 proj=$top/${3%%:*} folder=tests/guest bdir c p
	case $3 in *:*) folder=${3#*:} ;; esac
	bdir=$work/cmake/${3%%:*}
	cmake -S "$proj" -B "$bdir" -DPUDS_GUEST_TESTS=ON -DPUDS_TESTS=OFF -DPUDS_SELFTEST_LIB="$lib" \
		-DCMAKE_BUILD_TYPE=Release >/dev/null
	if [ -x "$proj/$folder/extra.sh" ]; then
		"$proj/$folder/extra.sh" "$bdir" >>"$out/extra.tmp"
	fi
	for c in "$proj/$folder"/*.cpp; do
		p=$(basename "$c" .cpp)
		cmake --build "$bdir" -j"$(nproc)" --target "$p" >/dev/null
		cp "$bdir/$p" "$out/$name/$p"
		add "$name/$p" "$timeout"
	done
}

while read -r src name timeout with; do
	case $src in '' | '#'*) continue ;; esac
	mkdir -p "$out/$name"
	dirs=()
	case $with in
	with=*) IFS=, read -ra ws <<<"${with#with=}"
		for w in "${ws[@]}"; do dirs+=("$top/$w"); done ;;
	'') ;;
	*) echo "build-guest-tests: $suites: unknown field '$with'" >&2; exit 1 ;;
	esac
	case $src in
	cmake:*) build_cmake "$name" "$timeout" "${src#cmake:}" ;;
	repo:*.c) f=$top/${src#repo:}
		build_repo "$name" "$timeout" "$(dirname "$f")" "$(basename "$f" .c)" "${dirs[@]}" ;;
	repo:*) build_repo "$name" "$timeout" "$top/${src#repo:}" "" "${dirs[@]}" ;;
	*) build_kselftest "$name" "$timeout" "$src" ;;
	esac
done <"$suites"
cmp -s "$list" "$out/list" || mv "$list" "$out/list"
cmp -s "$out/extra.tmp" "$out/extra" || mv "$out/extra.tmp" "$out/extra"
rm -f "$out/extra.tmp" "$list"
