# druid-sidecar: build, test, benchmark.
#
#   make sandbox  the README's first command: local services, seeded datasources, `serve` with the example
#                 segment server, and a Coordinator and a Broker stand-in driving it until every segment is served.
#   make demo     the configuration and cache commands, on the local services: config print, cluster, cache pull/ls.
#   make test     the whole test suite, as CI runs it: starts the local services (installing them on a fresh
#                 Debian machine), checks gofmt, runs go vet, go test -race on every package, then the interop
#                 tests against a real Druid cluster (DRUID_REAL_VERSION, default 25.0.0, resolved from Maven
#                 Central once), and brief fuzzing.
#   make interop  the interop tests against every Druid release runnable here (INTEROP_VERSIONS).
#   make unit     unit tests only (go test -short), no services needed.
#   make build    the binary, into bin/druid-sidecar.
#   make image    the container image, with a Docker engine (deploy/Dockerfile; not part of make test).
#   make bench    the performance gate (not part of make test): the benchmarks that hold the targets, three runs
#                 each, a table of each ratio's median against its target and the machine's load; exits 1 when a
#                 target is missed, 2 when a benchmark failed or did not report its ratio (BENCH_LOG keeps the output).
#   make bench-all  every benchmark against its same-run baseline, once, as printed by go test (no verdict).
#   make soak     the fault loops run many times in a row: the ZooKeeper session-loss tests 20 times, the
#                 kill -9 cache loop with SOAK_KILL_ITERATIONS iterations, the prefetch-against-Historical race
#                 test 20 times with SOAK_PREFETCH_ITERATIONS rounds per layout, and SOAK_COMPANION_ROUNDS
#                 random-timing rounds of the companion beside a real Java Historical (not part of make test).
#   make flakes   the flaky-test hunt: every package with go test -race -count=5, except the real-Druid interop
#                 tests (./interop/..., too slow to repeat five times), which run twice after (not part of make test).

GO       ?= go
FUZZTIME ?= 20000x
SOAK_KILL_ITERATIONS ?= 500
SOAK_PREFETCH_ITERATIONS ?= 100
SOAK_COMPANION_ROUNDS ?= 10
# The Druid releases Maven Central serves whole enough to run here (docs/real-druid.md): 25.0.0 on S3 and
# PostgreSQL, 33.0.0 on local deep storage and Derby.
INTEROP_VERSIONS ?= 25.0.0 33.0.0
PKGS     ?= ./...
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null)
LDFLAGS  := -X main.version=$(VERSION) -X main.commit=$(COMMIT)

.PHONY: all sandbox demo build test unit fmt-check vet race interop-test interop fuzz services-up services-down bench bench-all soak flakes

all: build

sandbox:
	bash scripts/sandbox.sh

demo:
	bash scripts/demo.sh

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/druid-sidecar ./cmd/druid-sidecar

test: services-up fmt-check vet race interop-test fuzz

services-up:
	bash scripts/services.sh up

services-down:
	bash scripts/services.sh down

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.state/*')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

# Every package but the interop tests, which start a real Druid cluster and run after, alone, so that its JVMs do
# not share the two cores with the other packages' timing-sensitive tests.
NON_INTEROP = $$($(GO) list $(PKGS) | grep -v '/interop\(/\|$$\)')

race:
	$(GO) test -race -count=1 -timeout 25m $(NON_INTEROP)

interop-test: services-up
	$(GO) test -race -count=1 -timeout 20m ./interop/...

interop: services-up
	@for v in $(INTEROP_VERSIONS); do \
		echo "DRUID_REAL_VERSION=$$v $(GO) test -race -count=1 -timeout 30m ./interop/..."; \
		DRUID_REAL_VERSION=$$v $(GO) test -race -count=1 -timeout 30m ./interop/... || exit 1; \
	done

unit:
	$(GO) test -short -race -count=1 $(PKGS)

fuzz:
	FUZZTIME=$(FUZZTIME) bash scripts/fuzz.sh

# The gate runs each gated benchmark in a go test of its own, at the sizes of the targets (DRUID_SIDECAR_BENCH_*
# size settings are ignored there); BENCH_COUNT runs of each, the median judged. It is built, not go run, which
# would turn its exit status 2 into 1.
BENCH_COUNT ?= 3
BENCH_LOG   ?= bin/bench.log

bench: services-up
	$(GO) build -o bin/benchgate ./internal/benchgate
	bin/benchgate -go $(GO) -count $(BENCH_COUNT) -log $(BENCH_LOG)

bench-all: services-up
	@command -v aws >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq awscli
	$(GO) test -run '^$$' -bench . -benchmem -timeout 60m $(PKGS)

soak: services-up
	$(GO) test -race -count=20 -run '^TestSessionLoss' -timeout 60m ./announcer
	SEGMENTS_KILL_ITERATIONS=$(SOAK_KILL_ITERATIONS) $(GO) test -race -count=1 -run '^TestCacheSurvivesKill9$$' -timeout 60m ./segcache
	PREFETCH_RACE_ITERATIONS=$(SOAK_PREFETCH_ITERATIONS) $(GO) test -race -count=20 -run '^TestPrefetchRacesJavaHistorical$$' -timeout 60m ./segcache
	COMPANION_SOAK_ROUNDS=$(SOAK_COMPANION_ROUNDS) $(GO) test -race -tags soak -count=1 -run '^TestCompanionSoak$$' -timeout 60m ./interop

# The interop packages are left out by path and run twice after.
flakes: services-up
	$(GO) test -race -count=5 -timeout 60m $(NON_INTEROP)
	$(GO) test -race -count=2 -timeout 60m ./interop/...

# The container image (deploy/Dockerfile), on a machine with a Docker engine: built for IMAGE_PLATFORM (this
# machine's by default) and tagged IMAGE. image-binary is the binary the Dockerfile puts in it: make build's,
# stripped (-s -w), for GOOS and GOARCH; CI cross-builds it for linux/arm64 the same way (deploy/deploy_test.go).
IMAGE          ?= druid-sidecar:$(VERSION)
IMAGE_PLATFORM ?= linux/$(shell $(GO) env GOARCH)
IMAGE_BINARY   ?= bin/druid-sidecar

.PHONY: image image-binary

image:
	docker build -f deploy/Dockerfile --platform $(IMAGE_PLATFORM) \
		--build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) -t $(IMAGE) .

image-binary:
	CGO_ENABLED=0 GOOS=$(GOOS) GOARCH=$(GOARCH) $(GO) build -trimpath -ldflags '-s -w $(LDFLAGS)' -o $(IMAGE_BINARY) ./cmd/druid-sidecar
