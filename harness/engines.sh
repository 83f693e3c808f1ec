#!/usr/bin/env bash
# engines.sh — extra Docker engines on this one machine, for netlab's tests.
#
# Each engine is a real dockerd in its own network namespace, so netlab can be
# run (a) against other Docker versions and (b) across several "hosts" of one
# swarm, without VMs and without a registry.
#
# What this script owns (and nothing else — the machine's own dockerd,
# containerd, /etc/docker and its iptables rules are never touched):
#   /run/netlab-engines/NAME/     state of engine NAME: docker.sock, dockerd.pid,
#                                 dockerd.log, exec-root, kind, addr
#   /run/netlab-engines.lock      serialises address allocation and bridge setup
#   /run/netlab-engines.install.lock  serialises installing packages
#   /var/lib/netlab-engines/NAME/ data-root of engine NAME (deleted on stop)
#   /run/netns/netlab-NAME        its network namespace
#   nl-NAME                       its veth (machine side); eth0 inside
#   netlab-br0                    the bridge joining all engines, ${NET}.1/24
#   iptables FORWARD rule         -i netlab-br0 -o netlab-br0 -j ACCEPT
#   /run/netlab-engines-dns.pid   the engines' stub resolver: a dnsmasq on
#   /run/netlab-engines-dns.log   ${NET}.1:53 (udp+tcp) only, which answers
#                                 every query NXDOMAIN and forwards nothing;
#                                 it lives and dies with the bridge
#   cgroup netlab-engine-NAME     cgroup parent of the engine's containers
#   ${NETLAB_ENGINE_CACHE:-/var/cache/netlab-engines}/SUITE
#                                 debootstrap trees (kept; they are the cache)
#
# Engines get no default route: they can reach each other and the machine's
# bridge address, nothing else. Nothing can be pulled: `docker save | docker
# -H URL load` the images they need.
#
# Each engine sees an /etc/resolv.conf of its own, `nameserver ${NET}.1` (a
# bind mount in its private mount namespace; the machine's file and the
# trees' stay as they are). So, as on a real Docker host, containers on the
# default bridge and in host mode have a resolver, and Docker's embedded DNS
# forwards names it does not know to it: every such name is NXDOMAIN.
#
# NETLAB_ENGINE_RESOLVER=none gives an engine a resolv.conf whose name
# server it cannot reach (an offline machine) instead of the stub resolver.
#
# NETLAB_ENGINE_SHARED_KEY=1 gives native engines the machine's key.json
# (one engine ID for all, as on cloned machines).
#
# Trees come from the Debian archive the machine's apt uses for its own
# release (as `apt-get` would: its sources and its proxy), and hold the Docker
# version docs/engines.md's table claims for each suite (ENGINE_VERSIONS below):
# a tree that holds another is refused, naming both, so an archive that has
# moved on fails clearly instead of testing an engine nobody claimed.
#
# Environment: NETLAB_ENGINE_CACHE (tree cache), NETLAB_ENGINE_NET (first three
# octets of the /24, default 10.250.77; it must not be a network the machine
# has), NETLAB_ENGINE_TIMEOUT (readiness deadline in s, default 60),
# NETLAB_ENGINE_STORAGE (storage driver, default vfs), NETLAB_DEBIAN_MIRROR
# (another Debian mirror than apt's).
set -euo pipefail

CACHE=${NETLAB_ENGINE_CACHE:-/var/cache/netlab-engines}
STATE_ROOT=/run/netlab-engines
LOCK_FILE=/run/netlab-engines.lock
INSTALL_LOCK_FILE=/run/netlab-engines.install.lock
DATA_ROOT=/var/lib/netlab-engines
BRIDGE=netlab-br0
NET=${NETLAB_ENGINE_NET:-10.250.77}
DNS_PID=/run/netlab-engines-dns.pid
DNS_LOG=/run/netlab-engines-dns.log
# The Docker engine (docker.io's upstream version) each suite's tree must
# hold: what docs/engines.md's table of tested engines claims.
declare -A ENGINE_VERSIONS=([trixie]=26.1.5 [sid]=28.5.2)
# How long to wait for a lock held by another run (a tree build takes
# minutes).
TREE_LOCK_TIMEOUT=1800
READY_TIMEOUT=${NETLAB_ENGINE_TIMEOUT:-60}
STOP_TIMEOUT=20
STORAGE=${NETLAB_ENGINE_STORAGE:-vfs}
NATIVE_DOCKERD=/usr/sbin/dockerd
HOST_NAMES=(east west north south)
SELF=$(readlink -f "$0")
# shellcheck source=harness/vm.sh
. "$(dirname "$SELF")/vm.sh"
# shellcheck source=harness/debian-mirror.sh
. "$(dirname "$SELF")/debian-mirror.sh"

