// Package deploy holds the files that run druid-sidecar on Kubernetes, and the tests that keep them right.
//
// Nothing here is compiled into the binary. The directory holds:
//   - Dockerfile: the image, one static binary on a distroless base, running as uid and gid 1000 (a Druid
//     Historical's), with druid-sidecar as the entrypoint.
//   - kubernetes/: plain manifests. historical-companion.yaml runs `companion` as a native sidecar (an init
//     container with restartPolicy Always) beside an unmodified Java Historical; historical-serve.yaml runs `serve`
//     as the Historical beside a segment server written in another language.
//   - helm/druid-sidecar/: a chart with both modes.
//   - kustomize/druid-operator/: a patch that adds `companion` to the Historical StatefulSet druid-operator made,
//     and the additionalContainer alternative in the Druid resource.
//   - existing/: a Helm post-renderer that adds `companion` to the Historical StatefulSet of another chart, with the
//     patch for the Apache Druid chart and a fixture in that chart's shape.
//
// The tests render the chart with helm and the kustomization with kubectl kustomize (helm, and kustomize where
// kubectl is missing, are built from the Go module proxy at pinned versions and kept in the repository's
// .state/bin), decode every object strictly with the Kubernetes API types, so that a misspelt field fails, and
// check what a deployment depends on: the sidecar's restart policy, its probes and their ports, the uid, the
// segment cache mounted where druid.segmentCache.locations says and sized for it, and the configuration each
// container would read loading with configs.Load.
package deploy
