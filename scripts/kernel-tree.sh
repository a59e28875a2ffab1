#!/usr/bin/env bash
# Keep build/linux, a git tree of the Debian kernel source kernel-patches/BASE
# names (scripts/kernel-source.sh finds or fetches it) with the series of
# kernel-patches/ applied on top, in step with the repository.
#
#   kernel-tree.sh prepare TREE PATCHES   unpack + base commit (once), apply the series
#   kernel-tree.sh export TREE PATCHES    write the tree's commits back to PATCHES
#   kernel-tree.sh status TREE PATCHES    say what the tree holds compared to the series
#   kernel-tree.sh reset TREE PATCHES     drop the tree's commits, re-apply the series
#
# TREE is build/linux, PATCHES kernel-patches/ (the Makefile passes them).
#
# The series is edited as commits in build/linux (branch "puds" on top of the
# tag "puds-base"), never by hand in the patch files.  The cover letter's text
# lives in the branch description, so it survives export/apply round trips.
#
# State kept in build/linux/.git/puds-applied: "<series hash> <HEAD commit>"
# as they were right after the last apply or export.  prepare uses it to tell
# "the series changed" (re-apply) from "the developer committed in the tree"
# (build the tree as is, remind to export) from both (refuse, nothing lost).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
[ $# -eq 3 ] || { echo "usage: kernel-tree.sh prepare|export|status|reset TREE PATCHES" >&2; exit 2; }
tree=$2 patches=$3
stamp=$tree/.git/puds-applied
subject_prefix="PATCH RFC net-next"

say() { printf 'kernel-tree: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

g() { git -C "$tree" "$@"; }

series_files() {
	# Every patch of the series except the cover letter, in order.
	find "$patches" -maxdepth 1 -name '*.patch' ! -name '0000-cover-letter.patch' | LC_ALL=C sort
}

series_hash() {
	{ series_files; [ -f "$patches/0000-cover-letter.patch" ] && echo "$patches/0000-cover-letter.patch"; } |
		while read -r f; do sha256sum <"$f"; done | sha256sum | cut -d' ' -f1
}

# The source BASE asks for: pkg, version (Debian's), origin (system|sid) and
# tarball, from scripts/kernel-source.sh (which says what it found).
find_source() {
	local out key value
	out=$(bash "$top/scripts/kernel-source.sh" find "$patches") || exit 1
	while IFS== read -r key value; do
		case $key in
		package) pkg=$value ;;
		version) version=$value ;;
		origin) origin=$value ;;  # system|sid
		tarball) tarball=$value ;;
		esac
	done <<<"$out"
}

tree_is_clean() { [ -z "$(g status --porcelain --untracked-files=no)" ]; }

write_stamp() { echo "$(series_hash) $(g rev-parse HEAD)" >"$stamp"; }

unpack() {
	local tmp ver
	say "unpacking $tarball into $tree (once; about a minute)"
	rm -rf "$tree" "$tree.tmp"
	tmp=$tree.tmp
	mkdir -p "$tmp"
	tar -xf "$tarball" -C "$tmp" --strip-components=1
	git -C "$tmp" init -q -b puds
	git -C "$tmp" config user.name "puds developers"
	git -C "$tmp" config user.email "devel@puds.example.org"
	git -C "$tmp" config core.looseCompression 1
	git -C "$tmp" config gc.auto 0
	ver=$(make -s --no-print-directory -C "$tmp" kernelversion)
	# Debian's .gitignore ignores every top-level path (its packaging repo
	# holds no source): drop that block, so that new files of the series
	# can be added as in an upstream tree.
	if [ -f "$tmp/.gitignore" ]; then
		sed -i '/^# Debian packaging: ignore everything at the top level/,/^!\/debian\/$/d' "$tmp/.gitignore"
	fi
	git -C "$tmp" add -A -f .
	local from=
	[ "$origin" = sid ] && from=" (fetched from Debian sid)"
	GIT_AUTHOR_DATE=2024-11-17T00:00:00Z GIT_COMMITTER_DATE=2024-11-17T00:00:00Z \
		git -C "$tmp" commit -q -m "Linux $ver as shipped by Debian's $pkg $version$from" \
		-m "Debian's top-level ignore-everything block is dropped from .gitignore."
	git -C "$tmp" tag puds-base
	echo "$version" >"$tmp/.git/puds-source-version"
	echo "$pkg" >"$tmp/.git/puds-source-package"
	mv "$tmp" "$tree"
}

# Files the old series touched keep their mtime when the new series leaves
# their content as it was, so that Kbuild rebuilds only what really changed.
remember_mtimes() {
	local f
	: >"$tree/.git/puds-mtimes"
	g rev-parse -q --verify HEAD >/dev/null || return 0
	g diff --name-only puds-base HEAD | while read -r f; do
		[ -f "$tree/$f" ] || continue
		printf '%s %s %s\n' "$(g hash-object -- "$f")" "$(stat -c %.9Y "$tree/$f")" "$f"
	done >"$tree/.git/puds-mtimes"
}

restore_mtimes() {
	local sum when f
	while read -r sum when f; do
		[ -f "$tree/$f" ] && [ "$(g hash-object -- "$f")" = "$sum" ] &&
			touch -m -d "@$when" "$tree/$f"
	done <"$tree/.git/puds-mtimes"
	rm -f "$tree/.git/puds-mtimes"
}

