# shellcheck shell=bash
# Debian sid through a private apt configuration: its own sources list,
# lists, archives and status under one folder, so that a script can fetch a
# package from sid without touching the system's apt sources, lists or
# caches.  Sourced by scripts/kernel-source.sh (linux-source-X.Y) and
# scripts/check-manpage.sh (manpages); the caller defines say() and die().
#
#   sid_apt_setup DIR   every apt path under DIR; sets apt_opts (for apt-get
#                       and apt-cache), sid_apt (DIR) and sid_mirror
#   sid_update          sid's lists (DIR/lists), fetched again when older than
#                       PUDS_SID_REFRESH seconds (default 3600)
#   sid_version PKG     sid's version of PKG, or nothing
#   sid_download PKG VER DEB
#                       PKG at VER from sid, stored as the file DEB
#
# Environment:
#   PUDS_DEBIAN_MIRROR  the mirror (default: the one the system's apt sources name)
#   PUDS_SID_REFRESH    seconds before sid's lists are fetched again (default 3600)

# The Debian mirror the system's apt sources name: the first "deb" entry of
# a suite that is not -security/-updates/-backports, from
# /etc/apt/sources.list and sources.list.d/*.list|*.sources.
system_mirror() {
	python3 - /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources <<-'EOF'
	import re, sys
	entries = []  # (uri, suites)
	for path in sys.argv[1:]:
	    try:
	        text = open(path, encoding="utf-8", errors="replace").read()
	    except OSError:
	        continue
	    if path.endswith(".sources"):
	        for stanza in re.split(r"\n\s*\n", text):
	            fields, key = {}, None
	            for line in stanza.splitlines():
	                if line.startswith("#") or not line.strip():
	                    continue
	                if line[0] in " \t" and key:
	                    fields[key] += " " + line.strip()
	                    continue
	                key, _, value = line.partition(":")
	                key = key.strip().lower()
	                fields[key] = value.strip()
	            if fields.get("enabled", "yes").lower() == "no":
	                continue
	            if "deb" not in fields.get("types", "").split():
	                continue
	            for uri in fields.get("uris", "").split():
	                entries.append((uri, fields.get("suites", "").split()))
	    else:
	        for line in text.splitlines():
	            line = re.sub(r"\[[^]]*\]", " ", line.split("#", 1)[0]).split()
	            if len(line) >= 3 and line[0] == "deb":
	                entries.append((line[1], [line[2]]))
	def main_suite(suites):
	    return any(not re.search(r"-(security|updates|backports)$|/updates$", s) for s in suites)
	for uri, suites in entries:
	    if main_suite(suites) and re.match(r"https?://", uri):
	        print(uri.rstrip("/"))
	        break
	EOF
}

# The private apt configuration: every path under DIR, the system's update
# hooks (PackageKit, appstream, docker-clean) cleared.
sid_apt_setup() {
	local mirror keyring=/usr/share/keyrings/debian-archive-keyring.gpg
	[ -f "$keyring" ] || die "$keyring is missing: install debian-archive-keyring (make deps)"
	sid_apt=$1
	mirror=${PUDS_DEBIAN_MIRROR:-$(system_mirror)}
	[ -n "$mirror" ] || die "no Debian mirror in the system's apt sources: set PUDS_DEBIAN_MIRROR"
	mkdir -p "$sid_apt/lists/partial" "$sid_apt/archives/partial"
	echo "deb [signed-by=$keyring] $mirror sid main" \
		>"$sid_apt/sources.list"
	printf '#clear APT::Update::Post-Invoke-Success;\n#clear APT::Update::Post-Invoke;\n' \
		>"$sid_apt/hooks.conf"
	: >"$sid_apt/status"
	apt_opts=(
		-c "$sid_apt/hooks.conf"
		-o Dir::Etc::sourcelist="$sid_apt/sources.list"
		-o Dir::Etc::sourceparts=-
		-o Dir::Etc::preferences=/dev/null -o Dir::Etc::preferencesparts=/dev/null
		-o Dir::State::Lists="$sid_apt/lists"
		-o Dir::State::status="$sid_apt/status"
		-o Dir::Cache::archives="$sid_apt/archives"
		-o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=
		-o APT::Sandbox::User="$(id -un)"
	)
	sid_mirror=$mirror
}

# sid's lists, fetched again when older than PUDS_SID_REFRESH seconds
# (default 3600); offline, the lists already in the cache do.
sid_update() {
	local stamp=$sid_apt/updated now
	now=$(date +%s)
	if [ -f "$stamp" ] && [ $((now - $(stat -c %Y "$stamp"))) -lt "${PUDS_SID_REFRESH:-3600}" ]; then
		return
	fi
	if apt-get "${apt_opts[@]}" -qq update >"$sid_apt/update.log" 2>&1; then
		touch "$stamp"
	elif compgen -G "$sid_apt/lists/*Packages*" >/dev/null; then
		say "note: could not update sid's package lists from $sid_mirror (see $sid_apt/update.log); using the lists of $(date -r "$sid_apt/lists" '+%F %R')"
	else
		cat "$sid_apt/update.log" >&2
		die "could not fetch sid's package lists from $sid_mirror"
	fi
}

sid_version() { { apt-cache "${apt_opts[@]}" show --no-all-versions "$1" 2>/dev/null || true; } | sed -n 's/^Version: //p' | head -1; }

sid_download() {
	local dl
	dl=$(dirname "$3")/dl
	mkdir -p "$dl"
	(cd "$dl" && apt-get "${apt_opts[@]}" -qq download "$1=$2") ||
		die "apt-get download $1=$2 failed"
	mv "$dl/"*.deb "$3"
	rmdir "$dl"
}
