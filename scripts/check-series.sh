#!/usr/bin/env bash
# Build every commit of the series on its own (bisectability), in a separate
# worktree and object tree so that build/linux and build/kbuild keep their
# mtimes: for each commit, the kernel image and the af_unix selftests.
# ccache makes the repeated compiles cheap; expect a few minutes per patch.
#   check-series.sh TREE CONFIG
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
tree=$1 config=$2
work=$top/build/series-check
# Same layout as build/linux + build/kbuild, so that ccache (keyed on paths
# relative to the object tree) reuses what the main build compiled.
wt=$work/linux obj=$work/kbuild
mkdir -p "$work" "$obj" "$work/selftests"
# A worktree left from an earlier build/linux (made anew since) is stale.
if ! git -C "$wt" rev-parse --git-dir >/dev/null 2>&1; then
	rm -rf "$wt"
	git -C "$tree" worktree prune
	git -C "$tree" worktree add -q --detach "$wt" puds-base
fi
export CCACHE_BASEDIR=$top
fail=0
for c in $(git -C "$tree" rev-list --reverse puds-base..HEAD); do
	subj=$(git -C "$tree" log -1 --format=%s "$c")
	git -C "$wt" checkout -q --detach "$c"
	cp "$config" "$obj/.config"
	if make -s -C "$wt" O="$obj" ARCH=x86_64 CC="ccache gcc" olddefconfig >/dev/null &&
		make -s -C "$wt" O="$obj" ARCH=x86_64 CC="ccache gcc" -j"$(nproc)" bzImage headers_install &&
		make -s -C "$wt/tools/testing/selftests/net/af_unix" OUTPUT="$work/selftests" \
			KHDR_INCLUDES="-isystem $obj/usr/include" >/dev/null; then
		echo "ok - builds: $subj"
	else
		echo "not ok - does not build: $subj"
		fail=1
	fi
done
exit $fail
