#!/usr/bin/env bash
# Runs every test of the project, as CI does: formatting, lints, the pinned Kubernetes control
# plane built or reused (scripts/control-plane.sh, ~10 minutes the first time on 2 cores,
# seconds after), all Rust test suites (unit, loopback integration against the SendGrid
# simulator, end to end against the Kubernetes API test server and the real control plane), the
# scale benchmark's smoke run (its invariants, not its times), then
# the offline packaging checks (Helm render/lint, schema validation, Argo CD Lua health tests,
# the e2e chart fixtures, promtool alert tests, hadolint, zizmor, actionlint), ruff on scripts/ and
# the check that every generator would change nothing (scripts/generate.sh --check), which install
# their own tools (a Python venv, lua5.1, promtool and actionlint built with Go into ~/.cache) on
# first use.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo >/dev/null || { echo "error: cargo not found: install Rust (rustup) first" >&2; exit 1; }
command -v kubectl >/dev/null || {
  echo "error: kubectl (client only) is needed by the kubectl-against-test-server tests; install it and re-run" >&2
  exit 1
}

echo "== control plane (etcd, kube-apiserver, kube-controller-manager, kubectl)"
scripts/control-plane.sh
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo clippy -D warnings, the operator without default features (no simulator, no validator)"
cargo clippy --locked --no-default-features -- -D warnings
echo "== cargo test"
cargo test --workspace --locked
echo "== scale smoke (N = 100; BENCHMARKS.md has the full run)" && cargo test --locked --bench scale -- --smoke
echo "== packaging checks"
# The checks compare the chart's flags with the binary the tests just built.
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
OPERATOR_BIN="$target_dir/debug/sendgrid-tls-operator" scripts/verify-packaging.sh
echo "== ruff check scripts/" && scripts/py.sh -m ruff check --quiet --no-cache scripts
echo "== generated files are fresh" && scripts/generate.sh --check
