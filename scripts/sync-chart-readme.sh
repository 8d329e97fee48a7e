#!/usr/bin/env bash
# Regenerates the Helm chart's README (helm-docs style) from Chart.yaml and values.yaml.
#   scripts/sync-chart-readme.sh           write charts/sendgrid-tls-operator/README.md
#   scripts/sync-chart-readme.sh --check   exit 1 if the README is stale or a value has no comment
exec "$(dirname "$0")/py.sh" scripts/sync_chart_readme.py "$@"
