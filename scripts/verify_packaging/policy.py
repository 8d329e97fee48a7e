"""What a rendered install must look like: restricted Pod Security, least-privilege RBAC, and a
Deployment whose flags, ports and probes match the binary's interface.

The binary's interface (flags of `run` and `simulate`, the /healthz and /readyz paths, the API
calls it makes) is the lead's `cli-interface` note; RUN_FLAGS and the rule sets below mirror it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .docs import Doc, component, of_kind
from .report import CheckFailed, require

# Flags taking a value, and switches, per subcommand (global flags are accepted by both).
GLOBAL_VALUE_FLAGS = {
    "--sendgrid-url",
    "--sendgrid-eu-url",
    "--log-format",
    "--log-level",
    "--sendgrid-timeout",
}
RUN_VALUE_FLAGS = GLOBAL_VALUE_FLAGS | {
    "--metrics-addr",
    "--namespace",
    "--leader-election-namespace",
    "--leader-election-lease",
    "--lease-duration",
    "--concurrency",
    "--retry-base-delay",
    "--retry-max-delay",
    "--default-resync-interval",
    "--cleanup-timeout",
}
RUN_SWITCHES = {"--watch-secrets", "--leader-election", "--allow-http-sendgrid-url", "--metrics-per-namespace"}
SIMULATE_VALUE_FLAGS = GLOBAL_VALUE_FLAGS | {"--listen", "--api-key"}
DEFAULT_METRICS_PORT = 8080
DEFAULT_LEASE_NAME = "sendgrid-tls-operator"

# (apiGroup, resource) -> verbs: exactly the calls `run` makes.
CONTROLLER_RULES = {
    ("sendgrid.ops.dev", "sendgridenforcedtlses"): {"get", "list", "watch", "patch"},
    ("sendgrid.ops.dev", "sendgridenforcedtlses/status"): {"patch"},
    ("", "secrets"): {"get"},
    ("events.k8s.io", "events"): {"create", "patch"},
}
# The accounts' claim records: cluster-scoped, so a ClusterRole even when the rest is namespaced.
TARGET_RULES = {("sendgrid.ops.dev", "sendgridtargets"): {"get", "list", "watch", "create", "patch", "delete"}}
WATCH_SECRETS_VERBS = {"get", "list", "watch"}
LEASE_RULES = {("coordination.k8s.io", "leases"): {"get", "create", "patch"}}


@dataclass
class Expect:
    """What one rendered install should contain, derived from its values."""

    namespace: str
    service_account: str
    watch_namespaces: list[str] = field(default_factory=list)
    watch_secrets: bool = False
    per_namespace: bool = False
    leader_election: bool = False
    # The Lease Role: rendered with leader election (chart); always present in deploy/.
    lease_role: bool | None = None
    lease_name: str | None = None
    metrics_port: int = DEFAULT_METRICS_PORT
    rbac: bool = True
    simulator_url: str | None = None
    exact_args: list[str] | None = None
    # ClusterRoles for people (rbac.aggregateClusterRoles): view/edit/admin aggregates, and one
    # that reads the accounts' records.
    aggregate: bool = True
    # The claim-record rule in a ClusterRole of its own (chart) rather than in the controller's
    # one ClusterRole (deploy/).
    targets_role: bool = True


def parse_args(args: list[str], value_flags: set[str], switches: set[str]) -> dict[str, list[str]]:
    """`--flag=value`, `--flag value` and `--switch` into {flag: [values]}; unknown flags fail."""
    parsed: dict[str, list[str]] = {}
    index = 0
    while index < len(args):
        token = args[index]
        require(token.startswith("--"), f"unexpected argument {token!r}")
        name, has_value, value = token.partition("=")
        if name in switches:
            require(not has_value, f"{name} takes no value")
            parsed.setdefault(name, []).append("true")
        elif name in value_flags:
            if not has_value:
                index += 1
                require(index < len(args), f"{name} needs a value")
                value = args[index]
            parsed.setdefault(name, []).append(value)
        else:
            raise CheckFailed(f"{name} is not a flag of the binary (see cli-interface)")
        index += 1
    return parsed


def pod_specs(docs: list[Doc]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (d["metadata"]["name"], d["spec"]["template"]["spec"])
        for d in docs
        if d.get("kind") in ("Deployment", "StatefulSet", "DaemonSet", "Job")
    ]


def check_pod_security(docs: list[Doc]) -> str:
    """The restricted Pod Security Standard plus read-only root filesystems, for every pod."""
    pods = pod_specs(docs)
    require(pods, "no pod templates rendered")
    for name, spec in pods:
        pod_ctx = spec.get("securityContext") or {}
        for host in ("hostNetwork", "hostPID", "hostIPC"):
            require(not spec.get(host), f"{name}: {host} is set")
        for volume in spec.get("volumes") or []:
            require("hostPath" not in volume, f"{name}: hostPath volume {volume.get('name')}")
        for container in spec.get("initContainers", []) + spec["containers"]:
            where = f"{name}/{container['name']}"
            ctx = container.get("securityContext") or {}
            merged = {**pod_ctx, **ctx}
            require(merged.get("runAsNonRoot") is True, f"{where}: runAsNonRoot is not true")
            require(merged.get("runAsUser", 1) != 0, f"{where}: runs as UID 0")
            seccomp = (ctx.get("seccompProfile") or pod_ctx.get("seccompProfile") or {}).get("type")
            require(seccomp in ("RuntimeDefault", "Localhost"), f"{where}: seccompProfile {seccomp}")
            require(ctx.get("allowPrivilegeEscalation") is False, f"{where}: allowPrivilegeEscalation not false")
            require(not ctx.get("privileged"), f"{where}: privileged")
            caps = ctx.get("capabilities") or {}
            require("ALL" in (caps.get("drop") or []), f"{where}: capabilities.drop lacks ALL")
            require(set(caps.get("add") or []) <= {"NET_BIND_SERVICE"}, f"{where}: adds capabilities")
            require(ctx.get("readOnlyRootFilesystem") is True, f"{where}: root filesystem is writable")
    return f"{len(pods)} pod template(s)"


def operator_deployment(docs: list[Doc]) -> Doc:
    found = component(docs, "Deployment", "controller")
    require(len(found) == 1, f"expected one operator Deployment, found {len(found)}")
    return found[0]


def _named_port(container: dict[str, Any], name: str) -> int:
    ports = [p["containerPort"] for p in container.get("ports") or [] if p.get("name") == name]
    require(len(ports) == 1, f"container {container['name']} has no single port named {name}")
    return ports[0]


def _probe_port(container: dict[str, Any], probe: str, path: str) -> int:
    spec = container.get(probe)
    require(spec is not None, f"{container['name']} has no {probe}")
    http = spec.get("httpGet") or {}
    require(http.get("path") == path, f"{probe} path {http.get('path')}, want {path}")
    port = http.get("port")
    return _named_port(container, port) if isinstance(port, str) else port


def check_operator(docs: list[Doc], expect: Expect) -> str:
    """Flags, env, ports, probes, Service and ServiceMonitor of the operator."""
    deployment = operator_deployment(docs)
    spec = deployment["spec"]["template"]["spec"]
    require(spec.get("automountServiceAccountToken") is True, "automountServiceAccountToken is not true")
    require(
        spec.get("serviceAccountName") == expect.service_account,
        f"serviceAccountName {spec.get('serviceAccountName')}, want {expect.service_account}",
    )
    container = spec["containers"][0]
    args = container.get("args") or []
    require(args[:1] == ["run"], f"args start with {args[:1]}, want ['run']")
    if expect.exact_args is not None:
        require(args == expect.exact_args, f"args {args}, want {expect.exact_args}")
    flags = parse_args(args[1:], RUN_VALUE_FLAGS, RUN_SWITCHES)

    addr = (flags.get("--metrics-addr") or [f"0.0.0.0:{DEFAULT_METRICS_PORT}"])[-1]
    port = int(addr.rsplit(":", 1)[1])
    require(port == expect.metrics_port, f"--metrics-addr port {port}, want {expect.metrics_port}")
    require(_named_port(container, "http-metrics") == port, "port http-metrics differs from --metrics-addr")
    require(_probe_port(container, "livenessProbe", "/healthz") == port, "liveness probe port differs")
    require(_probe_port(container, "readinessProbe", "/readyz") == port, "readiness probe port differs")

    require(
        flags.get("--namespace", []) == expect.watch_namespaces,
        f"--namespace {flags.get('--namespace', [])}, want {expect.watch_namespaces}",
    )
    require(("--watch-secrets" in flags) == expect.watch_secrets, f"--watch-secrets should be {expect.watch_secrets}")
    require(
        ("--metrics-per-namespace" in flags) == expect.per_namespace,
        f"--metrics-per-namespace should be {expect.per_namespace}",
    )
    require(
        ("--leader-election" in flags) == expect.leader_election,
        f"--leader-election should be {expect.leader_election}",
    )
    if expect.leader_election:
        lease = flags.get("--leader-election-lease", [DEFAULT_LEASE_NAME])
        require(
            lease == [expect.lease_name or DEFAULT_LEASE_NAME],
            f"--leader-election-lease {lease}, want {expect.lease_name}",
        )
    if expect.simulator_url:
        require(flags.get("--sendgrid-url") == [expect.simulator_url], f"--sendgrid-url {flags.get('--sendgrid-url')}")
        require(
            flags.get("--sendgrid-eu-url") == [expect.simulator_url + "/eu"],
            f"--sendgrid-eu-url {flags.get('--sendgrid-eu-url')}",
        )
    else:
        require("--sendgrid-eu-url" not in flags, "the EU host is overridden without the simulator")

    env = {e["name"]: e for e in container.get("env") or []}
    for name, path in (("POD_NAME", "metadata.name"), ("POD_NAMESPACE", "metadata.namespace")):
        ref = ((env.get(name) or {}).get("valueFrom") or {}).get("fieldRef") or {}
        require(ref.get("fieldPath") == path, f"env {name} is not the downward API {path}")

    _check_metrics_objects(docs, deployment)
    return f"{len(args)} args, port {port}"


def _check_metrics_objects(docs: list[Doc], deployment: Doc) -> None:
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    services = [
        s for s in of_kind(docs, "Service") if any(p.get("targetPort") == "http-metrics" for p in s["spec"]["ports"])
    ]
    for service in services:
        selector = service["spec"]["selector"]
        require(
            all(pod_labels.get(k) == v for k, v in selector.items()),
            f"Service {service['metadata']['name']} does not select the operator pods",
        )
    for monitor in of_kind(docs, "ServiceMonitor"):
        wanted = monitor["spec"]["selector"]["matchLabels"]
        require(
            any(all((s["metadata"].get("labels") or {}).get(k) == v for k, v in wanted.items()) for s in services),
            "the ServiceMonitor selects no metrics Service",
        )
        ports = [e.get("port") for e in monitor["spec"]["endpoints"]]
        require(ports == ["http-metrics"], f"ServiceMonitor endpoints {ports}, want http-metrics")
    for monitor in of_kind(docs, "PodMonitor"):
        wanted = monitor["spec"]["selector"]["matchLabels"]
        selects = all(pod_labels.get(k) == v for k, v in wanted.items())
        require(selects, "the PodMonitor does not select the operator pods")
        ports = [e.get("port") for e in monitor["spec"]["podMetricsEndpoints"]]
        require(ports == ["http-metrics"], f"PodMonitor endpoints {ports}, want http-metrics")


def _rules(role: Doc) -> dict[tuple[str, str], set[str]]:
    """(apiGroup, resource) -> verbs; wildcards fail."""
    found: dict[tuple[str, str], set[str]] = {}
    for rule in role.get("rules") or []:
        for part in ("apiGroups", "resources", "verbs"):
            require("*" not in rule.get(part, []), f"{role['kind']} {role['metadata']['name']}: wildcard {part}")
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                found.setdefault((group, resource), set()).update(rule["verbs"])
    return found


def _bound(docs: list[Doc], binding_kind: str, role: Doc, expect: Expect) -> None:
    bindings = [
        b
        for b in of_kind(docs, binding_kind)
        if b["roleRef"]["name"] == role["metadata"]["name"]
        and b["roleRef"]["kind"] == role["kind"]
        and b["metadata"].get("namespace") == role["metadata"].get("namespace")
    ]
    require(len(bindings) == 1, f"{role['kind']} {role['metadata']['name']} has {len(bindings)} bindings")
    subjects = bindings[0]["subjects"]
    want = [{"kind": "ServiceAccount", "name": expect.service_account, "namespace": expect.namespace}]
    require(subjects == want, f"{binding_kind} subjects {subjects}, want {want}")


def _is_bound(docs: list[Doc], cluster_role: Doc) -> bool:
    """Some binding (cluster-wide or in a namespace) grants this ClusterRole to someone."""
    return any(
        b["roleRef"]["kind"] == "ClusterRole" and b["roleRef"]["name"] == cluster_role["metadata"]["name"]
        for b in of_kind(docs, "ClusterRoleBinding") + of_kind(docs, "RoleBinding")
    )


def check_rbac(docs: list[Doc], expect: Expect) -> str:
    """Exactly the permissions the binary needs, at the scope the values ask for."""
    cluster_roles = of_kind(docs, "ClusterRole")
    roles = of_kind(docs, "Role")
    if not expect.rbac:
        require(
            not (cluster_roles or roles or of_kind(docs, "ClusterRoleBinding") or of_kind(docs, "RoleBinding")),
            "rbac.create=false still renders RBAC objects",
        )
        return "no RBAC objects (rbac.create=false)"

    aggregated = [r for r in cluster_roles if set(r["metadata"].get("labels") or {}) & set(AGGREGATE_LABELS)]
    # Roles for people are never bound by the chart; every bound ClusterRole is the controller's.
    controller_cluster_roles = [r for r in cluster_roles if r not in aggregated and _is_bound(docs, r)]
    platform = [r for r in cluster_roles if r not in aggregated and r not in controller_cluster_roles]
    _check_aggregated(docs, aggregated, expect)
    _check_platform(platform, expect)
    wanted = dict(CONTROLLER_RULES)
    if expect.watch_secrets:
        wanted[("", "secrets")] = WATCH_SECRETS_VERBS
    lease_roles = [r for r in roles if ("coordination.k8s.io", "leases") in _rules(r)]
    controller_roles = [r for r in roles if r not in lease_roles]

    for role in cluster_roles + roles:
        for (group, resource), verbs in _rules(role).items():
            require(group != "apiextensions.k8s.io", f"{role['metadata']['name']} grants CRD access")
            if resource == "secrets":
                allowed = WATCH_SECRETS_VERBS if expect.watch_secrets else {"get"}
                require(verbs <= allowed, f"{role['metadata']['name']} grants secrets {sorted(verbs)}")

    # What each of the controller's ClusterRoles must grant, exactly.
    if expect.watch_namespaces:
        # Only the claim records are cluster-wide; everything else is granted per namespace.
        cluster_wanted = [TARGET_RULES]
    elif expect.targets_role:
        cluster_wanted = [wanted, TARGET_RULES]
    else:
        cluster_wanted = [wanted | TARGET_RULES]
    got = [_rules(r) for r in controller_cluster_roles]
    unmatched = list(got)
    for rules in cluster_wanted:
        if rules in unmatched:
            unmatched.remove(rules)
    require(
        len(got) == len(cluster_wanted) and not unmatched,
        f"the controller's ClusterRoles grant {got}, want {cluster_wanted}",
    )
    for role in controller_cluster_roles:
        _bound(docs, "ClusterRoleBinding", role, expect)
    # No other binding: nothing else is granted, cluster-wide or in a namespace.
    granted = {("ClusterRoleBinding", "ClusterRole", None, r["metadata"]["name"]) for r in controller_cluster_roles}
    granted |= {("RoleBinding", "Role", r["metadata"]["namespace"], r["metadata"]["name"]) for r in roles}
    for binding in of_kind(docs, "ClusterRoleBinding") + of_kind(docs, "RoleBinding"):
        ref = binding["roleRef"]
        require(
            (binding["kind"], ref["kind"], binding["metadata"].get("namespace"), ref["name"]) in granted,
            f"{binding['kind']} {binding['metadata']['name']} grants {ref['kind']} {ref['name']}",
        )

    if expect.watch_namespaces:
        namespaces = sorted(r["metadata"]["namespace"] for r in controller_roles)
        require(
            namespaces == sorted(expect.watch_namespaces),
            f"controller Roles in {namespaces}, want {sorted(expect.watch_namespaces)}",
        )
        for role in controller_roles:
            require(_rules(role) == wanted, f"Role in {role['metadata']['namespace']}: {_rules(role)}")
            _bound(docs, "RoleBinding", role, expect)
    else:
        require(not controller_roles, f"cluster-wide install, yet {len(controller_roles)} controller Role(s)")

    wants_lease_role = expect.leader_election if expect.lease_role is None else expect.lease_role
    if wants_lease_role:
        require(len(lease_roles) == 1, f"want one leader-election Role, found {len(lease_roles)}")
        role = lease_roles[0]
        require(
            role["metadata"].get("namespace") == expect.namespace, "the Lease Role is not in the operator namespace"
        )
        require(_rules(role) == LEASE_RULES, f"Lease Role rules {_rules(role)}, want {LEASE_RULES}")
        for rule in role["rules"]:
            if set(rule["verbs"]) - {"create"}:
                names = rule.get("resourceNames")
                require(
                    names == [expect.lease_name or DEFAULT_LEASE_NAME],
                    f"Lease get/patch not limited to the operator's Lease: {names}",
                )
        _bound(docs, "RoleBinding", role, expect)
    else:
        require(not lease_roles, "Lease permissions rendered without leader election")
    return (
        f"{len(controller_cluster_roles)} controller ClusterRole(s), {len(roles)} Role(s), "
        f"{len(aggregated)} aggregated and {len(platform)} platform ClusterRole(s)"
    )


AGGREGATE_LABELS = {
    "rbac.authorization.k8s.io/aggregate-to-view": "view",
    "rbac.authorization.k8s.io/aggregate-to-edit": "edit",
    "rbac.authorization.k8s.io/aggregate-to-admin": "admin",
}
READ_VERBS = {"get", "list", "watch"}
WRITE_VERBS = {"create", "update", "patch", "delete", "deletecollection"}
# What the aggregated roles may grant: the namespaced resources, never the cluster-scoped claim
# records, which only the platform team's ClusterRole reads.
AGGREGATED_RESOURCES = {"sendgridenforcedtlses", "sendgridenforcedtlses/status"}
# The platform team's ClusterRole, bound by them: read the accounts' claim records.
PLATFORM_RULES = {("sendgrid.ops.dev", "sendgridtargets"): READ_VERBS}


def _check_aggregated(docs: list[Doc], aggregated: list[Doc], expect: Expect) -> None:
    """view reads SendGridEnforcedTls; edit and admin also write them; nobody gets Secrets or status writes."""
    if not expect.aggregate:
        require(not aggregated, "rbac.aggregateClusterRoles=false still renders aggregated ClusterRoles")
        return
    granted: dict[str, set[str]] = {"view": set(), "edit": set(), "admin": set()}
    for role in aggregated:
        rules = _rules(role)
        for (group, resource), verbs in rules.items():
            require(
                group == "sendgrid.ops.dev" and resource in AGGREGATED_RESOURCES,
                f"{role['metadata']['name']} grants {group or 'core'}/{resource}",
            )
            if resource.endswith("/status"):
                require(verbs <= READ_VERBS, f"{role['metadata']['name']} lets people write status")
        verbs = set().union(*rules.values())
        for label, target in AGGREGATE_LABELS.items():
            if (role["metadata"].get("labels") or {}).get(label) == "true":
                granted[target] |= verbs
        for binding in of_kind(docs, "ClusterRoleBinding") + of_kind(docs, "RoleBinding"):
            require(binding["roleRef"]["name"] != role["metadata"]["name"], f"{role['metadata']['name']} is bound")
    require(granted["view"] == READ_VERBS, f"view gets {sorted(granted['view'])}")
    for target in ("edit", "admin"):
        require(granted[target] == READ_VERBS | WRITE_VERBS, f"{target} gets {sorted(granted[target])}")


def _check_platform(platform: list[Doc], expect: Expect) -> None:
    """One unbound, not aggregated ClusterRole that only reads the accounts' claim records."""
    names = [r["metadata"]["name"] for r in platform]
    if not expect.aggregate:
        require(not platform, f"rbac.aggregateClusterRoles=false still renders ClusterRoles for people: {names}")
        return
    require(len(platform) == 1, f"want one unbound, not aggregated ClusterRole (for people), found {names}")
    rules = _rules(platform[0])
    require(rules == PLATFORM_RULES, f"{platform[0]['metadata']['name']} grants {rules}, want {PLATFORM_RULES}")
