#!/usr/bin/env bash
# test-engines.sh — every built-in lab on every engine: a lab × engine matrix.
#
# usage: harness/test-engines.sh NETLAB_BINARY
#
# Engines (columns):
#   20.10 local    the machine's own engine (DOCKER_HOST unset)
#   20.10 no-dns   a copy of the machine's dockerd in a network namespace  (m20)
#   26.1 netns     dockerd of Debian trixie's tree                         (t26)
#   26.1 no-dns    the same, without a reachable upstream resolver         (t26n)
#   28.5 netns     dockerd of Debian sid's tree                            (t28)
#   28.5 no-dns    the same, without a reachable upstream resolver         (t28n)
# "netns" engines have an upstream resolver (a stub on the harness bridge
# that answers NXDOMAIN); "no-dns" engines have none they can reach, as on
# an offline CI runner (the machine's own engine has the machine's). The
# netns engines are started here with engines.sh (names as above, or m202,
# t262, ... when those are taken) and stopped again on exit,
# also on failure and Ctrl-C. Each runs its labs one after another; the
# columns run in parallel. Every `NETLAB_BINARY run LAB` runs from the
# machine's default network namespace with DOCKER_HOST pointing at the
# engine's socket and has a deadline.
#
# Output: the table (PASS n/n or FAIL p/n and the wall time of each cell;
# "(k skip)" when k checks were skipped because the engine lacks what they
# `requires:`; SKIPPED with the version needed when netlab refused the lab
# on that engine before creating anything, e.g. an IPv6-only network before
# Docker 28; or a kernel feature: macvlan, ipvlan), each engine's version and API version, the total wall time,
# the skipped checks with their reasons, then the FAIL lines of the failing
# cells. Every cell's full output is kept in the log directory (printed
# first).
#
# Exit: 0 every cell passed or was skipped, 1 some cell failed, 2 usage, 3
# an engine could not be set up, 130/143 interrupted.
#
# Environment: NETLAB_MATRIX_TIMEOUT (deadline of one cell in s, default 600),
# NETLAB_MATRIX_LOGS (log directory, kept; default a new
# /tmp/netlab-matrix.XXXXXX, removed on exit when every cell passed and kept,
# as the last line says, when one did not),
# NETLAB_MATRIX_LABS (space-separated labs, default all built-in labs),
# NETLAB_MATRIX_SEEDS (seeds of generated labs run beside them, default
# "1 33 78 85 107"; empty: none),
# NETLAB_MATRIX_CORPUS (compose corpus directory whose files are imported
# with `netlab import --any-host-port` and run as labs `c-DIR`, default
# tests/data/compose beside this script; empty: none),
# NETLAB_MATRIX_CORPUS_JOBS (corpus labs run at once on one engine, default 3),
# NETLAB_MATRIX_NO_DNS (directory of labs run on the no-dns engines only,
# for what an engine without a resolver shows: default tests/data/no-dns
# beside this script; empty: none),
# NETLAB_MATRIX_LOCAL=0 (leave out the machine's own engine), and those of
# engines.sh.
set -uo pipefail

HERE=$(dirname "$(readlink -f "$0")")
ENGINES=$HERE/engines.sh
CELL_TIMEOUT=${NETLAB_MATRIX_TIMEOUT:-600}
CLAIMS=/run/netlab-matrix-claims
# The machine's engine is shared with whoever else uses it: matrix runs take
# turns on it, cell by cell (two runs of one lab on one engine clash).
LOCAL_LOCK=/run/netlab-matrix-local.lock

say() { printf 'test-engines: %s\n' "$*" >&2; }
die() {
	say "error: $*"
	exit 3
}

