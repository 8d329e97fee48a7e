#!/usr/bin/env bash
# Regenerates the Helm chart's README (helm-docs style) and values.schema.json from Chart.yaml and
# the comments of values.yaml (the one source of the values documentation).
#   scripts/sync-chart-readme.sh           write charts/sendgrid-tls-operator/{README.md,values.schema.json}
#   scripts/sync-chart-readme.sh --check   exit 1 if either is stale or a value has no comment
exec "$(dirname "$0")/py.sh" scripts/sync_chart_readme.py "$@"
