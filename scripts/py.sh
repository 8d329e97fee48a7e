#!/usr/bin/env bash
# Runs a Python script of scripts/ from the repository root, with scripts/verify-packaging.sh's
# venv when it exists (PyYAML and friends), else python3.
#   scripts/py.sh scripts/sync_chart_crd.py --check
set -euo pipefail
cd "$(dirname "$0")/.."
python=python3
if [[ -x target/verify-venv/bin/python ]]; then
  python=target/verify-venv/bin/python
fi
exec "$python" "$@"
