#!/usr/bin/env bash
# Regenerates the Helm chart's CRD template from crds/ (the CRD the operator generates).
#   scripts/sync-chart-crd.sh           write charts/sendgrid-tls-operator/templates/crds/...
#   scripts/sync-chart-crd.sh --check   exit 1 if the template is stale (used by verify-packaging)
# Needs Python 3 with PyYAML; uses scripts/verify-packaging.sh's venv when it exists.
set -euo pipefail
cd "$(dirname "$0")/.."
python=python3
if [[ -x target/verify-venv/bin/python ]]; then
  python=target/verify-venv/bin/python
fi
exec "$python" scripts/sync_chart_crd.py "$@"
