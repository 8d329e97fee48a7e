#!/usr/bin/env bash
# Offline verification of the packaging: Helm chart (rendered by the real Helm engine for every
# value file in charts/sendgrid-tls-operator/ci/), deploy/ (kubectl kustomize), Kubernetes schema
# validation, Pod Security / RBAC / flag wiring assertions, the examples against the generated CRD,
# and the Argo CD health check's tests under lua5.1. No cluster, no container engine, no network
# except PyPI and Debian packages on the first run.
#
#   scripts/verify-packaging.sh        (from anywhere; works from the repository root)
#
# Tools: a venv in target/verify-venv (reused while scripts/verify-packaging-requirements.txt is
# unchanged), lua5.1 from apt when missing, kubectl (must be installed). Ends with
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
