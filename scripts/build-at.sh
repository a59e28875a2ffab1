#!/usr/bin/env bash
# Build the unpatched base kernel (tag puds-base of build/linux) with the
# guest config, in a worktree and object tree of its own, for `make bench`.
#   base-kernel.sh TREE CONFIG OUTDIR
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
tree=$1 config=$2 out=$3
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
git -C "$wt" checkout -q --detach puds-base
cmp -s "$config" "$obj/.config" || cp "$config" "$obj/.config"
export CCACHE_BASEDIR=$top
make -s -C "$wt" O="$obj" ARCH=x86_64 CC="ccache gcc" olddefconfig >/dev/null
make -s -C "$wt" O="$obj" ARCH=x86_64 CC="ccache gcc" \
	KBUILD_BUILD_TIMESTAMP=2024-11-17 KBUILD_BUILD_USER=puds KBUILD_BUILD_HOST=puds \
	-j"$(nproc)" bzImage
echo "base kernel: $obj/arch/x86/boot/bzImage"
