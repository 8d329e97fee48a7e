#!/usr/bin/env bash
# Regenerates the Helm chart's README (helm-docs style) from Chart.yaml and values.yaml.
#   scripts/sync-chart-readme.sh           write charts/sendgrid-tls-operator/README.md
#   scripts/sync-chart-readme.sh --check   exit 1 if the README is stale or a value is undocumented (used by verify-packaging)
# Needs Python 3 with PyYAML; uses scripts/verify-packaging.sh's venv when it exists.
set -euo pipefail
cd "$(dirname "$0")/.."
python=python3
if [[ -x target/verify-venv/bin/python ]]; then
  python=target/verify-venv/bin/python
fi
exec "$python" scripts/sync_chart_readme.py "$@"
