# shellcheck shell=bash
# shellcheck disable=SC2016 # single-quoted $names are jq's variables, not the shell's
# The kind suite's scenarios, one function each, run by tests/kind/run.sh in a subshell of their
# own (set -e: the first failed command or assertion fails the scenario). Each scenario uses its
# own namespace and its own simulator key (so its own SendGrid account and request-log
# fingerprint), so scenarios do not see each other's requests. Sourced, never run.
#
# Uses the globals run.sh sets before sourcing this file (and those lib.sh uses):
: "${REPO:?}" "${NS:?}" "${RELEASE:?}" "${FULLNAME:?}" "${SIM_SVC:?}" "${IMAGE:?}" "${WORK:?}" "${LOGS_DIR:?}"

STRICT_12='{"requireTls":true,"requireValidCert":true,"minimumTlsVersion":"1.2"}'

# A namespace, a key for a new simulator account of the same name and the Secret holding it.
# Prints the key.
scenario_setup() { # NAME
  local key
  make_ns "$1"
  key=$(new_key "$1")
  make_secret "$1" sendgrid-api-key apiKey "$key"
  printf '%s\n' "$key"
}

enforce_strict_12() { # NS NAME [EXTRA_SPEC_LINE...]
  local ns=$1 name=$2
  shift 2
  printf '%s\n' 'requireTls: true' 'requireValidCert: true' 'minimumTlsVersion: "1.2"' "$@" |
    apply_res "$ns" "$name" sendgrid-api-key
}

# The chart installed the CRD and both Deployments; the operator points at the simulator and a
# replica holds the Lease.
scn_install() {
  helm upgrade --install "$RELEASE" "$REPO/charts/sendgrid-tls-operator" \
    --namespace "$NS" --create-namespace -f "$REPO/tests/kind/values.yaml" --wait --timeout 5m
  kubectl wait --for=condition=Established crd/sendgridenforcedtlses.sendgrid.ops.dev --timeout=60s
  kubectl -n "$NS" rollout status "deployment/$FULLNAME" --timeout=180s
  kubectl -n "$NS" rollout status "deployment/$SIM_SVC" --timeout=180s
  kubectl -n "$NS" get "deployment/$FULLNAME" -o json | expect_jq "the operator uses the simulator" \
    '.spec.template.spec.containers[0].args | any(.[]; . == $url) and any(.[]; . == "--leader-election")' \
    --arg url "--sendgrid-url=http://$SIM_SVC.$NS.svc:8025"
  poll 60 "a replica holds the Lease" lease_is_held
  kubectl -n "$NS" get pods,lease -o wide
}

lease_is_held() { [[ -n $(lease_holder "$NS" "$FULLNAME") ]]; }

# What the operator's ServiceAccount may do, asked of the real API server's authorizer.
scn_rbac() {
  local sa="system:serviceaccount:$NS:$FULLNAME"
  can() { # WANT VERB RESOURCE [ARGS...]
    local want=$1 got
    shift
    got=$(kubectl auth can-i "$@" --as="$sa" 2>/dev/null || true)
    expect_eq "$got" "$want" "can-i $*"
  }
  can yes get secrets -n default
  can no list secrets -n default
  can no watch secrets --all-namespaces
  can yes watch sendgridenforcedtlses.sendgrid.ops.dev --all-namespaces
  can yes patch sendgridenforcedtlses.sendgrid.ops.dev --subresource=status -n default
  can no update customresourcedefinitions.apiextensions.k8s.io
  can yes create events.events.k8s.io -n default
  can yes update "leases.coordination.k8s.io/$FULLNAME" -n "$NS"
  can no update leases.coordination.k8s.io/kube-scheduler -n kube-system
}

