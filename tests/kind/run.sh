#!/usr/bin/env bash
# The real-cluster suite: creates a kind cluster, builds the operator image from the Dockerfile and
# loads it, installs the chart with the in-cluster SendGrid simulator (tests/kind/values.yaml),
# then runs the scenarios in tests/kind/scenarios.sh against it. See tests/kind/README.md.
#
#   tests/kind/run.sh                 everything (needs Docker)
#   tests/kind/run.sh --tools-only    only download the pinned kind, kubectl and helm
#
# Environment: CLUSTER_NAME (sgtls-e2e), KIND_NODE_IMAGE (Kubernetes 1.34), KEEP_CLUSTER=1 (do not
# delete the cluster at the end), SKIP_BUILD=1 (use the sendgrid-tls-operator:e2e image already
# in Docker), USE_SYSTEM_TOOLS=1 (kind/kubectl/helm from PATH), WAIT_TIMEOUT (120s),
# WORK_DIR (target/kind-e2e), KIND_E2E_STRICT=1 (a skipped scenario counts as failed).
# Prints PASS/FAIL per scenario and ends with "kind: N passed, M failed"; exits 1 on any failure.
set -euo pipefail
shopt -s inherit_errexit

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CLUSTER_NAME=${CLUSTER_NAME:-sgtls-e2e}
# kind v0.30.0's node images, pinned by digest (kind's release notes ask for the digest).
KIND_NODE_IMAGE=${KIND_NODE_IMAGE:-kindest/node:v1.34.0@sha256:7416a61b42b1662ca6ca89f02028ac133a309a2a30ba309614e8ec94d976dc5a}
KIND_VERSION=v0.30.0
HELM_VERSION=v3.18.6
# kubectl of the cluster's own version (kubectl supports one minor version of skew).
KUBECTL_VERSION=${KUBECTL_VERSION:-$(sed -E 's/^[^:]*:(v[0-9.]+).*/\1/' <<<"$KIND_NODE_IMAGE")}
KEEP_CLUSTER=${KEEP_CLUSTER:-0}
SKIP_BUILD=${SKIP_BUILD:-0}
USE_SYSTEM_TOOLS=${USE_SYSTEM_TOOLS:-0}
STRICT=${KIND_E2E_STRICT:-0}
WAIT=${WAIT_TIMEOUT:-120s}
WORK=${WORK_DIR:-$REPO/target/kind-e2e}

# Must match tests/kind/values.yaml (image.repository:image.tag).
IMAGE=sendgrid-tls-operator:e2e
NS=sendgrid-tls-operator
RELEASE=sgtls
FULLNAME=$RELEASE-sendgrid-tls-operator
SIM_SVC=$FULLNAME-simulator

ARTIFACTS=$WORK/artifacts
ARGOCD_DIR=$WORK/argocd
LOGS_DIR=$ARTIFACTS/logs
KEYS_FILE=$WORK/keys.txt
SIM_PORT_FILE=$WORK/simulator-port
export KUBECONFIG=$WORK/kubeconfig

# shellcheck source=tests/kind/lib.sh
source "$REPO/tests/kind/lib.sh"
# shellcheck source=tests/kind/scenarios.sh
source "$REPO/tests/kind/scenarios.sh"

# ---- tools -------------------------------------------------------------------------------------

# Downloads URL to DEST and checks it against the SHA-256 published next to it (SUM_URL).
fetch() { # URL SUM_URL DEST
  local sum
  curl -fsSL --retry 3 -o "$3" "$1"
  sum=$(curl -fsSL --retry 3 "$2" | cut -d' ' -f1)
  echo "$sum  $3" | sha256sum -c --quiet -
}

install_tools() {
  local arch dir tmp
  case $(uname -m) in
    x86_64) arch=amd64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) fail "no pinned tools for $(uname -m); set USE_SYSTEM_TOOLS=1" ;;
  esac
  [[ $(uname -s) == Linux ]] || fail "the pinned tools are Linux builds; set USE_SYSTEM_TOOLS=1"
  dir=$WORK/tools/kind-$KIND_VERSION
  if [[ ! -x $dir/kind ]]; then
    log "installing kind $KIND_VERSION"
    mkdir -p "$dir"
    fetch "https://github.com/kubernetes-sigs/kind/releases/download/$KIND_VERSION/kind-linux-$arch" \
      "https://github.com/kubernetes-sigs/kind/releases/download/$KIND_VERSION/kind-linux-$arch.sha256sum" \
      "$dir/kind.part"
    chmod +x "$dir/kind.part" && mv "$dir/kind.part" "$dir/kind"
  fi
  PATH=$dir:$PATH
  dir=$WORK/tools/kubectl-$KUBECTL_VERSION
  if [[ ! -x $dir/kubectl ]]; then
    log "installing kubectl $KUBECTL_VERSION"
    mkdir -p "$dir"
    fetch "https://dl.k8s.io/release/$KUBECTL_VERSION/bin/linux/$arch/kubectl" \
      "https://dl.k8s.io/release/$KUBECTL_VERSION/bin/linux/$arch/kubectl.sha256" "$dir/kubectl.part"
    chmod +x "$dir/kubectl.part" && mv "$dir/kubectl.part" "$dir/kubectl"
  fi
  PATH=$dir:$PATH
  dir=$WORK/tools/helm-$HELM_VERSION
  if [[ ! -x $dir/helm ]]; then
    log "installing helm $HELM_VERSION"
    mkdir -p "$dir"
    tmp=$(mktemp -d)
    fetch "https://get.helm.sh/helm-$HELM_VERSION-linux-$arch.tar.gz" \
      "https://get.helm.sh/helm-$HELM_VERSION-linux-$arch.tar.gz.sha256sum" "$tmp/helm.tar.gz"
    tar -xzf "$tmp/helm.tar.gz" -C "$tmp"
    mv "$tmp/linux-$arch/helm" "$dir/helm"
    rm -rf "$tmp"
  fi
  PATH=$dir:$PATH
  export PATH
}

