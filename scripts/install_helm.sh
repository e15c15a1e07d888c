#!/usr/bin/env bash
# Helm for the deployment tests (helm lint / helm template of deploy/helm/jiph-gateway), built
# with Go from the Go module proxy, since no Helm download site is reachable here. Cached under
# ~/.cache/jiph/ like Kafka's jars and built only when missing (a cold build takes minutes: the
# module downloads and compiling Kubernetes' client libraries). Prints the binary's path.
#
#   JIPH_HELM=/path/to/helm   use that binary instead (nothing is built)
set -euo pipefail

HELM_VERSION="${JIPH_HELM_VERSION:-v3.22.0}"
# Helm's own build stamps the Kubernetes version its client libraries implement (k8s.io/client-go
# v0.37 for Helm v3.22) as .Capabilities.KubeVersion; a plain `go install` would say v1.20.
K8S_MAJOR=1
K8S_MINOR="${JIPH_HELM_K8S_MINOR:-37}"

if [ -n "${JIPH_HELM:-}" ]; then
  echo "$JIPH_HELM"
  exit 0
fi

cache="${XDG_CACHE_HOME:-$HOME/.cache}/jiph/helm-${HELM_VERSION}"
binary="$cache/helm"
if [ -x "$binary" ] && "$binary" version --short 2>/dev/null | grep -q "^${HELM_VERSION}"; then
  echo "$binary"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  echo "install_helm: Go is needed to build Helm ${HELM_VERSION} (apt-get install golang-go," \
    "or a Go toolchain from go.dev)" >&2
  exit 1
fi

mkdir -p "$cache"
partial="$(mktemp -d "$cache/.build.XXXXXX")"
trap 'rm -rf "$partial"' EXIT
started=$(date +%s)
echo "install_helm: building Helm ${HELM_VERSION} with $(go version | cut -d' ' -f3) (once)..." >&2
pkg="helm.sh/helm/v3"
ldflags="-s -w -X ${pkg}/internal/version.version=${HELM_VERSION}"
ldflags+=" -X ${pkg}/internal/version.gitTreeState=clean"
for var in pkg/chartutil pkg/lint/rules; do
  ldflags+=" -X ${pkg}/${var}.k8sVersionMajor=${K8S_MAJOR} -X ${pkg}/${var}.k8sVersionMinor=${K8S_MINOR}"
done
# GOTOOLCHAIN=auto: a Go older than Helm's go.mod asks for fetches that toolchain from the proxy.
if ! GOBIN="$partial" CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -trimpath" GOTOOLCHAIN=auto \
  go install -ldflags "$ldflags" "${pkg}/cmd/helm@${HELM_VERSION}" >"$partial/build.log" 2>&1; then
  tail -20 "$partial/build.log" >&2
  echo "install_helm: building Helm failed (is the Go module proxy reachable?)" >&2
  exit 1
fi
mv "$partial/helm" "$binary"
echo "install_helm: Helm ${HELM_VERSION} built in $(($(date +%s) - started))s: $binary" >&2
echo "$binary"
