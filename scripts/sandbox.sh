#!/usr/bin/env bash
# make sandbox: druid-sidecar serve as the only Historical of a Druid cluster stand-in on loopback. It starts the
# local services (installing them on a fresh Debian machine), builds bin/druid-sidecar and the sandbox driver, and
# runs the driver: segments seeded in S3 and published in PostgreSQL, serve started beside the example upstream,
# a Coordinator and a Broker played against it until every segment is loaded and visible. It then prints how to
# look and runs until Ctrl-C or SIGTERM, which stop serve. SANDBOX_EXIT=1 (or --exit) exits once everything is
# loaded; other arguments go to the driver (--port N, --column-bytes N, ...). Running it again reuses the seeded
# data and the segment cache, and stops whatever an earlier run left running.
#
# SANDBOX_DRUID=VERSION (25.0.0, the newest release Maven Central serves whole here) puts serve in a real Druid
# cluster instead of the stand-in: scripts/druid.sh starts it (resolving its jars from Maven Central on first use),
# serve joins it with the cluster's own common.runtime.properties, and a small dataSource is ingested by the real
# Indexer and assigned to serve by the real Coordinator. The stand-in stays the default: it needs no download.
set -euo pipefail
cd "$(dirname "$0")/.."

# sandbox_druid: serve and the example upstream in the real cluster of $SANDBOX_DRUID.
sandbox_druid() {
	local v=$SANDBOX_DRUID
	bash scripts/druid.sh up "$v"
	eval "$(bash scripts/druid.sh env "$v")"
	local state serve_port=26070 upstream_port=26071 ds=sandbox_wikipedia
	state=$(realpath -m "${DRUID_SIDECAR_STATE_DIR:-.state}/sandbox-druid/$v")
	mkdir -p "$state/bin" "$state/log"
	# What an earlier run left running is this script's own (its pid files): stopped before the ports are reused.
	local f
	for f in "$state"/*.pid; do
		[[ -e $f ]] && kill "$(cat "$f")" 2>/dev/null || true
		rm -f "$f"
	done
	make -s build
	go build -o "$state/bin/upstream" ./examples/upstream
	cat >"$state/serve.properties" <<-PROPS
		druid.service=druid/historical
		druid.host=127.0.0.1
		druid.plaintextPort=$serve_port
		druid.server.tier=_default_tier
		druid.segmentCache.locations=[{"path":"$state/segment-cache","maxSize":"10g"}]
		druid.sidecar.upstream=http://127.0.0.1:$upstream_port
	PROPS
	"$state/bin/upstream" -listen "127.0.0.1:$upstream_port" >"$state/log/upstream.log" 2>&1 &
	echo $! >"$state/upstream.pid"
	# serve reads the cluster's own common properties, as a Historical of the cluster does, then its own.
	bin/druid-sidecar serve --properties "$DRUID_REAL_DIR/conf/_common/common.runtime.properties" \
		--properties "$state/serve.properties" >"$state/log/serve.log" 2>&1 &
	echo $! >"$state/serve.pid"
	stop() {
		kill "$(cat "$state/serve.pid")" "$(cat "$state/upstream.pid")" 2>/dev/null || true
		rm -f "$state"/*.pid
	}
	trap 'stop; exit 0' INT TERM

	# One replica on serve's tier (Druid's default rule asks for two in _default_tier, where serve is alone).
	curl -fsS -o /dev/null -H 'Content-Type: application/json' -X POST \
		-d '[{"type":"loadForever","tieredReplicants":{"_default_tier":1}}]' "$DRUID_REAL_COORDINATOR/druid/coordinator/v1/rules/$ds"
	if [[ $(curl -fsS "$DRUID_REAL_COORDINATOR/druid/coordinator/v1/metadata/datasources/$ds/segments" 2>/dev/null || echo '[]') == '[]' ]]; then
		local data='' day task status='' i
		for day in 01 02 03; do
			for i in 1 2 3; do
				data+="{\\\"ts\\\":\\\"2025-01-${day}T0$i:00:00Z\\\",\\\"page\\\":\\\"page$i\\\",\\\"user\\\":\\\"user$day\\\",\\\"added\\\":$i$day}\\n"
			done
		done
		task=$(curl -fsS -H 'Content-Type: application/json' -X POST "$DRUID_REAL_OVERLORD/druid/indexer/v1/task" -d '{
			"type":"index_parallel","spec":{
			"dataSchema":{"dataSource":"'$ds'","timestampSpec":{"column":"ts","format":"iso"},
				"dimensionsSpec":{"dimensions":["page","user"]},"metricsSpec":[{"type":"count","name":"count"},
				{"type":"longSum","name":"added","fieldName":"added"}],
				"granularitySpec":{"segmentGranularity":"DAY","queryGranularity":"NONE","rollup":false}},
			"ioConfig":{"type":"index_parallel","inputSource":{"type":"inline","data":"'"$data"'"},"inputFormat":{"type":"json"}},
			"tuningConfig":{"type":"index_parallel"}}}' | sed 's/.*"task":"\([^"]*\)".*/\1/')
		echo "sandbox: ingesting $ds with the real Indexer (task $task)"
		for i in $(seq 1 180); do
			status=$(curl -fsS "$DRUID_REAL_OVERLORD/druid/indexer/v1/task/$task/status" | sed 's/.*"status":"\([A-Z]*\)".*/\1/')
			[[ $status == SUCCESS || $status == FAILED ]] && break
			sleep 1
		done
		[[ $status == SUCCESS ]] || { stop; echo "sandbox: the ingestion task $task ended $status; its log: $DRUID_REAL_OVERLORD/druid/indexer/v1/task/$task/log" >&2; exit 1; }
	fi
	echo "sandbox: waiting until the Coordinator reports $ds loaded on serve"
	for i in $(seq 1 120); do
		curl -fsS "$DRUID_REAL_COORDINATOR/druid/coordinator/v1/loadstatus" | grep -q "\"$ds\":100.0" && break
		kill -0 "$(cat "$state/serve.pid")" 2>/dev/null || { stop; echo "sandbox: serve exited; its log: $state/log/serve.log" >&2; exit 1; }
		sleep 1
	done
	curl -fsS "$DRUID_REAL_COORDINATOR/druid/coordinator/v1/loadstatus" | grep -q "\"$ds\":100.0" ||
		{ stop; echo "sandbox: $ds not loaded within 120 s; serve's log: $state/log/serve.log" >&2; exit 1; }
	cat <<-EOF
		sandbox: serve (127.0.0.1:$serve_port) is a Historical of a real Druid $v cluster, serving $ds.
		  Coordinator console:  $DRUID_REAL_COORDINATOR/unified-console.html
		  serve's segments:     curl $DRUID_REAL_COORDINATOR/druid/coordinator/v1/servers/127.0.0.1:$serve_port/segments
		  a query via the Broker: curl -H 'Content-Type: application/json' -d '{"queryType":"timeBoundary","dataSource":"$ds"}' $DRUID_REAL_BROKER/druid/v2/
		  logs: $state/log/ and $DRUID_REAL_DIR/log/; the cluster stays up after the sandbox: scripts/druid.sh down $v
	EOF
	if [[ ${SANDBOX_EXIT:-} == 1 || " $* " == *" --exit "* ]]; then
		stop
		return 0
	fi
	wait "$(cat "$state/serve.pid")" || true
	stop
}

if [[ -n ${SANDBOX_DRUID:-} ]]; then
	sandbox_druid "$@"
	exit 0
fi

bash scripts/services.sh up
set -a
# shellcheck disable=SC1091
. "${DRUID_SIDECAR_STATE_DIR:-.state}/services.env"
set +a
state="${DRUID_SIDECAR_STATE_DIR:-.state}/sandbox"
make -s build
# The driver is built and exec'd, rather than run with `go run`, so that a SIGTERM sent to this script's process
# reaches the driver itself (the go command would die of it and leave the driver and serve running).
go build -o "$state/bin/sandbox" ./internal/sandbox/cmd/sandbox
# The services' addresses and keys reach the driver through the environment exported above (its flags default to
# DRUID_SIDECAR_TEST_*), which keeps the S3 keys off the process list.
exec "$state/bin/sandbox" --state-dir "$state" --bin bin/druid-sidecar "$@"