# create -> one PATCH of exactly the managed fields -> Ready=True InSync, observed and target
# set, the originals in the account's SendGridTarget record.
scn_create() {
  local ns=kind-create key fp partial_key partial_fp
  key=$(scenario_setup "$ns")
  fp=$(fingerprint "$key")
  enforce_strict_12 "$ns" full 'mode: Enforce'
  wait_ready_in_sync "$ns" full
  res_json "$ns" full | expect_jq "status of $ns/full" '
    .status.observed == {"requireTls":true,"requireValidCert":true,"minimumTlsVersion":"1.2"}
    and (.status.original == null)
    and (.status.target.name | startswith("global-"))
    and .status.observedGeneration == .metadata.generation
    and .status.lastAppliedTime != null
    and (.metadata.finalizers // []) == []' --arg fp "$fp"
  kubectl get sgtarget "$(res_json "$ns" full | jq -r .status.target.name)" -o json | expect_jq "the account's record" '
    .spec.fields.minimumTlsVersion.original == "1.1"
    and .spec.fields.minimumTlsVersion.written == "1.2"
    and .spec.holders == ["'"$ns"'/full"]'
  expect_eq "$(sim_count "$fp" PATCH)" 1 "PATCHes for $ns/full"
  expect_eq "$(sim_count "$fp" PATCH '.status == 200 and .body == {"require_tls":true,"require_valid_cert":true,"version":1.2}')" \
    1 "PATCHes of exactly the managed fields"
  expect_eq "$(sim_settings "$ns")" "$(jq -cS . <<<"$STRICT_12")" "SendGrid's settings"
  poll 60 "Event Applied for $ns/full" has_event "$ns" full Applied
  snapshot "$ns" full Healthy

  # Only requireTls managed: only require_tls is sent; the rest is observed, never changed.
  partial_key=$(new_key "$ns-partial")
  partial_fp=$(fingerprint "$partial_key")
  make_secret "$ns" partial-key apiKey "$partial_key"
  apply_res "$ns" partial partial-key <<<'requireTls: true'
  wait_ready_in_sync "$ns" partial
  expect_eq "$(sim_count "$partial_fp" PATCH '.body == {"require_tls":true}')" 1 \
    "PATCHes of require_tls alone"
  expect_eq "$(sim_count "$partial_fp" PATCH)" 1 "PATCHes for $ns/partial"
  res_json "$ns" partial | expect_jq "$ns/partial observes the unmanaged fields" \
    '.status.observed == {"requireTls":true,"requireValidCert":false,"minimumTlsVersion":"1.1"}'
}

# A resync with nothing changed: GETs, no PATCH, no write to the resource (resourceVersion).
scn_quiet_resync() {
  local ns=kind-quiet key fp rv gets
  key=$(scenario_setup "$ns")
  fp=$(fingerprint "$key")
  enforce_strict_12 "$ns" quiet
  wait_ready_in_sync "$ns" quiet
  rv=$(kubectl -n "$ns" get sgtls/quiet -o jsonpath='{.metadata.resourceVersion}')
  gets=$(sim_count "$fp" GET)
  # Two more GETs are two resync passes (--default-resync-interval=10s).
  poll 60 "two resync passes for $ns/quiet" sim_count_at_least $((gets + 2)) "$fp" GET
  expect_eq "$(kubectl -n "$ns" get sgtls/quiet -o jsonpath='{.metadata.resourceVersion}')" "$rv" \
    "resourceVersion after two resyncs (no status or metadata write)"
  expect_eq "$(sim_count "$fp" PATCH)" 1 "PATCHes (only the first reconcile's)"
}

# Drift made "in the SendGrid UI" is put back on the next resync, with Event DriftCorrected.
scn_drift_enforce() {
  local ns=kind-drift key fp
  key=$(scenario_setup "$ns")
  fp=$(fingerprint "$key")
  enforce_strict_12 "$ns" drift
  wait_ready_in_sync "$ns" drift
  sim_set "$ns" '{"requireTls":false,"minimumTlsVersion":"1.1"}'
  poll 60 "SendGrid's settings put back" sim_settings_are "$ns" "$STRICT_12"
  expect_eq "$(sim_count "$fp" PATCH)" 2 "PATCHes (create + one correction)"
  expect_eq "$(sim_count "$fp" PATCH '.body == {"require_tls":true,"version":1.2}')" 1 \
    "correcting PATCH of the drifted fields only"
  poll 60 "Event DriftCorrected for $ns/drift" has_event "$ns" drift DriftCorrected
  expect_condition "$ns" drift Ready True InSync
}

# Observe mode: drift is reported (Ready=False Drifted, Event), never written.
scn_drift_observe() {
  local ns=kind-observe key fp
  key=$(scenario_setup "$ns")
  fp=$(fingerprint "$key")
  sim_set "$ns" "$STRICT_12"
  enforce_strict_12 "$ns" audit 'mode: Observe'
  wait_ready_in_sync "$ns" audit
  sim_set "$ns" '{"requireValidCert":false}'
  wait_reason "$ns" audit Ready Drifted 60s
  expect_condition "$ns" audit Ready False Drifted
  expect_condition "$ns" audit Synced True ReconcileSuccess
  res_json "$ns" audit | expect_jq "the Drifted message names the field" \
    '.status.conditions[] | select(.type == "Ready") | .message | contains("requireValidCert")'
  poll 60 "Event Drifted for $ns/audit" has_event "$ns" audit Drifted
  expect_eq "$(sim_count "$fp" PATCH)" 0 "PATCHes in Observe mode"
  snapshot "$ns" audit Degraded
}

# The Secret is missing, then has the wrong key, then is right: each reported, then healed
# without any change to the resource (retries with backoff; no Secret watch in this install).
scn_secret_heals() {
  local ns=kind-secret key fp
  make_ns "$ns"
  key=$(new_key "$ns")
  fp=$(fingerprint "$key")
  enforce_strict_12 "$ns" late
  wait_reason "$ns" late Synced SecretNotFound
  expect_condition "$ns" late Ready False Pending
  snapshot "$ns" late Degraded
  make_secret "$ns" sendgrid-api-key token "$key"
  wait_reason "$ns" late Synced SecretKeyNotFound 60s
  expect_eq "$(sim_count "$fp" "")" 0 "requests to SendGrid without a key"
  kubectl -n "$ns" patch secret sendgrid-api-key --type=merge -p "{\"stringData\":{\"apiKey\":\"$key\"}}" >/dev/null
  wait_ready_in_sync "$ns" late 90s
  expect_eq "$(sim_count "$fp" PATCH)" 1 "PATCHes once the key is there"
}

# A key SendGrid refuses: Synced=False Unauthorized, retried with backoff (not a hot loop), and
# healed when the key becomes valid.
scn_bad_key() {
  local ns=kind-badkey key fp spread
  make_ns "$ns"
  key=$(printf 'SG.kind-unknown.%04x%04x' "$RANDOM" "$RANDOM")
  remember_key "$key"
  fp=$(fingerprint "$key")
  make_secret "$ns" sendgrid-api-key apiKey "$key"
  enforce_strict_12 "$ns" badkey
  wait_reason "$ns" badkey Synced Unauthorized
  expect_condition "$ns" badkey Ready False Pending
  snapshot "$ns" badkey Degraded
  poll 60 "four refused requests (retries)" sim_count_at_least 4 "$fp" GET
  sim GET /_sim/requests | expect_jq "every request with the unknown key refused with 401" \
    'all(.[] | select(.key_fingerprint == $fp); .status == 401)' --arg fp "$fp"
  # Backoff from 1s: the first four tries span at least 1+2+4 seconds less jitter; a hot loop
  # would make them within milliseconds.
  spread=$(sim GET /_sim/requests | jq --arg fp "$fp" '
    [.[] | select(.key_fingerprint == $fp) | .at | sub("\\.[0-9]+Z$"; "Z") | fromdateiso8601]
    | .[3] - .[0]')
  if ((spread < 2)); then fail "four Unauthorized retries within ${spread}s: no backoff"; fi
  log "ok: the first four tries spread over ${spread}s"
  poll 30 "Event Unauthorized for $ns/badkey" has_event "$ns" badkey Unauthorized
  sim POST /_sim/keys "{\"key\":\"$key\",\"account\":\"$ns\"}" >/dev/null
  wait_ready_in_sync "$ns" badkey 90s
}

# deletionPolicy Orphan (the default): no finalizer; deleting leaves SendGrid as it is.
scn_delete_orphan() {
  local ns=kind-orphan key fp
  key=$(scenario_setup "$ns")
  fp=$(fingerprint "$key")
  enforce_strict_12 "$ns" orphan
  wait_ready_in_sync "$ns" orphan
  res_json "$ns" orphan | expect_jq "no finalizer on an Orphan resource" '(.metadata.finalizers // []) == []'
  kubectl -n "$ns" delete sgtls/orphan --timeout=60s
  expect_eq "$(sim_settings "$ns")" "$(jq -cS . <<<"$STRICT_12")" "SendGrid's settings after deletion"
  expect_eq "$(sim_count "$fp" PATCH)" 1 "PATCHes (none on deletion)"
}

FINALIZER=sendgridenforcedtlses.sendgrid.ops.dev/cleanup

# deletionPolicy Restore: the finalizer puts back the settings SendGrid had before.
scn_delete_restore() {
  local ns=kind-restore before='{"requireTls":true,"requireValidCert":false,"minimumTlsVersion":"1.1"}'
  scenario_setup "$ns" >/dev/null
  sim_set "$ns" "$before"
  printf '%s\n' 'requireTls: true' 'requireValidCert: true' 'minimumTlsVersion: "1.3"' \
    'deletionPolicy: Restore' | apply_res "$ns" restore sendgrid-api-key
  wait_ready_in_sync "$ns" restore
  res_json "$ns" restore | expect_jq "finalizer" '(.metadata.finalizers | index($f)) != null' \
    --arg f "$FINALIZER"
  kubectl get sgtarget "$(res_json "$ns" restore | jq -r .status.target.name)" -o json |
    expect_jq "the originals in the account's record" '
      .spec.fields.requireValidCert.original == false
      and .spec.fields.minimumTlsVersion.original == "1.1"'
  kubectl -n "$ns" delete sgtls/restore --timeout=60s
  expect_eq "$(sim_settings "$ns")" "$(jq -cS . <<<"$before")" "SendGrid's settings after deletion"
  poll 30 "Event CleanedUp for $ns/restore" has_event "$ns" restore CleanedUp
}

# deletionPolicy Reset: SendGrid's defaults come back for the managed fields only.
scn_delete_reset() {
  local ns=kind-reset
  scenario_setup "$ns" >/dev/null
  sim_set "$ns" "$STRICT_12"
  printf '%s\n' 'requireTls: true' 'minimumTlsVersion: "1.3"' 'deletionPolicy: Reset' |
    apply_res "$ns" reset sendgrid-api-key
  wait_ready_in_sync "$ns" reset
  kubectl -n "$ns" delete sgtls/reset --timeout=60s
  expect_eq "$(sim_settings "$ns")" \
    "$(jq -cS . <<<'{"requireTls":false,"requireValidCert":true,"minimumTlsVersion":"1.1"}')" \
    "SendGrid's settings after deletion (requireValidCert was not managed: untouched)"
}

# Reset while the Secret is gone: the deletion is reported (Ready=False Deleting), not hung
# silently; switching to Orphan lets the resource go without touching SendGrid.
scn_delete_reset_secret_gone() {
  local ns=kind-stuck
  scenario_setup "$ns" >/dev/null
  enforce_strict_12 "$ns" stuck 'deletionPolicy: Reset'
  wait_ready_in_sync "$ns" stuck
  kubectl -n "$ns" delete secret sendgrid-api-key
  kubectl -n "$ns" delete sgtls/stuck --wait=false
  wait_reason "$ns" stuck Ready Deleting 60s
  expect_condition "$ns" stuck Synced False SecretNotFound
  res_json "$ns" stuck | expect_jq "still there, with its finalizer" \
    '.metadata.deletionTimestamp != null and (.metadata.finalizers | index($f)) != null' \
    --arg f "$FINALIZER"
  snapshot "$ns" stuck Degraded
  kubectl -n "$ns" patch sgtls/stuck --type=merge -p '{"spec":{"deletionPolicy":"Orphan"}}'
  wait_gone "$ns" sgtls/stuck 60s
  expect_eq "$(sim_settings "$ns")" "$(jq -cS . <<<"$STRICT_12")" "SendGrid's settings (not reset)"
}

# Two resources, one target, different settings: the newer gets Conflict and never PATCHes;
# deleting the older hands the target over.
scn_conflict() {
  local ns=kind-conflict key fp
  key=$(scenario_setup "$ns")
  fp=$(fingerprint "$key")
  enforce_strict_12 "$ns" a-holder
  wait_ready_in_sync "$ns" a-holder
  # Even created within the same second, a-holder keeps the target (ties go to the smaller name).
  printf '%s\n' 'requireTls: true' 'minimumTlsVersion: "1.3"' | apply_res "$ns" b-newer sendgrid-api-key
  wait_reason "$ns" b-newer Ready Conflict
  expect_condition "$ns" b-newer Ready False Conflict
  res_json "$ns" b-newer | expect_jq "the Conflict message names the holder" \
    '.status.conditions[] | select(.type == "Ready") | .message | contains($holder)' \
    --arg holder "$ns/a-holder"
  poll 60 "Event Conflict for $ns/b-newer" has_event "$ns" b-newer Conflict
  expect_eq "$(sim_count "$fp" PATCH '.body.version == 1.3')" 0 "PATCHes by the resource in conflict"
  snapshot "$ns" b-newer Degraded
  kubectl -n "$ns" delete sgtls/a-holder --timeout=60s
  wait_ready_in_sync "$ns" b-newer 60s
  expect_eq "$(sim_count "$fp" PATCH '.body.version == 1.3')" 1 "PATCHes once b-newer holds the target"
  expect_eq "$(sim_settings "$ns" | jq -r .minimumTlsVersion)" 1.3 "SendGrid's minimum version"
}

# Every file in examples/, applied as a user would, with the Secrets of examples/secrets/ (the
# placeholder key replaced by the simulator's): Enforce resources become Ready, Observe ones report; EU ones use the EU host.
scn_examples() {
  local ns=mail sim_key file names
  make_ns "$ns"
  sim_key=$(kubectl -n "$NS" get "secret/$SIM_SVC" -o jsonpath='{.data.apiKey}' | base64 -d)
  remember_key "$sim_key"
  for file in "$REPO"/examples/secrets/*.yaml "$REPO"/examples/*.yaml; do
    sed "s/SG\.replace-me\.with-your-key/$sim_key/g" "$file" | kubectl apply -f -
  done
  names=$(kubectl -n "$ns" get sgtls -o json | jq -r '.items[] | select(.spec.mode != "Observe") | .metadata.name')
  if [[ -z $names ]]; then fail "examples/ created no Enforce resource in namespace $ns"; fi
  for name in $names; do wait_ready_in_sync "$ns" "$name"; done
  for name in $(kubectl -n "$ns" get sgtls -o json | jq -r '.items[] | select(.spec.mode == "Observe") | .metadata.name'); do
    wait_reason "$ns" "$name" Synced ReconcileSuccess
  done
  kubectl -n "$ns" get sgtls -o json | jq -r '.items[] | select(.spec.region == "eu")
    | .spec.onBehalfOf.subuser // empty' | while read -r subuser; do
    sim GET /_sim/requests | expect_jq "requests for EU subuser $subuser go to the EU host" \
      '[.[] | select(.on_behalf_of == $s)] | length > 0 and all(.region == "eu")' --arg s "$subuser"
  done
}

# `kubectl get sgtls` shows the documented columns; `kubectl get sendgrid` (the category) and
# `kubectl explain` work. Reads the examples' namespace.
scn_columns() {
  local table header observe
  table=$(kubectl -n mail get sgtls)
  printf '%s\n' "$table"
  header=$(head -n1 <<<"$table" | tr -s ' ')
  expect_eq "$header" "NAME REQUIRE-TLS VALID-CERT MIN-TLS MODE READY SYNCED REASON AGE" "kubectl get sgtls columns"
  expect_eq "$(table_cell "$table" account REQUIRE-TLS)" true "account REQUIRE-TLS"
  expect_eq "$(table_cell "$table" account VALID-CERT)" true "account VALID-CERT"
  expect_eq "$(table_cell "$table" account MIN-TLS)" 1.2 "account MIN-TLS"
  expect_eq "$(table_cell "$table" account READY)" True "account READY"
  expect_eq "$(table_cell "$table" account SYNCED)" True "account SYNCED"
  expect_eq "$(table_cell "$table" account REASON)" InSync "account REASON"
  observe=$(kubectl -n mail get sgtls -o json | jq -r '[.items[] | select(.spec.mode == "Observe")][0].metadata.name // empty')
  if [[ -n $observe ]]; then
    expect_eq "$(table_cell "$table" "$observe" MODE)" Observe "$observe MODE"
    expect_eq "$(table_cell "$table" "$observe" READY)" False "$observe READY"
    expect_eq "$(table_cell "$table" "$observe" REASON)" Drifted "$observe REASON"
  fi
  if [[ -z $(table_cell "$table" account AGE) ]]; then fail "account has no AGE"; fi
  expect_eq "$(kubectl -n mail get sendgrid -o name | sort | tr '\n' ' ')" \
    "$(kubectl -n mail get sgtls -o name | sort | tr '\n' ' ')" "kubectl get sendgrid (category) lists the same"
  kubectl explain sgtls.spec.minimumTlsVersion | tee "$WORK/explain.txt"
  if ! grep -q 'DESCRIPTION:' "$WORK/explain.txt"; then fail "kubectl explain shows no description"; fi
}

# The Argo CD health check (argocd/**/health.lua) under lua5.1, on objects read from the cluster
# by the scenarios above (snapshots) and now (the examples).
scn_argocd_health() {
  local health harness=$REPO/tests/kind/argocd-health.lua file want got checked=0
  health=$(find "$REPO/argocd" -path '*SendGridEnforcedTls/health.lua' 2>/dev/null | head -n1)
  if [[ -z $health ]]; then skip "no argocd/**/SendGridEnforcedTls/health.lua in this repository"; fi
  if ! command -v lua5.1 >/dev/null; then skip "lua5.1 is not installed (apt-get install lua5.1)"; fi
  if kubectl -n mail get sgtls/account >/dev/null 2>&1; then snapshot mail account Healthy; fi
  if [[ ! -s $ARGOCD_DIR/expected.tsv ]]; then fail "no object was kept for the health check"; fi
  while IFS=$'\t' read -r file want; do
    jq -r -L "$REPO/tests/kind" 'include "lua"; "return " + tolua' "$ARGOCD_DIR/$file" >"$ARGOCD_DIR/$file.lua"
    got=$(lua5.1 "$harness" "$health" "$ARGOCD_DIR/$file.lua")
    expect_eq "${got%%$'\t'*}" "$want" "Argo CD health of ${file%.json} (${got#*$'\t'})"
    checked=$((checked + 1))
  done <"$ARGOCD_DIR/expected.tsv"
  log "ok: $checked live objects"
}

# Two replicas: deleting the Lease holder hands the Lease to another pod within the lease
# duration, and the new leader reconciles (one PATCH for a new resource, none repeated for an old).
scn_leader_election() {
  local holder new pods ns=kind-leader key fp old_fp old_gets
  holder=$(lease_holder "$NS" "$FULLNAME")
  pods=$(kubectl -n "$NS" get pods -l app.kubernetes.io/component=controller -o jsonpath='{.items[*].metadata.name}')
  log "Lease holder: $holder; operator pods: $pods"
  if [[ " $pods " != *" $holder "* ]]; then fail "the Lease holder '$holder' is not an operator pod"; fi
  if [[ $(wc -w <<<"$pods") -lt 2 ]]; then fail "want two operator pods, have: $pods"; fi
  kubectl -n "$NS" wait pods -l app.kubernetes.io/component=controller --for=condition=Ready --timeout=60s
  # The simulator's log names keys by fingerprint: kind-create's key, read back from its Secret.
  old_fp=$(kubectl -n kind-create get secret sendgrid-api-key -o jsonpath='{.data.apiKey}' 2>/dev/null |
    base64 -d 2>/dev/null | { read -r k && fingerprint "$k"; } || true)
  # Keep the leader's logs to its last line for the key scan.
  mkdir -p "$LOGS_DIR"
  timeout 120 kubectl -n "$NS" logs -f "pod/$holder" --all-containers >"$LOGS_DIR/$holder.log" 2>&1 &
  local follower=$!
  kubectl -n "$NS" delete "pod/$holder" --wait=false
  poll 90 "another pod holds the Lease" lease_moved_from "$holder"
  new=$(lease_holder "$NS" "$FULLNAME")
  kubectl -n "$NS" get "pod/$new" >/dev/null
  log "ok: the Lease moved from $holder to $new"
  wait_gone "$NS" "pod/$holder" 90s
  wait "$follower" || true
  # From here on, every GET comes from the new leader.
  old_gets=$(if [[ -n $old_fp ]]; then sim_count "$old_fp" GET; else echo 0; fi)

  key=$(scenario_setup "$ns")
  fp=$(fingerprint "$key")
  enforce_strict_12 "$ns" after-failover
  wait_ready_in_sync "$ns" after-failover 90s
  expect_eq "$(sim_count "$fp" PATCH)" 1 "PATCHes by the new leader for a new resource"
  if [[ -n $old_fp ]]; then
    poll 60 "the new leader re-read kind-create/full" sim_count_at_least $((old_gets + 1)) "$old_fp" GET
    expect_eq "$(sim_count "$old_fp" PATCH)" 1 "PATCHes for kind-create/full after the takeover (no duplicate)"
  fi
  kubectl -n "$NS" rollout status "deployment/$FULLNAME" --timeout=180s
}

lease_moved_from() { # OLD_HOLDER
  local now
  now=$(lease_holder "$NS" "$FULLNAME")
  [[ -n $now && $now != "$1" ]]
}

# No API key (nor its base64 form) in any log of the operator or the simulator, in any
# SendGridEnforcedTls or in any Event.
scn_no_key_in_logs() {
  local pod restarts found
  mkdir -p "$LOGS_DIR"
  for pod in $(kubectl -n "$NS" get pods -o jsonpath='{.items[*].metadata.name}'); do
    kubectl -n "$NS" logs "pod/$pod" --all-containers >"$LOGS_DIR/$pod.log" 2>&1
    restarts=$(kubectl -n "$NS" get "pod/$pod" -o jsonpath='{.status.containerStatuses[0].restartCount}')
    if ((${restarts:-0} > 0)); then
      kubectl -n "$NS" logs "pod/$pod" --all-containers --previous >"$LOGS_DIR/$pod.previous.log" 2>&1 || true
    fi
  done
  kubectl get sgtls -A -o json >"$LOGS_DIR/resources.json"
  kubectl get events.events.k8s.io -A -o json >"$LOGS_DIR/events.json"
  if ! grep -q 'sendgrid' "$LOGS_DIR"/*.log; then fail "the logs in $LOGS_DIR look empty"; fi
  if (($(wc -l <"$KEYS_FILE") < 8)); then fail "only $(wc -l <"$KEYS_FILE") key strings to look for"; fi
  # Names of the files only: printing the matching lines would put the key in the CI log.
  found=$(grep -F -l -f "$KEYS_FILE" "$LOGS_DIR"/* || true)
  if [[ -n $found ]]; then fail "an API key appears in: $found"; fi
  log "ok: none of $(wc -l <"$KEYS_FILE") key strings in $(find "$LOGS_DIR" -type f | wc -l) files ($(cat "$LOGS_DIR"/* | wc -l) lines)"
}

# The plain-manifest install (kubectl apply -k deploy/) on the same cluster, after the Helm
# release is gone: the operator starts, becomes ready (its watch works with the RBAC in deploy/),
# and its ServiceAccount cannot list Secrets. It talks to no SendGrid: no resource is left.
scn_deploy_kustomize() {
  local overlay=$WORK/deploy-overlay sa=system:serviceaccount:sendgrid-tls-operator:sendgrid-tls-operator
  # While the Helm operator still runs, so that Restore/Reset finalizers are handled.
  kubectl delete namespace -l sgtls-e2e=true --timeout=180s
  helm uninstall "$RELEASE" --namespace "$NS" --wait --timeout 2m
  kubectl get crd sendgridenforcedtlses.sendgrid.ops.dev >/dev/null
  log "ok: the CRD outlived helm uninstall (crds.keep)"
  write_deploy_overlay "$overlay"
  kubectl apply -k "$overlay"
  # Available means the new pod passed its /readyz probe: the watch over the CRD has synced.
  kubectl -n sendgrid-tls-operator rollout status deployment/sendgrid-tls-operator --timeout=180s
  expect_eq "$(kubectl auth can-i list secrets -n default --as="$sa" 2>/dev/null || true)" no "deploy/: can-i list secrets"
  expect_eq "$(kubectl auth can-i get secrets -n default --as="$sa" 2>/dev/null || true)" yes "deploy/: can-i get secrets"
}

# A kustomization over deploy/ that only swaps in the image built by run.sh (never pulled).
write_deploy_overlay() { # DIR
  mkdir -p "$1"
  cat >"$1/kustomization.yaml" <<EOF
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - $(realpath --relative-to="$1" "$REPO/deploy")
patches:
  - target:
      kind: Deployment
      name: sendgrid-tls-operator
    patch: |-
      - op: add
        path: /spec/template/spec/containers/0/image
        value: $IMAGE
      - op: add
        path: /spec/template/spec/containers/0/imagePullPolicy
        value: Never
EOF
}
