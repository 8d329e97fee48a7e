#!/usr/bin/env bash
# Rewrites tests/fixtures/chart/*.yaml: the chart's RBAC objects and Deployment, rendered by the
# Helm engine for each configuration the end-to-end tests run against the real control plane.
# scripts/verify-packaging.sh fails while a committed file differs from a fresh render.
# Uses (and, on first use, prepares) scripts/verify-packaging.sh's venv.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ! -x target/verify-venv/bin/python ]]; then
  echo "sync-e2e-fixtures: no venv yet: run scripts/verify-packaging.sh once first" >&2
  exit 1
fi
PYTHONPATH=scripts PYTHONDONTWRITEBYTECODE=1 exec target/verify-venv/bin/python -m verify_packaging.e2e_fixtures
