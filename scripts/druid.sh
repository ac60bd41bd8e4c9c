#!/usr/bin/env bash
# Runs a real Apache Druid cluster on loopback, from the jars Maven Central publishes, against the project's own
# ZooKeeper, PostgreSQL and S3 server (scripts/services.sh): the interop tests' counterpart of the stand-ins.
#
#   scripts/druid.sh up [VERSION]                    resolve the jars (once), start the services if needed, then a
#                                                    Coordinator (also the Overlord), a Broker and an Indexer
#   scripts/druid.sh down [VERSION]                  stop every Druid process of VERSION that `up` or `historical` started
#   scripts/druid.sh historical N up|down [VERSION]  a Java Historical number N (1..99), with its own segment cache
#                                                    (var/historical-N/segment-cache); DRUID_REAL_TIER names its tier
#                                                    (default _default_tier), DRUID_REAL_HISTORICAL_PROPS adds lines to
#                                                    its runtime.properties, DRUID_REAL_FRESH_CACHE=1 empties its cache
#   scripts/druid.sh env [VERSION]                   print the endpoints (`export NAME='value'` lines)
#   scripts/druid.sh status [VERSION]                which processes run; exits 1 unless the three of `up` answer
#   scripts/druid.sh resolve [VERSION]               only resolve the jars into the classpath folders
#
# VERSION defaults to 25.0.0: the newest release of which the Maven Central reachable here serves every artifact a
# cluster on S3 and PostgreSQL needs (druid-services, druid-sql, druid-s3-extensions, postgresql-metadata-storage).
# 33.0.0 is the newest whose core (druid-services, druid-sql) is served whole, without those two extensions: it runs
# with a local deep storage directory and a Derby metadata store (DRUID_REAL_STORAGE=s3|local and
# DRUID_REAL_METADATA=postgresql|derby override the choice). 37.0.0 is the newest druid-services served, but its
# druid-sql is not. docs/real-druid.md lists what is served. Everything lives under <state>/druid/VERSION/ (<state>
# as for scripts/services.sh): pom.xml and settings.xml, lib/ (Druid and its dependencies) and ext/ (the
# extensions, after lib/ on the classpath), conf/, log/, run/ (pid files) and var/ (caches, task directories, task
# logs, the local deep storage and Derby). Each version has its own ZooKeeper base path (/druid-real-VERSION),
# PostgreSQL database (druid_real_V_E_R) and S3 bucket (druid-real-v-e-r), so that versions and the other tests
# never see each other's state. DRUID_REAL_EXTRA_ARTIFACTS adds groupId:artifactId
# pairs of that version to the classpath; DRUID_REAL_MAVEN_REPO sets Maven's local repository (default ~/.m2).
# DRUID_REAL_EXTRA_PROPS (lines) ends every service's common.runtime.properties; `up` restarts a running service
# whose configuration differs from the one it would write.
#
# Ports default to DRUID_REAL_PORT_BASE (26000) + 81 (Coordinator), + 82 (Broker), + 91 (Indexer), + 27 (Derby) and
# + 100 + N (Historical N), for one version at a time: clear of the services' ports, of the sandbox's, and of Linux's ephemeral range (32768-60999).
# DRUID_REAL_TIMEOUT (seconds, default 180) bounds the wait for each service; DRUID_REAL_JAVA_HOME picks the JDK
# (default: the system's java for Druid up to 37, a JDK 25 under /usr/lib/jvm for 38 and later).
set -euo pipefail