usage() {
	cat <<EOF
usage: $0 COMMAND [ARGS]

  tree SUITE         build (or wait for / reuse) the debootstrap tree of SUITE
                     in $CACHE/SUITE (trixie: Docker 26.1, sid: Docker 28.5)
  start NAME KIND    start engine NAME; KIND is 'native' (this machine's
                     dockerd), a suite (trixie, sid, ...) or 'vm' (Docker
                     26.1 in QEMU on Debian trixie's kernel, on TCP; minutes
                     to boot, see harness/vm.sh); prints its URL and its
                     address on $BRIDGE
  stop NAME          stop engine NAME and delete all of its state (idempotent)
  pause NAME         stop engine NAME's dockerd but keep its state (containers,
                     networks, swarm), as a host that went down would
  resume NAME        start a paused engine again with its state
  stop-all           stop every engine this harness started, also after a crash
  list               NAME KIND URL ADDRESS VERSION of each engine
  addr NAME          the engine's address on $BRIDGE
  hosts N            start N native engines (east, west, north, south, host5, ...);
                     the last line is NETLAB_HOSTS=east=unix:///...,west=...
  hosts-down         stop the engines started by 'hosts'
  need CMD:PKG ...   install the Debian packages of the commands that are missing
                     (the tests' set-up: e.g. chromium:chromium)

NAME: a lowercase letter, then up to 11 lowercase letters or digits.
EOF
}

