#!/usr/bin/env bash
# Builds, or reuses, kstatus-check (this folder's Go program: kstatus's verdict on objects) and
# prints the binary's path. The binary goes to a cache outside the clone,
#   ${XDG_CACHE_HOME:-$HOME/.cache}/sendgrid-tls-operator/kstatus-check/<digest of the sources>/
# and is reused while the sources are unchanged. Modules come from the Go module proxy.
set -euo pipefail
cd "$(dirname "$0")"

log() { echo "kstatus-check: $*" >&2; }

digest=$(cat go.mod go.sum main.go | sha256sum | cut -c1-16)
dir=${XDG_CACHE_HOME:-$HOME/.cache}/sendgrid-tls-operator/kstatus-check/$digest
if [[ -x $dir/kstatus-check ]]; then
  echo "$dir/kstatus-check"
  exit 0
fi
if ! command -v go >/dev/null; then
  # The Go toolchain's usual place, when it is not on PATH.
  [[ -x /usr/local/go/bin/go ]] || { log "error: go not found: install Go 1.25 or newer"; exit 1; }
  PATH=/usr/local/go/bin:$PATH
fi
started=$SECONDS
mkdir -p "$(dirname "$dir")"
staging=$(mktemp -d "$dir.building.XXXXXX")
trap 'rm -rf "$staging"' EXIT
CGO_ENABLED=0 go build -mod=readonly -o "$staging/kstatus-check" .
rm -rf "$dir"
mv "$staging" "$dir"
trap - EXIT
log "built in $((SECONDS - started))s with $(go env GOVERSION) into $dir"
echo "$dir/kstatus-check"
