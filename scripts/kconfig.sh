#!/usr/bin/env bash
# Make the guest kernel's .config in OBJ from tinyconfig + qemu/guest.config,
# check that every requested option survived olddefconfig, and replace
# OBJ/.config only when the result differs (so an unchanged config never
# triggers a rebuild).
#   kconfig.sh SRC OBJ FRAGMENT
set -euo pipefail
src=$1 obj=$2 frag=$3

# Skip the work (about 13 s) when neither the fragment nor any Kconfig file of
# the tree (committed or not) changed since the last run.
key=$( {
	sha256sum <"$frag"
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
"$src/scripts/kconfig/merge_config.sh" -m -O "$tmp" "$tmp/.config" "$frag" >/dev/null
kmake olddefconfig >/dev/null

missing=0
while IFS= read -r line; do
	case $line in
	CONFIG_*=*) ;;
	*) continue ;;
	esac
	opt=${line%%=*}
	if ! grep -qx -- "$line" "$tmp/.config"; then
		got=$(grep -E "^$opt=|^# $opt is not set" "$tmp/.config" || echo "absent")
		echo "kconfig: $frag asks for $line, but olddefconfig gave: $got" >&2
		missing=1
	fi
done <"$frag"
[ $missing -eq 0 ] || { echo "kconfig: fix the fragment (a dependency is missing)" >&2; exit 1; }

if ! cmp -s "$tmp/.config" "$obj/.config"; then
	cp "$tmp/.config" "$obj/.config"
	echo "kconfig: wrote $obj/.config" >&2
fi
rm -rf "$tmp"
echo "$key" >"$obj/.config-puds-key"
