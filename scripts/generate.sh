#!/usr/bin/env bash
# Runs every generator of the repository, in dependency order, so that no generated file is
# edited by hand or forgotten:
#   crd             crds/ from the Rust types               (UPDATE_CRDS, tests/it/crd_generated.rs)
#   metrics         tests/alerts/metrics-catalog.txt        (UPDATE_METRICS_CATALOG, src/telemetry)
#   chart-crd       the chart's CRD template from crds/     (scripts/sync-chart-crd.sh)
#   argocd          argocd/argocd-cm-patch.yaml from Lua    (scripts/sync-argocd-cm.sh)
#   chart-readme    the chart's README from values.yaml     (scripts/sync-chart-readme.sh)
#   e2e-fixtures    tests/fixtures/chart/ rendered by Helm  (scripts/sync-e2e-fixtures.sh)
#
#   scripts/generate.sh            regenerate everything (then review and commit the diff)
#   scripts/generate.sh --check    change nothing; exit 1 naming each generated file that running
#                                  the generators would change (scripts/test.sh runs this)
#
# --check runs the very same generators, then compares their outputs with what was there and puts
# the originals back: one definition of "fresh" per file, the generator itself. The Helm-based
# generators need scripts/verify-packaging.sh's venv (run that once first); the Rust ones build
# what `cargo test` builds.
set -euo pipefail
cd "$(dirname "$0")/.."

check=0
case ${1:-} in
  "") ;;
  --check) check=1 ;;
  *) echo "usage: scripts/generate.sh [--check]" >&2; exit 2 ;;
esac

log() { echo "generate: $*" >&2; }

# name | outputs (paths or directories, relative to the root) | command
generators=(
  "crd|crds|UPDATE_CRDS=1 cargo test --locked --quiet --test it crd_generated"
  "metrics|tests/alerts/metrics-catalog.txt|UPDATE_METRICS_CATALOG=1 cargo test --locked --quiet --lib metrics_catalog"
  "chart-crd|charts/sendgrid-tls-operator/templates/crds|scripts/sync-chart-crd.sh"
  "argocd|argocd/argocd-cm-patch.yaml|scripts/sync-argocd-cm.sh"
  "chart-readme|charts/sendgrid-tls-operator/README.md|scripts/sync-chart-readme.sh"
  "e2e-fixtures|tests/fixtures/chart|scripts/sync-e2e-fixtures.sh"
)

# In check mode every output is saved first and restored on exit, however the script ends.
saved=$(mktemp -d)
restore() {
  if ((check)); then
    for entry in "${generators[@]}"; do
      IFS='|' read -r _ outputs _ <<<"$entry"
      for out in $outputs; do
        rm -rf "$out"
        if [[ -e $saved/tree/$out ]]; then
          mkdir -p "$(dirname "$out")"
          cp -a "$saved/tree/$out" "$out"
        fi
      done
    done
  fi
  rm -rf "$saved"
}
trap restore EXIT

if ((check)); then
  for entry in "${generators[@]}"; do
    IFS='|' read -r _ outputs _ <<<"$entry"
    for out in $outputs; do
      if [[ -e $out ]]; then
        mkdir -p "$saved/tree/$(dirname "$out")"
        cp -a "$out" "$saved/tree/$out"
      fi
    done
  done
fi

stale=()
for entry in "${generators[@]}"; do
  IFS='|' read -r name outputs command <<<"$entry"
  log "$name: $command"
  # Each writer exits non-zero only when it cannot generate (a build error, a value without its
  # comment): that fails both modes.
  if ! output=$(bash -c "$command" 2>&1); then
    printf '%s\n' "$output" >&2
    log "$name failed"
    exit 1
  fi
  if ((check)); then
    for out in $outputs; do
      if ! diff -r -q "$saved/tree/$out" "$out" >/dev/null 2>&1; then
        stale+=("$out ($name)")
        diff -r -u "$saved/tree/$out" "$out" 2>&1 | head -n 40 >&2 || true
      fi
    done
  fi
done

if ((check)); then
  if ((${#stale[@]})); then
    log "stale, run scripts/generate.sh and commit: ${stale[*]}"
    exit 1
  fi
  log "every generated file is fresh (${#generators[@]} generators)"
fi
