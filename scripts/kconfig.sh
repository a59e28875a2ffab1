#!/usr/bin/env bash
# Make the guest kernel's .config in OBJ from tinyconfig + the fragments
# (qemu/guest.config, then qemu/debug.config for the debug kernel), check
# that every requested option survived olddefconfig, and replace OBJ/.config
# only when the result differs (so an unchanged config never triggers a
# rebuild).  A later fragment's value of an option wins.
#   kconfig.sh SRC OBJ FRAGMENT...
set -euo pipefail
src=$(realpath "$1") obj=$(realpath -m "$2")
shift 2
frags=("$@")

# An object tree belongs to one source (scripts/source-stamp.sh): its
# generated files (e.g. scripts/kconfig/lexer.lex.c) would otherwise be kept
# after build/linux was made anew from another one.
. "$(dirname "$0")/source-stamp.sh"
base=$(git -C "$src" rev-parse -q --verify puds-base 2>/dev/null || true)
if_unstamped=keep
if [ ! -f "$obj/.puds-base" ] && [ -f "$obj/include/config/kernel.release" ]; then
	# Built before .puds-base existed: its release names the version.
	case $(cat "$obj/include/config/kernel.release") in
	"$(make -s --no-print-directory -C "$src" kernelversion)"*) ;;
	*) if_unstamped=stale ;;
	esac
fi
if [ -n "$base" ]; then
	source_stamp "$obj" "$base" "$if_unstamped"
else
	mkdir -p "$obj"
fi

# Skip the work (about 13 s) when neither the fragment nor any Kconfig file of
# the tree (committed or not) changed since the last run.
key=$( {
	cat "${frags[@]}" | sha256sum
	git -C "$src" ls-files -s -- '*Kconfig*' | sha256sum
	git -C "$src" diff -- '*Kconfig*' | sha256sum
} | sha256sum | cut -d' ' -f1)
if [ -f "$obj/.config" ] && [ "$(cat "$obj/.config-puds-key" 2>/dev/null)" = "$key" ]; then
	exit 0
fi
tmp=$obj/.config-puds-tmp
mkdir -p "$tmp"
kmake() { make -s -C "$src" O="$tmp" ARCH=x86_64 "$@"; }

kmake tinyconfig >/dev/null
"$src/scripts/kconfig/merge_config.sh" -m -O "$tmp" "$tmp/.config" "${frags[@]}" >/dev/null
kmake olddefconfig >/dev/null

# The last fragment that sets an option decides what it must be.
declare -A want from
for frag in "${frags[@]}"; do
	while IFS= read -r line; do
		case $line in
		CONFIG_*=*) want[${line%%=*}]=$line from[${line%%=*}]=$frag ;;
		esac
	done <"$frag"
done
missing=0
for opt in "${!want[@]}"; do
	line=${want[$opt]}
	if ! grep -qx -- "$line" "$tmp/.config"; then
		got=$(grep -E "^$opt=|^# $opt is not set" "$tmp/.config" || echo "absent")
		echo "kconfig: ${from[$opt]} asks for $line, but olddefconfig gave: $got" >&2
		missing=1
	fi
done
[ $missing -eq 0 ] || { echo "kconfig: fix the fragment (a dependency is missing)" >&2; exit 1; }

if ! cmp -s "$tmp/.config" "$obj/.config"; then
	cp "$tmp/.config" "$obj/.config"
	echo "kconfig: wrote $obj/.config" >&2
fi
rm -rf "$tmp"
echo "$key" >"$obj/.config-puds-key"
