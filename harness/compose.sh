#!/usr/bin/env bash
# compose.sh — a docker-compose of each major version, from Debian's packages.
#
# usage: harness/compose.sh v1|v2
#
# Prints the path of an executable `docker-compose`:
#   v1  Debian bookworm's docker-compose 1.29.2 (Python): the one on PATH,
#       else `apt-get install -y docker-compose` (root).
#   v2  Debian trixie's docker-compose 2.26.1 (Go, the cli plugin, which
#       also runs on its own): taken from the trixie package without
#       installing it — `apt-get download` with a sources list of trixie
#       alone, kept in a private apt state directory, and `dpkg-deb -x` —
#       cached under $NETLAB_ENGINE_CACHE/compose-v2 (default
#       /var/cache/netlab-engines, the cache of engines.sh).
# The mirror is apt's own for the machine's release (NETLAB_DEBIAN_MIRROR
# overrides), as engines.sh uses for its trees. Concurrent callers wait for
# each other (flock). Exit: 0 with the path on stdout, 2 usage, 3 not found.
set -euo pipefail

CACHE=${NETLAB_ENGINE_CACHE:-/var/cache/netlab-engines}
V2_VERSION=2.26.1
say() { printf 'compose.sh: %s\n' "$*" >&2; }
die() {
	say "error: $*"
	exit 3
}
# shellcheck source=harness/debian-mirror.sh
. "$(dirname "$(readlink -f "$0")")/debian-mirror.sh"

v1() {
	local bin
	if bin=$(command -v docker-compose) && "$bin" version 2>/dev/null | grep -q 'version 1\.'; then
		echo "$bin"
		return 0
	fi
	[[ $EUID -eq 0 ]] || die "docker-compose v1 is not installed and installing it needs root"
	say "installing Debian's docker-compose (v1)"
	if ! apt-get install -y docker-compose >/dev/null 2>&1; then
		apt-get update >/dev/null && apt-get install -y docker-compose >/dev/null ||
			die "apt-get install docker-compose failed"
	fi
	bin=$(command -v docker-compose) || die "docker-compose is not on PATH after installing it"
	echo "$bin"
}

v2() {
	local dir=$CACHE/compose-v2 bin work apt deb
	bin=$dir/docker-compose-$V2_VERSION
	if [[ -x $bin ]]; then
		echo "$bin"
		return 0
	fi
	mkdir -p "$dir"
	exec 9>"$dir/.lock"
	flock -w 600 9 || die "another run held $dir/.lock for 600 s"
	if [[ ! -x $bin ]]; then
		work=$(mktemp -d "$dir/.work.XXXXXX")
		# shellcheck disable=SC2064 # the path is fixed now
		trap "rm -rf '$work'" EXIT
		apt=(-o "Dir::Etc::sourcelist=$work/sources.list" -o Dir::Etc::sourceparts=-
			-o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache"
			-o APT::Sandbox::User=root)
		mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/deb"
		echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $(debian_mirror) trixie main" >"$work/sources.list"
		say "fetching trixie's docker-compose $V2_VERSION (v2)"
		apt-get "${apt[@]}" update >"$work/apt.log" 2>&1 || die "apt-get update of trixie failed: $(tail -n 3 "$work/apt.log")"
		(cd "$work/deb" && apt-get "${apt[@]}" download "docker-compose=$V2_VERSION*" >>"$work/apt.log" 2>&1) ||
			die "apt-get download docker-compose=$V2_VERSION failed: $(tail -n 3 "$work/apt.log")"
		deb=$(ls "$work"/deb/docker-compose_*.deb)
		dpkg-deb -x "$deb" "$work/x"
		install -m 755 "$work/x/usr/libexec/docker/cli-plugins/docker-compose" "$bin.tmp"
		"$bin.tmp" version | grep -q "version $V2_VERSION" || die "the extracted docker-compose does not run"
		mv "$bin.tmp" "$bin"
	fi
	echo "$bin"
}

case ${1:-} in
v1) v1 ;;
v2) v2 ;;
*)
	sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2
	exit 2
	;;
esac
