#!/usr/bin/env bash
# vm-stage.sh — the `vm engine` stage of `make test`: what needs a kernel
# this machine's lacks (macvlan, ipvlan, dummy, netem) run on Docker 26.1 in
# a VM with Debian's kernel (harness/engines.sh, kind vm): the driver labs
# with their mutants, impaired-link through netem and dns-follows-change
# (the tests of tests/drivers.rs whose names say "on_the_vm").
#
# The VM boots in minutes under software emulation, so `make test` starts
# it first, in the background, and this stage waits for it:
#
#   harness/vm-stage.sh boot         start the VM in the background, return
#   harness/vm-stage.sh run NETLAB   wait for it (booting it now if `boot`
#                                    was not called), run the tests with
#                                    NETLAB_TEST_BIN=NETLAB, stop it
#   harness/vm-stage.sh stop         stop it (make test calls this at its
#                                    end, also when a stage failed)
#
# State: /run/netlab-vm-stage/ (the boot's pid and log). The engine is named
# NETLAB_VM_STAGE_NAME (default `mtvm`). Environment: those of engines.sh
# (NETLAB_VM_TIMEOUT, NETLAB_VM_MEMORY, NETLAB_VM_CPUS …) and
# NETLAB_VM_STAGE_WAIT (deadline in s for a boot started earlier, default
# 1500: a fresh machine builds the trixie tree and the VM's root first).
set -uo pipefail

HERE=$(dirname "$(readlink -f "$0")")
ROOT=$(dirname "$HERE")
ENGINES=$HERE/engines.sh
STATE=/run/netlab-vm-stage
NAME=${NETLAB_VM_STAGE_NAME:-mtvm}
WAIT=${NETLAB_VM_STAGE_WAIT:-1500}

say() { printf 'vm-stage: %s\n' "$*" >&2; }

boot() {
	mkdir -p "$STATE"
	if [[ -f $STATE/pid ]] && kill -0 "$(cat "$STATE/pid")" 2>/dev/null; then
		say "a boot is already under way (pid $(cat "$STATE/pid"))"
		return 0
	fi
	rm -f "$STATE/rc" "$STATE/log"
	# At low priority: the VM's emulated CPUs would otherwise take the two
	# real ones from the stages that run while it boots.
	(
		nice -n 10 "$ENGINES" start "$NAME" vm >"$STATE/log" 2>&1
		echo $? >"$STATE/rc"
	) </dev/null &
	echo $! >"$STATE/pid"
	say "booting VM engine $NAME in the background (log $STATE/log)"
}

# Waits for the boot to end; prints the engine's URL.
await() {
	local pid deadline=$((SECONDS + WAIT))
	pid=$(cat "$STATE/pid" 2>/dev/null) || return 1
	while kill -0 "$pid" 2>/dev/null; do
		if ((SECONDS >= deadline)); then
			say "the VM did not come up within ${WAIT} s"
			return 1
		fi
		sleep 2
	done
	if [[ $(cat "$STATE/rc" 2>/dev/null) != 0 ]]; then
		say "starting the VM failed:"
		tail -n 30 "$STATE/log" >&2
		return 1
	fi
	grep -oE 'ready in [0-9]+ s' "$STATE/log" | sed 's/^/vm-stage: VM engine /' >&2
	grep -oE 'url=[^ ]+' "$STATE/log" | head -n 1 | cut -d= -f2
}

stop() {
	"$ENGINES" stop "$NAME" >/dev/null 2>&1 || true
	rm -rf "$STATE"
}

run() {
	local netlab url rc
	netlab=$(readlink -f "$1")
	[[ -x $netlab ]] || {
		say "$1 is not an executable file"
		return 2
	}
	[[ -f $STATE/pid ]] || boot
	trap stop EXIT
	url=$(await) || return 3
	say "VM engine at $url"
	cd "$ROOT" || return 2
	NETLAB_VM_ENGINE=$url NETLAB_TEST_BIN=$netlab \
		cargo test --locked --test drivers on_the_vm -- --test-threads 2
	rc=$?
	return $rc
}

case ${1:-} in
boot) boot ;;
run)
	[[ $# -eq 2 ]] || {
		say "usage: vm-stage.sh run NETLAB"
		exit 2
	}
	run "$2"
	;;
stop) stop ;;
*)
	sed -n '2,/^set -uo/{/^set -uo/d;s/^# \{0,1\}//;p}' "$0" >&2
	exit 2
	;;
esac
