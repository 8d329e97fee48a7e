#!/usr/bin/env bash
# Offline verification of the packaging: Helm chart (rendered by the real Helm engine for every
# value file in charts/sendgrid-tls-operator/ci/), deploy/ (kubectl kustomize), Kubernetes schema
# validation, Pod Security / RBAC / flag wiring assertions, the examples against the generated CRD,
# the Argo CD health check's tests under lua5.1, the alert rules under promtool, hadolint on the
# Dockerfile, zizmor and actionlint on the workflows. No cluster, no container engine, no network
# except PyPI, Debian packages and the Go module proxy on the first run.
#
#   scripts/verify-packaging.sh        (from anywhere; works from the repository root)
#
# Tools: a venv in target/verify-venv (reused while scripts/verify-packaging-requirements.txt is
# unchanged), lua5.1 from apt when missing, kubectl (must be installed), promtool and actionlint
# built from the Go module proxy into a cache outside the clone (~/.cache/sendgrid-tls-operator;
# Go from apt when missing; the first build takes minutes). Ends with
# "packaging: N passed, N failed"; exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

started=$SECONDS
venv=target/verify-venv
requirements=scripts/verify-packaging-requirements.txt
stamp="$venv/.requirements.sha256"

log() { echo "verify-packaging: $*"; }

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    log "need root (or sudo) to run: $*" >&2; return 1
  fi
}

if ! command -v kubectl >/dev/null; then
  log "kubectl is required (for kubectl kustomize) and is not installed" >&2
  exit 1
fi

if ! command -v lua5.1 >/dev/null; then
  log "installing lua5.1 (Argo CD runs health checks with Lua 5.1 semantics)"
  export DEBIAN_FRONTEND=noninteractive
  if ! as_root apt-get install -y -qq lua5.1 >/dev/null; then
    as_root apt-get update -qq
    as_root apt-get install -y -qq lua5.1 >/dev/null
  fi
fi

# Go tools, each built once per version from the Go module proxy into a cache outside the clone
# (.github/workflows/ci.yml caches these directories, keyed on this file).
#   go_tool NAME MODULE/cmd/NAME VERSION   builds if missing, then prints the binary's path
go_tool() {
  local dir=${XDG_CACHE_HOME:-$HOME/.cache}/sendgrid-tls-operator/$1-$3
  if [[ ! -x $dir/$1 ]]; then
    if ! command -v go >/dev/null && [[ -x /usr/local/go/bin/go ]]; then PATH=/usr/local/go/bin:$PATH; fi
    if ! command -v go >/dev/null; then
      log "installing Go (golang-go) to build $1" >&2
      export DEBIAN_FRONTEND=noninteractive
      as_root apt-get update -qq >&2
      as_root apt-get install -y -qq golang-go >/dev/null
    fi
    log "building $1 $3 from the Go module proxy (first run: minutes)" >&2
    mkdir -p "$dir"
    GOBIN=$dir GOFLAGS=-mod=mod go install "$2@$3" >&2
  fi
  echo "$dir/$1"
}
# promtool, for the alert rules' unit tests (github.com/prometheus/prometheus v3.x as a Go module
# version); actionlint, for the workflows (next to zizmor).
PROMTOOL=$(go_tool promtool github.com/prometheus/prometheus/cmd/promtool v0.316.0)
ACTIONLINT=$(go_tool actionlint github.com/rhysd/actionlint/cmd/actionlint v1.7.12)
export PROMTOOL ACTIONLINT

wanted=$(sha256sum "$requirements" | cut -d' ' -f1)
if [[ ! -x $venv/bin/python || ! -f $stamp || $(cat "$stamp") != "$wanted" ]]; then
  log "preparing $venv (first run: downloads ~100 MB from PyPI)"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --require-virtualenv \
    -r "$requirements"
  echo "$wanted" > "$stamp"
fi
log "tools ready in $((SECONDS - started))s"

export PYTHONPATH=scripts PYTHONDONTWRITEBYTECODE=1
exec "$venv/bin/python" -m verify_packaging
