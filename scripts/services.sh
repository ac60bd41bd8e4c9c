#!/usr/bin/env bash
# Installs and runs the real services the integration tests talk to, on loopback only:
#   ZooKeeper (Debian's 3.8, standalone), PostgreSQL (Debian's 15, a cluster of our own), MariaDB (Debian's 10.11,
#   a server of our own: Druid's other metadata store) and an S3 server (Versity S3 Gateway, pinned, built with
#   `go install`); and two deep storage emulators: fake-gcs-server for Google Cloud Storage (pinned, built with
#   `go install`) on 29100 and Azurite for Azure Blob Storage (pinned, from the npm registry, installed under the
#   state directory and run with node) on 29200, overridable with DRUID_SIDECAR_GCS_PORT and DRUID_SIDECAR_AZURE_PORT.
#
#   scripts/services.sh up       install what is missing, start what is not running, wait until each answers
#   scripts/services.sh down     stop exactly the processes `up` started (by their pid files)
#   scripts/services.sh env      print the environment the tests read (`export NAME='value'` lines)
#   scripts/services.sh status   which services are running; exits 1 unless all of them run and answer
#
# Everything lives under the state directory: <repo>/.state, or DRUID_SIDECAR_STATE_DIR (relative to the
# repository root unless absolute). Ports default to 22181 (ZooKeeper), 25432 (PostgreSQL), 23306 (MariaDB) and
# 29000 (S3): below Linux's ephemeral range (32768-60999), so that no outgoing connection can hold one of them when a
# server binds it; overridable with DRUID_SIDECAR_ZK_PORT, DRUID_SIDECAR_PG_PORT, DRUID_SIDECAR_MYSQL_PORT and
# DRUID_SIDECAR_S3_PORT. DRUID_SIDECAR_SERVICES_TIMEOUT (seconds, default 60) bounds
# the wait for each service. `up` also writes the `env` lines to <state>/services.env, which internal/testenv
# reads when the DRUID_SIDECAR_TEST_* variables are not set.
set -euo pipefail