require_tools() {
  local tool
  for tool in docker kind kubectl helm jq curl sha256sum base64 awk realpath; do
    command -v "$tool" >/dev/null || fail "$tool is required and not on PATH"
  done
  log "tools: $(kind version), kubectl $(kubectl version --client -o json | jq -r .clientVersion.gitVersion), helm $(helm version --short)"
}

# ---- cluster -----------------------------------------------------------------------------------

# (grep without -q reads all of kind's output: no SIGPIPE for pipefail to report.)
cluster_exists() { kind get clusters 2>/dev/null | grep -x "$CLUSTER_NAME" >/dev/null; }

create_cluster() {
  if cluster_exists; then
    log "reusing kind cluster $CLUSTER_NAME"
    kind export kubeconfig --name "$CLUSTER_NAME" --kubeconfig "$KUBECONFIG"
    clean_leftovers
  else
    log "creating kind cluster $CLUSTER_NAME ($KIND_NODE_IMAGE)"
    kind create cluster --name "$CLUSTER_NAME" --image "$KIND_NODE_IMAGE" --kubeconfig "$KUBECONFIG" --wait 180s
  fi
  kubectl version
}

# A reused cluster may hold a previous run's objects: remove them, finalizers first (their
# operator may be gone), so the Helm install starts from nothing.
clean_leftovers() {
  local ref
  if kubectl get crd sendgridenforcedtlses.sendgrid.ops.dev >/dev/null 2>&1; then
    for ref in $(kubectl get sgtls -A -o jsonpath='{range .items[*]}{.metadata.namespace}/{.metadata.name}{"\n"}{end}'); do
      kubectl -n "${ref%/*}" patch "sgtls/${ref#*/}" --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null || true
    done
  fi
  helm uninstall "$RELEASE" --namespace "$NS" --wait >/dev/null 2>&1 || true
  kubectl delete namespace -l sgtls-e2e=true --ignore-not-found --timeout=180s
  kubectl delete namespace "$NS" --ignore-not-found --timeout=180s
  kubectl delete clusterrole,clusterrolebinding -l app.kubernetes.io/part-of=sendgrid-tls-operator --ignore-not-found
  kubectl delete crd sendgridenforcedtlses.sendgrid.ops.dev --ignore-not-found --timeout=120s
}

build_image() {
  if [[ $SKIP_BUILD == 1 ]]; then
    log "SKIP_BUILD=1: using the $IMAGE image already in Docker"
  else
    log "building $IMAGE from the Dockerfile"
    (cd "$REPO" && docker build -t "$IMAGE" .)
  fi
  kind load docker-image "$IMAGE" --name "$CLUSTER_NAME"
}

# ---- the simulator's admin port ----------------------------------------------------------------

PF_PID=

# Keeps `kubectl port-forward` to the simulator's Service open (restarting it if it died); the
# local port is written to SIM_PORT_FILE.
ensure_port_forward() {
  local out=$WORK/port-forward.log deadline port
  if [[ -n $PF_PID ]] && kill -0 "$PF_PID" 2>/dev/null; then return 0; fi
  kubectl -n "$NS" port-forward "svc/$SIM_SVC" :8025 --address 127.0.0.1 >"$out" 2>&1 &
  PF_PID=$!
  deadline=$((SECONDS + 30))
  until port=$(sed -nE 's/^Forwarding from 127\.0\.0\.1:([0-9]+) .*/\1/p' "$out" | head -n1) && [[ -n $port ]]; do
    if ((SECONDS >= deadline)) || ! kill -0 "$PF_PID" 2>/dev/null; then
      cat "$out" >&2
      return 1
    fi
    sleep 1
  done
  echo "$port" >"$SIM_PORT_FILE"
  log "simulator admin API on 127.0.0.1:$port (port-forward to svc/$SIM_SVC)"
}

stop_port_forward() {
  if [[ -n $PF_PID ]]; then kill "$PF_PID" 2>/dev/null || true; fi
  PF_PID=
}