apply_series() {
	local f n=0 old_head
	old_head=$(g rev-parse -q --verify HEAD || g rev-parse puds-base)
	remember_mtimes
	g checkout -q -f -B puds puds-base
	g config --unset branch.puds.description || true
	if [ -f "$patches/0000-cover-letter.patch" ]; then
		# Keep the cover letter's subject and text as the branch description,
		# which "export" turns back into 0000-cover-letter.patch.
		python3 "$top/scripts/cover-letter.py" to-description \
			<"$patches/0000-cover-letter.patch" >"$tree/.git/puds-description"
		g config branch.puds.description "$(cat "$tree/.git/puds-description")"
	fi
	while read -r f; do
		[ -n "$f" ] || continue
		if ! g am -q --committer-date-is-author-date "$f"; then
			# Leave the tree as it was: the next build retries the series.
			g am --abort >/dev/null 2>&1 || true
			g checkout -q -f -B puds "$old_head"
			die "$(basename "$f") does not apply to $(g log -1 --format=%s puds-base). Fix it in the tree and export again."
		fi
		n=$((n + 1))
	done < <(series_files)
	restore_mtimes
	say "applied $n patch(es) on $(g log -1 --format=%s puds-base)"
	write_stamp
}

cmd_prepare() {
	local want_src have_src s_hash s_head
	find_source
	want_src="$pkg $version"
	if [ -d "$tree/.git" ]; then
		# Trees made before puds-source-package existed were all 6.12.
		have_src="$(cat "$tree/.git/puds-source-package" 2>/dev/null || echo linux-source-6.12) $(cat "$tree/.git/puds-source-version" 2>/dev/null || true)"
		if [ "$have_src" != "$want_src" ]; then
			[ -f "$stamp" ] && read -r s_hash s_head <"$stamp" || s_head=
			if [ "$(g rev-parse HEAD)" != "$s_head" ] || ! tree_is_clean; then
				die "build/linux was made from $have_src, the source now is $want_src, and the tree has work not exported to kernel-patches/. Run 'make export-patches' (or 'make reset-kernel-tree'), then build again."
			fi
			say "the source changed from $have_src to $want_src: making the tree anew"
			unpack
			apply_series
			return
		fi
	else
		unpack
		apply_series
		return
	fi
	if [ ! -f "$stamp" ]; then
		apply_series
		return
	fi
	read -r s_hash s_head <"$stamp"
	local series_changed=0 tree_changed=0
	[ "$(series_hash)" = "$s_hash" ] || series_changed=1
	{ [ "$(g rev-parse HEAD)" = "$s_head" ] && tree_is_clean; } || tree_changed=1
	case $series_changed$tree_changed in
	00) ;;
	10) say "kernel-patches/ changed: re-applying the series"; apply_series ;;
	01) say "note: build/linux has commits or changes not in kernel-patches/; building the tree as it is (run 'make export-patches' to keep them)" ;;
	11) die "both kernel-patches/ and build/linux changed since the last apply. Keep the tree's work with 'make export-patches', or drop it with 'make reset-kernel-tree'." ;;
	esac
}

cmd_export() {
	[ -d "$tree/.git" ] || die "no tree at $tree: run 'make kernel-tree' first"
	tree_is_clean || die "build/linux has uncommitted changes: commit them first"
	local n
	n=$(g rev-list --count puds-base..HEAD)
	find "$patches" -maxdepth 1 -name '*.patch' -delete
	if [ "$n" -gt 0 ]; then
		local cover=()
		if g config branch.puds.description >/dev/null; then
			cover=(--cover-letter --cover-from-description=subject)
		elif [ "$n" -gt 1 ]; then
			cover=(--cover-letter)
			say "note: no cover letter text yet: 'git -C build/linux branch --edit-description puds'"
		fi
		# The cover letter is signed and dated like the newest commit, so that
		# exporting an unchanged series rewrites no file.
		GIT_COMMITTER_NAME=$(g log -1 --format=%an) GIT_COMMITTER_EMAIL=$(g log -1 --format=%ae) \
			GIT_COMMITTER_DATE=$(g log -1 --format=%aI) \
			g format-patch -q "${cover[@]}" --zero-commit --no-signature \
				--subject-prefix="$subject_prefix" -o "$patches" puds-base..HEAD
	fi
	set_base package "$(cat "$tree/.git/puds-source-package" 2>/dev/null || echo linux-source-6.12)"
	set_base package_version "$(cat "$tree/.git/puds-source-version")"
	set_base upstream_version "$(make -s --no-print-directory -C "$tree" kernelversion)"
	write_stamp
	say "exported $n patch(es) to ${patches#$top/}/"
}

# BASE's KEY=VALUE line, replaced or added.
set_base() {
	if grep -q "^$1=" "$patches/BASE"; then
		sed -i "s|^$1=.*|$1=$2|" "$patches/BASE"
	else
		echo "$1=$2" >>"$patches/BASE"
	fi
}

cmd_status() {
	[ -d "$tree/.git" ] || { say "no tree yet"; return; }
	g log --oneline puds-base..HEAD
	g status --short --untracked-files=no
}

cmd_reset() {
	[ -d "$tree/.git" ] || { cmd_prepare; return; }
	g am --abort >/dev/null 2>&1 || true
	g reset -q --hard
	apply_series
}

case $1 in
prepare) cmd_prepare ;;
export) cmd_export ;;
status) cmd_status ;;
reset) cmd_reset ;;
*) echo "usage: kernel-tree.sh prepare|export|status|reset TREE PATCHES" >&2; exit 2 ;;
esac
