# shellcheck shell=bash
# shellcheck disable=SC2016 # single-quoted $names are jq's variables, not the shell's
# Helpers for tests/kind/run.sh: assertions, bounded waits, the simulator's admin API (through the
# port-forward run.sh keeps open), and the objects each scenario creates. Sourced, never run.
#
# Uses the globals run.sh sets before sourcing this file:
: "${WAIT:?}" "${SIM_PORT_FILE:?}" "${KEYS_FILE:?}" "${ARGOCD_DIR:?}"

log() { printf '%s kind: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# Ends the current scenario (each runs in its own subshell) as failed.
fail() {
  printf 'FAILED: %s\n' "$*" >&2
  exit 1
}

# Ends the current scenario as skipped (run.sh counts exit 77 as a skip).
skip() {
  printf 'SKIPPED: %s\n' "$*" >&2
  exit 77
}

expect_eq() { # ACTUAL WANT WHAT
  if [[ $1 != "$2" ]]; then fail "$3: got '$1', want '$2'"; fi
  log "ok: $3 = $2"
}

# Fails unless the JSON on stdin satisfies the jq FILTER (extra jq arguments may follow).
expect_jq() { # WHAT FILTER [JQ_ARGS...]
  local what=$1 filter=$2 input
  shift 2
  input=$(cat)
  if ! jq -e "$@" "$filter" >/dev/null <<<"$input"; then
    fail "$what: $filter does not hold for $(jq -c . <<<"$input" | cut -c1-2000)"
  fi
  log "ok: $what"
}

# Runs COMMAND every 2 seconds until it succeeds; fails after SECONDS. For conditions kubectl wait
# cannot express (the simulator's state, Events, the Lease).
poll() { # SECONDS WHAT COMMAND...
  local timeout=$1 what=$2 deadline
  shift 2
  deadline=$((SECONDS + timeout))
  until "$@"; do
    if ((SECONDS >= deadline)); then fail "timed out after ${timeout}s waiting for: $what"; fi
    sleep 2
  done
  log "ok: $what"
}

# ---- the SendGrid simulator's admin API (/_sim/...) -------------------------------------------

sim() { # METHOD PATH [JSON_BODY]
  local args=(-fsS --max-time 10 -X "$1")
  if [[ -n ${3-} ]]; then args+=(-H 'Content-Type: application/json' --data "$3"); fi
  curl "${args[@]}" "http://127.0.0.1:$(cat "$SIM_PORT_FILE")$2"
}

# Every string the scan for leaked keys looks for: the key and its base64 form (a logged Secret).
remember_key() {
  {
    printf '%s\n' "$1"
    printf '%s' "$1" | base64 -w0
    printf '\n'
  } >>"$KEYS_FILE"
}

# Prints a fresh key that the simulator accepts (read+update scopes) for a new parent account
# ACCOUNT, so each scenario has its own SendGrid settings and its own request-log fingerprint.
new_key() { # ACCOUNT
  local key
  key=$(printf 'SG.kind-%s.%04x%04x' "$1" "$RANDOM" "$RANDOM")
  remember_key "$key"
  sim POST /_sim/keys "{\"key\":\"$key\",\"account\":\"$1\"}" >/dev/null
  printf '%s\n' "$key"
}

# The operator's and the simulator's name for a key: "key-" and 6 hex digits of its SHA-256.
fingerprint() { printf 'key-%s\n' "$(printf '%s' "$1" | sha256sum | cut -c1-6)"; }

# The number of requests the simulator logged for key fingerprint FP, with METHOD ("" for any),
# whose JSON body satisfies the jq FILTER (default: any).
sim_count() { # FP METHOD [FILTER]
  sim GET /_sim/requests | jq --arg fp "$1" --arg m "$2" \
    "[.[] | select(.key_fingerprint == \$fp and (\$m == \"\" or .method == \$m)) | select(${3:-true})] | length"
}

sim_count_at_least() { # N FP METHOD
  local n
  n=$(sim_count "$2" "$3")
  ((n >= $1))
}

# The settings SendGrid stores for parent account ACCOUNT (camelCase, as in the resource).
sim_settings() { sim GET "/_sim/settings?account=$1" | jq -cS .; }

# Changes ACCOUNT's settings "in the SendGrid UI" (only the fields given).
sim_set() { sim PUT "/_sim/settings?account=$1" "$2" >/dev/null; }

sim_settings_are() { # ACCOUNT JSON
  [[ $(sim_settings "$1") == "$(jq -cS . <<<"$2")" ]]
}

# ---- Kubernetes objects ------------------------------------------------------------------------

# A namespace labelled so that run.sh can delete everything the suite made.
make_ns() {
  kubectl apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Namespace
metadata:
  name: $1
  labels:
    sgtls-e2e: "true"
EOF
}

make_secret() { # NS NAME DATA_KEY VALUE
  kubectl -n "$1" create secret generic "$2" --from-literal="$3=$4" >/dev/null
}

# Applies a SendGridEnforcedTls using Secret SECRET; further spec lines come from stdin.
apply_res() { # NS NAME SECRET
  local extra
  extra=$(cat)
  # Indented under spec:.
  extra="  ${extra//$'\n'/$'\n'  }"
  kubectl apply -f - <<EOF
apiVersion: sendgrid.ops.dev/v1alpha1
kind: SendGridEnforcedTls
metadata:
  name: $2
  namespace: $1
spec:
  apiKeySecretRef:
    name: $3
$extra
EOF
}

res_json() { kubectl -n "$1" get "sgtls/$2" -o json; } # NS NAME

# Waits (kubectl wait, bounded) until condition TYPE of NS/NAME has REASON.
wait_reason() { # NS NAME TYPE REASON [TIMEOUT]
  kubectl -n "$1" wait "sgtls/$2" --timeout="${5:-$WAIT}" \
    --for="jsonpath={.status.conditions[?(@.type==\"$3\")].reason}=$4"
}

# Fails unless condition TYPE of NS/NAME is STATUS/REASON for the object's current generation.
expect_condition() { # NS NAME TYPE STATUS REASON
  res_json "$1" "$2" | expect_jq "$1/$2 $3=$4 $5" \
    '.metadata.generation as $g | .status.conditions[] | select(.type == $t)
     | .status == $s and .reason == $r and .observedGeneration == $g' \
    --arg t "$3" --arg s "$4" --arg r "$5"
}

wait_ready_in_sync() { # NS NAME [TIMEOUT]
  kubectl -n "$1" wait "sgtls/$2" --for=condition=Ready --timeout="${3:-$WAIT}"
  expect_condition "$1" "$2" Ready True InSync
  expect_condition "$1" "$2" Synced True ReconcileSuccess
}

# True when an events.k8s.io Event with REASON regards NS/NAME.
has_event() { # NS NAME REASON
  kubectl -n "$1" get events.events.k8s.io -o json |
    jq -e --arg n "$2" --arg r "$3" \
      'any(.items[]; .regarding.name == $n and .reason == $r)' >/dev/null
}

# Keeps NS/NAME as it is now for the Argo CD health check scenario, with the health it must get.
snapshot() { # NS NAME WANT_HEALTH
  mkdir -p "$ARGOCD_DIR"
  res_json "$1" "$2" >"$ARGOCD_DIR/$1.$2.json"
  printf '%s.%s.json\t%s\n' "$1" "$2" "$3" >>"$ARGOCD_DIR/expected.tsv"
}

# One cell of a `kubectl get` table (ROW is the NAME column), located by the header's offsets.
table_cell() { # TABLE ROW COLUMN
  awk -v row="$2" -v col="$3" '
    NR == 1 { header = $0; next }
    $1 == row {
      start = index(header, col)
      if (start == 0) exit 2
      rest = substr(header, start + length(col))
      width = match(rest, /[^ ]/) ? length(col) + RSTART - 1 : 0
      value = width ? substr($0, start, width) : substr($0, start)
      gsub(/^ +| +$/, "", value)
      print value
      found = 1
    }
    END { if (!found) exit 1 }' <<<"$1"
}

lease_holder() { # NS LEASE
  kubectl -n "$1" get lease "$2" -o jsonpath='{.spec.holderIdentity}' 2>/dev/null
}

# Waits until KIND/NAME in NS is gone (also when it went before kubectl wait started).
wait_gone() { # NS KIND/NAME TIMEOUT
  kubectl -n "$1" wait "$2" --for=delete --timeout="$3" 2>/dev/null ||
    ! kubectl -n "$1" get "$2" >/dev/null 2>&1 || fail "$1/$2 still exists after $3"
}
