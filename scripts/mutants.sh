#!/usr/bin/env bash
# Mutation testing of the pure decision code: cargo-mutants changes src/decision/ one mutant at a
# time (a `>` made `>=`, a function returning its default, ...) and runs the library's unit tests
# against each; a mutant no test notices is a gap in the tests, or an equivalent change. Takes
# minutes (every mutant is a build and a test run), so it is not part of scripts/test.sh.
#
#   scripts/mutants.sh                                    all of src/decision/
#   scripts/mutants.sh --only src/decision/conflict.rs    one file (repeatable) instead
#   scripts/mutants.sh -j 2                               other arguments go to cargo mutants
#
# cargo-mutants is installed once, pinned, with `cargo install --locked` into a cache outside the
# clone (${XDG_CACHE_HOME:-~/.cache}/cargo-tools/). Results stay in target/mutants/mutants.out/.
# Prints caught / missed / timeout / unviable counts and every surviving mutant; exits 0 whatever
# survived (read the survivors: each is either a missing test or an equivalent mutant).
set -euo pipefail
cd "$(dirname "$0")/.."

version=27.1.0
root=${XDG_CACHE_HOME:-$HOME/.cache}/cargo-tools/cargo-mutants-$version
if [[ ! -x $root/bin/cargo-mutants ]]; then
  echo "mutants: installing cargo-mutants $version into $root (once; a few minutes)" >&2
  cargo install --locked --quiet --root "$root" cargo-mutants --version "$version"
fi

files=()
passed=()
while (($#)); do
  case $1 in
    --only) files+=(--file "${2:?--only needs a path or glob}"); shift 2 ;;
    *) passed+=("$1"); shift ;;
  esac
done
((${#files[@]})) || files=(--file 'src/decision/**')

out=target/mutants
mkdir -p "$out"
# The unit tests only (`--lib`): the decision code is pure, and its tests are there. The build
# directory is a copy of the tree with target/ (so dependencies are not rebuilt for it).
status=0
"$root/bin/cargo-mutants" mutants \
  --package sendgrid-tls-operator \
  "${files[@]}" \
  --test-tool cargo \
  --copy-target=true \
  --output "$out" \
  "${passed[@]}" \
  -- --lib || status=$?
# 0: all caught; 2: some missed; 3: some timed out. Anything else is a failure of the run.
if [[ $status -ne 0 && $status -ne 2 && $status -ne 3 ]]; then
  echo "mutants: cargo mutants failed (exit $status)" >&2
  exit "$status"
fi

results=$out/mutants.out
count() {
  if [[ -f $results/$1.txt ]]; then grep -c . "$results/$1.txt" || true; else echo 0; fi
}
caught=$(count caught) missed=$(count missed) unviable=$(count unviable) timeout=$(count timeout)
viable=$((caught + missed + timeout))
echo
echo "mutants: caught $caught, missed $missed, timeout $timeout, unviable $unviable"
# A mutant that makes the tests hang (timeout) is detected too, only slowly.
if ((viable > 0)); then
  echo "mutants: $((caught + timeout)) of $viable viable mutants detected ($((100 * (caught + timeout) / viable))%)"
fi
if ((timeout > 0)); then
  echo "mutants: detected by a timeout (the tests hung):"
  sed 's/^/  /' "$results/timeout.txt"
fi
if ((missed > 0)); then
  echo "mutants: survivors (each a missing test or an equivalent mutant):"
  sed 's/^/  /' "$results/missed.txt"
fi
