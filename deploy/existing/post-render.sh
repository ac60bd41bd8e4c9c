#!/bin/sh
# A Helm post-renderer that adds druid-sidecar `companion`, as a native sidecar, to the Historical StatefulSet
# another chart renders: helm pipes the rendered manifests in, this adds the patch of the directory given as its
# argument with kustomize, and writes the result out. Because it runs at every `helm install` and `helm upgrade`,
# the companion stays in the release, unlike a patch applied to the live StatefulSet.
#
#   helm upgrade --install druid <chart> -f values.yaml \
#     --post-renderer deploy/existing/post-render.sh --post-renderer-args deploy/existing/apache-druid-chart
#
# The directory holds kustomization.yaml (which names rendered.yaml, what helm pipes in, as its resource) and the
# patch. kustomize comes from `kubectl kustomize` when kubectl is on the PATH, else from the kustomize command;
# $KUSTOMIZE names another kustomize binary.
set -eu
if [ $# -ne 1 ] || [ ! -f "$1/kustomization.yaml" ]; then
	echo "usage: post-render.sh DIR (a directory with kustomization.yaml and the companion patch); manifests on stdin" >&2
	exit 2
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$1"/*.yaml "$work"/
cat >"$work/rendered.yaml"
# Not exec: the trap removes the copies once kustomize is done.
if [ -n "${KUSTOMIZE:-}" ]; then
	"$KUSTOMIZE" build "$work"
elif command -v kubectl >/dev/null 2>&1; then
	kubectl kustomize "$work"
else
	kustomize build "$work"
fi
