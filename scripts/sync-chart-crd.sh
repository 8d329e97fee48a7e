#!/usr/bin/env bash
# Regenerates the Helm chart's CRD template from crds/ (the CRD the operator generates).
#   scripts/sync-chart-crd.sh           write charts/sendgrid-tls-operator/templates/crds/...
#   scripts/sync-chart-crd.sh --check   exit 1 if the template is stale (used by verify-packaging)
exec "$(dirname "$0")/py.sh" scripts/sync_chart_crd.py "$@"
