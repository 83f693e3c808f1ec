# vm.sh — engines of kind 'vm' for engines.sh (sourced by it, not run).
#
# A 'vm' engine is Docker 26.1 (Debian trixie) inside QEMU, on Debian's own
# kernel: it has what this machine's kernel lacks (macvlan, ipvlan, dummy,
# netem). KVM starts here but its guests die in the kernel's decompression
# (nested virtualisation), so it is software emulation: the boot takes
# minutes, and each lab is slower than on the other engines.
#
# What it owns, besides what engines.sh owns for every engine:
#   ${CACHE}/trixie-vm/          the VM's root: the trixie tree plus
#                                linux-image-amd64 systemd-sysv kmod iptables,
#                                and qemu-system-x86 (QEMU runs from this tree
#                                too: the machine's own qemu-utils may be a
#                                backport that Breaks bookworm's QEMU)
#   ${CACHE}/trixie-vm.img       that root as an ext4 image (read-only base)
#   /var/lib/netlab-engines/NAME/disk.qcow2
#                                the engine's disk: a copy-on-write layer over
#                                the base, new at each start (an empty engine)
#   STATE/qemu.pid, console.log  QEMU's pid and the guest's serial console
#   tap nlv-NAME                 its NIC, on the engines' bridge
# The guest's address comes from the engines' pool; it is given on the kernel
# command line (netlab.addr=) and set by a unit of the root. It gets no
# default route and no gateway: it reaches the bridge and its peers, nothing
# else. Its resolver is the engines' stub (nameserver ${NET}.1), as for the
# other engines. dockerd listens on tcp://ADDR:2375 (no TLS: the bridge is
# private to this machine).
#
# Environment: NETLAB_VM_TIMEOUT (readiness deadline in s, default 480),
# NETLAB_VM_MEMORY (MiB, default 3072), NETLAB_VM_CPUS (default 2).

VM_TREE=$CACHE/trixie-vm
VM_IMAGE=$CACHE/trixie-vm.img
VM_PACKAGES="linux-image-amd64 systemd-sysv kmod iptables qemu-system-x86 qemu-utils"
VM_READY_TIMEOUT=${NETLAB_VM_TIMEOUT:-480}
VM_PORT=2375

vm_tree_ready() { [[ -f $VM_TREE/.netlab-vm-ready && -f $VM_IMAGE ]]; }

# Files the guest needs that no package provides.
vm_configure_tree() {
	local t=$1
	# The address from the kernel command line, before dockerd.
	cat >"$t/usr/local/sbin/netlab-net" <<'EOF'
#!/bin/sh
# Address of the guest's NIC from the kernel command line (netlab.addr=A/N).
set -e
addr=$(tr ' ' '\n' </proc/cmdline | sed -n 's/^netlab\.addr=//p')
name=$(tr ' ' '\n' </proc/cmdline | sed -n 's/^netlab\.name=//p')
ip link set lo up
[ -n "$name" ] && hostname "$name"
[ -n "$addr" ] || exit 0
ip addr add "$addr" dev eth0
ip link set eth0 up
EOF
	chmod 755 "$t/usr/local/sbin/netlab-net"
	cat >"$t/etc/systemd/system/netlab-net.service" <<'EOF'
[Unit]
Description=netlab: the guest's address from the kernel command line
Before=docker.service network.target
Wants=network.target
DefaultDependencies=no
After=systemd-udevd.service sys-subsystem-net-devices-eth0.device
Wants=sys-subsystem-net-devices-eth0.device

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/netlab-net

[Install]
WantedBy=multi-user.target
EOF
	mkdir -p "$t/etc/systemd/system/docker.service.d" "$t/etc/systemd/system/multi-user.target.wants"
	cat >"$t/etc/systemd/system/docker.service.d/netlab.conf" <<EOF
[Unit]
After=netlab-net.service
Requires=netlab-net.service

[Service]
ExecStart=
ExecStart=/usr/sbin/dockerd -H unix:///var/run/docker.sock -H tcp://0.0.0.0:$VM_PORT --tls=false --containerd=/run/containerd/containerd.sock
EOF
	ln -sf /etc/systemd/system/netlab-net.service "$t/etc/systemd/system/multi-user.target.wants/netlab-net.service"
	ln -sf /lib/systemd/system/docker.service "$t/etc/systemd/system/multi-user.target.wants/docker.service"
	# Nothing in the guest should spend the emulated CPU on housekeeping.
	local unit
	for unit in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer \
		dpkg-db-backup.timer systemd-tmpfiles-clean.timer man-db.timer; do
		ln -sf /dev/null "$t/etc/systemd/system/$unit"
	done
	echo 'nameserver '"$NET"'.1' >"$t/etc/resolv.conf"
	echo '/dev/vda / ext4 rw,noatime 0 1' >"$t/etc/fstab"
	echo netlab-vm >"$t/etc/hostname"
	chroot "$t" passwd -d root >/dev/null
}

