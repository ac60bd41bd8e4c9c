// Package interop holds the tests that run druid-sidecar inside a real Apache Druid cluster (internal/realdruid,
// scripts/druid.sh): a real Coordinator assigns real segments to `serve`, a real Broker routes real queries
// through it, and `cluster` reads the real cluster. It has no code outside its tests.
package interop
