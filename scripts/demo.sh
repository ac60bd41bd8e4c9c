#!/usr/bin/env bash
# What druid-sidecar does today, on the local services: resolve a Historical's configuration (values, sources,
# no secrets), read the cluster from ZooKeeper, write a few segments in Druid's index.zip layout to S3, pull
# each into the segment cache as a Coordinator's load would, then list and verify the cache.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/services.sh up >/dev/null
set -a
# shellcheck disable=SC1091
. "${DRUID_SIDECAR_STATE_DIR:-.state}/services.env"
set +a
export DEMO_METADATA_PASSWORD=demo-password-never-printed
conf=(--properties examples/conf/druid/_common/common.runtime.properties
      --properties examples/conf/druid/historical/runtime.properties)
bin=bin/druid-sidecar
make -s build
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
step "$bin" version
step "$bin" config print "${conf[@]}" --format properties | grep -E -A1 '^# (file|env|flag)' | grep -v '^--$'
step "$bin" cluster "${conf[@]}"
mkdir -p .state/demo
printf '\n\033[1m$ go run ./internal/sandbox/seed > .state/demo/segments.jsonl\033[0m   (6 segments in index.zip layout to S3)\n'
go run ./internal/sandbox/seed --days 3 --partitions 2 > .state/demo/segments.jsonl
head -c 400 .state/demo/segments.jsonl; echo '…'
while read -r seg; do
	step "$bin" cache pull "${conf[@]}" --log-level warn - <<<"$seg"
done < .state/demo/segments.jsonl
step "$bin" cache ls "${conf[@]}"
step "$bin" cache verify "${conf[@]}"