# The VM's root: a copy of the trixie tree with a kernel and QEMU installed
# by apt inside it, then an ext4 image of it. Both are cached; the ready
# marker is written last.
ensure_vm_tree() {
	local partial=$VM_TREE.partial t0=$SECONDS
	if vm_tree_ready; then return 0; fi
	ensure_tree trixie
	need mkfs.ext4:e2fsprogs chroot:coreutils
	exec 8>>"$CACHE/.trixie-vm.lock"
	flock -w "$TREE_LOCK_TIMEOUT" 8 || die "another build of $VM_TREE held its lock for ${TREE_LOCK_TIMEOUT} s"
	if vm_tree_ready; then exec 8>&-; return 0; fi
	say "building $VM_TREE (a kernel and QEMU in a copy of the trixie tree; log $CACHE/trixie-vm.log)"
	unmount_under "$partial"
	rm -rf --one-file-system "$partial" "$VM_TREE" "$VM_IMAGE"
	cp -a "$CACHE/trixie" "$partial"
	local proxy p=""
	proxy=$(apt-config shell p Acquire::http::Proxy 2>/dev/null) && eval "$proxy"
	# apt in the copy needs the machine's resolver and no service may start.
	cp -L /etc/resolv.conf "$partial/etc/resolv.conf"
	printf '#!/bin/sh\nexit 101\n' >"$partial/usr/sbin/policy-rc.d"
	chmod 755 "$partial/usr/sbin/policy-rc.d"
	BUILDING_VM=$partial
	if ! unshare --mount --propagation private -- sh -c '
		set -e; t=$1; p=$2; pk=$3
		mount -t proc proc "$t/proc"
		mount --rbind /dev "$t/dev"
		mount --rbind /sys "$t/sys"
		export DEBIAN_FRONTEND=noninteractive
		a="-o DPkg::Lock::Timeout=600"
		[ -n "$p" ] && a="$a -o Acquire::http::Proxy=$p"
		chroot "$t" apt-get $a update
		chroot "$t" apt-get $a install -y --no-install-recommends $pk
		chroot "$t" apt-get clean' sh "$partial" "$p" "$VM_PACKAGES" >"$CACHE/trixie-vm.log" 2>&1; then
		tail -n 20 "$CACHE/trixie-vm.log" >&2
		die "installing $VM_PACKAGES into $partial failed (log $CACHE/trixie-vm.log)"
	fi
	rm -f "$partial/usr/sbin/policy-rc.d"
	compgen -G "$partial/boot/vmlinuz-*" >/dev/null || die "no kernel in $partial/boot"
	[[ -x $partial/usr/bin/qemu-system-x86_64 ]] || die "no QEMU in $partial"
	vm_configure_tree "$partial"
	# The guest's disk: the tree without QEMU's firmware and binaries would be
	# smaller, but a copy of everything keeps this simple; 4 GiB leaves room
	# for images and containers (overlay2 on ext4 in the guest).
	mkfs.ext4 -q -F -L netlab-vm -d "$partial" "$VM_IMAGE.partial" 4G >>"$CACHE/trixie-vm.log" 2>&1 ||
		die "mkfs.ext4 of $partial failed (log $CACHE/trixie-vm.log)"
	mv "$VM_IMAGE.partial" "$VM_IMAGE"
	mv "$partial" "$VM_TREE"
	touch "$VM_TREE/.netlab-vm-ready"
	BUILDING_VM=""
	exec 8>&-
	say "built $VM_TREE and $VM_IMAGE in $((SECONDS - t0)) s"
}

vm_tap() { echo "nlv-$1"; }

# The guest's MAC, from its address (unique on the bridge, stable per
# address): 52:54:00 is QEMU's prefix.
vm_mac() {
	local a b c d
	IFS=. read -r a b c d <<<"$1"
	printf '52:54:00:%02x:%02x:%02x\n' "$b" "$c" "$d"
}

