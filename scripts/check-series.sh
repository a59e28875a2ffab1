#!/usr/bin/env bash
# Build every commit of the series on its own (bisectability) with
# scripts/build-at.sh: for each commit, the kernel image and the af_unix
# selftests.  ccache makes the repeated compiles cheap.
#   check-series.sh TREE CONFIG WORK   (WORK: the worktree and object tree it builds in)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
tree=$1 config=$2 work=$3
mkdir -p "$work/selftests"
fail=0
for c in $(git -C "$tree" rev-list --reverse puds-base..HEAD); do
	subj=$(git -C "$tree" log -1 --format=%s "$c")
	if bash "$top/scripts/build-at.sh" "$tree" "$config" "$work" "$c" &&
		make -s -C "$work/linux/tools/testing/selftests/net/af_unix" OUTPUT="$work/selftests" \
			KHDR_INCLUDES="-isystem $work/kbuild/usr/include" >/dev/null; then
		echo "ok - builds: $subj"
	else
		echo "not ok - does not build: $subj"
		fail=1
	fi
done
exit $fail