if [[ $# -ne 1 || $1 == -h || $1 == --help ]]; then
	sed -n '2,/^set -uo/{/^set -uo/d;s/^# \{0,1\}//;p}' "$0" >&2
	exit 2
fi
[[ $EUID -eq 0 ]] || {
	say "must run as root (it starts engines)"
	exit 2
}
NETLAB=$(readlink -f "$1")
[[ -x $NETLAB && -f $NETLAB ]] || {
	say "$1 is not an executable file"
	exit 2
}
[[ $CELL_TIMEOUT =~ ^[1-9][0-9]*$ ]] || {
	say "NETLAB_MATRIX_TIMEOUT must be a number of seconds"
	exit 2
}
command -v docker >/dev/null || {
	say "the docker CLI is needed"
	exit 2
}

T0=$(date +%s.%N)
LOG_DIR=${NETLAB_MATRIX_LOGS:-$(mktemp -d /tmp/netlab-matrix.XXXXXX)}
mkdir -p "$LOG_DIR" || exit 2
# A log directory of our own making goes again unless a cell failed.
OWN_LOGS=""
[[ -n ${NETLAB_MATRIX_LOGS:-} ]] || OWN_LOGS=$LOG_DIR
# How long a column waits for its turn on the machine's engine: one cell of
# another matrix run, and some.
LOCAL_LOCK_TIMEOUT=$((CELL_TIMEOUT + 300))

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# ------------------------------------------------------------ clean-up

STARTED=()  # engines this run asked engines.sh to start
CLAIMED=()  # names claimed in $CLAIMS
SETUP=()    # pids of running `engines.sh tree|start`
WORKERS=()  # pids of the column workers
CLEANED=""

# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
	local rc=$? p deadline
	[[ -n $CLEANED ]] && return
	CLEANED=1
	trap '' INT TERM
	# A start or tree build under way: on SIGTERM engines.sh undoes it (a
	# background job ignores the terminal's SIGINT).
	if ((${#SETUP[@]})); then
		for p in "${SETUP[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
		for p in "${SETUP[@]}"; do wait "$p" 2>/dev/null; done
	fi
	# Running cells first: their netlab tears its lab down on SIGTERM (on the
	# machine's own engine, nobody else would).
	if ((${#WORKERS[@]})); then
		for p in "${WORKERS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
		deadline=$((SECONDS + 120))
		for p in "${WORKERS[@]}"; do
			while kill -0 "$p" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
			kill -KILL "$p" 2>/dev/null || true
		done
	fi
	if ((${#STARTED[@]})); then
		say "stopping ${STARTED[*]}"
		for p in "${STARTED[@]}"; do "$ENGINES" stop "$p" >>"$LOG_DIR/engines.log" 2>&1 & done
		wait
	fi
	for p in "${CLAIMED[@]}"; do rm -rf "${CLAIMS:?}/$p"; done
	rmdir "$CLAIMS" 2>/dev/null || true
	if [[ -n $OWN_LOGS ]]; then
		if ((rc == 0)); then
			rm -rf --one-file-system "${OWN_LOGS:?}"
		else
			say "logs kept in $OWN_LOGS (remove it when done)"
		fi
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------ engines

# A name is free if engines.sh has no trace of it and no other matrix run
# has claimed it. The claim (an atomic mkdir holding the claimant's pid) keeps
# two matrix runs from picking the same name at once; a dead claimant's claim
# is taken over.
name_unused() {
	[[ ! -e /run/netlab-engines/$1 && ! -e /var/lib/netlab-engines/$1 && ! -e /run/netns/netlab-$1 ]] &&
		! ip link show "nl-$1" >/dev/null 2>&1
}

claim() {
	local n=$1 owner
	mkdir -p "$CLAIMS"
	if ! mkdir "$CLAIMS/$n" 2>/dev/null; then
		owner=$(cat "$CLAIMS/$n/pid" 2>/dev/null)
		[[ -n $owner ]] && kill -0 "$owner" 2>/dev/null && return 1
		rm -rf "${CLAIMS:?}/$n"
		mkdir "$CLAIMS/$n" 2>/dev/null || return 1
	fi
	echo $$ >"$CLAIMS/$n/pid"
	if name_unused "$n"; then
		CLAIMED+=("$n")
		return 0
	fi
	rm -rf "${CLAIMS:?}/$n"
	return 1
}

pick_name() {
	local base=$1 i
	for i in "" 2 3 4 5 6 7 8 9; do
		if claim "$base$i"; then
			echo "$base$i"
			return 0
		fi
	done
	die "no free engine name $base, ${base}2 ... ${base}9"
}

# `engines.sh VERB ARG...` in the background, output to LOG_DIR/engines/LOG;
# its pid is appended to SETUP.
setup_bg() {
	local log=$LOG_DIR/engines/$1
	shift
	"$ENGINES" "$@" >"$log" 2>&1 </dev/null &
	SETUP+=($!)
}

# The same, for an engine without a reachable upstream resolver.
setup_bg_no_dns() {
	local log=$LOG_DIR/engines/$1
	shift
	NETLAB_ENGINE_RESOLVER=none "$ENGINES" "$@" >"$log" 2>&1 </dev/null &
	SETUP+=($!)
}

# Wait for the setup job PID; say what failed. An engine that "is already
# running" (or running with another kind) is somebody else's: it was free a
# moment ago. It is never used, nor stopped on exit.
setup_wait() {
	local pid=$1 log=$LOG_DIR/engines/$2 what=$3 name=${4:-} rc=0 n keep=()
	wait "$pid" || rc=$?
	if [[ -n $name ]] && grep -qE "is already running|is running with kind" "$log"; then
		say "$what: $name is somebody else's engine (log $log)"
		for n in "${STARTED[@]}"; do [[ $n == "$name" ]] || keep+=("$n"); done
		STARTED=("${keep[@]}")
		return 1
	fi
	((rc == 0)) || say "$what failed (log $log)"
	return "$rc"
}

# ------------------------------------------------------------ cells

# Columns: key, label, DOCKER_HOST ("" = unset).
KEYS=() LABELS=() HOSTS=()
add_column() { KEYS+=("$1") LABELS+=("$2") HOSTS+=("$3"); }

# One cell: `netlab run LAB` on one engine, with a deadline. Writes
# LOG_DIR/KEY/LAB.log (the full output) and LAB.result ("rc passed failed
# unrun seconds skipped").
run_cell() {
	local key=$1 host=$2 lab=$3 log=$LOG_DIR/$1/$3.log t rc line p=0 f=0 u=0 k=0
	local envs=(-u DOCKER_HOST -u DOCKER_CONTEXT -u NETLAB_HOSTS)
	[[ -n $host ]] && envs+=("DOCKER_HOST=$host")
	t=$(now)
	# timeout runs netlab in a process group of its own and passes SIGTERM
	# on to it; netlab then tears its lab down (exit 130).
	local file=$lab
	[[ -f $LOG_DIR/generated/$lab.yaml ]] && file=$LOG_DIR/generated/$lab.yaml
	timeout -k 60 "$CELL_TIMEOUT" env "${envs[@]}" "$NETLAB" run "$file" </dev/null >"$log" 2>&1 &
	CELL=$!
	wait "$CELL"
	rc=$?
	CELL=""
	# The report's last line: "N passed, M failed[, K skipped][, E could not
	# run (...)]".
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	if [[ $line =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed(,\ ([0-9]+)\ skipped)?(,\ ([0-9]+)\ could\ not\ run)? ]]; then
		p=${BASH_REMATCH[1]} f=${BASH_REMATCH[2]} k=${BASH_REMATCH[4]:-0} u=${BASH_REMATCH[6]:-0}
	else
		p=-1
	fi
	echo "$rc $p $f $u $(elapsed "$t" "$(now)") $k" >"$LOG_DIR/$key/$lab.result"
}

# A turn on the machine's engine (fd 7 holds it until closed); exits the
# column when none comes in time. The wait runs in the background, so that
# SIGTERM is not held up by it.
take_local_turn() {
	exec 7>>"$LOCAL_LOCK"
	flock -w "$LOCAL_LOCK_TIMEOUT" 7 &
	CELL=$!
	wait "$CELL" || {
		say "$1: no turn on the machine's engine within ${LOCAL_LOCK_TIMEOUT} s ($LOCAL_LOCK)"
		exit 3
	}
	CELL=""
}

# A column: its labs one after another. On SIGTERM (sent by cleanup) the
# running cell is stopped and waited for, the rest skipped. The terminal's
# SIGINT is ignored here: it would kill this shell at once and leave netlab
# running against an engine about to be stopped.
run_column() {
	local key=$1 host=$2 lab
	CELL=""
	trap '' INT
	trap '[[ -n $CELL ]] && kill -TERM "$CELL" 2>/dev/null; [[ -n $CELL ]] && wait "$CELL"; exit 143' TERM
	mkdir -p "$LOG_DIR/$key"
	for lab in "${LABS[@]}"; do
		if [[ $key == local ]]; then
			take_local_turn "$key"
			run_cell "$key" "$host" "$lab"
			exec 7>&-
		else
			run_cell "$key" "$host" "$lab"
		fi
	done
	for lab in "${NO_DNS_LABS[@]}"; do
		if [[ " ${NO_DNS_KEYS[*]} " == *" $key "* ]]; then
			run_cell "$key" "$host" "$lab"
		else
			echo "no-dns" >"$LOG_DIR/$key/$lab.result"
		fi
	done
	run_corpus "$key" "$host"
}

# The corpus labs of one column, CORPUS_JOBS at a time (each has its own
# lab name and host ports Docker picks, so they do not meet). On the
# machine's engine the whole corpus takes one turn.
run_corpus() {
	local key=$1 host=$2 i j pids=()
	((${#CORPUS[@]})) || return 0
	if [[ $key == local ]]; then
		take_local_turn "$key"
	fi
	trap 'for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done; wait; exit 143' TERM
	for ((i = 0; i < ${#CORPUS[@]}; i += CORPUS_JOBS)); do
		pids=()
		for ((j = i; j < i + CORPUS_JOBS && j < ${#CORPUS[@]}; j++)); do
			# Each cell's netlab is stopped (and tears its lab down) on TERM.
			(
				CELL=""
				trap '[[ -n $CELL ]] && kill -TERM "$CELL" 2>/dev/null; [[ -n $CELL ]] && wait "$CELL"; exit 143' TERM
				run_cell "$key" "$host" "${CORPUS[$j]}"
			) &
			pids+=($!)
		done
		wait "${pids[@]}"
	done
	[[ $key == local ]] && exec 7>&-
	return 0
}

# The version a lab said it needs when netlab refused it on this engine
# before creating anything (exit 2, "needs Docker 28 or newer"), if it did.
needs_version() {
	grep -oE 'needs Docker [0-9.]+ or newer' "$LOG_DIR/$1/$2.log" 2>/dev/null | head -n 1 |
		sed -E 's/needs Docker ([0-9.]+) or newer/\1/'
}

# The kernel feature a lab said it needs when netlab refused it on this
# engine before creating anything (exit 2, "needs a kernel with Linux's
# macvlan driver (CONFIG_MACVLAN) …"), if it did: the driver labs run on the
# VM engine instead (harness/vm-stage.sh).
needs_kernel() {
	grep -m 1 'needs a kernel with' "$LOG_DIR/$1/$2.log" 2>/dev/null | grep -oE 'CONFIG_[A-Z0-9_]+' | head -n 1
}

# "PASS 7/7  12.3s" / "PASS 13/13 (2 skip) 40.1s" / "FAIL 5/7  12.3s" /
# "SKIPPED needs Docker 28+" / "TIMEOUT  600.0s" / "FAIL rc=3  1.0s"
cell_text() {
	local r=$LOG_DIR/$1/$2.result rc p f u s k n skip v
	[[ -f $r ]] || {
		echo "not run"
		return
	}
	read -r rc p f u s k <"$r"
	[[ $rc == no-dns ]] && {
		echo "SKIPPED no-dns only"
		return
	}
	k=${k:-0}
	n=$((p + f + u))
	skip=""
	((k > 0)) && skip=" ($k skip)"
	if ((rc == 124 || rc == 137)); then
		echo "TIMEOUT ${s}s"
	elif ((rc == 2)) && v=$(needs_version "$1" "$2") && [[ -n $v ]]; then
		echo "SKIPPED needs Docker $v+"
	elif ((rc == 2)) && v=$(needs_kernel "$1" "$2") && [[ -n $v ]]; then
		echo "SKIPPED needs $v"
	elif ((p < 0)); then
		echo "FAIL rc=$rc ${s}s"
	elif ((rc == 0 && f == 0 && u == 0)); then
		echo "PASS $p/$n$skip ${s}s"
	else
		echo "FAIL $p/$n$skip ${s}s"
	fi
}

# A cell that passed, or that netlab refused for the engine's version.
cell_ok() {
	[[ $1 == PASS* || $1 == SKIPPED* ]]
}

server_version() {
	local host=$1
	if [[ -n $host ]]; then
		timeout 10 docker -H "$host" version --format '{{.Server.Version}} {{.Server.APIVersion}}' 2>/dev/null
	else
		timeout 10 env -u DOCKER_HOST docker version --format '{{.Server.Version}} {{.Server.APIVersion}}' 2>/dev/null
	fi
}

# ------------------------------------------------------------ main

say "logs in $LOG_DIR"
echo "logs: $LOG_DIR${OWN_LOGS:+ (removed at the end when every cell passes)}"
mkdir -p "$LOG_DIR/engines"

if [[ -n ${NETLAB_MATRIX_LABS:-} ]]; then
	read -r -a LABS <<<"$NETLAB_MATRIX_LABS"
else
	# A lab of several hosts needs several engines: tests/hosts.rs runs
	# it across two; here each engine runs the labs of one host.
	mapfile -t LABS < <("$NETLAB" labs | awk 'NR > 1 && NF { print $1 }' | while read -r lab; do
		"$NETLAB" validate "$lab" | grep -q ' hosts, ' || echo "$lab"
	done)
fi
# Generated labs (`netlab fuzz`): their checks are the model's predictions,
# written per kind of engine with `requires:` where Docker versions differ,
# so each engine here holds the model to its own behaviour. The seeds that
# taught the model something, and the first.
SEEDS=${NETLAB_MATRIX_SEEDS-1 33 78 85 107}
if [[ -n $SEEDS ]]; then
	mkdir -p "$LOG_DIR/generated"
	for seed in $SEEDS; do
		"$NETLAB" fuzz --seed "$seed" --count 1 --write-only --out "$LOG_DIR/generated" >/dev/null ||
			die "netlab fuzz could not write the lab of seed $seed"
		LABS+=("t-fz-$seed")
	done
fi
# The compose corpus (issue 27): each file imported, its lab (the checks
# compose implies) run on every engine. They run several at a time on each
# engine (ports Docker picks), after the labs above.
CORPUS_DIR=${NETLAB_MATRIX_CORPUS-$HERE/../tests/data/compose}
CORPUS_JOBS=${NETLAB_MATRIX_CORPUS_JOBS:-3}
[[ $CORPUS_JOBS =~ ^[1-9][0-9]*$ ]] || die "NETLAB_MATRIX_CORPUS_JOBS must be a positive number"
CORPUS=()
if [[ -n $CORPUS_DIR ]]; then
	mkdir -p "$LOG_DIR/generated"
	for dir in "$CORPUS_DIR"/*/; do
		dir=${dir%/}
		file=$(find "$dir" -maxdepth 1 -type f ! -name SOURCE | sort | head -n 1)
		[[ -n $file ]] || continue
		lab=c-$(basename "$dir")
		"$NETLAB" import --any-host-port -o "$LOG_DIR/generated/$lab.yaml" "$file" \
			>"$LOG_DIR/generated/$lab.import.log" 2>&1 ||
			die "netlab import of $file failed (log $LOG_DIR/generated/$lab.import.log)"
		CORPUS+=("$lab")
	done
fi
# Labs of what an engine without a resolver shows: they ask names of a
# resolver nobody runs, so only the no-dns engines run them (the machine's
# own resolver would forward their questions).
NO_DNS_DIR=${NETLAB_MATRIX_NO_DNS-$HERE/../tests/data/no-dns}
NO_DNS_LABS=()
if [[ -n $NO_DNS_DIR ]]; then
	mkdir -p "$LOG_DIR/generated"
	for file in "$NO_DNS_DIR"/*.yaml; do
		[[ -f $file ]] || continue
		lab=$(basename "$file" .yaml)
		cp "$file" "$LOG_DIR/generated/$lab.yaml"
		NO_DNS_LABS+=("$lab")
	done
fi
((${#LABS[@]} + ${#CORPUS[@]})) || die "no labs (\`$NETLAB labs\` listed none)"

if [[ ${NETLAB_MATRIX_LOCAL:-1} != 0 ]]; then
	server_version "" >/dev/null || die "the machine's own engine does not answer (docker version)"
	add_column local "20.10 local" ""
fi

# pick_name runs in a subshell: the claim is recorded here.
M20=$(pick_name m20) || exit 3
CLAIMED+=("$M20")
T26=$(pick_name t26) || exit 3
CLAIMED+=("$T26")
T28=$(pick_name t28) || exit 3
CLAIMED+=("$T28")
T26N=$(pick_name t26n) || exit 3
CLAIMED+=("$T26N")
T28N=$(pick_name t28n) || exit 3
CLAIMED+=("$T28N")

# Set-up, in parallel: the trees (a few minutes each on a fresh machine, else
# at once) along with the native engine, then the two tree engines.
ts=$(now)
say "checking (or building) the trees trixie and sid; starting $M20 (native)"
STARTED+=("$M20")
setup_bg_no_dns "$M20.start.log" start "$M20" native
setup_bg tree-trixie.log tree trixie
setup_bg tree-sid.log tree sid
ok=1
setup_wait "${SETUP[1]}" tree-trixie.log "tree trixie" || ok=""
setup_wait "${SETUP[2]}" tree-sid.log "tree sid" || ok=""
if [[ -n $ok ]]; then
	say "starting $T26, $T26N (trixie), $T28, $T28N (sid)"
	STARTED+=("$T26" "$T28" "$T26N" "$T28N")
	setup_bg "$T26.start.log" start "$T26" trixie
	setup_bg "$T28.start.log" start "$T28" sid
	setup_bg_no_dns "$T26N.start.log" start "$T26N" trixie
	setup_bg_no_dns "$T28N.start.log" start "$T28N" sid
	setup_wait "${SETUP[3]}" "$T26.start.log" "start of $T26 (trixie)" "$T26" || ok=""
	setup_wait "${SETUP[4]}" "$T28.start.log" "start of $T28 (sid)" "$T28" || ok=""
	setup_wait "${SETUP[5]}" "$T26N.start.log" "start of $T26N (trixie, no resolver)" "$T26N" || ok=""
	setup_wait "${SETUP[6]}" "$T28N.start.log" "start of $T28N (sid, no resolver)" "$T28N" || ok=""
fi
setup_wait "${SETUP[0]}" "$M20.start.log" "start of $M20 (native)" "$M20" || ok=""
SETUP=()
[[ -n $ok ]] || exit 3
say "engines ready in $(elapsed "$ts" "$(now)") s"
NO_DNS_KEYS=("$M20" "$T26N" "$T28N")
add_column "$M20" "20.10 no-dns" "unix:///run/netlab-engines/$M20/docker.sock"
add_column "$T26" "26.1 netns" "unix:///run/netlab-engines/$T26/docker.sock"
add_column "$T26N" "26.1 no-dns" "unix:///run/netlab-engines/$T26N/docker.sock"
add_column "$T28" "28.5 netns" "unix:///run/netlab-engines/$T28/docker.sock"
add_column "$T28N" "28.5 no-dns" "unix:///run/netlab-engines/$T28N/docker.sock"

say "running ${#LABS[@]} labs on ${#KEYS[@]} engines (deadline ${CELL_TIMEOUT} s a cell)"
tr0=$(now)
((${#CORPUS[@]})) && say "then ${#CORPUS[@]} imported compose labs on each, $CORPUS_JOBS at a time"
for i in "${!KEYS[@]}"; do
	run_column "${KEYS[$i]}" "${HOSTS[$i]}" &
	WORKERS+=($!)
done
for p in "${WORKERS[@]}"; do wait "$p"; done
WORKERS=()
RUN_TIME=$(elapsed "$tr0" "$(now)")
ALL=("${LABS[@]}" "${NO_DNS_LABS[@]}" "${CORPUS[@]}")
W=18
for lab in "${ALL[@]}"; do ((${#lab} > W)) && W=${#lab}; done

# ------------------------------------------------------------ report

failed=0
for key in "${KEYS[@]}"; do
	for lab in "${ALL[@]}"; do
		cell_ok "$(cell_text "$key" "$lab")" || failed=$((failed + 1))
	done
done
{
	printf '%-*s' "$W" LAB
	for i in "${!KEYS[@]}"; do printf ' | %-26s' "${LABELS[$i]}"; done
	echo
	for lab in "${ALL[@]}"; do
		printf '%-*s' "$W" "$lab"
		for key in "${KEYS[@]}"; do
			printf ' | %-26s' "$(cell_text "$key" "$lab")"
		done
		echo
	done
	echo
	for i in "${!KEYS[@]}"; do
		v=$(server_version "${HOSTS[$i]}") || v="? ?"
		printf '%-12s %-6s Docker %s, API %s\n' "${LABELS[$i]}" "${KEYS[$i]}" "${v% *}" "${v##* }"
	done
	echo
	echo "labs: ${RUN_TIME} s; total wall time: $(elapsed "$T0" "$(now)") s"
	# What an engine lacks, said per check: the engine differences.
	skipped=""
	for i in "${!KEYS[@]}"; do
		for lab in "${ALL[@]}"; do
			log=$LOG_DIR/${KEYS[$i]}/$lab.log
			grep -q '^SKIPPED' "$log" 2>/dev/null || continue
			skipped+="== $lab on ${LABELS[$i]}"$'\n'
			skipped+=$(grep '^SKIPPED' "$log" | sed -E 's/  +/  /g')$'\n'
		done
	done
	if [[ -n $skipped ]]; then
		echo
		echo "skipped checks (the engine lacks what they require):"
		printf '%s' "$skipped"
	fi
	if ((failed)); then
		echo
		echo "$failed failing cell(s):"
		for i in "${!KEYS[@]}"; do
			for lab in "${ALL[@]}"; do
				c=$(cell_text "${KEYS[$i]}" "$lab")
				cell_ok "$c" && continue
				log=$LOG_DIR/${KEYS[$i]}/$lab.log
				echo "== $lab on ${LABELS[$i]}: $c ($log)"
				if grep -q '^FAIL' "$log" 2>/dev/null; then
					grep '^FAIL' "$log"
				else
					tail -n 5 "$log" 2>/dev/null
				fi
			done
		done
	fi
} >"$LOG_DIR/summary.txt"
cat "$LOG_DIR/summary.txt"

((failed == 0)) || exit 1
exit 0
