#!/usr/bin/env bash
# Check the man-pages patch in kernel-patches/man-pages/ against the
# man-pages release that folder's BASE names:
#
#   1. the page as released: from Debian's manpages package of that release,
#      kept in ${PUDS_CACHE:-~/.cache/puds}/man-pages, or fetched from Debian
#      sid with a private apt configuration (scripts/sid-apt.sh: the system's
#      apt sources, lists and caches are never touched);
#   2. a scratch git repository with that page at its path in man-pages' git
#      (BASE's page=), its .TH line put back as git has it ("(date)",
#      "(unreleased)"), and the patch applied with git am;
#   3. groff -man -Tutf8 -ww, with -z and also rendered at line lengths 60n
#      to 120n (only rendering shows "cannot adjust line"), and
#      mandoc -Tlint -Wall, on the page before and after the patch: a
#      warning that only the patched page has fails;
#   4. the lines the patch adds: no trailing white space, no blank line, and
#      semantic newlines (no sentence ends mid-line outside examples).
#
# Offline, a cached package does: nothing is fetched while the cache has the
# version BASE names.  When it has not and sid has another version, this
# says so and checks against that one (the page the patch is sent against).
#
#   check-manpage.sh          check; the last line says ok, or why not
#   check-manpage.sh --keep   the same, and keep the scratch repository
#
# Environment:
#   PUDS_MANPAGES_VERSION   check against exactly this Debian version of
#                           manpages (sid's, or one already cached)
#   PUDS_CACHE              default ${XDG_CACHE_HOME:-$HOME/.cache}/puds
#   PUDS_DEBIAN_MIRROR, PUDS_SID_REFRESH   see scripts/sid-apt.sh
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
dir=$top/kernel-patches/man-pages
cache=${PUDS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/puds}/man-pages
keep=
[ "${1:-}" = --keep ] && keep=1

say() { printf 'check-manpage: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# shellcheck source=scripts/sid-apt.sh
. "$top/scripts/sid-apt.sh"

[ -f "$dir/BASE" ] || die "$dir/BASE is missing"
recorded() { sed -n "s/^$1=//p" "$dir/BASE"; }
pkg=$(recorded package) base_ver=$(recorded package_version) page=$(recorded page)
if [ -z "$pkg" ] || [ -z "$base_ver" ] || [ -z "$page" ]; then
	die "$dir/BASE needs package=, package_version= and page="
fi
patches=("$dir"/0*.patch)
[ -f "${patches[0]}" ] || die "no patch in $dir"
for t in git groff mandoc dpkg-deb gzip; do
	command -v "$t" >/dev/null || die "$t is missing (apt-get install git groff-base mandoc)"
done

deb_of() { echo "$cache/$pkg/${pkg}_$1_all.deb"; }
want=${PUDS_MANPAGES_VERSION:-$base_ver}
if [ -s "$(deb_of "$want")" ]; then
	ver=$want
else
	sid_apt_setup "$cache/apt"
	sid_update
	ver=$(sid_version "$pkg")
	[ -n "$ver" ] || die "Debian sid has no $pkg ($sid_mirror)"
	if [ -n "${PUDS_MANPAGES_VERSION:-}" ] && [ "$ver" != "$want" ]; then
		die "Debian sid has $pkg $ver, not $want, and $want is not in $cache"
	fi
	[ "$ver" = "$base_ver" ] ||
		say "note: the patch is based on $pkg $base_ver; Debian sid has $ver and $base_ver is not cached: checking against $ver"
	say "downloading $pkg $ver from $sid_mirror (sid, about 1.4 MB)"
	sid_download "$pkg" "$ver" "$(deb_of "$ver")"
fi
upstream=${ver%%-*}
upstream=${upstream%%+*}

work=$(mktemp -d "${TMPDIR:-/tmp}/check-manpage.XXXXXX")
if [ -z "$keep" ]; then
	trap 'rm -rf "$work"' EXIT
fi
repo=$work/man-pages
mkdir -p "$repo/$(dirname "$page")"
# The packaged page (usr/share/man/manN/NAME.N.gz), its .TH line as in git.
dpkg-deb --fsys-tarfile "$(deb_of "$ver")" |
	tar -xOf - "./usr/share/man/${page#man/}.gz" | gzip -dc |
	sed -E '1,/^\.TH /s/^(\.TH [^ ]+ [^ ]+) [0-9]{4}-[0-9]{2}-[0-9]{2} "Linux man-pages [^"]*"$/\1 (date) "Linux man-pages (unreleased)"/' \
		>"$repo/$page"
[ -s "$repo/$page" ] || die "$pkg $ver has no usr/share/man/${page#man/}.gz"
g() { git -C "$repo" -c user.name=check-manpage -c user.email=check-manpage@localhost "$@"; }
g init -q
g add "$page"
g commit -q -m "man-pages-$upstream: $page (Debian $pkg $ver)"
if ! g am -q "${patches[@]}" >"$work/am.log" 2>&1; then
	cat "$work/am.log" >&2
	die "git am of ${patches[*]##*/} failed on man-pages-$upstream ($pkg $ver)"
fi

# The warnings of groff and mandoc on a page, without file names and
# positions, so that the page before and after the patch compare.
warnings() {
	{
		groff -man -Tutf8 -ww -z "$1"
		for ll in 60 80 100 120; do groff -man -Tutf8 -ww -rLL=${ll}n "$1" >/dev/null; done
		mandoc -Tlint -Wall "$1" || true
	} 2>&1 | sed -E 's/[^ ]+:[0-9]+(:[0-9]+)?: //; s/ \[p [0-9]+, [0-9.]+i\]//' | sort -u
}
g show "HEAD~${#patches[@]}:$page" >"$work/before"
warnings "$work/before" >"$work/before.warn"
warnings "$repo/$page" >"$work/after.warn"
fail=0
if new=$(comm -13 "$work/before.warn" "$work/after.warn") && [ -n "$new" ]; then
	say "new groff/mandoc warnings:"
	printf '%s\n' "$new" >&2
	fail=1
fi

# The lines the patch adds, outside .EX/.EE and comments.
g diff -U0 "HEAD~${#patches[@]}" HEAD -- "$page" | awk '
	/^\+\+\+/ { next }
	/^@@/ { split($3, a, /[+,]/); line = a[2]; next }
	/^\+/ {
		text = substr($0, 2)
		if (text ~ /[ \t]$/) printf "%d: trailing white space\n", line
		if (text == "") printf "%d: blank line\n", line
		if (text ~ /^\.EX/) ex = 1
		if (text ~ /^\.EE/) ex = 0
		if (!ex && text !~ /^\.\\"/ && text ~ /[.!?] +[A-Z(]/)
			printf "%d: a sentence ends mid-line (semantic newlines): %s\n", line, text
		line++
	}' >"$work/style"
if [ -s "$work/style" ]; then
	say "style of the added lines ($page):"
	cat "$work/style" >&2
	fail=1
fi

added=$(g diff --numstat "HEAD~${#patches[@]}" HEAD -- "$page" | cut -f1)
[ -z "$keep" ] || say "scratch repository kept: $repo"
[ "$fail" = 0 ] || die "${patches[*]##*/} on man-pages-$upstream ($pkg $ver): see above"
say "ok: ${patches[*]##*/} applies to man-pages-$upstream ($pkg $ver) with git am; $added lines added; no new groff or mandoc warnings"