REPO_ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
STATE_ROOT=${DRUID_SIDECAR_STATE_DIR:-$REPO_ROOT/.state}
[[ $STATE_ROOT == /* ]] || STATE_ROOT=$REPO_ROOT/$STATE_ROOT

DEFAULT_VERSION=25.0.0
PORT_BASE=${DRUID_REAL_PORT_BASE:-26000}
WAIT_TIMEOUT=${DRUID_REAL_TIMEOUT:-180}
TIER=${DRUID_REAL_TIER:-_default_tier}
BASE_KEY=druid/segments

log() { printf 'druid: %s\n' "$*"; }
die() {
	printf 'druid: ERROR: %s\n' "$*" >&2
	exit 1
}

now_us() { echo "${EPOCHREALTIME//[!0-9]/}"; }
since() {
	local us=$(($(now_us) - $1))
	printf '%d.%03ds' $((us / 1000000)) $((us / 1000 % 1000))
}

[[ $PORT_BASE =~ ^[0-9]{1,5}$ ]] && ((PORT_BASE >= 1024 && PORT_BASE + 200 <= 65535)) ||
	die "DRUID_REAL_PORT_BASE must be a number in 1024..65335, got '$PORT_BASE'"
[[ $WAIT_TIMEOUT =~ ^[0-9]+$ ]] || die "DRUID_REAL_TIMEOUT must be a number of seconds, got '$WAIT_TIMEOUT'"

# set_version VERSION: every name derived from the version.
set_version() {
	VERSION=$1
	[[ $VERSION =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "VERSION must look like 37.0.0, got '$VERSION'"
	MAJOR=${VERSION%%.*}
	DIR=$STATE_ROOT/druid/$VERSION
	LIB=$DIR/lib
	EXT=$DIR/ext
	CONF=$DIR/conf
	LOGS=$DIR/log
	RUN=$DIR/run
	VAR=$DIR/var
	ZK_BASE=/druid-real-$VERSION
	DB=druid_real_${VERSION//./_}
	BUCKET=druid-real-${VERSION//./-}
	# Where the cluster keeps its data depends on what Maven Central serves of that version: S3 deep storage and a
	# PostgreSQL metadata store need druid-s3-extensions and postgresql-metadata-storage, served here for 25.0.0 only
	# among the releases whose druid-services is served; the others use what Druid's core has, a local deep storage
	# directory and a Derby metadata store (run by the Coordinator).
	case $VERSION in
	25.0.0) STORAGE=s3 METADATA=postgresql ;;
	*) STORAGE=local METADATA=derby ;;
	esac
	STORAGE=${DRUID_REAL_STORAGE:-$STORAGE}
	METADATA=${DRUID_REAL_METADATA:-$METADATA}
	[[ $STORAGE == s3 || $STORAGE == local ]] || die "DRUID_REAL_STORAGE must be s3 or local, got '$STORAGE'"
	[[ $METADATA == postgresql || $METADATA == derby ]] || die "DRUID_REAL_METADATA must be postgresql or derby, got '$METADATA'"
	DEEP_DIR=$VAR/deep-storage
	DERBY_PORT=$((PORT_BASE + 27))
	COORDINATOR_PORT=$((PORT_BASE + 81))
	BROKER_PORT=$((PORT_BASE + 82))
	INDEXER_PORT=$((PORT_BASE + 91))
}

# services_env: the addresses of ZooKeeper, PostgreSQL and S3, as scripts/services.sh prints them.
services_env() {
	eval "$(bash "$REPO_ROOT/scripts/services.sh" env)"
	ZK=$DRUID_SIDECAR_TEST_ZK
	S3_ENDPOINT=$DRUID_SIDECAR_TEST_S3_ENDPOINT
	S3_ACCESS_KEY=$DRUID_SIDECAR_TEST_S3_ACCESS_KEY
	S3_SECRET_KEY=$DRUID_SIDECAR_TEST_S3_SECRET_KEY
	S3_REGION=$DRUID_SIDECAR_TEST_S3_REGION
	# postgres://postgres@127.0.0.1:25432/postgres?sslmode=disable
	local pg=${DRUID_SIDECAR_TEST_PG#postgres://}
	PG_USER=${pg%%@*}
	pg=${pg#*@}
	PG_HOSTPORT=${pg%%/*}
}

java_home() {
	if [[ -n ${DRUID_REAL_JAVA_HOME:-} ]]; then
		echo "$DRUID_REAL_JAVA_HOME"
	elif ((MAJOR >= 38)); then
		# Druid 38 runs on Java 21 or 25 and 39 on 25 only: the newest JDK 25 installed.
		local j
		j=$(find /usr/lib/jvm -maxdepth 1 -name '*25*' -type d 2>/dev/null | sort -V | tail -n 1)
		[[ -n $j ]] || die "Druid $VERSION needs Java 25 (or 21 for 38), and no JDK 25 is under /usr/lib/jvm; set DRUID_REAL_JAVA_HOME"
		echo "$j"
	else
		dirname "$(dirname "$(readlink -f "$(command -v java)")")"
	fi
}

# ---------------------------------------------------------------------------------------------------------------
# resolve

write_pom() {
	mkdir -p "$DIR"
	cat >"$DIR/settings.xml.tmp" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by scripts/druid.sh. Druid's parent POM names repositories besides Central: every one is Central. -->
<settings>
  <mirrors>
    <mirror><id>central-for-all</id><mirrorOf>*</mirrorOf><url>https://repo.maven.apache.org/maven2</url></mirror>
  </mirrors>
</settings>
EOF
	mv -f "$DIR/settings.xml.tmp" "$DIR/settings.xml"
	# One resolution for all four, so that Maven picks one version of each shared dependency; then two copies:
	# Druid's extensions (their own jars only, groupId org.apache.druid.extensions) to ext/, the rest to lib/.
	# org.hyperic:sigar is not on Central; only the deprecated SysMonitor uses it.
	local dep exclusions='<exclusions><exclusion><groupId>org.hyperic</groupId><artifactId>sigar</artifactId></exclusion></exclusions>'
	local deps=""
	local artifacts=(org.apache.druid:druid-services)
	[[ $STORAGE == s3 ]] && artifacts+=(org.apache.druid.extensions:druid-s3-extensions)
	[[ $METADATA == postgresql ]] && artifacts+=(org.apache.druid.extensions:postgresql-metadata-storage)
	# shellcheck disable=SC2206 # a list of groupId:artifactId words
	artifacts+=(${DRUID_REAL_EXTRA_ARTIFACTS:-})
	for dep in "${artifacts[@]}"; do
		deps+="    <dependency><groupId>${dep%%:*}</groupId><artifactId>${dep#*:}</artifactId><version>$VERSION</version>$exclusions</dependency>
"
	done
	cat >"$DIR/pom.xml.tmp" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by scripts/druid.sh: the classpath of a Druid $VERSION cluster. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>druid-sidecar.interop</groupId>
  <artifactId>druid-classpath</artifactId>
  <version>$VERSION</version>
  <packaging>pom</packaging>
  <dependencies>
$deps  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-dependency-plugin</artifactId>
        <version>3.6.1</version>
        <configuration>
          <includeScope>runtime</includeScope>
          <overWriteReleases>false</overWriteReleases>
        </configuration>
        <executions>
          <execution>
            <id>lib</id>
            <configuration>
              <outputDirectory>\${project.basedir}/lib.new</outputDirectory>
              <excludeGroupIds>org.apache.druid.extensions</excludeGroupIds>
            </configuration>
          </execution>
          <execution>
            <id>ext</id>
            <configuration>
              <outputDirectory>\${project.basedir}/ext.new</outputDirectory>
              <includeGroupIds>org.apache.druid.extensions</includeGroupIds>
            </configuration>
          </execution>
        </executions>
      </plugin>
    </plugins>
  </build>
</project>
EOF
	mv -f "$DIR/pom.xml.tmp" "$DIR/pom.xml"
}

# resolve: lib/ and ext/ from Maven Central, once; the marker holds the pom's checksum, so a changed pom resolves again.
resolve() {
	local t0 sum mlog=$DIR/log/maven.log
	write_pom
	sum=$(sha256sum "$DIR/pom.xml" | cut -d' ' -f1)
	if [[ -s $DIR/.resolved && $(<"$DIR/.resolved") == "$sum" && -d $LIB && -d $EXT ]]; then
		log "classpath: $(ls "$LIB" | wc -l) jars in lib/, $(ls "$EXT" | wc -l) in ext/ (cached)"
		return
	fi
	mkdir -p "$DIR/log"
	if ! command -v mvn >/dev/null; then
		# As scripts/services.sh does for its packages: a fresh Debian machine gets Maven from Debian.
		((EUID == 0)) || die "Maven ('mvn') is needed to fetch Druid $VERSION's jars from Maven Central: apt-get install maven"
		log "maven: installing Debian's package"
		{ DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -q update &&
			DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -q install -y --no-install-recommends maven; } \
			>"$DIR/log/apt.log" 2>&1 || die "apt-get install maven failed. Log: $DIR/log/apt.log"
	fi
	rm -rf "$DIR/lib.new" "$DIR/ext.new"
	log "classpath: resolving Druid $VERSION from Maven Central (minutes on a cold Maven cache; log $mlog)"
	t0=$(now_us)
	local repo=()
	[[ -n ${DRUID_REAL_MAVEN_REPO:-} ]] && repo=(-Dmaven.repo.local="$DRUID_REAL_MAVEN_REPO")
	if ! (cd "$DIR" && mvn -B -s settings.xml "${repo[@]}" dependency:copy-dependencies@lib dependency:copy-dependencies@ext) >"$mlog" 2>&1; then
		local what
		what=$(grep -oE "(Could not find artifact|Could not transfer artifact|The following artifacts could not be resolved:|Failed to read artifact descriptor for|Non-resolvable [a-z ]*POM[^:]*:) [^ ,]+" "$mlog" | head -n 1)
		die "Maven could not resolve Druid $VERSION: ${what:-see the log}. Log: $mlog"
	fi
	mkdir -p "$DIR/lib.new" "$DIR/ext.new" # a version without extensions copies none
	rm -rf "$LIB" "$EXT"
	mv "$DIR/lib.new" "$LIB"
	mv "$DIR/ext.new" "$EXT"
	echo "$sum" >"$DIR/.resolved"
	log "classpath: resolved in $(since "$t0"): $(ls "$LIB" | wc -l) jars in lib/ ($(du -sh "$LIB" | cut -f1)), $(ls "$EXT" | wc -l) in ext/ ($(du -sh "$EXT" | cut -f1))"
}

# ---------------------------------------------------------------------------------------------------------------
# configuration

metadata_properties() {
	if [[ $METADATA == postgresql ]]; then
		cat <<EOF
druid.metadata.storage.type=postgresql
druid.metadata.storage.connector.connectURI=jdbc:postgresql://$PG_HOSTPORT/$DB
druid.metadata.storage.connector.user=$PG_USER
druid.metadata.storage.connector.password=
druid.metadata.storage.connector.createTables=true
EOF
	else
		cat <<EOF
# Derby, served by the Coordinator on its own port.
druid.metadata.storage.type=derby
druid.metadata.storage.connector.connectURI=jdbc:derby://127.0.0.1:$DERBY_PORT/$VAR/metadata.db;create=true
druid.metadata.storage.connector.host=127.0.0.1
druid.metadata.storage.connector.port=$DERBY_PORT
druid.metadata.storage.connector.createTables=true
EOF
	fi
}

storage_properties() {
	if [[ $STORAGE == s3 ]]; then
		cat <<EOF
druid.storage.type=s3
druid.storage.bucket=$BUCKET
druid.storage.baseKey=$BASE_KEY
# Without it every push first asks GET ?acl.
druid.storage.disableAcl=true
druid.s3.accessKey=$S3_ACCESS_KEY
druid.s3.secretKey=$S3_SECRET_KEY
druid.s3.endpoint.url=$S3_ENDPOINT
druid.s3.endpoint.signingRegion=$S3_REGION
druid.s3.enablePathStyleAccess=true
druid.s3.protocol=http
EOF
		((MAJOR <= 36)) && cat <<EOF
# AWS SDK v1 (Druid up to 36): S3 servers other than AWS do not all take aws-chunked uploads.
druid.s3.disableChunkedEncoding=true
EOF
	else
		cat <<EOF
druid.storage.type=local
druid.storage.storageDirectory=$DEEP_DIR
EOF
	fi
	return 0
}

write_common() {
	mkdir -p "$CONF/_common" "$VAR/indexing-logs" "$DEEP_DIR"
	cat >"$CONF/_common/common.runtime.properties" <<EOF
# Written by scripts/druid.sh at every start.
druid.host=127.0.0.1
druid.zk.service.host=$ZK
druid.zk.paths.base=$ZK_BASE
# Extensions load from the classpath (ext/), not from an extensions directory.
druid.extensions.loadList=[]
druid.extensions.searchCurrentClassloader=true
$(metadata_properties)
$(storage_properties)
druid.indexer.logs.type=file
druid.indexer.logs.directory=$VAR/indexing-logs
druid.selectors.indexing.serviceName=druid/overlord
druid.selectors.coordinator.serviceName=druid/coordinator
druid.emitter=noop
druid.lookup.enableLookupSyncOnStartup=false
druid.startup.logging.logProperties=false
druid.server.http.numThreads=16
# Jetty waits this long for requests in flight at a stop (long-polls among them); the default is 30 s.
druid.server.http.gracefulShutdownTimeout=PT1S
# A Coordinator or Broker that starts while a node killed a moment ago is still in discovery waits, before it
# answers at all, for that node's first inventory sync, up to serverTimeout (4 minutes by default), and Druid 25 keeps
# waiting after the node has left discovery: 20 s keeps a restart within this script's start timeout. It is also
# the inventory long-poll's timeout, which any Historical accepts.
druid.serverview.http.serverTimeout=PT20S
# DRUID_REAL_EXTRA_PROPS, last so that it overrides the lines above.
${DRUID_REAL_EXTRA_PROPS:-}
EOF
	cat >"$CONF/_common/log4j2.xml" <<'EOF'
<?xml version="1.0" encoding="UTF-8" ?>
<!-- Written by scripts/druid.sh: everything to the console, which the script sends to the service's log file. -->
<Configuration status="WARN">
  <Appenders>
    <Console name="Console" target="SYSTEM_OUT">
      <PatternLayout pattern="%d{ISO8601} %p [%t] %c - %m%n"/>
    </Console>
  </Appenders>
  <Loggers>
    <Root level="info"><AppenderRef ref="Console"/></Root>
    <Logger name="org.apache.druid.jetty.RequestLog" additivity="false" level="warn"><AppenderRef ref="Console"/></Logger>
  </Loggers>
</Configuration>
EOF
}

# Processing: 50 MiB buffers, one thread, two merge buffers; direct memory must hold (1 + 1 + 2) buffers.
PROCESSING="druid.processing.buffer.sizeBytes=52428800
druid.processing.numThreads=1
druid.processing.numMergeBuffers=2
druid.processing.tmpDir=$STATE_ROOT/tmp"

# write_service NAME SERVICE PORT PROPS...: conf/NAME/runtime.properties.
write_service() {
	local name=$1 service=$2 port=$3
	shift 3
	mkdir -p "$CONF/$name"
	{
		echo "# Written by scripts/druid.sh at every start."
		echo "druid.service=$service"
		echo "druid.plaintextPort=$port"
		printf '%s\n' "$@"
	} >"$CONF/$name/runtime.properties"
}

write_coordinator() {
	write_service coordinator druid/coordinator "$COORDINATOR_PORT" \
		"druid.coordinator.asOverlord.enabled=true" \
		"druid.coordinator.asOverlord.overlordService=druid/overlord" \
		"# Fast periods, as Druid's embedded tests use them: assignments within a second or two." \
		"druid.coordinator.startDelay=PT1S" \
		"druid.coordinator.period=PT1S" \
		"druid.manager.segments.pollDuration=PT1S" \
		"druid.manager.rules.pollDuration=PT5S" \
		"druid.indexer.storage.type=metadata" \
		"druid.indexer.queue.startDelay=PT0S" \
		"druid.indexer.runner.type=httpRemote"
}

write_broker() {
	write_service broker druid/broker "$BROKER_PORT" "$PROCESSING" \
		"druid.broker.http.numConnections=5" \
		"druid.sql.planner.metadataRefreshPeriod=PT1S"
}

write_indexer() {
	mkdir -p "$VAR/indexer/task"
	write_service indexer druid/indexer "$INDEXER_PORT" "$PROCESSING" \
		"druid.worker.capacity=1" \
		"druid.worker.baseTaskDirs=[\"$VAR/indexer/task\"]" \
		"druid.indexer.task.baseTaskDir=$VAR/indexer/task" \
		"druid.indexer.task.restoreTasksOnRestart=false"
}

write_historical() { # N
	local n=$1 cache=$VAR/historical-$1/segment-cache
	# The cache is this script's own (under its state directory): emptied on request, for a Historical that starts
	# with nothing.
	[[ -n ${DRUID_REAL_FRESH_CACHE:-} ]] && rm -rf "$cache"
	mkdir -p "$cache"
	write_service "historical-$n" druid/historical "$((PORT_BASE + 100 + n))" "$PROCESSING" \
		"druid.server.tier=$TIER" \
		"druid.server.maxSize=10g" \
		"druid.segmentCache.locations=[{\"path\":\"$cache\",\"maxSize\":\"10g\"}]" \
		"druid.segmentCache.numLoadingThreads=2" \
		"${DRUID_REAL_HISTORICAL_PROPS:-}"
}

# ---------------------------------------------------------------------------------------------------------------
# processes

pidfile() { echo "$RUN/$1.pid"; }

# ours NAME: the pid file names a live java whose command line runs this version's conf/NAME. Prints the pid.
ours() {
	local f pid
	f=$(pidfile "$1")
	[[ -s $f ]] || return 1
	pid=$(<"$f")
	[[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$CONF/$1:" || return 1
	echo "$pid"
}

port_open() { timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0"' "$1" 2>/dev/null; }

healthy() { [[ $(curl -fsS -m 2 "http://127.0.0.1:$1/status/health" 2>/dev/null) == true ]]; }

rss_mib() { awk '/^VmRSS:/ { printf "%d MiB", $2 / 1024 }' "/proc/$1/status" 2>/dev/null; }

# JVM flags Java 17+ needs for Druid (docs/operations/java.md), and a timezone and encoding Druid insists on.
jvm_flags() {
	JVM_FLAGS=(--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED --add-exports=java.base/jdk.internal.ref=ALL-UNNAMED
		--add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED
		--add-opens=java.base/jdk.internal.ref=ALL-UNNAMED --add-opens=java.base/java.io=ALL-UNNAMED
		--add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=jdk.management/com.sun.management.internal=ALL-UNNAMED
		-XX:+ExitOnOutOfMemoryError -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xss512k
		-Duser.timezone=UTC -Dfile.encoding=UTF-8 -Djava.io.tmpdir="$STATE_ROOT/tmp"
		-Djava.util.logging.manager=org.apache.logging.log4j.jul.LogManager
		# AWS SDK v2 (Druid 37+) adds CRC32 checksums to every request and checks them on responses unless told to
		# do so only where S3 requires it.
		-Daws.requestChecksumCalculation=when_required -Daws.responseChecksumValidation=when_required)
	((MAJOR >= 38)) && JVM_FLAGS+=(--add-modules=jdk.incubator.vector)
	return 0
}

# start NAME ROLE PORT HEAP DIRECT: launch one service and wait until it answers /status/health.
start() {
	local name=$1 role=$2 port=$3 heap=$4 direct=$5 pid t0 logfile=$LOGS/$1.log deadline jh
	local sum
	sum=$(cat "$CONF/_common/"* "$CONF/$name/"* | sha256sum | cut -d' ' -f1)
	if pid=$(ours "$name"); then
		# A running service is kept only if it runs with the configuration just written (the extra properties of
		# this call included); otherwise it is restarted with it.
		if [[ $(cat "$RUN/$name.conf.sha" 2>/dev/null) == "$sum" ]]; then
			healthy "$port" || die "$name: ours is running (pid $pid) but does not answer http://127.0.0.1:$port/status/health. Log: $logfile"
			log "$name: already running (pid $pid) on 127.0.0.1:$port"
			return
		fi
		log "$name: its configuration changed; restarting it"
		stop "$name"
	fi
	port_open "$port" && die "$name: port 127.0.0.1:$port is taken by a process that is not ours; set DRUID_REAL_PORT_BASE"
	jh=$(java_home)
	[[ -x $jh/bin/java ]] || die "$name: no java in $jh (DRUID_REAL_JAVA_HOME)"
	jvm_flags
	mkdir -p "$LOGS" "$RUN" "$STATE_ROOT/tmp"
	[[ -e $logfile ]] && mv -f "$logfile" "$logfile.prev"
	printf '=== started by scripts/druid.sh at %(%F %T)T\n' -1 >"$logfile"
	t0=$(now_us)
	setsid bash -c 'echo $$ >"$0"; exec "$@"' "$(pidfile "$name")" "$jh/bin/java" -Xms"$heap" -Xmx"$heap" \
		-XX:MaxDirectMemorySize="$direct" "${JVM_FLAGS[@]}" \
		-cp "$CONF/_common:$CONF/$name:$LIB/*:$EXT/*" org.apache.druid.cli.Main server "$role" \
		</dev/null >>"$logfile" 2>&1 9>&- &
	deadline=$(($(now_us) + WAIT_TIMEOUT * 1000000))
	until healthy "$port"; do
		pid=$(cat "$(pidfile "$name")" 2>/dev/null || true)
		if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
			die "$name did not start: it exited before answering on 127.0.0.1:$port. Log: $logfile
$(grep -m 3 -E 'ERROR|Exception|Error:' "$logfile" | cut -c1-300 | sed 's/^/  | /')"
		fi
		(($(now_us) < deadline)) ||
			die "$name did not start: no answer on http://127.0.0.1:$port/status/health within ${WAIT_TIMEOUT}s (DRUID_REAL_TIMEOUT). Log: $logfile"
		sleep 0.5
	done
	pid=$(<"$(pidfile "$name")")
	echo "$sum" >"$RUN/$name.conf.sha"
	log "$name: answering on 127.0.0.1:$port after $(since "$t0") (pid $pid, RSS $(rss_mib "$pid"), log $logfile)"
}

stop() { # NAME
	local name=$1 pid i t0
	t0=$(now_us)
	pid=$(ours "$name") || {
		rm -f "$(pidfile "$name")"
		return 0
	}
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 300; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null || true
		log "$name: did not stop within 30s of SIGTERM; killed pid $pid"
	else
		log "$name: stopped pid $pid in $(since "$t0")"
	fi
	rm -f "$(pidfile "$name")"
}

# ---------------------------------------------------------------------------------------------------------------
# the cluster's own database and bucket

ensure_database() {
	local host=${PG_HOSTPORT%:*} port=${PG_HOSTPORT##*:}
	if [[ -z $(psql -h "$host" -p "$port" -U "$PG_USER" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'") ]]; then
		psql -q -h "$host" -p "$port" -U "$PG_USER" -d postgres -c "CREATE DATABASE $DB" ||
			die "could not create the PostgreSQL database $DB on $PG_HOSTPORT"
		log "postgres: created database $DB"
	fi
}

ensure_bucket() {
	local code
	# versitygw requires x-amz-content-sha256 on every signed request; this one is the SHA-256 of the empty body.
	code=$(curl -sS -o /dev/null -w '%{http_code}' -m 10 --aws-sigv4 "aws:amz:$S3_REGION:s3" \
		-H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
		--user "$S3_ACCESS_KEY:$S3_SECRET_KEY" -X PUT "$S3_ENDPOINT/$BUCKET") ||
		die "could not reach the S3 server at $S3_ENDPOINT to create the bucket $BUCKET"
	case $code in
	200) log "s3: created bucket $BUCKET" ;;
	409) ;; # BucketAlreadyOwnedByYou
	*) die "the S3 server at $S3_ENDPOINT answered $code to creating the bucket $BUCKET" ;;
	esac
}

# ---------------------------------------------------------------------------------------------------------------
# commands

print_env() {
	cat <<EOF
export DRUID_REAL_VERSION='$VERSION'
export DRUID_REAL_COORDINATOR='http://127.0.0.1:$COORDINATOR_PORT'
export DRUID_REAL_OVERLORD='http://127.0.0.1:$COORDINATOR_PORT'
export DRUID_REAL_BROKER='http://127.0.0.1:$BROKER_PORT'
export DRUID_REAL_INDEXER='http://127.0.0.1:$INDEXER_PORT'
export DRUID_REAL_HISTORICAL_PORT_BASE='$((PORT_BASE + 100))'
export DRUID_REAL_ZK='$ZK'
export DRUID_REAL_ZK_BASE='$ZK_BASE'
export DRUID_REAL_METADATA='$METADATA'
export DRUID_REAL_STORAGE='$STORAGE'
export DRUID_REAL_STORAGE_DIR='$DEEP_DIR'
export DRUID_REAL_DATABASE='$DB'
export DRUID_REAL_PG='$( [[ $METADATA == postgresql ]] && echo "postgres://$PG_USER@$PG_HOSTPORT/$DB?sslmode=disable")'
export DRUID_REAL_S3_ENDPOINT='$S3_ENDPOINT'
export DRUID_REAL_S3_ACCESS_KEY='$S3_ACCESS_KEY'
export DRUID_REAL_S3_SECRET_KEY='$S3_SECRET_KEY'
export DRUID_REAL_S3_REGION='$S3_REGION'
export DRUID_REAL_BUCKET='$BUCKET'
export DRUID_REAL_BASE_KEY='$BASE_KEY'
export DRUID_REAL_DIR='$DIR'
EOF
}

lock() {
	mkdir -p "$DIR"
	exec 9>"$DIR/.lock"
	flock -w 900 9 || die "another scripts/druid.sh is still running for $VERSION (lock $DIR/.lock)"
}

cmd_up() {
	local t_all
	t_all=$(now_us)
	lock
	bash "$REPO_ROOT/scripts/services.sh" up >"$STATE_ROOT/druid/services-up.log" 2>&1 ||
		die "the local services did not start: $(grep -m 1 'ERROR' "$STATE_ROOT/druid/services-up.log"). Log: $STATE_ROOT/druid/services-up.log"
	services_env
	resolve
	[[ $METADATA == postgresql ]] && ensure_database
	[[ $STORAGE == s3 ]] && ensure_bucket
	write_common
	write_coordinator
	write_broker
	write_indexer
	# One after the other: on 2 cores, three JVMs starting at once take longer than in turn.
	start coordinator coordinator "$COORDINATOR_PORT" 512m 64m
	start broker broker "$BROKER_PORT" 512m 256m
	start indexer indexer "$INDEXER_PORT" 768m 256m
	print_env >"$DIR/druid.env.tmp"
	mv -f "$DIR/druid.env.tmp" "$DIR/druid.env"
	log "Druid $VERSION up in $(since "$t_all") (environment in $DIR/druid.env)"
}

cmd_down() {
	lock
	local f name
	for f in "$RUN"/historical-*.pid; do
		[[ -e $f ]] || continue
		name=$(basename "$f" .pid)
		stop "$name"
	done
	stop indexer
	stop broker
	stop coordinator
}

cmd_historical() { # N up|down
	local n=$1 what=$2
	[[ $n =~ ^[0-9]{1,2}$ ]] && ((10#$n >= 1)) || die "historical N: N must be 1..99, got '$n'"
	n=$((10#$n))
	lock
	case $what in
	up)
		services_env
		resolve
		write_common
		write_historical "$n"
		start "historical-$n" historical "$((PORT_BASE + 100 + n))" 512m 256m
		;;
	down) stop "historical-$n" ;;
	*) die "historical N up|down, got '$what'" ;;
	esac
}

cmd_status() {
	local ok=0 name port pid f
	for name in coordinator broker indexer; do
		case $name in
		coordinator) port=$COORDINATOR_PORT ;;
		broker) port=$BROKER_PORT ;;
		indexer) port=$INDEXER_PORT ;;
		esac
		if pid=$(ours "$name") && healthy "$port"; then
			log "$name: running (pid $pid, RSS $(rss_mib "$pid")) on 127.0.0.1:$port"
		else
			log "$name: not running"
			ok=1
		fi
	done
	for f in "$RUN"/historical-*.pid; do
		[[ -e $f ]] || continue
		name=$(basename "$f" .pid)
		pid=$(ours "$name") && log "$name: running (pid $pid, RSS $(rss_mib "$pid")) on 127.0.0.1:$((PORT_BASE + 100 + ${name#historical-}))"
	done
	return $ok
}

usage() {
	sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
	exit 2
}

cmd=${1:-}
case $cmd in
up | down | env | status | resolve)
	set_version "${2:-$DEFAULT_VERSION}"
	case $cmd in
	up) cmd_up ;;
	down) cmd_down ;;
	env)
		services_env
		print_env
		;;
	status) cmd_status ;;
	resolve)
		lock
		resolve
		;;
	esac
	;;
historical)
	[[ $# -ge 3 ]] || usage
	set_version "${4:-$DEFAULT_VERSION}"
	cmd_historical "$2" "$3"
	;;
*) usage ;;
esac
