#!/usr/bin/env bash
# Static checks of the kind suite, for machines without Docker or a cluster (it cannot run there):
# bash -n and shellcheck; the workflow's YAML; tests/kind/values.yaml through the real Helm engine
# (check_values.py, with the venv scripts/verify-packaging.sh prepares); the deploy/ overlay
# through kubectl kustomize; the Argo CD harness (lua.jq + argocd-health.lua) against Argo CD's
# own test cases in argocd/; the simulator helpers of lib.sh against the real simulator binary.
# A check whose tool is missing is reported as skipped.
#
#   tests/kind/check.sh        (after scripts/verify-packaging.sh and cargo build, for all checks)
#
# Ends with "kind-static: N passed, M failed, K skipped"; exits 1 on any failure.
set -euo pipefail
shopt -s inherit_errexit

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$REPO/tests/kind
SCRATCH=$REPO/target/kind-static
VENV=$REPO/target/verify-venv
passed=0
failed=0
skipped=0

check() { # NAME FN
  local rc
  set +e
  (
    set -e
    "$2"
  ) >"$SCRATCH/$1.log" 2>&1
  rc=$?
  set -e
  case $rc in
    0) echo "PASS $1" && passed=$((passed + 1)) ;;
    77) echo "SKIP $1: $(tail -n1 "$SCRATCH/$1.log")" && skipped=$((skipped + 1)) ;;
    *)
      echo "FAIL $1"
      sed 's/^/    /' "$SCRATCH/$1.log" | tail -n 30
      failed=$((failed + 1))
      ;;
  esac
}

need() { command -v "$1" >/dev/null || { echo "$1 is not installed" && exit 77; }; }

syntax() {
  local file
  for file in run.sh lib.sh scenarios.sh check.sh; do bash -n "$HERE/$file"; done
}

lint_shell() {
  need shellcheck
  shellcheck --version | sed -n 2p
  cd "$REPO" && shellcheck -x tests/kind/run.sh tests/kind/lib.sh tests/kind/scenarios.sh tests/kind/check.sh
}

# The workflow parses, runs on push/PR/dispatch, pins two digests, and its first node image is
# run.sh's default.
workflow() {
  local python=python3 default
  if [[ -x $VENV/bin/python ]]; then python=$VENV/bin/python; fi
  default=$(sed -nE 's/^KIND_NODE_IMAGE=\$\{KIND_NODE_IMAGE:-(.*)\}$/\1/p' "$HERE/run.sh")
  "$python" - "$REPO/.github/workflows/kind.yml" "$default" <<'EOF'
import re, sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
on = doc[True] if True in doc else doc["on"]  # YAML 1.1 reads the key `on` as true
assert {"push", "pull_request", "workflow_dispatch"} <= set(on), on
job = doc["jobs"]["e2e"]
images = [m["node-image"] for m in job["strategy"]["matrix"]["include"]]
assert len(images) == 2 and all(re.fullmatch(r"kindest/node:v1\.\d+\.\d+@sha256:[0-9a-f]{64}", i) for i in images), images
assert images[0] == sys.argv[2], f"run.sh default {sys.argv[2]} is not the matrix's first image"
runs = " ".join(s.get("run", "") for s in job["steps"])
assert "tests/kind/run.sh" in runs, runs
upload = [s for s in job["steps"] if "upload-artifact" in s.get("uses", "")]
assert upload and upload[0]["if"] == "failure()", upload
print("workflow ok:", ", ".join(images))
EOF
}

helm_values() {
  if [[ ! -x $VENV/bin/python ]]; then
    echo "no $VENV (run scripts/verify-packaging.sh once)"
    exit 77
  fi
  "$VENV/bin/python" "$HERE/check_values.py" "$REPO" sgtls sendgrid-tls-operator sendgrid-tls-operator:e2e
}

# write_deploy_overlay's kustomization over deploy/, built by kubectl kustomize.
deploy_overlay() {
  need kubectl
  local out
  # shellcheck disable=SC2034 # globals scenarios.sh expects
  {
    WAIT=1s SIM_PORT_FILE=/dev/null KEYS_FILE=/dev/null ARGOCD_DIR=/dev/null
    NS=x RELEASE=x FULLNAME=x SIM_SVC=x WORK=$SCRATCH LOGS_DIR=/dev/null
    IMAGE=sendgrid-tls-operator:e2e
  }
  # shellcheck source=tests/kind/lib.sh
  source "$HERE/lib.sh"
  # shellcheck source=tests/kind/scenarios.sh
  source "$HERE/scenarios.sh"
  write_deploy_overlay "$SCRATCH/deploy-overlay"
  out=$(kubectl kustomize "$SCRATCH/deploy-overlay")
  yq_py='import sys, yaml
docs = [d for d in yaml.safe_load_all(sys.stdin) if d]
dep = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "sendgrid-tls-operator"]
assert len(dep) == 1, "no Deployment sendgrid-tls-operator"
c = dep[0]["spec"]["template"]["spec"]["containers"][0]
assert (c["image"], c["imagePullPolicy"]) == ("sendgrid-tls-operator:e2e", "Never"), c
assert dep[0]["metadata"]["namespace"] == "sendgrid-tls-operator"
assert any(d["kind"] == "CustomResourceDefinition" for d in docs), "deploy/ has no CRD"
print("overlay ok:", len(docs), "objects")'
  python3 -c "$yq_py" <<<"$out"
}

