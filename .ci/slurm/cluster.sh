#!/usr/bin/env bash
# .ci/slurm/cluster.sh - canguard's own one-machine SLURM cluster, for `make test-slurm`.
#
# It runs five daemons on this machine, started by hand (no systemd needed), in this order:
#   munged -> mariadbd -> slurmdbd -> slurmctld -> slurmd
# The one node is in two partitions, `cpu` (the default) and `gpu`, and offers fake GPUs as
# GRES (2 by default, so a 2-GPU job can be scheduled). Accounting goes through slurmdbd into
# MariaDB, so `sacct` works and shows gres/gpu in AllocTRES; the account `ci` exists for the
# user who runs this script. Requeue and signals are allowed. Nothing can compute on the fake
# GPUs: they are character devices that behave like /dev/null.
#
# Usage (as root; Debian 12 or similar with apt):
#   bash .ci/slurm/cluster.sh up       install the missing packages, write /etc/slurm/{slurm,gres,
#                                      slurmdbd}.conf for this host from the *.in templates next
#                                      to this script, start what is not running, and wait until
#                                      the node is idle and sacctmgr answers. Running it again
#                                      while everything is up changes nothing.
#   bash .ci/slurm/cluster.sh down     stop the daemons that `up` started, newest first; nothing
#                                      else. Succeeds when they are already gone.
#   bash .ci/slurm/cluster.sh status   which daemons run and who started them, sinfo, accounts.
# `make cluster-up` and `make cluster-down` call the first two; .ci/run brackets the cluster
# tests with them.
#
# Who owns what:
#   * Each daemon `up` starts goes into $STATE/started as "name pid start-time" (the kernel's
#     start time of the process, so that a recycled pid is never taken for ours). A daemon that
#     runs but is not in that record is someone else's: `up` uses it, `down` leaves it alone.
#   * If a SLURM controller that this script did not start already answers (here or, on a login
#     node, elsewhere), the cluster is someone else's: `up` only checks it, writes no config and
#     starts nothing; `down` has nothing to stop.
#   * /etc/slurm files that this script did not write are copied to $STATE/displaced before the
#     first overwrite; `down` puts them back.
#
# Settings (environment variables):
#   CANGUARD_SLURM_GPUS=2       number of fake GPUs on the node (1 or more)
#   CANGUARD_SLURM_ACCOUNT=ci   account created in accounting for the current user
#   CANGUARD_SLURM_MEM_MB=      the node's RealMemory (default: what slurmd sees, less 1 GiB)
#   CANGUARD_SLURM_STATE=       records, logs, spool, fake devices (default .ci/slurm/run, git-ignored)
#
# Daemon logs: $STATE/log/. Ports 6817 (slurmctld), 6818 (slurmd), 6819 (slurmdbd); MariaDB
# listens on its unix socket only.
set -euo pipefail
shopt -u patsub_replacement 2>/dev/null || true # a '&' in a substituted value stays a '&'

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STATE=${CANGUARD_SLURM_STATE:-$HERE/run}
GPUS=${CANGUARD_SLURM_GPUS:-2}
ACCOUNT=${CANGUARD_SLURM_ACCOUNT:-ci}
CLUSTER=canguard                   # must match ClusterName in slurm.conf.in
ETC=/etc/slurm
MARKER="written by canguard .ci/slurm/cluster.sh"
MANAGED_CONFIGS=(slurm.conf gres.conf slurmdbd.conf)
# Debian 12 package names (the versions this was tested with are in the README of the notes:
# slurm 22.05.8, munge 0.5.15, MariaDB 10.11). slurm-wlm-basic-plugins comes as a dependency.
PACKAGES=(munge mariadb-server slurmdbd slurm-wlm-mysql-plugin slurmctld slurmd slurm-client)
DB_NAME=canguard_slurm_acct
DB_USER=canguard_slurm
MYSQL_SOCKET=/run/mysqld/mysqld.sock
MYSQL_PIDFILE=/run/mysqld/canguard-mariadbd.pid
MUNGE_PIDFILE=/run/munge/munged.pid
RECORD=$STATE/started
DAEMONS=(munged mariadbd slurmdbd slurmctld slurmd) # start order; `down` goes backwards
NODE=$(hostname -s)
CHANGED=()                         # configuration files this run rewrote

