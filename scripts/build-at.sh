#!/usr/bin/env bash
# Build the kernel of one commit of build/linux with the guest config, in a
# worktree and object tree of its own, so that build/linux and build/kbuild
# keep their mtimes.  Used by `make bench` (the unpatched base) and by
# scripts/check-series.sh (every patch).  Leaves OUTDIR/kbuild/usr/include.
#   build-at.sh TREE CONFIG OUTDIR COMMIT
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
tree=$1 config=$2 commit=$4
# Absolute: git -C runs the worktree commands from inside TREE.
out=$(mkdir -p "$3" && cd "$3" && pwd)
# Same layout as build/linux + build/kbuild, so that ccache (keyed on paths
# relative to the object tree) reuses what the main build compiled.
wt=$out/linux obj=$out/kbuild
mkdir -p "$out" "$obj"
# A worktree left from an earlier build/linux (made anew since) is stale.
if ! git -C "$wt" rev-parse --git-dir >/dev/null 2>&1; then
	rm -rf "$wt"
	git -C "$tree" worktree prune
	git -C "$tree" worktree add -q --detach "$wt" puds-base
fi
git -C "$wt" checkout -q --detach "$commit"
# An object tree of another source (build/linux made anew) starts afresh.
. "$top/scripts/source-stamp.sh"
source_stamp "$obj" "$(git -C "$tree" rev-parse puds-base)" keep
cmp -s "$config" "$obj/.config" || cp "$config" "$obj/.config"
export CCACHE_BASEDIR=$top
kmake() {
	make -s -C "$wt" O="$obj" ARCH=x86_64 CC="ccache gcc" \
		KBUILD_BUILD_TIMESTAMP=2024-11-17 KBUILD_BUILD_USER=puds KBUILD_BUILD_HOST=puds "$@"
}
kmake olddefconfig >/dev/null
kmake -j"$(nproc)" bzImage headers_install