REPO_ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
STATE_DIR=${DRUID_SIDECAR_STATE_DIR:-$REPO_ROOT/.state}
[[ $STATE_DIR == /* ]] || STATE_DIR=$REPO_ROOT/$STATE_DIR # relative to the repository root, as for the tests

ZK_PORT=${DRUID_SIDECAR_ZK_PORT:-22181}
PG_PORT=${DRUID_SIDECAR_PG_PORT:-25432}
MY_PORT=${DRUID_SIDECAR_MYSQL_PORT:-23306}
S3_PORT=${DRUID_SIDECAR_S3_PORT:-29000}
WAIT_TIMEOUT=${DRUID_SIDECAR_SERVICES_TIMEOUT:-60}
GCS_PORT=${DRUID_SIDECAR_GCS_PORT:-29100}
AZURE_PORT=${DRUID_SIDECAR_AZURE_PORT:-29200}

# Fixed credentials of the local, loopback-only test S3 server. Not secrets.
S3_ACCESS_KEY=druidsidecartest
S3_SECRET_KEY=druidsidecartestsecret
S3_REGION=us-east-1
# The MariaDB account the tests use (created at every start, reachable from 127.0.0.1 only). Not a secret.
MY_USER=druidtest
MY_PASSWORD=druidtest

VERSITYGW_MODULE=github.com/versity/versitygw
VERSITYGW_VERSION=v1.8.0

# The Google Cloud Storage emulator, a Go program.
FAKEGCS_MODULE=github.com/fsouza/fake-gcs-server
FAKEGCS_VERSION=v1.56.1
# Azurite, Microsoft's Azure Storage emulator: 3.35.0 is the newest release whose engines accept the Node 20 of
# Debian and of this machine (3.36 asks for Node 21, 3.37 for 22).
AZURITE_VERSION=3.35.0
# Azurite's well-known development account, published in Microsoft's documentation. Not a secret.
AZURE_ACCOUNT=devstoreaccount1
AZURE_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

PACKAGES=(zookeeper postgresql mariadb-server-core mariadb-client-core libcurator-framework-java libcurator-recipes-java libcurator-discovery-java
	libjackson2-databind-java libjackson2-dataformat-smile libjoda-time-java unzip chromium)
# chromium is not a service but a test peer, like the Java jars: the audit's HTML report is rendered headless in it.
# MariaDB comes as its -core packages (the server and client binaries): mariadb-server would also start a system-wide
# server of its own, on the default port, on a machine without a policy-rc.d.

# What a Java peer needs to run Curator 5.4 (framework, recipes, x-discovery) against ZooKeeper, plus Jackson
# (databind, Smile) and Joda-Time. Checked by running Curator against the local ZooKeeper
# (internal/testenv's TestJavaClasspath). slf4j-nop silences slf4j's "no binding" warning.
JAVA_JARS=(curator-client curator-framework curator-recipes curator-x-discovery zookeeper zookeeper-jute
	guava slf4j-api slf4j-nop jackson-core jackson-annotations jackson-databind jackson-dataformat-smile joda-time)
JAVA_DIR=/usr/share/java

BIN_DIR=$STATE_DIR/bin
RUN_DIR=$STATE_DIR/run
LOG_DIR=$STATE_DIR/log
ZK_DIR=$STATE_DIR/zookeeper
PG_DIR=$STATE_DIR/postgres
PG_DATA=$PG_DIR/data
PG_SOCK=$PG_DIR/run
S3_DIR=$STATE_DIR/s3
MY_DIR=$STATE_DIR/mariadb
MY_DATA=$MY_DIR/data
MY_SOCK=$MY_DIR/run/mariadb.sock
ENV_FILE=$STATE_DIR/services.env
GCS_DIR=$STATE_DIR/gcs
AZURE_DIR=$STATE_DIR/azure
AZURITE_DIR=$STATE_DIR/azurite
GCS_PIDFILE=$RUN_DIR/gcs.pid
AZURE_PIDFILE=$RUN_DIR/azure.pid
GCS_LOG=$LOG_DIR/gcs.log
AZURE_LOG=$LOG_DIR/azure.log
AZURITE_MAIN=$AZURITE_DIR/node_modules/azurite/dist/src/blob/main.js

ZK_PIDFILE=$RUN_DIR/zookeeper.pid
S3_PIDFILE=$RUN_DIR/s3.pid
MY_PIDFILE=$RUN_DIR/mariadb.pid
ZK_LOG=$LOG_DIR/zookeeper.log
PG_LOG=$LOG_DIR/postgres.log
S3_LOG=$LOG_DIR/s3.log
MY_LOG=$LOG_DIR/mariadb.log

log() { printf 'services: %s\n' "$*"; }
die() {
	printf 'services: ERROR: %s\n' "$*" >&2
	[[ ${STARTING:-} ]] && printf 'services: what did start stays up; `%s down` stops it.\n' "$0" >&2
	exit 1
}

for p in "$ZK_PORT" "$PG_PORT" "$MY_PORT" "$S3_PORT"; do
	[[ $p =~ ^[0-9]{1,5}$ ]] && ((10#$p >= 1 && 10#$p <= 65535)) || die "ports must be numbers in 1..65535, got '$p'"
done
ZK_PORT=$((10#$ZK_PORT)) PG_PORT=$((10#$PG_PORT)) MY_PORT=$((10#$MY_PORT)) S3_PORT=$((10#$S3_PORT))
for p in "$GCS_PORT" "$AZURE_PORT"; do
	[[ $p =~ ^[0-9]{1,5}$ ]] && ((10#$p >= 1 && 10#$p <= 65535)) || die "ports must be numbers in 1..65535, got '$p'"
done
GCS_PORT=$((10#$GCS_PORT)) AZURE_PORT=$((10#$AZURE_PORT))
[[ $WAIT_TIMEOUT =~ ^[0-9]+$ ]] || die "DRUID_SIDECAR_SERVICES_TIMEOUT must be a number of seconds, got '$WAIT_TIMEOUT'"

# Time in microseconds, and a duration since a start in seconds with milliseconds.
now_us() { echo "${EPOCHREALTIME//[!0-9]/}"; }
since() {
	local us=$(($(now_us) - $1))
	printf '%d.%03ds' $((us / 1000000)) $((us / 1000 % 1000))
}

# tail_log FILE: the last lines of a service's log, indented, for error messages.
tail_log() {
	if [[ -s $1 ]]; then
		printf '\n--- last lines of %s ---\n' "$1"
		tail -n 25 "$1" | sed 's/^/  | /'
	else
		printf '\n(%s is empty or missing)' "$1"
	fi
}

# port_open PORT: something accepts TCP connections on 127.0.0.1:PORT.
port_open() { timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0"' "$1" 2>/dev/null; }

port_owner() {
	if command -v ss >/dev/null; then
		ss -Hltnp "sport = :$1" 2>/dev/null | sed 's/^/  /'
	fi
}

die_port_taken() { # service port env-var
	die "$1: port 127.0.0.1:$2 is taken by a process that is not ours (no live pid file of ours under $STATE_DIR):
$(port_owner "$2")
Stop that process, or run ours on another port with $3=<port>."
}

# zk_answers: ZooKeeper answers `ruok` with `imok`.
zk_answers() {
	local r
	r=$(timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0"; printf ruok >&3; cat <&3' "$ZK_PORT" 2>/dev/null) || true
	[[ $r == imok ]]
}

pg_answers() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -t 2 >/dev/null 2>&1; }

# my_answers: the test account logs in over TCP and runs a statement (the server creates the account before it
# accepts connections, so this also proves the account exists).
my_answers() {
	MYSQL_PWD=$MY_PASSWORD timeout 5 mariadb --no-defaults --protocol=TCP -h 127.0.0.1 -P "$MY_PORT" -u "$MY_USER" \
		--connect-timeout=2 -N -e 'SELECT 1' >/dev/null 2>&1
}

# s3_answers: an HTTP response (any status) on the S3 port.
s3_answers() {
	local r
	r=$(timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0"; printf "GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" >&3; head -c 16 <&3' "$S3_PORT" 2>/dev/null) || true
	[[ $r == HTTP/1.[01]\ * ]]
}

# http_answers PORT PATH: an HTTP response (any status) to GET PATH on the port.
http_answers() {
	local r
	r=$(timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0"; printf "GET $1 HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" >&3; head -c 16 <&3' "$1" "$2" 2>/dev/null) || true
	[[ $r == HTTP/1.[01]\ * ]]
}
gcs_answers() { http_answers "$GCS_PORT" /storage/v1/b; }
azure_answers() { http_answers "$AZURE_PORT" "/$AZURE_ACCOUNT?comp=list"; }

# pid_ours PIDFILE PATTERN: the pid file names a live process whose command line contains PATTERN (so a
# recycled pid is not mistaken for ours). Prints the pid.
pid_ours() {
	local pid
	[[ -s $1 ]] || return 1
	pid=$(<"$1")
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$2" || return 1
	echo "$pid"
}

# launch PIDFILE LOGFILE CMD...: start CMD detached (own session, stdin closed, output to LOGFILE); CMD's pid is
# written to PIDFILE before it execs. fd 9 (our lock) is not inherited.
launch() {
	local pidfile=$1 logfile=$2
	shift 2
	[[ -e $logfile ]] && mv -f "$logfile" "$logfile.prev"
	printf '=== started by scripts/services.sh at %(%F %T)T\n' -1 >"$logfile"
	rm -f "$pidfile"
	setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" </dev/null >>"$logfile" 2>&1 9>&- &
}

# wait_ready NAME CHECK PIDFILE LOGFILE STARTED_US ADDRESS
wait_ready() {
	local name=$1 check=$2 pidfile=$3 logfile=$4 started=$5 addr=$6 pid deadline
	deadline=$(($(now_us) + WAIT_TIMEOUT * 1000000))
	until "$check"; do
		if [[ -n $pidfile && -s $pidfile ]]; then
			pid=$(<"$pidfile")
			kill -0 "$pid" 2>/dev/null ||
				die "$name exited before answering on $addr (pid $pid). Log: $logfile$(tail_log "$logfile")"
		fi
		(($(now_us) < deadline)) ||
			die "$name did not answer on $addr within ${WAIT_TIMEOUT}s (DRUID_SIDECAR_SERVICES_TIMEOUT). Log: $logfile$(tail_log "$logfile")"
		sleep 0.2
	done
	log "$name: answering on $addr after $(since "$started")"
}

java_classpath() {
	local cp="" j
	for j in "${JAVA_JARS[@]}"; do cp+=${cp:+:}$JAVA_DIR/$j.jar; done
	echo "$cp"
}

print_env() {
	cat <<EOF
export DRUID_SIDECAR_TEST_ZK='127.0.0.1:$ZK_PORT'
export DRUID_SIDECAR_TEST_PG='postgres://postgres@127.0.0.1:$PG_PORT/postgres?sslmode=disable'
export DRUID_SIDECAR_TEST_MYSQL='mysql://$MY_USER:$MY_PASSWORD@127.0.0.1:$MY_PORT/'
export DRUID_SIDECAR_TEST_S3_ENDPOINT='http://127.0.0.1:$S3_PORT'
export DRUID_SIDECAR_TEST_S3_ACCESS_KEY='$S3_ACCESS_KEY'
export DRUID_SIDECAR_TEST_S3_SECRET_KEY='$S3_SECRET_KEY'
export DRUID_SIDECAR_TEST_S3_REGION='$S3_REGION'
export DRUID_SIDECAR_TEST_JAVA_CP='$(java_classpath)'
export DRUID_SIDECAR_TEST_GCS_ENDPOINT='http://127.0.0.1:$GCS_PORT'
export DRUID_SIDECAR_TEST_AZURE_ENDPOINT='http://127.0.0.1:$AZURE_PORT/$AZURE_ACCOUNT'
export DRUID_SIDECAR_TEST_AZURE_ACCOUNT='$AZURE_ACCOUNT'
export DRUID_SIDECAR_TEST_AZURE_KEY='$AZURE_KEY'
EOF
}

find_pg_bin() {
	if [[ -n ${DRUID_SIDECAR_PG_BIN:-} ]]; then
		PG_BIN=$DRUID_SIDECAR_PG_BIN
		return
	fi
	PG_BIN=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)
}

# as_pg CMD...: run a PostgreSQL server command as the `postgres` OS user when we are root (the server refuses to
# run as root), from a directory that user can read.
as_pg() {
	if ((EUID == 0)); then
		(cd "$PG_DIR" && runuser -u postgres -- "$@")
	else
		(cd "$PG_DIR" && "$@")
	fi
}

lock() {
	mkdir -p "$STATE_DIR"
	exec 9>"$STATE_DIR/.lock"
	flock -w 600 9 || die "another scripts/services.sh is still running on $STATE_DIR (lock $STATE_DIR/.lock)"
}

# ---------------------------------------------------------------------------------------------------------------
# up

install_packages() {
	local t0 missing=() p
	t0=$(now_us)
	for p in "${PACKAGES[@]}"; do
		[[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true) == "install ok installed" ]] || missing+=("$p")
	done
	if ((${#missing[@]} == 0)); then
		log "packages: all ${#PACKAGES[@]} installed ($(since "$t0"))"
		return
	fi
	local sudo=()
	if ((EUID != 0)); then
		command -v sudo >/dev/null || die "packages missing: ${missing[*]}; run as root, or install them: apt-get install ${missing[*]}"
		sudo=(sudo -n)
	fi
	log "packages: installing ${missing[*]}"
	local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -q)
	"${sudo[@]}" "${apt[@]}" update >"$LOG_DIR/apt.log" 2>&1 ||
		die "apt-get update failed. Log: $LOG_DIR/apt.log$(tail_log "$LOG_DIR/apt.log")"
	"${sudo[@]}" "${apt[@]}" install -y --no-install-recommends "${missing[@]}" >>"$LOG_DIR/apt.log" 2>&1 ||
		die "apt-get install ${missing[*]} failed. Log: $LOG_DIR/apt.log$(tail_log "$LOG_DIR/apt.log")"
	log "packages: installed ${#missing[@]} in $(since "$t0")"
}

build_versitygw() {
	local t0 bin=$BIN_DIR/versitygw have
	t0=$(now_us)
	command -v go >/dev/null || die "Go is needed to build the S3 server ($VERSITYGW_MODULE@$VERSITYGW_VERSION) but 'go' is not on PATH"
	if [[ -x $bin ]]; then
		have=$(go version -m "$bin" 2>/dev/null | awk -v m="$VERSITYGW_MODULE" '$1 == "mod" && $2 == m { print $3 }')
		if [[ $have == "$VERSITYGW_VERSION" ]]; then
			log "versitygw: $VERSITYGW_VERSION already built in $BIN_DIR ($(since "$t0"))"
			return
		fi
		log "versitygw: $bin is ${have:-of unknown version}, want $VERSITYGW_VERSION; rebuilding"
	fi
	log "versitygw: building $VERSITYGW_MODULE@$VERSITYGW_VERSION into $BIN_DIR (a few minutes on a cold Go cache)"
	mkdir -p "$BIN_DIR"
	(cd "$STATE_DIR" && GOBIN=$BIN_DIR go install "$VERSITYGW_MODULE/cmd/versitygw@$VERSITYGW_VERSION") \
		>"$LOG_DIR/build-versitygw.log" 2>&1 ||
		die "building versitygw failed. Log: $LOG_DIR/build-versitygw.log$(tail_log "$LOG_DIR/build-versitygw.log")"
	log "versitygw: built in $(since "$t0")"
}

build_fakegcs() {
	local t0 bin=$BIN_DIR/fake-gcs-server have
	t0=$(now_us)
	command -v go >/dev/null || die "Go is needed to build the GCS emulator ($FAKEGCS_MODULE@$FAKEGCS_VERSION) but 'go' is not on PATH"
	if [[ -x $bin ]]; then
		have=$(go version -m "$bin" 2>/dev/null | awk -v m="$FAKEGCS_MODULE" '$1 == "mod" && $2 == m { print $3 }')
		if [[ $have == "$FAKEGCS_VERSION" ]]; then
			log "fake-gcs-server: $FAKEGCS_VERSION already built in $BIN_DIR ($(since "$t0"))"
			return
		fi
		log "fake-gcs-server: $bin is ${have:-of unknown version}, want $FAKEGCS_VERSION; rebuilding"
	fi
	log "fake-gcs-server: building $FAKEGCS_MODULE@$FAKEGCS_VERSION into $BIN_DIR (a few minutes on a cold Go cache)"
	(cd "$STATE_DIR" && GOBIN=$BIN_DIR go install "$FAKEGCS_MODULE@$FAKEGCS_VERSION") \
		>"$LOG_DIR/build-fake-gcs-server.log" 2>&1 ||
		die "building fake-gcs-server failed. Log: $LOG_DIR/build-fake-gcs-server.log$(tail_log "$LOG_DIR/build-fake-gcs-server.log")"
	log "fake-gcs-server: built in $(since "$t0")"
}

# install_azurite: Azurite from the npm registry into the state directory (not globally), checked by the version
# its package.json declares.
install_azurite() {
	local t0 have=""
	t0=$(now_us)
	if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
		# Debian's Node 18 runs Azurite 3.35; a machine that has a Node of its own keeps it.
		log "azurite: node or npm missing; installing Debian's nodejs and npm"
		((EUID == 0)) || die "node and npm are needed to run the Azure emulator (Azurite $AZURITE_VERSION); install Debian's nodejs and npm"
		{ env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -q update &&
			env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -q install -y --no-install-recommends nodejs npm; } \
			>"$LOG_DIR/apt-nodejs.log" 2>&1 ||
			die "apt-get install nodejs npm failed. Log: $LOG_DIR/apt-nodejs.log$(tail_log "$LOG_DIR/apt-nodejs.log")"
	fi
	[[ -s $AZURITE_DIR/node_modules/azurite/package.json ]] &&
		have=$(node -p 'require(process.argv[1]).version' "$AZURITE_DIR/node_modules/azurite/package.json" 2>/dev/null || true)
	if [[ $have == "$AZURITE_VERSION" && -s $AZURITE_MAIN ]]; then
		log "azurite: $AZURITE_VERSION already installed in $AZURITE_DIR ($(since "$t0"))"
		return
	fi
	log "azurite: installing azurite@$AZURITE_VERSION into $AZURITE_DIR (a minute or two)"
	mkdir -p "$AZURITE_DIR"
	npm install --prefix "$AZURITE_DIR" --no-audit --no-fund --no-save --loglevel=error "azurite@$AZURITE_VERSION" \
		>"$LOG_DIR/install-azurite.log" 2>&1 ||
		die "installing azurite failed. Log: $LOG_DIR/install-azurite.log$(tail_log "$LOG_DIR/install-azurite.log")"
	[[ -s $AZURITE_MAIN ]] || die "azurite: $AZURITE_MAIN is missing after npm install"
	log "azurite: installed in $(since "$t0")"
}

start_gcs() {
	local bin=$BIN_DIR/fake-gcs-server pid
	GCS_T0=$(now_us)
	if pid=$(pid_ours "$GCS_PIDFILE" "$bin -scheme http -host 127.0.0.1"); then
		[[ $(<"$RUN_DIR/gcs.port") == "$GCS_PORT" ]] ||
			die "gcs: ours is running (pid $pid) on port $(<"$RUN_DIR/gcs.port"), not $GCS_PORT; run 'scripts/services.sh down' first"
		log "gcs: already running (pid $pid)"
		return
	fi
	port_open "$GCS_PORT" && die_port_taken gcs "$GCS_PORT" DRUID_SIDECAR_GCS_PORT
	mkdir -p "$GCS_DIR/data"
	echo "$GCS_PORT" >"$RUN_DIR/gcs.port"
	launch "$GCS_PIDFILE" "$GCS_LOG" "$bin" -scheme http -host 127.0.0.1 -port "$GCS_PORT" \
		-public-host "127.0.0.1:$GCS_PORT" -external-url "http://127.0.0.1:$GCS_PORT" \
		-backend filesystem -filesystem-root "$GCS_DIR/data" -log-level warn
	log "gcs: started fake-gcs-server on 127.0.0.1:$GCS_PORT (log $GCS_LOG)"
}

start_azure() {
	local pid
	AZURE_T0=$(now_us)
	if pid=$(pid_ours "$AZURE_PIDFILE" "$AZURITE_MAIN --blobHost 127.0.0.1"); then
		[[ $(<"$RUN_DIR/azure.port") == "$AZURE_PORT" ]] ||
			die "azure: ours is running (pid $pid) on port $(<"$RUN_DIR/azure.port"), not $AZURE_PORT; run 'scripts/services.sh down' first"
		log "azure: already running (pid $pid)"
		return
	fi
	port_open "$AZURE_PORT" && die_port_taken azure "$AZURE_PORT" DRUID_SIDECAR_AZURE_PORT
	mkdir -p "$AZURE_DIR/data"
	echo "$AZURE_PORT" >"$RUN_DIR/azure.port"
	# --skipApiVersionCheck: the Go SDK may speak a newer service version than this Azurite knows; --loose accepts
	# headers Azurite does not implement instead of failing the request; --disableProductStyleUrl: the account is
	# always the first path segment (http://127.0.0.1:port/account/container/blob), never read from the host name.
	launch "$AZURE_PIDFILE" "$AZURE_LOG" node "$AZURITE_MAIN" --blobHost 127.0.0.1 --blobPort "$AZURE_PORT" \
		--location "$AZURE_DIR/data" --skipApiVersionCheck --loose --disableProductStyleUrl
	log "azure: started Azurite on 127.0.0.1:$AZURE_PORT (log $AZURE_LOG)"
}

# emulator_status NAME PIDFILE PATTERN CHECK PORT: logs whether an emulator runs and answers; fails if not.
emulator_status() {
	local pid
	if ! pid=$(pid_ours "$2" "$3"); then
		log "$1: not running"
		return 1
	fi
	if ! "$4"; then
		log "$1: pid $pid runs but 127.0.0.1:$5 does not answer"
		return 1
	fi
	log "$1: running, pid $pid, http://127.0.0.1:$5"
}

# Each start_* either finds our own process running (and answering is checked afterwards like for a fresh one) or
# launches a new one; it sets <NAME>_T0 to when the wait for it starts counting.

start_zookeeper() {
	local cfg=$ZK_DIR/zoo.cfg pid
	ZK_T0=$(now_us)
	if pid=$(pid_ours "$ZK_PIDFILE" "ZooKeeperServerMain $cfg"); then
		[[ $(<"$RUN_DIR/zookeeper.port") == "$ZK_PORT" ]] ||
			die "zookeeper: ours is running (pid $pid) on port $(<"$RUN_DIR/zookeeper.port"), not $ZK_PORT; run 'scripts/services.sh down' first"
		log "zookeeper: already running (pid $pid)"
		return
	fi
	port_open "$ZK_PORT" && die_port_taken zookeeper "$ZK_PORT" DRUID_SIDECAR_ZK_PORT
	command -v java >/dev/null || die "zookeeper: 'java' is not on PATH"
	mkdir -p "$ZK_DIR/data"
	cat >"$cfg" <<EOF
# Written by scripts/services.sh; rewritten at every start.
tickTime=500
dataDir=$ZK_DIR/data
clientPort=$ZK_PORT
clientPortAddress=127.0.0.1
admin.enableServer=false
4lw.commands.whitelist=*
# Tests open many sessions from 127.0.0.1; the default limit is 60 per address.
maxClientCnxns=0
# A throwaway test server: no fsync per transaction.
forceSync=no
autopurge.snapRetainCount=3
autopurge.purgeInterval=1
EOF
	echo "$ZK_PORT" >"$RUN_DIR/zookeeper.port"
	launch "$ZK_PIDFILE" "$ZK_LOG" java -Xms64m -Xmx512m -XX:+UseSerialGC \
		-Dzookeeper.jmx.log4j.disable=true \
		-Dorg.slf4j.simpleLogger.showDateTime=true \
		'-Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd HH:mm:ss.SSS' \
		-cp "$JAVA_DIR/zookeeper.jar:$JAVA_DIR/zookeeper-jute.jar:$JAVA_DIR/slf4j-api.jar:$JAVA_DIR/slf4j-simple.jar" \
		org.apache.zookeeper.server.ZooKeeperServerMain "$cfg"
	log "zookeeper: started on 127.0.0.1:$ZK_PORT (log $ZK_LOG)"
}

start_s3() {
	local bin=$BIN_DIR/versitygw pid
	S3_T0=$(now_us)
	if pid=$(pid_ours "$S3_PIDFILE" "$bin --port 127.0.0.1:"); then
		[[ $(<"$RUN_DIR/s3.port") == "$S3_PORT" ]] ||
			die "s3: ours is running (pid $pid) on port $(<"$RUN_DIR/s3.port"), not $S3_PORT; run 'scripts/services.sh down' first"
		log "s3: already running (pid $pid)"
		return
	fi
	port_open "$S3_PORT" && die_port_taken s3 "$S3_PORT" DRUID_SIDECAR_S3_PORT
	mkdir -p "$S3_DIR/data"
	echo "$S3_PORT" >"$RUN_DIR/s3.port"
	launch "$S3_PIDFILE" "$S3_LOG" env ROOT_ACCESS_KEY="$S3_ACCESS_KEY" ROOT_SECRET_KEY="$S3_SECRET_KEY" \
		"$bin" --port "127.0.0.1:$S3_PORT" --region "$S3_REGION" --quiet posix "$S3_DIR/data"
	log "s3: started versitygw on 127.0.0.1:$S3_PORT (log $S3_LOG)"
}

pg_running_port() { # prints the port of our running cluster, if it runs
	[[ -s $PG_DATA/postmaster.pid ]] || return 1
	local pid
	pid=$(head -n 1 "$PG_DATA/postmaster.pid")
	[[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$PG_DATA" || return 1
	sed -n 4p "$PG_DATA/postmaster.pid"
}

start_postgres() {
	local port t0
	PG_T0=$(now_us)
	[[ -n $PG_BIN && -x $PG_BIN/pg_ctl ]] || die "postgres: no server binaries under /usr/lib/postgresql/*/bin (set DRUID_SIDECAR_PG_BIN)"
	if port=$(pg_running_port); then
		[[ $port == "$PG_PORT" ]] ||
			die "postgres: ours is running on port $port, not $PG_PORT; run 'scripts/services.sh down' first"
		log "postgres: already running (pid $(head -n 1 "$PG_DATA/postmaster.pid"))"
		return
	fi
	port_open "$PG_PORT" && die_port_taken postgres "$PG_PORT" DRUID_SIDECAR_PG_PORT
	local sock=$PG_SOCK/.s.PGSQL.$PG_PORT
	((${#sock} <= 100)) || die "postgres: the socket path $sock is too long for a Unix socket; use a shorter DRUID_SIDECAR_STATE_DIR"
	mkdir -p "$PG_DATA" "$PG_SOCK"
	[[ -e $PG_LOG ]] && mv -f "$PG_LOG" "$PG_LOG.prev"
	touch "$PG_LOG"
	if ((EUID == 0)); then
		id postgres >/dev/null 2>&1 || die "postgres: there is no 'postgres' OS user to run the server as (is the postgresql package installed?)"
		chown postgres: "$PG_DIR" "$PG_DATA" "$PG_SOCK" "$PG_LOG"
		runuser -u postgres -- test -w "$PG_DATA" ||
			die "postgres: the 'postgres' OS user cannot reach $PG_DATA (a parent directory is not searchable by it); use DRUID_SIDECAR_STATE_DIR elsewhere"
	fi
	chmod 700 "$PG_DATA"
	if [[ ! -s $PG_DATA/PG_VERSION ]]; then
		t0=$(now_us)
		as_pg "$PG_BIN/initdb" -D "$PG_DATA" -A trust -U postgres -E UTF8 --locale=C --no-sync --no-instructions \
			>"$LOG_DIR/initdb.log" 2>&1 ||
			die "postgres: initdb failed. Log: $LOG_DIR/initdb.log$(tail_log "$LOG_DIR/initdb.log")"
		log "postgres: initdb in $(since "$t0")"
	fi
	# pg_ctl runs the server through a shell, so the socket path is quoted inside the options.
	local opts="-p $PG_PORT -k '$PG_SOCK' -c listen_addresses=127.0.0.1 -c max_connections=200"
	opts+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off" # a throwaway test server
	PG_T0=$(now_us)
	as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -o "$opts" -w -t "$WAIT_TIMEOUT" start \
		>"$LOG_DIR/pg_ctl.log" 2>&1 9>&- ||
		die "postgres: pg_ctl start failed (127.0.0.1:$PG_PORT). Log: $PG_LOG$(tail_log "$PG_LOG")$(tail_log "$LOG_DIR/pg_ctl.log")"
	log "postgres: started on 127.0.0.1:$PG_PORT (log $PG_LOG)"
}

# start_mariadb: a server of our own on its own data directory (mariadb-install-db once), loopback only, ignoring
# /etc/mysql (--no-defaults), with the test account (re)created by an init file before it accepts connections.
start_mariadb() {
	local pid t0 user=()
	MY_T0=$(now_us)
	if pid=$(pid_ours "$MY_PIDFILE" "--datadir=$MY_DATA"); then
		[[ $(<"$RUN_DIR/mariadb.port") == "$MY_PORT" ]] ||
			die "mariadb: ours is running (pid $pid) on port $(<"$RUN_DIR/mariadb.port"), not $MY_PORT; run 'scripts/services.sh down' first"
		log "mariadb: already running (pid $pid)"
		return
	fi
	port_open "$MY_PORT" && die_port_taken mariadb "$MY_PORT" DRUID_SIDECAR_MYSQL_PORT
	command -v mariadbd >/dev/null || PATH=$PATH:/usr/sbin
	command -v mariadbd >/dev/null || die "mariadb: no mariadbd on PATH or in /usr/sbin (is mariadb-server-core installed?)"
	((${#MY_SOCK} <= 100)) || die "mariadb: the socket path $MY_SOCK is too long for a Unix socket; use a shorter DRUID_SIDECAR_STATE_DIR"
	# mariadbd refuses to run as root unless told to: as root it runs as root, on directories only it uses.
	((EUID == 0)) && user=(--user=root)
	mkdir -p "$MY_DATA" "$MY_DIR/run" "$MY_DIR/tmp"
	if [[ ! -d $MY_DATA/mysql ]]; then
		t0=$(now_us)
		mariadb-install-db --no-defaults "${user[@]}" --datadir="$MY_DATA" --skip-test-db \
			>"$LOG_DIR/mariadb-install-db.log" 2>&1 ||
			die "mariadb: mariadb-install-db failed. Log: $LOG_DIR/mariadb-install-db.log$(tail_log "$LOG_DIR/mariadb-install-db.log")"
		log "mariadb: data directory initialised in $(since "$t0")"
	fi
	cat >"$MY_DIR/init.sql" <<EOF
-- Written by scripts/services.sh; the server runs it at every start, before it accepts connections.
CREATE USER IF NOT EXISTS '$MY_USER'@'127.0.0.1' IDENTIFIED BY '$MY_PASSWORD';
GRANT ALL PRIVILEGES ON *.* TO '$MY_USER'@'127.0.0.1' WITH GRANT OPTION;
EOF
	echo "$MY_PORT" >"$RUN_DIR/mariadb.port"
	# utf8mb4 by default, as Druid's documentation creates its database (the charset's default collation). A
	# throwaway test server: no flush per commit, no doublewrite, no binary log, no performance schema.
	launch "$MY_PIDFILE" "$MY_LOG" mariadbd --no-defaults "${user[@]}" --datadir="$MY_DATA" \
		--port="$MY_PORT" --bind-address=127.0.0.1 --socket="$MY_SOCK" --tmpdir="$MY_DIR/tmp" \
		--pid-file="$MY_DIR/run/mariadbd.pid" --init-file="$MY_DIR/init.sql" --skip-name-resolve \
		--character-set-server=utf8mb4 --max-connections=300 --max-allowed-packet=64M \
		--innodb-buffer-pool-size=512M --innodb-flush-log-at-trx-commit=0 --innodb-doublewrite=0 \
		--skip-log-bin --performance-schema=OFF
	log "mariadb: started on 127.0.0.1:$MY_PORT (log $MY_LOG)"
}

cmd_up() {
	local t_all
	t_all=$(now_us)
	lock
	mkdir -p "$BIN_DIR" "$RUN_DIR" "$LOG_DIR"
	install_packages
	build_versitygw
	build_fakegcs
	install_azurite
	find_pg_bin
	# ZooKeeper's JVM and the S3 server come up while PostgreSQL starts.
	STARTING=1
	start_zookeeper
	start_s3
	start_postgres
	start_mariadb
	start_gcs
	start_azure
	wait_ready postgres pg_answers "" "$PG_LOG" "$PG_T0" "127.0.0.1:$PG_PORT"
	wait_ready zookeeper zk_answers "$ZK_PIDFILE" "$ZK_LOG" "$ZK_T0" "127.0.0.1:$ZK_PORT"
	wait_ready s3 s3_answers "$S3_PIDFILE" "$S3_LOG" "$S3_T0" "127.0.0.1:$S3_PORT"
	wait_ready mariadb my_answers "$MY_PIDFILE" "$MY_LOG" "$MY_T0" "127.0.0.1:$MY_PORT"
	wait_ready gcs gcs_answers "$GCS_PIDFILE" "$GCS_LOG" "$GCS_T0" "127.0.0.1:$GCS_PORT"
	wait_ready azure azure_answers "$AZURE_PIDFILE" "$AZURE_LOG" "$AZURE_T0" "127.0.0.1:$AZURE_PORT"
	print_env >"$ENV_FILE.tmp"
	mv -f "$ENV_FILE.tmp" "$ENV_FILE"
	log "environment written to $ENV_FILE"
	log "up in $(since "$t_all")"
}

# ---------------------------------------------------------------------------------------------------------------
# down

# stop_pid NAME PIDFILE PATTERN
stop_pid() {
	local name=$1 pidfile=$2 pattern=$3 pid t0 i
	t0=$(now_us)
	if pid=$(pid_ours "$pidfile" "$pattern"); then
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < 150; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			kill -KILL "$pid" 2>/dev/null || true
			log "$name: did not stop within 15s of SIGTERM; killed pid $pid"
		else
			log "$name: stopped pid $pid in $(since "$t0")"
		fi
	elif [[ -e $pidfile ]]; then
		log "$name: not running (removed stale pid file)"
	else
		log "$name: not running"
	fi
	rm -f "$pidfile"
}

stop_postgres() {
	local t0
	t0=$(now_us)
	if ! pg_running_port >/dev/null; then
		log "postgres: not running"
		return
	fi
	find_pg_bin
	as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >"$LOG_DIR/pg_ctl.log" 2>&1 ||
		die "postgres: pg_ctl stop failed. Log: $LOG_DIR/pg_ctl.log$(tail_log "$LOG_DIR/pg_ctl.log")"
	log "postgres: stopped in $(since "$t0")"
}

cmd_down() {
	local t0
	t0=$(now_us)
	if [[ ! -d $STATE_DIR ]]; then
		log "nothing to stop ($STATE_DIR does not exist)"
		return
	fi
	lock
	mkdir -p "$LOG_DIR"
	# The JVM, versitygw and MariaDB take a second or two each to shut down: stop them side by side.
	stop_pid zookeeper "$ZK_PIDFILE" "ZooKeeperServerMain $ZK_DIR/zoo.cfg" &
	stop_pid s3 "$S3_PIDFILE" "$BIN_DIR/versitygw --port 127.0.0.1:" &
	stop_pid mariadb "$MY_PIDFILE" "--datadir=$MY_DATA" &
	stop_pid gcs "$GCS_PIDFILE" "$BIN_DIR/fake-gcs-server -scheme http -host 127.0.0.1" &
	stop_pid azure "$AZURE_PIDFILE" "$AZURITE_MAIN --blobHost 127.0.0.1" &
	stop_postgres
	wait
	log "down in $(since "$t0")"
}

# ---------------------------------------------------------------------------------------------------------------
# status

cmd_status() {
	local ok=0 pid
	find_pg_bin
	if pid=$(pid_ours "$ZK_PIDFILE" "ZooKeeperServerMain $ZK_DIR/zoo.cfg"); then
		if zk_answers; then log "zookeeper: running, pid $pid, 127.0.0.1:$ZK_PORT"; else log "zookeeper: pid $pid runs but 127.0.0.1:$ZK_PORT does not answer"; ok=1; fi
	else
		log "zookeeper: not running"
		ok=1
	fi
	if pg_running_port >/dev/null; then
		pid=$(head -n 1 "$PG_DATA/postmaster.pid")
		if [[ -n $PG_BIN ]] && pg_answers; then log "postgres: running, pid $pid, 127.0.0.1:$PG_PORT"; else log "postgres: pid $pid runs but 127.0.0.1:$PG_PORT does not answer"; ok=1; fi
	else
		log "postgres: not running"
		ok=1
	fi
	if pid=$(pid_ours "$S3_PIDFILE" "$BIN_DIR/versitygw --port 127.0.0.1:"); then
		if s3_answers; then log "s3: running, pid $pid, http://127.0.0.1:$S3_PORT"; else log "s3: pid $pid runs but 127.0.0.1:$S3_PORT does not answer"; ok=1; fi
	else
		log "s3: not running"
		ok=1
	fi
	if pid=$(pid_ours "$MY_PIDFILE" "--datadir=$MY_DATA"); then
		if my_answers; then log "mariadb: running, pid $pid, 127.0.0.1:$MY_PORT"; else log "mariadb: pid $pid runs but 127.0.0.1:$MY_PORT does not answer"; ok=1; fi
	else
		log "mariadb: not running"
		ok=1
	fi
	emulator_status gcs "$GCS_PIDFILE" "$BIN_DIR/fake-gcs-server -scheme http -host 127.0.0.1" gcs_answers "$GCS_PORT" || ok=1
	emulator_status azure "$AZURE_PIDFILE" "$AZURITE_MAIN --blobHost 127.0.0.1" azure_answers "$AZURE_PORT" || ok=1
	return "$ok"
}

case ${1:-} in
up) cmd_up ;;
down) cmd_down ;;
env) print_env ;;
status) cmd_status ;;
*)
	echo "usage: $0 up|down|env|status" >&2
	exit 2
	;;
esac