# lua.jq + argocd-health.lua give Argo CD's expected status for every case in health_test.yaml.
argocd_harness() {
  need lua5.1
  need jq
  local dir file want got n=0
  dir=$(dirname "$(find "$REPO/argocd" -path '*SendGridEnforcedTls/health.lua' | head -n1)")
  [[ -f $dir/health_test.yaml ]] || {
    echo "no argocd health_test.yaml"
    exit 77
  }
  while IFS=$'\t' read -r file want; do
    python3 -c 'import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))' "$dir/$file" >"$SCRATCH/case.json"
    jq -r -L "$HERE" 'include "lua"; "return " + tolua' "$SCRATCH/case.json" >"$SCRATCH/case.lua"
    got=$(lua5.1 "$HERE/argocd-health.lua" "$dir/health.lua" "$SCRATCH/case.lua")
    [[ ${got%%$'\t'*} == "$want" ]] || {
      echo "$file: got ${got%%$'\t'*}, want $want"
      exit 1
    }
    n=$((n + 1))
  done < <(python3 -c 'import sys, yaml
for t in yaml.safe_load(open(sys.argv[1]))["tests"]:
    print(t["inputPath"] + "\t" + t["healthStatus"]["status"])' "$dir/health_test.yaml")
  echo "argocd harness ok: $n cases"
  ((n > 0))
  # Escapes followed by digits (as in a last-applied-configuration annotation) and non-ASCII text
  # come back byte for byte.
  jq -n -r -L "$HERE" 'include "lua"; "return " + ({s: "{\"a\":1}\\2\n3\u00e9", n: [1.5, null, true]} | tolua)' >"$SCRATCH/roundtrip.lua"
  got=$(lua5.1 -e "local t = dofile('$SCRATCH/roundtrip.lua') io.write(t.s, '|', t.n[1], '|', tostring(t.n[3]))")
  [[ $got == "{\"a\":1}\\2"$'\n'"3é|1.5|true" ]] || {
    echo "lua.jq round trip: got $got"
    exit 1
  }
}

# lib.sh's simulator helpers against the simulator itself (the binary the image contains).
simulator_helpers() {
  local bin=$REPO/target/debug/sendgrid-tls-operator sim_pid port key fp
  [[ -x $bin ]] || {
    echo "no $bin (cargo build first)"
    exit 77
  }
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$bin" simulate --listen "127.0.0.1:$port" --api-key SG.static.check >"$SCRATCH/simulator.log" 2>&1 &
  sim_pid=$!
  # shellcheck disable=SC2064 # expand now: the pid of this subshell's simulator
  trap "kill $sim_pid" EXIT
  # shellcheck disable=SC2034 # globals lib.sh expects
  {
    WAIT=1s SIM_PORT_FILE=$SCRATCH/port KEYS_FILE=$SCRATCH/keys ARGOCD_DIR=$SCRATCH/argocd
  }
  echo "$port" >"$SIM_PORT_FILE"
  : >"$KEYS_FILE"
  # shellcheck source=tests/kind/lib.sh
  source "$HERE/lib.sh"
  poll 30 "the simulator answers" sim GET /_sim/requests
  expect_eq "$(fingerprint SG.test.key)" key-a40d57 "fingerprint of SG.test.key (the client's own test value)"
  key=$(new_key static)
  fp=$(fingerprint "$key")
  expect_eq "$(wc -l <"$KEYS_FILE")" 2 "remembered strings (key and base64)"
  sim_settings_are static '{"requireTls":false,"requireValidCert":false,"minimumTlsVersion":"1.1"}' ||
    fail "a new account does not start at SendGrid's defaults"
  curl -fsS -X PATCH -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
    --data '{"require_tls":true,"version":1.2}' "http://127.0.0.1:$port/v3/user/settings/enforced_tls" >/dev/null
  expect_eq "$(sim_count "$fp" PATCH '.body == {"require_tls":true,"version":1.2}')" 1 "sim_count of the PATCH by fingerprint"
  expect_eq "$(sim_count "$fp" GET)" 0 "sim_count of GETs"
  sim_count_at_least 1 "$fp" "" || fail "sim_count_at_least"
  sim_set static '{"requireValidCert":true}'
  sim_settings_are static '{"requireTls":true,"requireValidCert":true,"minimumTlsVersion":"1.2"}' ||
    fail "sim_set / sim_settings_are: $(sim_settings static)"
}

# table_cell on kubectl's table layout, with an empty cell.
table_cells() {
  # shellcheck disable=SC2034 # globals lib.sh expects
  {
    WAIT=1s SIM_PORT_FILE=/dev/null KEYS_FILE=/dev/null ARGOCD_DIR=/dev/null
  }
  # shellcheck source=tests/kind/lib.sh
  source "$HERE/lib.sh"
  local table
  table=$(printf '%s\n' \
    'NAME                  REQUIRE-TLS   VALID-CERT   MIN-TLS   MODE      READY   SYNCED   REASON    AGE' \
    'account               true          true         1.2                 True    True     InSync    12s' \
    'transactional-audit   true          true         1.1       Observe   False   True     Drifted   3m4s')
  expect_eq "$(table_cell "$table" account MODE)" "" "empty MODE"
  expect_eq "$(table_cell "$table" account REASON)" InSync "REASON"
  expect_eq "$(table_cell "$table" transactional-audit MODE)" Observe "MODE"
  expect_eq "$(table_cell "$table" transactional-audit AGE)" 3m4s "AGE (last column)"
  if table_cell "$table" missing READY; then fail "a missing row has a cell"; fi
}

main() {
  mkdir -p "$SCRATCH"
  check syntax syntax
  check shellcheck lint_shell
  check workflow workflow
  check helm-values helm_values
  check deploy-overlay deploy_overlay
  check argocd-harness argocd_harness
  check simulator-helpers simulator_helpers
  check table-cells table_cells
  echo "kind-static: $passed passed, $failed failed, $skipped skipped"
  ((failed == 0))
}

main "$@"