say() { printf 'engines: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# ---------------------------------------------------------------- tools

# Install the Debian packages that provide missing commands (CI machines are
# fresh). Try without `apt-get update` first: it is slow and often not needed.
# Engines and trees are set up in parallel, so installs queue on a lock of
# their own (and apt waits for dpkg's lock rather than failing on it), and
# what is missing is looked at again once the lock is held.
need() {
	local missing pair
	missing=$(missing_packages "$@")
	[[ -n $missing ]] || return 0
	(
		exec 7>>"$INSTALL_LOCK_FILE"
		flock -w 900 7 || die "cannot lock $INSTALL_LOCK_FILE"
		missing=$(missing_packages "$@")
		[[ -n $missing ]] || exit 0
		say "installing $missing"
		export DEBIAN_FRONTEND=noninteractive
		local apt=(apt-get -o DPkg::Lock::Timeout=600)
		# shellcheck disable=SC2086 # a list of package names
		"${apt[@]}" install -y $missing >&2 ||
			("${apt[@]}" update >&2 && "${apt[@]}" install -y $missing >&2)
	) || die "could not install the packages that provide: $*"
}

# The packages (space-separated, each once) of the commands missing among
# CMD:PACKAGE pairs.
missing_packages() {
	local cmd pkg pair out=()
	for pair in "$@"; do
		cmd=${pair%%:*} pkg=${pair#*:}
		command -v "$cmd" >/dev/null 2>&1 || [[ " ${out[*]} " == *" $pkg "* ]] || out+=("$pkg")
	done
	echo "${out[*]}"
}

# dnsmasq-base: the bare dnsmasq binary, without the dnsmasq package's system
# service (which would start a resolver of its own on every address).
need_net_tools() {
	need ip:iproute2 ss:iproute2 iptables:iptables nsenter:util-linux flock:util-linux \
		pgrep:procps dnsmasq:dnsmasq-base
}
need_docker_cli() { command -v docker >/dev/null || die "the docker CLI is needed (package docker.io)"; }

check_name() {
	[[ $1 =~ ^[a-z][a-z0-9]{0,11}$ ]] || die "bad engine name '$1' (veth names are limited to 15 characters)"
}

# ---------------------------------------------------------------- locking

# One lock for everything that reads or changes shared state: the address
# pool, the bridge and the iptables rule. Held on fd 9.
lock() { exec 9>>"$LOCK_FILE"; flock -w 120 9 || die "cannot lock $LOCK_FILE"; }
unlock() { exec 9>&-; }

# ---------------------------------------------------------------- trees

tree_ready() { [[ -x $1/usr/sbin/dockerd && -x $1/usr/bin/containerd && -x $1/bin/sh ]]; }

# The empty directories an engine mounts over (see launch_tree), and
# /etc/resolv.conf, which must be a plain file to bind the engine's over (a
# symlink would be followed outside the tree, before the pivot). Created once
# per tree; nothing else in a tree is ever written.
tree_mountpoints() {
	mkdir -p "$1/var/lib/docker" "$1/etc/docker" "$1/opt" "$1/run" "$1/tmp"
	if [[ -L $1/etc/resolv.conf || ! -f $1/etc/resolv.conf ]]; then
		rm -f "$1/etc/resolv.conf"
		: >"$1/etc/resolv.conf"
	fi
}

# Unmount whatever is mounted at or under $1 (deepest first). Needed before
# removing a half-built tree: debootstrap mounts proc/sys (and may bind /dev)
# into it, and an `rm -rf` through a bind of /dev would be a disaster.
unmount_under() {
	local mp
	awk -v p="$1" '$5 == p || index($5, p "/") == 1 { print $5 }' /proc/self/mountinfo |
		sort -r | while read -r mp; do umount -l "$mp" 2>/dev/null || true; done
}

# A debootstrap of this suite that someone else started (e.g. in the
# background, without our lock): wait for it rather than race it.
wait_foreign_build() {
	local partial=$1 deadline=$((SECONDS + 1800))
	while pgrep -f "debootstrap .*${partial}( |$)" >/dev/null; do
		((SECONDS < deadline)) || die "debootstrap into $partial still running after 30 min"
		say "waiting for the running debootstrap into $partial"
		sleep 5
	done
}

# docker.io's version in a tree, from its dpkg database.
tree_docker_version() {
	awk '/^Package: /{p=$2} /^Version: /{ if (p == "docker.io") { print $2; exit } }' \
		"$1/var/lib/dpkg/status" 2>/dev/null
}

# A tree must hold the Docker version docs/engines.md's table claims for its suite.
tree_version_ok() {
	local suite=$1 dir=$2 want have
	want=${ENGINE_VERSIONS[$suite]:-}
	[[ -n $want ]] || return 0
	have=$(tree_docker_version "$dir")
	[[ ${have%%+*} == "$want" || ${have%%[-~]*} == "$want" ]] && return 0
	say "error: Debian $suite now carries docker.io ${have:-(none)}, but docs/engines.md's table and ENGINE_VERSIONS in $SELF claim Docker $want."
	say "       The archive has moved on: update both (and re-run the engine matrix), or build the tree from an archive that still has $want (NETLAB_DEBIAN_MIRROR)."
	return 1
}

ensure_tree() {
	local suite=$1 dir=$CACHE/$1 partial=$CACHE/$1.partial t0
	[[ $suite =~ ^[a-z]+$ ]] || die "bad suite '$suite'"
	if tree_ready "$dir"; then
		tree_version_ok "$suite" "$dir" || die "the cached tree $dir holds another Docker than claimed; remove it to build it anew"
		tree_mountpoints "$dir"
		return 0
	fi
	need debootstrap:debootstrap pgrep:procps
	[[ -e /usr/share/debootstrap/scripts/$suite ]] || die "debootstrap knows no suite '$suite'"
	mkdir -p "$CACHE"
	# Our own builders serialise on a per-suite lock (fd 8).
	exec 8>>"$CACHE/.$suite.lock"
	flock -w "$TREE_LOCK_TIMEOUT" 8 || die "another tree build of $suite held $CACHE/.$suite.lock for ${TREE_LOCK_TIMEOUT} s"
	wait_foreign_build "$partial"
	if ! tree_ready "$dir"; then
		[[ -e $dir ]] && die "$dir exists but has no dockerd/containerd; remove it"
		unmount_under "$partial"
		rm -rf --one-file-system "$partial"
		local mirror
		mirror=$(debian_mirror)
		say "building $dir (debootstrap $suite from $mirror, a few minutes; log $CACHE/$suite.log)"
		t0=$SECONDS
		# In its own process group, so that an interrupted build can be
		# stopped as a whole (debootstrap itself shrugs off SIGTERM while
		# its children run); see on_exit.
		setsid debootstrap --variant=minbase --include=docker.io,iproute2,ca-certificates \
			"$suite" "$partial" "$mirror" >"$CACHE/$suite.log" 2>&1 </dev/null &
		BUILDING=$! BUILD_DIR=$partial
		if ! wait "$BUILDING"; then
			BUILDING=""
			tail -n 20 "$CACHE/$suite.log" >&2
			unmount_under "$partial"
			die "debootstrap $suite failed (log $CACHE/$suite.log)"
		fi
		BUILDING=""
		unmount_under "$partial"
		tree_ready "$partial" || die "debootstrap $suite finished without dockerd"
		if ! tree_version_ok "$suite" "$partial"; then
			rm -rf --one-file-system "$partial"
			exit 1
		fi
		# The rename is what marks the tree finished.
		mv "$partial" "$dir"
		say "built $dir in $((SECONDS - t0)) s"
	fi
	tree_mountpoints "$dir"
	exec 8>&-
}

# ---------------------------------------------------------------- network

# The engines' /24 must be no network the machine already has (its LAN, a
# VPN, a route to elsewhere): the bridge would hide it. Caller holds the lock.
check_subnet() {
	local clash
	ip link show "$BRIDGE" >/dev/null 2>&1 && return 0
	clash=$({
		ip -4 route show table all root "$NET.0/24"
		ip -4 route show table all match "$NET.0/24" | grep -v '^default '
	} 2>/dev/null | grep -v " dev $BRIDGE\( \|\$\)" | head -n 1) || true
	[[ -z $clash ]] || die "the engines' subnet $NET.0/24 overlaps this machine's route '$clash'; choose another with NETLAB_ENGINE_NET (first three octets)"
}

bridge_up() {
	check_subnet
	if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
		ip link add "$BRIDGE" type bridge
		ip addr add "$NET.1/24" dev "$BRIDGE"
		ip link set "$BRIDGE" up
	fi
	# The machine's dockerd sets the FORWARD policy to DROP, and with
	# br_netfilter bridged frames pass through FORWARD too: let the bridge
	# talk to itself. Inserted once; removed with the bridge.
	iptables -w -C FORWARD -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT 2>/dev/null ||
		iptables -w -I FORWARD 1 -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT
	dns_up
}

bridge_down() {
	dns_down
	ip link del "$BRIDGE" 2>/dev/null || true
	while iptables -w -C FORWARD -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT 2>/dev/null; do
		iptables -w -D FORWARD -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT
	done
}

# ---------------------------------------------------------------- resolver

# The stub resolver's pid if it runs (a stale pidfile may name a reused pid:
# only a dnsmasq started with our pidfile counts).
dns_pid() {
	local pid
	pid=$(cat "$DNS_PID" 2>/dev/null) || return 1
	[[ $pid =~ ^[0-9]+$ ]] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null |
		grep -qF -- "--pid-file=$DNS_PID " && echo "$pid"
}

# Start the stub resolver on the bridge address unless it runs; caller holds
# the lock. --address=/#/ without an address makes every name local to
# dnsmasq: answered NXDOMAIN ("config NAME is NXDOMAIN" in the log), never
# forwarded; --no-resolv and no --server leave it nothing to forward to
# anyway. It binds $NET.1 only (not loopback, not the wildcard). Started with
# fds 8 and 9 closed: a daemon holding the lock's fd would hold the lock.
dns_up() {
	local err
	dns_pid >/dev/null && return 0
	if ss -Hlnut 2>/dev/null | awk -v a="$NET.1:53" '$5 == a { f = 1 } END { exit !f }'; then
		ss -Hlnutp 2>/dev/null | grep -F "$NET.1:53 " >&2 || true
		die "something else listens on $NET.1:53; the engines' resolver cannot start"
	fi
	rm -f "$DNS_PID"
	err=$(dnsmasq --conf-file=/dev/null --no-resolv --no-hosts --no-poll --address=/#/ \
		--listen-address="$NET.1" --bind-interfaces --port=53 \
		--pid-file="$DNS_PID" --log-queries --log-facility="$DNS_LOG" \
		</dev/null 2>&1 8>&- 9>&-) || die "the engines' resolver (dnsmasq) did not start: $err"
	dns_pid >/dev/null || die "the engines' resolver (dnsmasq) did not start: no pid in $DNS_PID"
}

dns_down() {
	local pid deadline=$((SECONDS + 5))
	# Also one whose pidfile is gone: matched by its own pidfile argument.
	for pid in $(dns_pid) $(pgrep -f -- "^dnsmasq .*--pid-file=$DNS_PID( |\$)"); do
		kill -TERM "$pid" 2>/dev/null || true
		while ((SECONDS < deadline)) && kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
	done
	rm -f "$DNS_PID" "$DNS_LOG"
}

# ---------------------------------------------------------------- addresses

# Lowest free host address .2-.254; caller holds the lock.
alloc_addr() {
	local used i
	used=$(cat "$STATE_ROOT"/*/addr 2>/dev/null || true)
	for ((i = 2; i < 255; i++)); do
		grep -qx "$NET.$i" <<<"$used" || { echo "$NET.$i"; return 0; }
	done
	die "no free address in $NET.0/24"
}

# Namespace, veth pair to the bridge, address, loopback. No default route:
# the engine reaches its peers and nothing beyond.
netns_up() {
	local name=$1 addr=$2 ns=netlab-$1
	ip netns add "$ns"
	ip link add "nl-$name" type veth peer name eth0 netns "$ns"
	ip link set "nl-$name" master "$BRIDGE" up
	ip -n "$ns" link set lo up
	ip -n "$ns" addr add "$addr/24" dev eth0
	ip -n "$ns" link set eth0 up
}

# ---------------------------------------------------------------- engines

state_of() { echo "$STATE_ROOT/$1"; }
# A VM engine answers on TCP (its url file); the others on their socket.
url_of() {
	if [[ -f $STATE_ROOT/$1/url ]]; then cat "$STATE_ROOT/$1/url"; else echo "unix://$STATE_ROOT/$1/docker.sock"; fi
}

# The pid of the engine's dockerd if it runs. A stale pidfile (after a
# crash or reboot) may name a reused pid: only a process whose command line
# names this engine's socket counts.
engine_pid() {
	local pid s
	s=$(state_of "$1")
	if [[ $(cat "$s/kind" 2>/dev/null) == vm ]]; then
		vm_pid "$1"
		return
	fi
	pid=$(cat "$s/dockerd.pid" 2>/dev/null) || return 1
	[[ $pid =~ ^[0-9]+$ ]] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null |
		grep -qF "unix://$s/docker.sock " && echo "$pid"
}

server_version() {
	local v
	v=$(timeout 5 docker -H "$(url_of "$1")" version --format '{{.Server.Version}}' 2>/dev/null) &&
		[[ -n $v ]] && echo "$v"
}

# dockerd flags shared by all kinds. Paths are the same inside a pivoted tree
# and outside (the state dir is bind-mounted at its own path).
dockerd_args() {
	local name=$1 data=$2 s
	s=$(state_of "$name")
	printf '%s\n' \
		--config-file "$s/daemon.json" \
		--data-root "$data" \
		--exec-root "$s/exec" \
		--pidfile "$s/dockerd.pid" \
		-H "unix://$s/docker.sock" \
		--storage-driver "$STORAGE" \
		--cgroup-parent "/netlab-engine-$name" \
		--containerd-namespace "netlab-$name" \
		--containerd-plugins-namespace "netlab-$name-plugins" \
		--shutdown-timeout 3
}

# Shell function for the launchers' inner scripts: lazily unmount everything
# at or under $1 in the current (private) mount namespace.
# shellcheck disable=SC2016 # expanded by the inner sh
UNMOUNT_UNDER_SH='unmount_under() {
	awk -v p="$1" '"'"'$5 == p || index($5, p "/") == 1 { print $5 }'"'"' /proc/self/mountinfo |
		sort -r | while read -r m; do umount -l "$m" || true; done
}'

# The machine's own dockerd, in the engine's netns and in a private mount and
# UTS namespace. In that mount namespace:
#  - /run/containerd is hidden: dockerd 20.10 uses /run/containerd/containerd.sock
#    when it exists instead of starting its own containerd, and then all
#    engines would share one containerd (and runc state). Hidden, each engine
#    starts its own managed containerd under its exec-root.
#  - the copies of the machine engine's mounts (/var/lib/docker, netns binds
#    under /run/docker) and of other engines' /run/netns entries are dropped:
#    a copy would keep a removed container's netns or rootfs alive.
#  - /var/lib/docker is the engine's data-root: libnetwork writes the files
#    of swarm load-balancer sandboxes to that fixed path, whatever
#    --data-root says (seen: lb_<network id> in the machine's own data-root).
#  - /etc/docker is an empty per-engine dir: otherwise every copy reads the
#    machine's key.json and all engines report the same engine ID.
#  - /run/docker and /opt/containerd are fresh tmpfs.
#  - /etc/resolv.conf is the engine's own (nameserver: the bridge address).
# The hostname becomes NAME, so swarm nodes are told apart by hostname.
launch_native() {
	local name=$1 s data=$DATA_ROOT/$1
	s=$(state_of "$name")
	mkdir -p "$s/etc-docker" "$data"
	# NETLAB_ENGINE_SHARED_KEY=1: the machine's key.json, as on machines
	# cloned from one image: every such engine reports the machine's
	# engine ID (netlab must still tell them apart).
	if [[ ${NETLAB_ENGINE_SHARED_KEY:-0} == 1 && -f /etc/docker/key.json ]]; then
		cp /etc/docker/key.json "$s/etc-docker/key.json"
	fi
	mapfile -t args < <(dockerd_args "$name" "$data")
	# shellcheck disable=SC2016 # the inner script expands its own arguments
	setsid nsenter --net="/run/netns/netlab-$name" -- \
		unshare --mount --uts --propagation private -- sh -c "$UNMOUNT_UNDER_SH"'
			set -e
			echo "$1" >/proc/sys/kernel/hostname; s=$2; data=$3; shift 3
			for d in /var/lib/docker /run/docker /run/netns /run/containerd /opt/containerd; do
				unmount_under "$d"
			done
			for d in /run/containerd /run/docker /opt/containerd; do
				if [ -d "$d" ]; then mount -t tmpfs -o mode=0711 netlab-hide "$d"; fi
			done
			if [ -d /var/lib/docker ]; then mount --bind "$data" /var/lib/docker; fi
			if [ -d /etc/docker ]; then mount --bind "$s/etc-docker" /etc/docker; fi
			mount --bind "$s/resolv.conf" /etc/resolv.conf
			exec "$@"' sh "$name" "$s" "$data" "$NATIVE_DOCKERD" "${args[@]}" \
		</dev/null >>"$s/dockerd.log" 2>&1 &
}

# dockerd from a debootstrap tree. pivot_root, not chroot: under chroot every
# `docker exec` fails (runc resolves paths against the real root). After the
# pivot the old root is lazily unmounted, which also drops this namespace's
# copies of the machine's mounts. The tree is shared by all engines of that
# suite and stays unmodified: /run, /tmp and /opt (containerd creates
# /opt/containerd) are fresh tmpfs, /etc/docker an empty per-engine dir,
# /var/lib/docker (the data-root inside) a bind of $DATA_ROOT/NAME,
# /etc/resolv.conf the engine's own, and the state dir is bound at its own
# path so the socket is reachable from outside.
launch_tree() {
	local name=$1 root=$2 s data=$DATA_ROOT/$1
	s=$(state_of "$name")
	mkdir -p "$s/etc-docker" "$data"
	mapfile -t args < <(dockerd_args "$name" /var/lib/docker)
	# shellcheck disable=SC2016 # the inner script expands its own arguments
	setsid nsenter --net="/run/netns/netlab-$name" -- \
		unshare --mount --uts --propagation private -- sh -c '
			set -e
			echo "$1" >/proc/sys/kernel/hostname; r=$2; s=$3; data=$4; shift 4
			mount --bind "$r" "$r"
			mount -t proc proc "$r/proc"
			mount --rbind /sys "$r/sys"
			mount --rbind /dev "$r/dev"
			mount -t tmpfs -o mode=0755 netlab-run "$r/run"
			mount -t tmpfs -o mode=1777 netlab-tmp "$r/tmp"
			mount -t tmpfs -o mode=0755 netlab-opt "$r/opt"
			mkdir -p "$r$s" "$r/run/.oldroot"
			mount --bind "$s" "$r$s"
			mount --bind "$data" "$r/var/lib/docker"
			mount --bind "$s/etc-docker" "$r/etc/docker"
			mount --bind "$s/resolv.conf" "$r/etc/resolv.conf"
			cd "$r"
			pivot_root . run/.oldroot
			exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin /bin/sh -c \
				"umount -l /run/.oldroot && rmdir /run/.oldroot && exec \"\$@\"" sh "$@"' \
		sh "$name" "$root" "$s" "$data" dockerd "${args[@]}" \
		</dev/null >>"$s/dockerd.log" 2>&1 &
}

# Poll `docker info` until it answers, the process that serves it dies, or
# the deadline passes: wait_ready NAME PID [TIMEOUT [PAUSE [WHAT]]] (by
# default dockerd's deadline, 0.3 s between tries; the VM passes its own).
# PID is dockerd itself (setsid, nsenter, unshare and sh all exec), or QEMU.
wait_ready() {
	local name=$1 pid=$2 timeout=${3:-$READY_TIMEOUT} pause=${4:-0.3}
	local what=${5:-dockerd of $1} deadline
	deadline=$((SECONDS + timeout))
	while ((SECONDS < deadline)); do
		kill -0 "$pid" 2>/dev/null || { say "$what exited"; return 1; }
		timeout 5 docker -H "$(url_of "$name")" info >/dev/null 2>&1 && return 0
		sleep "$pause"
	done
	say "$what did not answer within ${timeout} s"
	return 1
}

print_engine() {
	local name=$1 s
	s=$(state_of "$name")
	printf '%s url=%s addr=%s kind=%s version=%s\n' "$name" "$(url_of "$name")" \
		"$(cat "$s/addr")" "$(cat "$s/kind")" "$(server_version "$name" || echo '?')"
}

cmd_start() {
	local name=$1 kind=$2 s root="" addr t0=$SECONDS
	check_name "$name"
	need_net_tools
	need_docker_cli
	s=$(state_of "$name")
	[[ $kind =~ ^[a-z]+$ ]] || die "bad kind '$kind'"
	if [[ -d $s ]]; then
		if engine_pid "$name" >/dev/null && [[ $(cat "$s/kind") == "$kind" ]]; then
			say "$name is already running"
			print_engine "$name"
			return 0
		fi
		engine_pid "$name" >/dev/null && die "$name is running with kind $(cat "$s/kind")"
		say "$name: removing the remains of an earlier run"
		stop_engine "$name"
	fi
	if [[ $kind == vm ]]; then
		cmd_start_vm "$name"
		return
	elif [[ $kind == native ]]; then
		[[ -x $NATIVE_DOCKERD ]] || die "$NATIVE_DOCKERD is missing"
	else
		ensure_tree "$kind"
		root=$CACHE/$kind
	fi

	# From here on a failure removes what was made.
	STARTING=$name
	lock
	mkdir -p "$s/exec"
	echo "$kind" >"$s/kind"
	echo '{}' >"$s/daemon.json"
	addr=$(alloc_addr)
	echo "$addr" >"$s/addr"
	case ${NETLAB_ENGINE_RESOLVER:-stub} in
	stub) echo "nameserver $NET.1" >"$s/resolv.conf" ;;
	# An upstream that cannot be reached, as on an offline CI runner: the
	# engine's namespace has no route to it (no default route), and it is
	# TEST-NET-1 besides, routed nowhere.
	none) echo "nameserver 192.0.2.53" >"$s/resolv.conf" ;;
	*) die "NETLAB_ENGINE_RESOLVER is stub or none, not '$NETLAB_ENGINE_RESOLVER'" ;;
	esac
	bridge_up
	netns_up "$name" "$addr"
	unlock

	if [[ $kind == native ]]; then launch_native "$name"; else launch_tree "$name" "$root"; fi
	local pid=$!
	if ! wait_ready "$name" "$pid"; then
		say "last lines of $s/dockerd.log:"
		tail -n 25 "$s/dockerd.log" >&2 || true
		exit 1 # the EXIT trap stops the engine
	fi
	local want=${ENGINE_VERSIONS[$kind]:-} have
	if [[ -n $want ]]; then
		have=$(server_version "$name" || echo '?')
		[[ $have == "$want" || $have == "$want"[+-]* ]] ||
			die "$name ($kind) runs Docker $have, not the $want docs/engines.md's table claims" # the EXIT trap stops it
	fi
	STARTING=""
	say "$name ($kind) ready in $((SECONDS - t0)) s"
	print_engine "$name"
}

any_alive() {
	local p
	for p; do kill -0 "$p" 2>/dev/null && return 0; done
	return 1
}

# SIGKILL a list of processes and wait (up to 5 s) until they are gone. Used
# only on what belongs to an engine being destroyed: nothing to save there,
# and container inits and orphaned shims ignore SIGTERM anyway.
kill_now() {
	local deadline=$((SECONDS + 5))
	(($#)) || return 0
	kill -KILL "$@" 2>/dev/null || true
	while ((SECONDS < deadline)) && any_alive "$@"; do sleep 0.1; done
}

# The engine's cgroups (v1: one per controller; v2: one), deepest first.
engine_cgroups() {
	local d
	for d in /sys/fs/cgroup/netlab-engine-"$1" /sys/fs/cgroup/*/netlab-engine-"$1"; do
		[[ -d $d ]] && find "$d" -depth -type d
	done
	return 0
}

# Kill the processes of the engine's containers (all of them live under its
# cgroup parent) and remove its cgroups when empty.
kill_containers() {
	local cg pids=() cgs=()
	mapfile -t cgs < <(engine_cgroups "$1")
	for cg in "${cgs[@]}"; do
		if [[ -f $cg/cgroup.procs ]]; then mapfile -t -O "${#pids[@]}" pids <"$cg/cgroup.procs"; fi
	done
	kill_now "${pids[@]}"
	for cg in "${cgs[@]}"; do rmdir "$cg" 2>/dev/null || true; done
}

stop_engine() {
	local name=$1 s pid deadline pids=()
	s=$(state_of "$name")
	# 0. A VM engine: QEMU and its tap (its containers live in the guest).
	if [[ $(cat "$s/kind" 2>/dev/null) == vm ]] || ip link show "$(vm_tap "$name")" >/dev/null 2>&1; then
		stop_vm "$name"
	fi
	# 1. Its containers first: they are thrown away with the data-root anyway,
	#    and dockerd would give each one 10 s to react to SIGTERM.
	kill_containers "$name"
	# 2. dockerd itself, with a deadline; on SIGTERM it also stops its
	#    managed containerd.
	if pid=$(engine_pid "$name"); then
		kill -TERM "$pid" 2>/dev/null || true
		deadline=$((SECONDS + STOP_TIMEOUT))
		while ((SECONDS < deadline)) && kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
		if kill -0 "$pid" 2>/dev/null; then
			say "$name: dockerd ignored SIGTERM for ${STOP_TIMEOUT} s, killing it"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	# 3. What may outlive a killed dockerd: containerd, shims and docker-proxy
	#    live in the engine's netns; containers started meanwhile, in its cgroups.
	if [[ -e /run/netns/netlab-$name ]]; then
		mapfile -t pids < <(ip netns pids "netlab-$name" 2>/dev/null)
		kill_now "${pids[@]}"
	fi
	kill_containers "$name"
	# 4. Mounts: all were made in the engine's private mount namespace and
	#    went with its last process; unmount anything that leaked anyway.
	unmount_under "$s"
	unmount_under "$DATA_ROOT/$name"
	# 5. Network and files.
	ip link del "nl-$name" 2>/dev/null || true
	ip netns del "netlab-$name" 2>/dev/null || true
	rm -rf --one-file-system "${DATA_ROOT:?}/${name:?}"
	lock
	rm -rf --one-file-system "$s"
	# 6. The last engine takes the bridge and the FORWARD rule with it.
	if ! compgen -G "$STATE_ROOT/*/" >/dev/null; then
		bridge_down
		rmdir "$STATE_ROOT" "$DATA_ROOT" 2>/dev/null || true
	fi
	unlock
}

# Stop dockerd (it stops its containers and its containerd) and keep every
# other trace: state dir, data-root, netns, veth. `resume` starts it again.
cmd_pause() {
	local name=$1 s pid deadline
	check_name "$name"
	s=$(state_of "$name")
	[[ -d $s ]] || die "no engine $name"
	[[ $(cat "$s/kind") != vm ]] || die "a VM engine cannot be paused"
	if pid=$(engine_pid "$name"); then
		kill -TERM "$pid" 2>/dev/null || true
		deadline=$((SECONDS + STOP_TIMEOUT))
		while ((SECONDS < deadline)) && kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
		if kill -0 "$pid" 2>/dev/null; then
			say "$name: dockerd ignored SIGTERM for ${STOP_TIMEOUT} s, killing it"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	touch "$s/paused"
	say "$name paused (its state is kept; \`$0 resume $name\` starts it again)"
}

cmd_resume() {
	local name=$1 s kind pid t0=$SECONDS
	check_name "$name"
	s=$(state_of "$name")
	[[ -f $s/paused ]] || die "$name is not paused"
	if engine_pid "$name" >/dev/null; then
		rm -f "$s/paused"
		print_engine "$name"
		return 0
	fi
	kind=$(cat "$s/kind")
	if [[ $kind == native ]]; then
		launch_native "$name"
	else
		ensure_tree "$kind"
		launch_tree "$name" "$CACHE/$kind"
	fi
	pid=$!
	if ! wait_ready "$name" "$pid"; then
		tail -n 25 "$s/dockerd.log" >&2 || true
		die "$name did not come back (still paused; \`$0 stop $name\` removes it)"
	fi
	rm -f "$s/paused"
	say "$name resumed in $((SECONDS - t0)) s"
	print_engine "$name"
}

cmd_stop() {
	local name=$1 t0=$SECONDS
	check_name "$name"
	need_net_tools
	stop_engine "$name"
	say "$name stopped in $((SECONDS - t0)) s"
}

# Every engine known by any trace it may leave: state dir, data-root, netns,
# veth, cgroup.
known_engines() {
	local d
	{
		for d in "$STATE_ROOT"/*/ "$DATA_ROOT"/*/; do [[ -d $d ]] && basename "$d"; done
		ip netns list 2>/dev/null | awk '$1 ~ /^netlab-/ { sub(/^netlab-/, "", $1); print $1 }'
		ip -o link show 2>/dev/null | awk -F': ' '$2 ~ /^nl-/ { sub(/^nl-/, "", $2); sub(/@.*/, "", $2); print $2 }'
		for d in /sys/fs/cgroup/netlab-engine-* /sys/fs/cgroup/*/netlab-engine-*; do
			[[ -d $d ]] && echo "${d##*/netlab-engine-}"
		done
	} | grep -E '^[a-z][a-z0-9]{0,11}$' | sort -u
}

# Run `engines.sh VERB NAME` for every NAME at once, each in its own process
# (so each start has its own clean-up trap); fail if any of them failed.
in_parallel() {
	local verb=$1 pids=() rc=0 p name
	shift
	for name; do
		"$SELF" "$verb" "$name" &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || rc=1; done
	return "$rc"
}

cmd_stop_all() {
	need_net_tools
	# shellcheck disable=SC2046
	in_parallel stop $(known_engines)
	lock
	compgen -G "$STATE_ROOT/*/" >/dev/null || bridge_down
	unlock
}

cmd_list() {
	local d name
	for d in "$STATE_ROOT"/*/; do
		[[ -d $d ]] || continue
		name=$(basename "$d")
		printf '%s %s %s %s %s\n' "$name" "$(cat "$d/kind")" "$(url_of "$name")" \
			"$(cat "$d/addr")" "$(server_version "$name" || echo down)"
	done
}

cmd_addr() {
	check_name "$1"
	cat "$(state_of "$1")/addr" 2>/dev/null || die "no engine $1"
}

host_name() { # 1-based
	if (($1 <= ${#HOST_NAMES[@]})); then echo "${HOST_NAMES[$1 - 1]}"; else echo "host$1"; fi
}

cmd_hosts() {
	local n=$1 i names=() binding=() name
	[[ $n =~ ^[1-9][0-9]?$ ]] || die "hosts: N must be 1-99"
	for ((i = 1; i <= n; i++)); do names+=("$(host_name "$i")"); done
	if ! in_parallel start-host "${names[@]}" >&2; then
		in_parallel stop "${names[@]}" || true
		die "hosts: not all of ${names[*]} started; stopped them again"
	fi
	for name in "${names[@]}"; do binding+=("$name=$(url_of "$name")"); done
	(
		IFS=,
		echo "NETLAB_HOSTS=${binding[*]}"
	)
}

# One engine of `hosts`: native, marked so that hosts-down finds it.
cmd_start_host() {
	cmd_start "$1" native
	touch "$(state_of "$1")/hosts"
}

cmd_hosts_down() {
	local d names=()
	need_net_tools
	for d in "$STATE_ROOT"/*/; do
		if [[ -f $d/hosts ]]; then names+=("$(basename "$d")"); fi
	done
	in_parallel stop "${names[@]}"
}

# A start that fails half-way, or is interrupted, leaves nothing behind; an
# interrupted tree build stops its debootstrap (the .partial dir is never
# taken for a tree and is removed by the next build).
STARTING=""
BUILDING="" BUILD_DIR="" BUILDING_VM=""
on_exit() {
	local rc=$?
	if [[ -n $BUILDING ]]; then
		say "stopping the debootstrap (process group $BUILDING)"
		kill -TERM -- "-$BUILDING" 2>/dev/null || true
		sleep 2
		kill -KILL -- "-$BUILDING" 2>/dev/null || true
		unmount_under "$BUILD_DIR"
	fi
	if [[ -n $BUILDING_VM ]]; then
		unmount_under "$BUILDING_VM"
		rm -rf --one-file-system "$BUILDING_VM"
	fi
	if [[ -n $STARTING && $rc -ne 0 ]]; then
		say "start of $STARTING failed; cleaning up"
		unlock 2>/dev/null || true
		stop_engine "$STARTING" || true
	fi
	exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

main() {
	[[ $EUID -eq 0 ]] || die "must run as root"
	local cmd=${1:-}
	shift || true
	case $cmd:$# in
	tree:1) ensure_tree "$1" && echo "$CACHE/$1" ;;
	start:2) cmd_start "$1" "$2" ;;
	stop:1) cmd_stop "$1" ;;
	pause:1) cmd_pause "$1" ;;
	resume:1) cmd_resume "$1" ;;
	stop-all:0) cmd_stop_all ;;
	list:0) cmd_list ;;
	addr:1) cmd_addr "$1" ;;
	hosts:1) cmd_hosts "$1" ;;
	hosts-down:0) cmd_hosts_down ;;
	need:*) need "$@" ;; # CMD:PACKAGE ...: install what is missing (tests' set-up)
	start-host:1) cmd_start_host "$1" ;; # internal, for hosts
	help:* | -h:* | --help:*) usage ;;
	*)
		usage >&2
		exit 2
		;;
	esac
}

main "$@"
