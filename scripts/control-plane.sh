#!/usr/bin/env bash
# Builds, or reuses, the pinned Kubernetes control plane the end-to-end tests start on loopback:
# etcd, kube-apiserver, kube-controller-manager and kubectl, compiled from the Go module in
# tools/control-plane/ (k8s.io/kubernetes and go.etcd.io/etcd/server/v3 at the versions its go.mod
# pins). The binaries go to a cache outside the clone,
#   ${XDG_CACHE_HOME:-$HOME/.cache}/sendgrid-tls-operator/control-plane/<kubernetes version>/
# (or $SGTLS_CONTROL_PLANE_DIR), and are reused while the module's files are unchanged: a second
# run takes seconds. Go's own module and build caches (go env GOMODCACHE GOCACHE) make a rebuild
# after a change cheaper too.
#
#   scripts/control-plane.sh              build or reuse, then print the directory
#   scripts/control-plane.sh --print-dir  only print the directory (what the tests read)
set -euo pipefail
cd "$(dirname "$0")/../tools/control-plane"

log() { echo "control-plane: $*" >&2; }

version=$(awk '$1 == "k8s.io/kubernetes" && $2 ~ /^v/ { print $2; exit }' go.mod)
etcd_version=$(awk '$1 == "go.etcd.io/etcd/server/v3" && $2 ~ /^v/ { print $2; exit }' go.mod)
[[ -n $version && -n $etcd_version ]] || { log "cannot read the pinned versions from go.mod" >&2; exit 1; }
dir=${SGTLS_CONTROL_PLANE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sendgrid-tls-operator/control-plane/$version}
if [[ ${1:-} == --print-dir ]]; then
  echo "$dir"
  exit 0
fi

binaries=(etcd kube-apiserver kube-controller-manager kubectl)
# The tests compute the same digest (tests/e2e/control_plane.rs) to refuse stale binaries.
inputs=(go.mod go.sum tools.go etcd/main.go)
wanted=$(cat "${inputs[@]}" | sha256sum | cut -d' ' -f1)
complete() {
  [[ -f $dir/stamp && $(head -n1 "$dir/stamp") == "$wanted" ]] || return 1
  for binary in "${binaries[@]}"; do [[ -x $dir/$binary ]] || return 1; done
}
if complete; then
  log "reusing Kubernetes $version and etcd $etcd_version in $dir"
  echo "$dir"
  exit 0
fi

if ! command -v go >/dev/null; then
  # The Go toolchain's usual place, when it is not on PATH.
  [[ -x /usr/local/go/bin/go ]] || { log "error: go not found: install Go 1.25 or newer" >&2; exit 1; }
  PATH=/usr/local/go/bin:$PATH
fi
started=$SECONDS
log "building Kubernetes $version (kube-apiserver, kube-controller-manager, kubectl) and etcd $etcd_version with $(go env GOVERSION) into $dir"
log "(with an empty Go build cache about 10 minutes on 2 cores; $(go env GOCACHE) keeps compiled packages for the next build)"
mkdir -p "$(dirname "$dir")"
staging=$(mktemp -d "$dir.building.XXXXXX")
trap 'rm -rf "$staging"' EXIT
# The version the binaries report (/version, kubectl version), as a release build stamps it.
minor=${version#v1.}
minor=${minor%%.*}
pkg=k8s.io/component-base/version
ldflags="-s -w -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
CGO_ENABLED=0 go build -ldflags "$ldflags" -o "$staging/" ./etcd \
  k8s.io/kubernetes/cmd/kube-apiserver \
  k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kubectl
printf '%s\n%s\n' "$wanted" "$(go env GOVERSION)" > "$staging/stamp"
rm -rf "$dir"
mv "$staging" "$dir"
trap - EXIT
log "built ${binaries[*]} in $((SECONDS - started))s"
echo "$dir"
