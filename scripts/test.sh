#!/usr/bin/env bash
# Runs every test of the project, as CI does: formatting, lints, all Rust test suites (unit,
# loopback integration against the SendGrid simulator, end to end against the Kubernetes API test
# server), the scale benchmark's smoke run (its invariants, not its times), then the offline
# packaging checks (Helm render/lint, schema validation, Argo CD Lua health tests), which install
# their own tools (a Python venv, lua5.1) on first use.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo >/dev/null || { echo "error: cargo not found: install Rust (rustup) first" >&2; exit 1; }
command -v kubectl >/dev/null || {
  echo "error: kubectl (client only) is needed by the kubectl-against-test-server tests; install it and re-run" >&2
  exit 1
}

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --workspace --locked
echo "== scale smoke (N = 100; BENCHMARKS.md has the full run)" && cargo test --locked --bench scale -- --smoke
echo "== packaging checks"
# The checks compare the chart's flags with the binary the tests just built.
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
OPERATOR_BIN="$target_dir/debug/sendgrid-tls-operator" scripts/verify-packaging.sh
