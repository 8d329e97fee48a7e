#!/usr/bin/env bash
# Regenerates argocd/argocd-cm-patch.yaml from the Lua files in argocd/ (see sync_argocd_cm.py).
#   scripts/sync-argocd-cm.sh [--check]
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 scripts/sync_argocd_cm.py "$@"
