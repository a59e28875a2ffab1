# Sourced by the scripts that fill a build folder from build/linux.
#
# A build folder belongs to one kernel source.  After build/linux was made
# anew from another one (6.12 <-> 7.2), what the folder holds can look newer
# than the new source's files, since tar keeps the source's mtimes, so make
# would keep it.  The folder records the puds-base commit it was built from
# in .puds-base.
#
#   source_stamp DIR BASE IF_UNSTAMPED
#
# empties DIR when its .puds-base names another BASE, or when it has none
# and IF_UNSTAMPED is "stale" (not "keep"); then records BASE.
source_stamp() {
	local dir=$1 base=$2 if_unstamped=$3 have
	have=$(cat "$dir/.puds-base" 2>/dev/null || true)
	if { [ -n "$have" ] && [ "$have" != "$base" ]; } ||
		{ [ -z "$have" ] && [ "$if_unstamped" = stale ]; }; then
		[ -z "$(ls -A "$dir" 2>/dev/null)" ] ||
			echo "$(basename "$0"): $dir was built from another source: emptying it" >&2
		find "$dir" -mindepth 1 -delete 2>/dev/null || true
	fi
	mkdir -p "$dir"
	echo "$base" >"$dir/.puds-base"
}
