#!/usr/bin/env bash
# Prints the CHANGELOG.md section of VERSION (without its heading): the release's notes.
#   scripts/release-notes.sh 0.1.0 > notes.md
# Fails when CHANGELOG.md has no non-empty section "## [VERSION]".
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:?usage: scripts/release-notes.sh VERSION}
notes=$(awk -v heading="## [$version]" '
  index($0, heading) == 1 { found = 1; next }
  found && /^## \[/ { exit }
  found { print }
' CHANGELOG.md)
if [[ -z ${notes//[[:space:]]/} ]]; then
  echo "release-notes: CHANGELOG.md has no section for $version" >&2
  exit 1
fi
printf '%s\n' "$notes"
