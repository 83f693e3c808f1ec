# debian-mirror.sh — sourced by engines.sh and compose.sh (which define
# `say` and `die`): where Debian's packages come from on this machine.
# shellcheck shell=bash

# The Debian mirror apt uses for the machine's own release (not -security,
# not -updates), as `apt-get indextargets` lists it; NETLAB_DEBIAN_MIRROR
# overrides. apt's HTTP proxy, if it has one, is passed on to debootstrap.
debian_mirror() {
	local codename uri proxy
	if [[ -n ${NETLAB_DEBIAN_MIRROR:-} ]]; then
		echo "$NETLAB_DEBIAN_MIRROR"
		return 0
	fi
	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	# shellcheck disable=SC2016 # apt expands $(…) in its own format
	uri=$(apt-get indextargets --format '$(RELEASE) $(REPO_URI)' 'Identifier: Packages' 2>/dev/null |
		awk -v c="$codename" '$1 == c { print $2; exit }')
	[[ -n $uri ]] || die "cannot tell which Debian mirror apt uses for '$codename' (apt-get indextargets lists none); set NETLAB_DEBIAN_MIRROR"
	proxy=$(apt-config shell p Acquire::http::Proxy 2>/dev/null) && eval "$proxy"
	if [[ -n ${p:-} && -z ${http_proxy:-} ]]; then export http_proxy=$p; fi
	echo "${uri%/}"
}