# QEMU, run from the VM tree in a private mount namespace, with the engine's
# data dir (its disk) bound into it. Its pid is QEMU's (every step execs).
launch_vm() {
	local name=$1 s addr data=$DATA_ROOT/$1 kernel initrd
	s=$(state_of "$name")
	addr=$(cat "$s/addr")
	kernel=$(compgen -G "$VM_TREE/boot/vmlinuz-*" | sort -V | tail -n 1)
	initrd=$(compgen -G "$VM_TREE/boot/initrd.img-*" | sort -V | tail -n 1)
	kernel=${kernel#"$VM_TREE"} initrd=${initrd#"$VM_TREE"}
	mkdir -p "$data"
	chroot "$VM_TREE" true || die "cannot chroot into $VM_TREE"
	# shellcheck disable=SC2016 # the inner script expands its own arguments
	setsid unshare --mount --propagation private -- sh -c '
		set -e; t=$1; data=$2; img=$3; s=$4; shift 4
		mount --rbind /dev "$t/dev"
		mount -t proc proc "$t/proc"
		mount -t tmpfs -o mode=0755 netlab-run "$t/run"
		mkdir -p "$t/run/vm" "$t/run/base" "$t/run/state"
		mount --bind "$data" "$t/run/vm"
		mount --bind "$s" "$t/run/state"
		: >"$t/run/base/disk.img"
		mount --bind -o ro "$img" "$t/run/base/disk.img"
		exec chroot "$t" "$@"' sh "$VM_TREE" "$data" "$VM_IMAGE" "$s" \
		qemu-system-x86_64 -name "netlab-$name" \
		-accel tcg,thread=multi -cpu max -smp "${NETLAB_VM_CPUS:-2}" -m "${NETLAB_VM_MEMORY:-3072}" \
		-nodefaults -display none -no-user-config \
		-kernel "$kernel" -initrd "$initrd" \
		-append "root=/dev/vda rw console=ttyS0 net.ifnames=0 quiet netlab.addr=$addr/24 netlab.name=$name" \
		-drive file=/run/vm/disk.qcow2,format=qcow2,if=virtio \
		-netdev "tap,id=n0,ifname=$(vm_tap "$name"),script=no,downscript=no" \
		-device "virtio-net-pci,netdev=n0,mac=$(vm_mac "$addr")" \
		-serial file:/run/state/console.log \
		-pidfile /run/state/qemu.pid \
		</dev/null >>"$s/qemu.log" 2>&1 &
}

# The engine's disk, a fresh copy-on-write layer over the cached base.
vm_disk() {
	local data=$DATA_ROOT/$1
	mkdir -p "$data"
	rm -f "$data/disk.qcow2"
	# qemu-img runs in the tree too; the base is named by the path QEMU sees.
	unshare --mount --propagation private -- sh -c '
		set -e; t=$1; data=$2; img=$3
		mount -t tmpfs -o mode=0755 netlab-run "$t/run"
		mkdir -p "$t/run/vm" "$t/run/base"
		mount --bind "$data" "$t/run/vm"
		: >"$t/run/base/disk.img"
		mount --bind -o ro "$img" "$t/run/base/disk.img"
		exec chroot "$t" qemu-img create -q -f qcow2 -F raw -b /run/base/disk.img /run/vm/disk.qcow2' \
		sh "$VM_TREE" "$data" "$VM_IMAGE" || die "could not make the disk of $1"
}

vm_tap_up() {
	local tap
	tap=$(vm_tap "$1")
	ip link del "$tap" 2>/dev/null || true
	ip tuntap add dev "$tap" mode tap
	ip link set "$tap" master "$BRIDGE" up
}

# QEMU's pid if it runs; only a process whose command line names this
# engine counts (a stale pidfile may name a reused pid).
vm_pid() {
	local pid s
	s=$(state_of "$1")
	pid=$(cat "$s/qemu.pid" 2>/dev/null) || return 1
	pid=${pid//[[:space:]]/}
	[[ $pid =~ ^[0-9]+$ ]] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null |
		grep -qF -- "-name netlab-$1 " && echo "$pid"
}

cmd_start_vm() {
	local name=$1 s addr t0=$SECONDS pid
	s=$(state_of "$name")
	ensure_vm_tree
	need ip:iproute2
	[[ -e /dev/net/tun ]] || die "/dev/net/tun is missing (the VM's NIC is a tap)"
	STARTING=$name
	lock
	mkdir -p "$s"
	echo vm >"$s/kind"
	addr=$(alloc_addr)
	echo "$addr" >"$s/addr"
	echo "tcp://$addr:$VM_PORT" >"$s/url"
	bridge_up
	vm_tap_up "$name"
	unlock
	vm_disk "$name"
	launch_vm "$name"
	pid=$!
	# $pid is QEMU's: the engine answers from inside it.
	if ! wait_ready "$name" "$pid" "$VM_READY_TIMEOUT" 2 "the VM $name"; then
		say "last lines of the console ($s/console.log):"
		tail -n 25 "$s/console.log" >&2 || true
		tail -n 5 "$s/qemu.log" >&2 || true
		exit 1 # the EXIT trap stops the engine
	fi
	local want=${ENGINE_VERSIONS[trixie]} have
	have=$(server_version "$name" || echo '?')
	[[ $have == "$want" || $have == "$want"[+-]* ]] ||
		die "$name (vm) runs Docker $have, not the $want docs/engines.md's table claims"
	STARTING=""
	say "$name (vm) ready in $((SECONDS - t0)) s"
	print_engine "$name"
}

# QEMU first (the guest and its containers go with it), then the tap and the
# disk; engines.sh's stop_engine does the rest.
stop_vm() {
	local name=$1 pid deadline
	if pid=$(vm_pid "$name"); then
		kill -TERM "$pid" 2>/dev/null || true
		deadline=$((SECONDS + 10))
		while ((SECONDS < deadline)) && kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	ip link del "$(vm_tap "$name")" 2>/dev/null || true
}