note() { printf '[cluster.sh %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() {
	note "ERROR: $*"
	exit 1
}

# ---------------------------------------------------------------- processes and the record

# start_time PID: prints the kernel's start time of PID (in clock ticks since boot), or
# nothing if there is no such process.
start_time() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	stat=${stat##*) } # drop "pid (command name)"; the name itself may contain spaces
	# shellcheck disable=SC2086 # split into fields on purpose
	set -- $stat
	echo "${20}" # field 22 of the whole line
}

# is_process PID NAME [START]: true if PID runs the command NAME (and started at START).
is_process() {
	[[ $1 =~ ^[0-9]+$ && $(cat "/proc/$1/comm" 2>/dev/null) == "$2" ]] || return 1
	[[ -z ${3:-} || $(start_time "$1") == "$3" ]]
}

# ours NAME: prints the pid of NAME if this script started it and that process still runs.
ours() {
	local name pid start
	[[ -f $RECORD ]] || return 1
	while read -r name pid start; do
		if [[ $name == "$1" ]] && is_process "$pid" "$name" "$start"; then
			echo "$pid"
			return 0
		fi
	done <"$RECORD"
	return 1
}

# forget NAME: removes NAME from the record.
forget() {
	[[ -f $RECORD ]] || return 0
	local kept
	kept=$(grep -v "^$1 " "$RECORD" || true)
	if [[ -n $kept ]]; then printf '%s\n' "$kept" >"$RECORD"; else rm -f "$RECORD"; fi
}

# remember NAME PID: adds a daemon that this script has just started to the record.
remember() {
	local start
	start=$(start_time "$2")
	[[ -n $start ]] || die "$1 (pid $2) is gone right after starting; see $STATE/log/"
	forget "$1"
	echo "$1 $2 $start" >>"$RECORD"
}

# who_runs NAME: prints "ours PID", "other PID" or "none".
who_runs() {
	local pid
	if pid=$(ours "$1"); then
		echo "ours $pid"
	elif pid=$(pgrep -x "$1" | head -n 1) && [[ -n $pid ]]; then
		echo "other $pid"
	else
		echo none
	fi
}

# pid_in FILE NAME: prints the pid written in FILE if a process NAME has it.
pid_in() {
	local pid
	pid=$(tr -dc '0-9' <"$1" 2>/dev/null) || return 1
	is_process "$pid" "$2" || return 1
	echo "$pid"
}

# wait_for SECONDS WHAT COMMAND...: runs COMMAND every half second until it succeeds.
wait_for() {
	local limit=$1 what=$2 deadline
	shift 2
	deadline=$((SECONDS + limit))
	until "$@" >/dev/null 2>&1; do
		((SECONDS < deadline)) || die "no $what after ${limit}s (daemon logs: $STATE/log/)"
		sleep 0.5
	done
}

# stop_ours NAME: SIGTERM to our NAME, SIGKILL after 30 s; a no-op if it is not running.
stop_ours() {
	local name=$1 pid start line
	line=$(grep "^$name " "$RECORD" 2>/dev/null | tail -n 1) || true
	read -r _ pid start <<<"$line"
	if [[ -z $line ]] || ! is_process "$pid" "$name" "$start"; then
		forget "$name"
		return 0
	fi
	note "stopping $name (pid $pid)"
	kill -TERM "$pid" 2>/dev/null || true
	local deadline=$((SECONDS + 30))
	while is_process "$pid" "$name" "$start" && ((SECONDS < deadline)); do sleep 0.5; done
	if is_process "$pid" "$name" "$start"; then
		note "$name (pid $pid) ignored SIGTERM for 30s; sending SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	forget "$name"
}