# ---- running scenarios -------------------------------------------------------------------------

passed=0
failed=0
skipped=0
failures=()

# Runs scenario function FN in a subshell with set -e, its output indented and kept in a file.
run_scenario() { # NAME FN
  local name=$1 fn=$2 rc
  if [[ $fn != scn_install && $fn != scn_deploy_kustomize ]] && ! ensure_port_forward; then
    echo "FAIL $name (no port-forward to the simulator)"
    failed=$((failed + 1))
    failures+=("$name")
    return
  fi
  log "scenario $name"
  mkdir -p "$ARTIFACTS/scenarios"
  set +e
  (
    set -e
    "$fn"
  ) 2>&1 | tee "$ARTIFACTS/scenarios/$name.log" | sed 's/^/    /'
  rc=${PIPESTATUS[0]}
  set -e
  if ((rc == 0)); then
    echo "PASS $name"
    passed=$((passed + 1))
  elif ((rc == 77)) && [[ $STRICT != 1 ]]; then
    echo "SKIP $name"
    skipped=$((skipped + 1))
  else
    echo "FAIL $name"
    failed=$((failed + 1))
    failures+=("$name")
    diagnose "$name"
  fi
}

# What a failed scenario's namespace and the operator looked like, into the artifacts.
diagnose() { # SCENARIO
  local out=$ARTIFACTS/diagnostics-$1.txt
  {
    kubectl get sgtls -A -o yaml
    kubectl get events.events.k8s.io -A
    kubectl -n "$NS" get pods,lease -o wide
    kubectl -n "$NS" logs -l app.kubernetes.io/component=controller --all-containers --tail=100 --prefix
  } >"$out" 2>&1 || true
}

collect_artifacts() {
  local pod
  mkdir -p "$LOGS_DIR"
  for pod in $(kubectl -n "$NS" get pods -o jsonpath='{.items[*].metadata.name}' 2>/dev/null); do
    kubectl -n "$NS" logs "pod/$pod" --all-containers >"$LOGS_DIR/$pod.log" 2>&1 || true
  done
  kubectl get sgtls -A -o yaml >"$ARTIFACTS/resources.yaml" 2>&1 || true
  kubectl get events.events.k8s.io -A -o yaml >"$ARTIFACTS/events.yaml" 2>&1 || true
  if [[ -n $PF_PID ]]; then sim GET /_sim/requests >"$ARTIFACTS/simulator-requests.json" 2>/dev/null || true; fi
}

finish() {
  local rc=$?
  if [[ -s $KUBECONFIG ]] && cluster_exists; then collect_artifacts; fi
  stop_port_forward
  if [[ $KEEP_CLUSTER == 1 ]]; then
    log "KEEP_CLUSTER=1: cluster $CLUSTER_NAME kept (KUBECONFIG=$KUBECONFIG)"
  elif cluster_exists; then
    kind delete cluster --name "$CLUSTER_NAME" || true
  fi
  exit "$rc"
}

summary() {
  if ((skipped > 0)); then echo "kind: $skipped skipped"; fi
  if ((failed > 0)); then echo "kind: failed: ${failures[*]} (logs in $ARTIFACTS)"; fi
  echo "kind: $passed passed, $failed failed"
  ((failed == 0))
}

main() {
  if [[ ${1-} == --tools-only ]]; then
    install_tools
    return
  fi
  if [[ $# -gt 0 ]]; then fail "unknown argument: $1 (only --tools-only)"; fi
  mkdir -p "$WORK" "$ARTIFACTS"
  rm -rf "$ARGOCD_DIR" "$LOGS_DIR" "$ARTIFACTS/scenarios"
  : >"$KEYS_FILE"
  if [[ $USE_SYSTEM_TOOLS != 1 ]]; then install_tools; fi
  require_tools
  trap finish EXIT
  create_cluster
  build_image

  run_scenario install scn_install
  if ((failed > 0)); then
    summary
    return 1
  fi
  run_scenario rbac scn_rbac
  run_scenario create scn_create
  run_scenario quiet-resync scn_quiet_resync
  run_scenario drift-enforce scn_drift_enforce
  run_scenario drift-observe scn_drift_observe
  run_scenario secret-missing-heals scn_secret_heals
  run_scenario bad-key scn_bad_key
  run_scenario delete-orphan scn_delete_orphan
  run_scenario delete-restore scn_delete_restore
  run_scenario delete-reset scn_delete_reset
  run_scenario delete-reset-secret-gone scn_delete_reset_secret_gone
  run_scenario conflict scn_conflict
  run_scenario examples scn_examples
  run_scenario columns scn_columns
  run_scenario argocd-health scn_argocd_health
  run_scenario leader-election scn_leader_election
  run_scenario no-key-in-logs scn_no_key_in_logs
  # The Helm release goes next: keep its pods' logs and the simulator's request log first.
  collect_artifacts
  stop_port_forward
  run_scenario deploy-kustomize scn_deploy_kustomize
  summary
}

main "$@"
