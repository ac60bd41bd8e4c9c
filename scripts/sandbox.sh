#!/usr/bin/env bash
# make sandbox: druid-sidecar serve as the only Historical of a Druid cluster stand-in on loopback. It starts the
# local services (installing them on a fresh Debian machine), builds bin/druid-sidecar and the sandbox driver, and
# runs the driver: segments seeded in S3 and published in PostgreSQL, serve started beside the example upstream,
# a Coordinator and a Broker played against it until every segment is loaded and visible. It then prints how to
# look and runs until Ctrl-C or SIGTERM, which stop serve. SANDBOX_EXIT=1 (or --exit) exits once everything is
# loaded; other arguments go to the driver (--port N, --column-bytes N, ...). Running it again reuses the seeded
# data and the segment cache, and stops whatever an earlier run left running.
set -euo pipefail
cd "$(dirname "$0")/.."
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