need_root() {
	((EUID == 0)) || die "run as root: it installs packages, writes $ETC and starts daemons"
}

# ---------------------------------------------------------------- packages

install_missing_packages() {
	local missing=() pkg
	for pkg in "${PACKAGES[@]}"; do
		[[ $(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null) == ii* ]] || missing+=("$pkg")
	done
	((${#missing[@]} > 0)) || return 0
	command -v apt-get >/dev/null || die "missing packages ${missing[*]} and no apt-get to install them"
	note "installing ${missing[*]} (apt log: $STATE/log/apt.log)"
	# The packages' maintainer scripts must not start any daemon: this script does that.
	local policy=/usr/sbin/policy-rc.d placed=0 status=0
	if [[ ! -e $policy ]]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		placed=1
	fi
	local apt=(apt-get -q -y -o DPkg::Lock::Timeout=300)
	export DEBIAN_FRONTEND=noninteractive
	{
		# a stale or empty package list is the usual reason for the first attempt to fail
		"${apt[@]}" install --no-install-recommends "${missing[@]}" ||
			{ "${apt[@]}" update && "${apt[@]}" install --no-install-recommends "${missing[@]}"; }
	} >>"$STATE/log/apt.log" 2>&1 || status=$?
	if ((placed)); then rm -f "$policy"; fi
	if ((status != 0)); then
		tail -n 20 "$STATE/log/apt.log" >&2
		die "apt-get could not install ${missing[*]}"
	fi
}

# ---------------------------------------------------------------- configuration

# Sets CPUS, BOARDS, SOCKETS, CORES, THREADS and MEM_MB for this host from `slurmd -C`, which
# is what slurmd compares the configuration against when it registers.
read_node_hardware() {
	local field
	declare -A hw=()
	for field in $(slurmd -C | head -n 1); do hw[${field%%=*}]=${field#*=}; done
	CPUS=${hw[CPUs]:?slurmd -C printed no CPUs}
	BOARDS=${hw[Boards]:-1}
	SOCKETS=${hw[SocketsPerBoard]:-1}
	CORES=${hw[CoresPerSocket]:-$CPUS}
	THREADS=${hw[ThreadsPerCore]:-1}
	# advertise a little less memory than there is, or slurmd drains the node as "low memory"
	MEM_MB=${CANGUARD_SLURM_MEM_MB:-$((hw[RealMemory] > 2048 ? hw[RealMemory] - 1024 : hw[RealMemory]))}
	((MEM_MB >= 6000)) || note "warning: the node has ${MEM_MB} MB; two 3000 MB jobs of profiles/slurm-ci will not run side by side"
}

# Creates the fake GPU devices (clones of /dev/null, major 1 minor 3) and sets GPU_FILES to
# the gres.conf File= expression naming them. gres/gpu insists on character devices.
make_fake_gpus() {
	[[ $GPUS =~ ^[1-9][0-9]*$ ]] || die "CANGUARD_SLURM_GPUS must be 1 or more, not '$GPUS'"
	local dir=$STATE/gpu i
	mkdir -p "$dir"
	for ((i = 0; i < GPUS; i++)); do
		[[ -c $dir/nvidia$i ]] || mknod -m 666 "$dir/nvidia$i" c 1 3 ||
			die "cannot create the fake GPU device $dir/nvidia$i (mknod)"
	done
	if ((GPUS == 1)); then GPU_FILES=$dir/nvidia0; else GPU_FILES="$dir/nvidia[0-$((GPUS - 1))]"; fi
}

# Prints the password of the accounting database user, made once per state directory.
db_password() {
	local file=$STATE/db-password
	if [[ ! -s $file ]]; then (umask 077 && od -An -N 16 -tx1 /dev/urandom | tr -d ' \n' >"$file"); fi
	cat "$file"
}

# Keeps a copy of the managed /etc/slurm files before the first overwrite of a configuration
# this script did not write; `down` restores them.
displace_foreign_configs() {
	[[ -f $ETC/slurm.conf ]] || return 0
	! grep -qF "$MARKER" "$ETC/slurm.conf" || return 0
	rm -rf "$STATE/displaced"
	mkdir -p "$STATE/displaced"
	local file
	for file in "${MANAGED_CONFIGS[@]}"; do
		if [[ -e $ETC/$file ]]; then cp -p "$ETC/$file" "$STATE/displaced/$file"; fi
	done
	touch "$STATE/displaced/.complete"
	note "the existing $ETC configuration was not written by this script; copied it to $STATE/displaced (\`down\` restores it)"
}

restore_displaced_configs() {
	[[ -f $STATE/displaced/.complete ]] || return 0
	if ! grep -qsF "$MARKER" "$ETC/slurm.conf"; then # replaced meanwhile by someone else: keep theirs
		rm -rf "$STATE/displaced"
		return 0
	fi
	local file
	for file in "${MANAGED_CONFIGS[@]}"; do
		if [[ -e $STATE/displaced/$file ]]; then cp -p "$STATE/displaced/$file" "$ETC/$file"; else rm -f "$ETC/$file"; fi
	done
	rm -rf "$STATE/displaced"
	note "restored the $ETC configuration found before \`up\`"
}

# render NAME MODE KEY=VALUE...: fills @KEY@ in $HERE/NAME.in and writes $ETC/NAME if that
# changes it (atomically, with MODE); a changed file is added to CHANGED.
render() {
	local name=$1 mode=$2 text pair key value
	shift 2
	text=$(<"$HERE/$name.in")
	for pair in "MARKER=$MARKER" "HOST=$NODE" "STATE=$STATE" "$@"; do
		key=${pair%%=*}
		value=${pair#*=}
		text=${text//"@$key@"/"$value"}
	done
	if [[ $text =~ @[A-Z_]+@ ]]; then die "$name.in: no value for ${BASH_REMATCH[0]}"; fi
	if [[ -f $ETC/$name && "$(<"$ETC/$name")" == "$text" ]]; then return 0; fi
	local tmp
	tmp=$(mktemp "$ETC/.$name.XXXXXX")
	printf '%s\n' "$text" >"$tmp"
	chmod "$mode" "$tmp"
	mv -f "$tmp" "$ETC/$name"
	CHANGED+=("$name")
}

write_configs() {
	[[ $STATE != *[[:space:]]* ]] || die "the state directory '$STATE' contains white space, which slurm.conf cannot hold"
	read_node_hardware
	make_fake_gpus
	mkdir -p "$ETC"
	displace_foreign_configs
	render slurm.conf 644 "CPUS=$CPUS" "BOARDS=$BOARDS" "SOCKETS=$SOCKETS" "CORES=$CORES" \
		"THREADS=$THREADS" "MEM_MB=$MEM_MB" "GPUS=$GPUS"
	render gres.conf 644 "GPU_FILES=$GPU_FILES"
	render slurmdbd.conf 600 "DB_NAME=$DB_NAME" "DB_USER=$DB_USER" "DB_PASS=$(db_password)"
}

changed() {
	local file
	for file in "${CHANGED[@]}"; do [[ $file == "$1" ]] && return 0; done
	return 1
}

# A daemon of ours that runs with an old configuration is stopped here, to be started again
# by the steps below; someone else's is only reported.
apply_config_changes() {
	((${#CHANGED[@]} > 0)) || return 0
	note "configuration written: ${CHANGED[*]/#/$ETC/}"
	local stale=() daemon
	if changed slurm.conf || changed gres.conf; then stale+=(slurmd slurmctld); fi
	if changed slurmdbd.conf; then stale+=(slurmdbd); fi
	for daemon in "${stale[@]}"; do
		case $(who_runs "$daemon") in
		ours*) stop_ours "$daemon" ;;
		other*) note "warning: $daemon was not started by this script and keeps its old configuration" ;;
		esac
	done
}

# ---------------------------------------------------------------- daemons

munge_answers() { munge -n </dev/null | unmunge >/dev/null; }
mariadb_answers() { mariadb-admin --socket="$MYSQL_SOCKET" --connect-timeout=2 ping; }
sacctmgr_answers() { timeout 10 sacctmgr -n -P list cluster format=cluster; }
controller_up() { timeout 10 scontrol ping 2>/dev/null | grep -q 'is UP'; }

# reuse_if_running NAME READY-CHECK...: true (and nothing to start) if NAME runs already.
reuse_if_running() {
	local name=$1 who pid
	shift
	read -r who pid <<<"$(who_runs "$name")"
	case $who in
	none) return 1 ;;
	other) note "$name is already running (pid $pid, not started by this script); using it" ;;
	esac
	wait_for 30 "answer from the running $name" "$@"
}

start_munge() {
	reuse_if_running munged munge_answers && return 0
	if [[ ! -s /etc/munge/munge.key ]]; then
		note "creating /etc/munge/munge.key"
		mungekey --create --keyfile=/etc/munge/munge.key
		chown munge:munge /etc/munge/munge.key
		chmod 400 /etc/munge/munge.key
	fi
	install -d -o munge -g munge -m 755 /run/munge
	rm -f "$MUNGE_PIDFILE"
	runuser -u munge -- /usr/sbin/munged --pid-file="$MUNGE_PIDFILE" </dev/null >>"$STATE/log/munged.out" 2>&1 ||
		die "munged did not start; see $STATE/log/munged.out and /var/log/munge/munged.log"
	wait_for 20 "munge credential" munge_answers
	wait_for 10 "munged pid file" pid_in "$MUNGE_PIDFILE" munged
	remember munged "$(pid_in "$MUNGE_PIDFILE" munged)"
	note "munged started"
}

start_mariadb() {
	reuse_if_running mariadbd mariadb_answers && return 0
	if [[ ! -d /var/lib/mysql/mysql ]]; then
		note "initialising the MariaDB data directory"
		mariadb-install-db --user=mysql --datadir=/var/lib/mysql >>"$STATE/log/mariadb.log" 2>&1
	fi
	install -d -o mysql -g mysql -m 755 /run/mysqld
	rm -f "$MYSQL_PIDFILE"
	# Socket only: --skip-networking keeps it off TCP. Its log goes to stderr, i.e. our log file.
	setsid mariadbd --user=mysql --datadir=/var/lib/mysql --socket="$MYSQL_SOCKET" \
		--pid-file="$MYSQL_PIDFILE" --skip-networking </dev/null >>"$STATE/log/mariadb.log" 2>&1 &
	wait_for 60 "answer from MariaDB" mariadb_answers
	wait_for 10 "MariaDB pid file" pid_in "$MYSQL_PIDFILE" mariadbd
	remember mariadbd "$(pid_in "$MYSQL_PIDFILE" mariadbd)"
	note "mariadbd started"
}

# The accounting database and its user; the password is the one in slurmdbd.conf.
prepare_database() {
	mariadb --socket="$MYSQL_SOCKET" --batch <<-SQL
		CREATE DATABASE IF NOT EXISTS $DB_NAME;
		CREATE USER IF NOT EXISTS '$DB_USER'@'localhost';
		ALTER USER '$DB_USER'@'localhost' IDENTIFIED BY '$(db_password)';
		GRANT ALL PRIVILEGES ON $DB_NAME.* TO '$DB_USER'@'localhost';
	SQL
}

# start_slurm NAME PIDFILE READY-CHECK...: starts one of slurmdbd, slurmctld, slurmd (they put
# themselves in the background and write PIDFILE) unless it runs already.
start_slurm() {
	local name=$1 pidfile=$2
	shift 2
	reuse_if_running "$name" "$@" && return 0
	if [[ $name == slurmdbd ]]; then prepare_database; fi
	rm -f "$pidfile"
	"/usr/sbin/$name" </dev/null >>"$STATE/log/$name.out" 2>&1 ||
		die "$name did not start; see $STATE/log/$name.log and $name.out"
	wait_for 30 "$name pid file" pid_in "$pidfile" "$name"
	remember "$name" "$(pid_in "$pidfile" "$name")"
	wait_for 60 "answer from $name" "$@"
	note "$name started"
}

# The cluster, the account and the current user's association in it, each only if missing.
ensure_accounting() {
	local user
	user=$(id -un)
	if [[ -z $(sacctmgr -n -P list cluster "$CLUSTER" format=cluster) ]]; then
		sacctmgr -i -Q add cluster "$CLUSTER" >/dev/null
	fi
	if [[ -z $(sacctmgr -n -P list account "$ACCOUNT" format=account) ]]; then
		sacctmgr -i -Q add account "$ACCOUNT" Cluster="$CLUSTER" Description=canguard-ci Organization=canguard >/dev/null
	fi
	if [[ -z $(sacctmgr -n -P list association where cluster="$CLUSTER" account="$ACCOUNT" user="$user" format=user) ]]; then
		sacctmgr -i -Q add user "$user" Account="$ACCOUNT" Cluster="$CLUSTER" >/dev/null
		note "accounting: user $user in account $ACCOUNT"
	fi
}

# True once the node takes jobs. A drained or down node in our own cluster is resumed (stale
# state from an earlier configuration); someone else's is only waited for.
node_ready() {
	local state
	state=$(timeout 10 sinfo -h -N -n "$NODE" -o %T 2>/dev/null | head -n 1)
	case $state in
	idle | mixed | allocated | completing) return 0 ;;
	drain* | down*)
		if ours slurmctld >/dev/null; then timeout 10 scontrol update NodeName="$NODE" State=RESUME || true; fi
		return 1
		;;
	*) return 1 ;;
	esac
}

wait_node_ready() {
	if ! wait_for_quietly 90 node_ready; then
		timeout 10 scontrol show node "$NODE" >&2 || true
		die "node $NODE did not become idle in 90s (see $STATE/log/slurmd.log and slurmctld.log)"
	fi
}

wait_for_quietly() { # like wait_for, but returns 1 instead of exiting
	local deadline=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		((SECONDS < deadline)) || return 1
		sleep 0.5
	done
}

# What the tests need from any cluster, ours or not; prints what is missing.
check_cluster() {
	local partitions gres problems=()
	partitions=$(timeout 10 sinfo -h -o %R 2>/dev/null | sort -u | tr '\n' ' ')
	[[ " $partitions" == *" cpu "* ]] || problems+=("no partition cpu")
	[[ " $partitions" == *" gpu "* ]] || problems+=("no partition gpu")
	gres=$(timeout 10 sinfo -h -p gpu -o %G 2>/dev/null | head -n 1)
	if [[ $gres =~ gpu(:[^:,\(]+)?:([0-9]+) ]]; then
		((BASH_REMATCH[2] >= GPUS)) || problems+=("only ${BASH_REMATCH[2]} GPU(s) in partition gpu, not $GPUS")
	else
		problems+=("no GPU GRES in partition gpu")
	fi
	[[ -n $(timeout 10 sacctmgr -n -P list association where account="$ACCOUNT" user="$(id -un)" format=user 2>/dev/null) ]] ||
		problems+=("no account $ACCOUNT for user $(id -un)")
	((${#problems[@]} == 0)) || {
		note "warning: ${problems[*]}"
		return 1
	}
}

# True if a SLURM controller that this script did not start already serves this machine.
someone_elses_cluster() {
	case $(who_runs slurmctld) in
	ours*) return 1 ;;
	other*) return 0 ;;
	esac
	# No local controller, but a configuration not written here may name a remote one.
	[[ -f $ETC/slurm.conf ]] && ! grep -qF "$MARKER" "$ETC/slurm.conf" || return 1
	command -v scontrol >/dev/null && controller_up
}

# ---------------------------------------------------------------- subcommands

cmd_up() {
	need_root
	local started=$SECONDS
	mkdir -p "$STATE/log" "$STATE/pid" "$STATE/spool/ctld" "$STATE/spool/d"
	install_missing_packages
	if someone_elses_cluster; then
		note "a SLURM cluster not started by this script is running; leaving it as it is"
		wait_for 60 "answer from sacctmgr" sacctmgr_answers
		check_cluster || note "the cluster tests may fail on this cluster"
		return 0
	fi
	write_configs
	apply_config_changes
	start_munge
	start_mariadb
	start_slurm slurmdbd "$STATE/pid/slurmdbd.pid" sacctmgr_answers
	ensure_accounting # before slurmctld registers with slurmdbd
	start_slurm slurmctld "$STATE/pid/slurmctld.pid" controller_up
	start_slurm slurmd "$STATE/pid/slurmd.pid" true
	wait_node_ready
	check_cluster || die "the cluster came up without what the tests need"
	note "cluster up in $((SECONDS - started))s (logs: $STATE/log/)"
	timeout 10 sinfo -o '%10P %.5a %.6D %.10T %.5c %.8m %G' >&2
}

cmd_down() {
	if ours slurmctld >/dev/null; then cancel_jobs; fi
	local lines=() i name
	if [[ -f $RECORD ]]; then mapfile -t lines <"$RECORD"; fi
	if ((${#lines[@]} == 0)); then note "no daemon started by this script is running"; fi
	for ((i = ${#lines[@]} - 1; i >= 0; i--)); do
		read -r name _ <<<"${lines[i]}"
		stop_ours "$name" || true
	done
	if ! pgrep -x slurmctld >/dev/null && ! pgrep -x slurmd >/dev/null; then
		restore_displaced_configs || true
	fi
	return 0
}

# Jobs still in our cluster would leave slurmstepd processes behind once slurmd is gone.
cancel_jobs() {
	local jobs
	jobs=$(timeout 10 squeue -h -o %A 2>/dev/null | sort -u | tr '\n' ' ') || true
	[[ -n ${jobs// /} ]] || return 0
	note "cancelling the jobs still in the cluster: $jobs"
	# shellcheck disable=SC2086 # one argument per job id
	timeout 10 scancel $jobs || true
	local deadline=$((SECONDS + 30))
	while ((SECONDS < deadline)) && [[ -n $(timeout 10 squeue -h -o %A 2>/dev/null) ]]; do sleep 0.5; done
}

cmd_status() {
	local daemon who pid
	for daemon in "${DAEMONS[@]}"; do
		read -r who pid <<<"$(who_runs "$daemon")"
		case $who in
		ours) printf '%-10s running, pid %s, started by cluster.sh\n' "$daemon" "$pid" ;;
		other) printf '%-10s running, pid %s, not started by cluster.sh\n' "$daemon" "$pid" ;;
		*) printf '%-10s not running\n' "$daemon" ;;
		esac
	done
	echo
	if command -v sinfo >/dev/null && timeout 10 sinfo -o '%10P %.5a %.6D %.10T %.5c %.8m %G' 2>/dev/null; then
		echo
		timeout 10 sacctmgr -n -P list association format=cluster,account,user 2>/dev/null |
			awk -F'|' '$3 != "" {print "association: cluster " $1 ", account " $2 ", user " $3}' || true
	else
		echo "sinfo: no SLURM controller answers"
	fi
}

usage() { sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"; }

case ${1:-} in
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
-h | --help | help) usage ;;
*)
	usage >&2
	exit 2
	;;
esac
