"""The Helm chart, through the real Helm engine (helm-python-sdk wraps Helm's Go SDK): render each
value file, lint, and prove that values.schema.json rejects typos and wrong types.
"""

from __future__ import annotations

import json
import pathlib
import re
import subprocess
from typing import Any

import helm_python
import sync_chart_readme
import yaml

from . import policy, schemas
from .docs import Doc, load_all, load_file, of_kind
from .report import CheckFailed, Report, require

CHART_DIR = pathlib.Path("charts/sendgrid-tls-operator")
VALUE_FILES_DIR = CHART_DIR / "ci"
RELEASE = "sgtls"
NAMESPACE = "sendgrid-system"
# Lint as the oldest Kubernetes the chart supports (Chart.yaml kubeVersion).
LINT_KUBE_VERSION = "v1.30.0"

# Values the schema must refuse: (description, values).
REJECTED_VALUES = [
    ("unknown top-level key", {"replicaCont": 2}),
    ("unknown nested key", {"image": {"tagg": "1.0"}}),
    ("wrong type", {"replicaCount": "two"}),
    ("value outside an enum", {"logFormat": "yaml"}),
    ("wrong type in a list", {"watchNamespaces": [42]}),
    ("unknown probe field", {"livenessProbe": {"periodSecond": 5}}),
    ("a pull secret without a name", {"global": {"imagePullSecrets": [{"nmae": "regcred"}]}}),
    ("braces in the alert selector", {"metrics": {"prometheusRule": {"selector": '{job="x"}'}}}),
]

# Values the templates must refuse at render, with a message naming the fix: (description,
# values, words the message must contain).
REFUSED_RENDERS = [
    (
        "alerts with nothing scraping the operator",
        {"metrics": {"prometheusRule": {"enabled": True}}},
        "metrics.prometheusRule.selector",
    ),
    (
        "alerts on annotation scraping without a selector",
        {"metrics": {"podScrapeAnnotations": True, "prometheusRule": {"enabled": True}}},
        "metrics.prometheusRule.selector",
    ),
    (
        "a ServiceMonitor and a PodMonitor at once",
        {"metrics": {"serviceMonitor": {"enabled": True}, "podMonitor": {"enabled": True}}},
        "choose one",
    ),
    (
        "per-namespace series with honorLabels under the alerts",
        {
            "metrics": {
                "perNamespace": True,
                "podMonitor": {"enabled": True, "honorLabels": True},
                "prometheusRule": {"enabled": True},
            }
        },
        "honorLabels",
    ),
]
KUBE_STATE_METRICS_CONFIG = CHART_DIR / "files/kube-state-metrics.yaml"
# Kinds extraObjects may leave without a namespace (the template's list, in part).
CLUSTER_SCOPED = {"ClusterRole", "ClusterRoleBinding", "Namespace", "PriorityClass", "StorageClass"}


def value_files() -> list[pathlib.Path]:
    return sorted(VALUE_FILES_DIR.glob("*-values.yaml"))


def fullname(values: dict[str, Any], release: str, chart_name: str) -> str:
    """The chart's "sendgrid-tls-operator.fullname" helper, in Python."""
    if values.get("fullnameOverride"):
        return values["fullnameOverride"][:63].rstrip("-")
    name = values.get("nameOverride") or chart_name
    return (release if name in release else f"{release}-{name}")[:63].rstrip("-")


def namespace_of(values: dict[str, Any]) -> str:
    return values["namespaceOverride"] or NAMESPACE


def expectations(values: dict[str, Any], chart_name: str) -> policy.Expect:
    """What the merged `values` should render to."""
    full = fullname(values, RELEASE, chart_name)
    namespace = namespace_of(values)
    account = values["serviceAccount"]
    service_account = (account["name"] or full) if account["create"] else (account["name"] or "default")
    leader = bool(values["leaderElection"]["enabled"]) or int(values["replicaCount"]) > 1
    simulator = values["simulator"]
    return policy.Expect(
        namespace=namespace,
        service_account=service_account,
        watch_namespaces=list(values["watchNamespaces"]),
        watch_secrets=bool(values["secrets"]["watch"]),
        per_namespace=bool(values["metrics"]["perNamespace"]),
        leader_election=leader,
        lease_name=(values["leaderElection"]["leaseName"] or full) if leader else None,
        metrics_port=int(values["metrics"]["port"]),
        rbac=bool(values["rbac"]["create"]),
        aggregate=bool(values["rbac"]["create"] and values["rbac"]["aggregateClusterRoles"]),
        simulator_url=(
            f"http://{full}-simulator.{namespace}.svc:{simulator['port']}" if simulator["enabled"] else None
        ),
    )


class Rendered:
    """One value file rendered by the Helm engine."""

    def __init__(self, chart: helm_python.Chart, path: pathlib.Path) -> None:
        self.path = path
        self.user_values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        self.values = chart.merge_values(self.user_values)
        manifests = chart.render(self.user_values, name=RELEASE, namespace=NAMESPACE, is_install=True)
        self.notes = "".join(text for name, text in manifests.items() if name.endswith("NOTES.txt"))
        self.docs: list[Doc] = [
            doc
            for name, text in sorted(manifests.items())
            if not name.endswith("NOTES.txt") and "/tests/" not in name
            for doc in load_all(text)
        ]


CRD_DIR = pathlib.Path("crds")
KEEP_ANNOTATIONS = {"helm.sh/resource-policy": "keep", "argocd.argoproj.io/sync-options": "Prune=false"}


def generated_crds(generated_crd: Doc) -> dict[str, Doc]:
    """Every CRD the operator generates (crds/*.yaml), by name; `generated_crd` is among them."""
    crds: dict[str, Doc] = {}
    for path in sorted(CRD_DIR.glob("*.yaml")):
        docs = load_file(path)
        require(len(docs) == 1 and docs[0].get("kind") == "CustomResourceDefinition", f"{path} is not one CRD")
        crds[docs[0]["metadata"]["name"]] = docs[0]
    require(crds.get(generated_crd["metadata"]["name"]) == generated_crd, f"{CRD_DIR} lacks the reference CRD")
    return crds


def check_generated(crds: list[Doc], generated: dict[str, Doc], where: str) -> list[str]:
    """`crds` are exactly the generated ones, without API-server defaults; returns their names."""
    names = sorted(c["metadata"]["name"] for c in crds)
    require(names == sorted(generated), f"{where} has the CRDs {names}, want {sorted(generated)}")
    for crd in crds:
        name = crd["metadata"]["name"]
        require(
            crd["spec"] == generated[name]["spec"],
            f"{where}: the spec of {name} differs from {CRD_DIR} (run scripts/sync-chart-crd.sh)",
        )
        defaults = schemas.schema_defaults(crd)
        require(
            not defaults,
            f"{name} declares API-server defaults at {defaults}: Argo CD would show its objects OutOfSync "
            "forever; apply the default in code instead",
        )
    return names


def check_crd(rendered: Rendered, generated_crd: Doc) -> str:
    """The chart's CRDs are the generated ones, with the keep annotations when asked."""
    crds = of_kind(rendered.docs, "CustomResourceDefinition")
    if not rendered.values["crds"]["install"]:
        require(not crds, f"crds.install=false still renders {[c['metadata']['name'] for c in crds]}")
        return "not rendered (crds.install=false)"
    names = check_generated(crds, generated_crds(generated_crd), "the chart")
    keep = rendered.values["crds"]["keep"]
    for crd in crds:
        name = crd["metadata"]["name"]
        annotations = crd["metadata"].get("annotations") or {}
        if keep:
            require(
                KEEP_ANNOTATIONS.items() <= annotations.items(), f"crds.keep=true but {name} has annotations {annotations}"
            )
        else:
            require(not set(KEEP_ANNOTATIONS) & set(annotations), f"crds.keep=false still keeps {name}")
    kept = "kept on uninstall and prune" if keep else "not kept"
    return f"{', '.join(names)}: generated spec, no defaults, {kept}"


def check_conventions(rendered: Rendered) -> str:
    """Each platform-convention value shows up where it should, and only when set."""
    values, docs = rendered.values, rendered.docs
    namespace = namespace_of(values)
    common = values["commonLabels"]
    extra = [d for d in docs if d["metadata"]["name"].endswith("-extra")]
    # extraObjects are the user's own objects, rendered as given.
    for doc in (d for d in docs if d not in extra):
        labels = doc["metadata"].get("labels") or {}
        require(common.items() <= labels.items(), f"{doc['kind']} {doc['metadata']['name']} lacks commonLabels")
    deployment = policy.operator_deployment(docs)
    annotations = deployment["metadata"].get("annotations") or {}
    require(annotations == values["deploymentAnnotations"], f"Deployment annotations {annotations}")
    require(deployment["spec"].get("strategy", {}) == values["strategy"], "strategy differs from the values")
    _check_pod(deployment, values)
    _check_namespaces(docs, extra, values)
    metrics = values["metrics"]
    for kind, key in (("ServiceMonitor", "serviceMonitor"), ("PodMonitor", "podMonitor")):
        monitors = of_kind(docs, kind)
        require(len(monitors) == int(metrics[key]["enabled"]), f"{len(monitors)} {kind}s")
        for monitor in monitors:
            where = metrics[key]["namespace"] or namespace
            require(monitor["metadata"]["namespace"] == where, f"{kind} in {monitor['metadata']['namespace']}")
            endpoints = monitor["spec"].get("endpoints") or monitor["spec"].get("podMetricsEndpoints")
            honor = [e.get("honorLabels") for e in endpoints]
            require(honor == [metrics[key]["honorLabels"]], f"{kind} honorLabels {honor}")
            selector = monitor["spec"]["namespaceSelector"]["matchNames"]
            require(selector == [namespace], f"the {kind} looks for the operator in {selector}")
    rules = of_kind(docs, "PrometheusRule")
    require(len(rules) == int(metrics["prometheusRule"]["enabled"]), f"{len(rules)} PrometheusRules")
    configs = [d for d in of_kind(docs, "ConfigMap") if d["metadata"]["name"].endswith("-kube-state-metrics")]
    require(len(configs) == int(metrics["kubeStateMetrics"]["enabled"]), f"{len(configs)} kube-state-metrics configs")
    for config in configs:
        require(
            config["data"]["config.yaml"] == KUBE_STATE_METRICS_CONFIG.read_text(encoding="utf-8").rstrip("\n"),
            f"the kube-state-metrics ConfigMap differs from {KUBE_STATE_METRICS_CONFIG}",
        )
    dashboards = [d for d in of_kind(docs, "ConfigMap") if d["metadata"]["name"].endswith("-dashboard")]
    require(len(dashboards) == int(metrics["grafanaDashboard"]["enabled"]), f"{len(dashboards)} dashboards")
    for dashboard in dashboards:
        labels = dashboard["metadata"]["labels"]
        require(metrics["grafanaDashboard"]["labels"].items() <= labels.items(), "dashboard labels")
        json.loads(dashboard["data"]["sendgrid-tls-operator.json"])
    require(len(extra) == len(values["extraObjects"]), f"{len(extra)} extraObjects rendered")
    require(all("{{" not in yaml.safe_dump(d) for d in extra), "extraObjects were not rendered with tpl")
    return (
        f"{len(common)} common labels, namespace {namespace}, {len(rules)} PrometheusRule, "
        f"{len(dashboards)} dashboard, {len(configs)} kube-state-metrics config, {len(extra)} extra object(s), "
        f"{len(values['volumes'])} volume(s)"
    )


def _check_pod(deployment: Doc, values: dict[str, Any]) -> None:
    """The pod-level conventions: pull secrets, containers, probes, host aliases, runtime class."""
    pod = deployment["spec"]["template"]["spec"]
    require(pod.get("volumes", []) == values["volumes"], "pod volumes differ from the values")
    operator, *sidecars = pod["containers"]
    require(operator.get("volumeMounts", []) == values["volumeMounts"], "volumeMounts differ from the values")
    require(sidecars == values["extraContainers"], "extraContainers differ from the values")
    require(pod.get("initContainers", []) == values["extraInitContainers"], "initContainers differ from the values")
    names = [s["name"] for s in values["global"].get("imagePullSecrets", []) + values["imagePullSecrets"]]
    wanted = [{"name": n} for n in dict.fromkeys(names)]
    require(pod.get("imagePullSecrets", []) == wanted, f"imagePullSecrets {pod.get('imagePullSecrets')}, want {wanted}")
    require(pod.get("hostAliases", []) == values["hostAliases"], "hostAliases differ from the values")
    require(pod.get("runtimeClassName", "") == values["runtimeClassName"], "runtimeClassName differs")
    for probe in ("livenessProbe", "readinessProbe"):
        timings = {k: v for k, v in operator[probe].items() if k != "httpGet"}
        require(timings == values[probe], f"{probe} {timings}, want {values[probe]}")
    annotations = deployment["spec"]["template"]["metadata"].get("annotations") or {}
    scrape = {"prometheus.io/scrape", "prometheus.io/port", "prometheus.io/path"}
    if values["metrics"]["podScrapeAnnotations"]:
        require(annotations.get("prometheus.io/port") == str(values["metrics"]["port"]), "prometheus.io/port")
    else:
        require(not (scrape - set(values["podAnnotations"])) & set(annotations), "scrape annotations without asking")


def _check_namespaces(docs: list[Doc], extra: list[Doc], values: dict[str, Any]) -> None:
    """Every namespaced object the chart owns is in namespaceOverride (or the release namespace),
    except where a value places it elsewhere; extraObjects without one get it."""
    namespace = namespace_of(values)
    elsewhere = {"ServiceMonitor", "PodMonitor", "PrometheusRule", "ConfigMap", "Role", "RoleBinding"}
    cluster = {"ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}
    for doc in docs:
        where = doc["metadata"].get("namespace")
        if doc in extra:
            if doc["kind"] in CLUSTER_SCOPED:
                require(where is None, f"extra {doc['kind']} {doc['metadata']['name']} got namespace {where}")
            else:
                require(where is not None, f"extra {doc['kind']} {doc['metadata']['name']} has no namespace")
        elif doc["kind"] in cluster:
            require(where is None, f"{doc['kind']} {doc['metadata']['name']} has a namespace")
        elif doc["kind"] not in elsewhere:
            require(where == namespace, f"{doc['kind']} {doc['metadata']['name']} in {where}, want {namespace}")
    for source, doc in zip(values["extraObjects"], extra, strict=True):
        given = (source.get("metadata") or {}).get("namespace")
        if doc["kind"] not in CLUSTER_SCOPED and not given:
            require(doc["metadata"]["namespace"] == namespace, f"extra {doc['kind']} not defaulted to {namespace}")


# ObjectMeta fields a CustomResourceState path may read (the CRD schema leaves metadata open).
OBJECT_META = {"name", "namespace", "generation", "uid", "labels", "annotations", "creationTimestamp"}


def _resolve(schema: dict[str, Any], path: list[str], where: str) -> dict[str, Any]:
    """The schema node `path` leads to (arrays are walked into, as kube-state-metrics does)."""
    node = schema
    for index, part in enumerate(path):
        if node.get("type") == "array":
            node = node["items"]
        if path[:1] == ["metadata"] and index == 1:
            require(part in OBJECT_META, f"{where}: metadata.{part} is not an ObjectMeta field")
            return {}
        properties = node.get("properties") or {}
        require(part in properties, f"{where}: {'.'.join(path[: index + 1])} is not in the CRD schema")
        node = properties[part]
    return node


def check_kube_state_metrics(cr_schema: dict[str, Any]) -> str:
    """files/kube-state-metrics.yaml names the CRD's group, version and kind, and every path it
    reads exists in the CRD's schema, so kube-state-metrics exports what docs/alerts.md says."""
    config = yaml.safe_load(KUBE_STATE_METRICS_CONFIG.read_text(encoding="utf-8"))
    require(config.get("kind") == "CustomResourceStateMetrics", f"kind {config.get('kind')}")
    (resource,) = config["spec"]["resources"]
    gvk = resource["groupVersionKind"]
    group, version = schemas.CR_API_VERSION.split("/")
    require((gvk["group"], gvk["version"], gvk["kind"]) == (group, version, schemas.CR_KIND), f"groupVersionKind {gvk}")
    paths = 0
    for label, path in resource.get("labelsFromPath", {}).items():
        _resolve(cr_schema, path, f"labelsFromPath.{label}")
        paths += 1
    for metric in resource["metrics"]:
        each = metric["each"]
        body = each[each["type"][0].lower() + each["type"][1:]]
        base = body.get("path", [])
        node = _resolve(cr_schema, base, metric["name"])
        for label, path in body.get("labelsFromPath", {}).items():
            _resolve(node, path, f"{metric['name']} label {label}")
            paths += 1
        if "valueFrom" in body:
            _resolve(node, body["valueFrom"], f"{metric['name']} valueFrom")
        paths += 1
    return f"{len(resource['metrics'])} metrics, {paths} paths, each in the CRD schema"


def check_lint(path: pathlib.Path, user_values: dict[str, Any]) -> str:
    result = helm_python.lint(str(CHART_DIR), user_values, strict=True, kube_version=LINT_KUBE_VERSION)
    problems = [m for m in result["messages"] if m["severity"] >= 2]
    require(not problems and not result["errors"], f"helm lint: {problems or result['errors']}")
    infos = [m["error"] for m in result["messages"]]
    return f"0 errors, 0 warnings{', info: ' + '; '.join(infos) if infos else ''}"


def check_install(rendered: Rendered) -> str:
    """Helm's install action (client dry run: kubeVersion check, hook and kind ordering)."""
    config = helm_python.Config(namespace=NAMESPACE)
    try:
        release = config.install(str(CHART_DIR), RELEASE, rendered.user_values, namespace=NAMESPACE, dry_run="client")
    finally:
        config.close()
    installed = load_all(release["manifest"])
    key = lambda d: (d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"])  # noqa: E731
    require(sorted(map(key, installed)) == sorted(map(key, rendered.docs)), "install manifest and render differ")
    require(namespace_of(rendered.values) in release.get("notes", ""), "install printed no NOTES")
    return f"{len(installed)} objects, NOTES {len(release['notes'].splitlines())} lines"


def run_value_file(
    report: Report, chart: helm_python.Chart, path: pathlib.Path, generated_crd: Doc, cr_schema: dict[str, Any]
) -> None:
    label = path.name
    holder: list[Rendered] = []

    def render() -> str:
        holder.append(Rendered(chart, path))
        kinds = sorted({d["kind"] for d in holder[0].docs})
        require(namespace_of(holder[0].values) in holder[0].notes, "NOTES.txt did not render")
        return f"{len(holder[0].docs)} objects: {', '.join(kinds)}"

    report.run(f"helm render {label}", render)
    if not holder:
        return
    rendered = holder[0]
    expect = expectations(rendered.values, chart.name)
    report.run(f"helm lint {label}", lambda: check_lint(path, rendered.user_values))
    report.run(f"helm install --dry-run=client {label}", lambda: check_install(rendered))
    report.run(f"schemas {label}", lambda: validate_docs(rendered.docs, cr_schema))
    report.run(f"pod security {label}", lambda: policy.check_pod_security(rendered.docs))
    report.run(f"operator wiring {label}", lambda: policy.check_operator(rendered.docs, expect))
    report.run(f"rbac {label}", lambda: policy.check_rbac(rendered.docs, expect))
    report.run(f"crd {label}", lambda: check_crd(rendered, generated_crd))
    report.run(f"conventions {label}", lambda: check_conventions(rendered))


def validate_docs(docs: list[Doc], cr_schema: dict[str, Any] | None) -> str:
    used: dict[str, int] = {}
    for doc in docs:
        validator = schemas.validate_any(doc, cr_schema)
        used[validator] = used.get(validator, 0) + 1
    versions = "/".join(schemas.KUBE_VERSIONS)
    return ", ".join(
        f"{count} by {name}" + (f" {versions} strict" if name == "kubernetes-validate" else "")
        for name, count in sorted(used.items())
    )


def check_rejections(report: Report, chart: helm_python.Chart) -> None:
    """values.schema.json refuses typos and wrong types, in render (install/upgrade) and lint."""
    for description, values in REJECTED_VALUES:

        def body(values: dict[str, Any] = values) -> str:
            try:
                chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)
            except helm_python.HelmValuesError as err:
                message = str(err).strip().splitlines()[-1].strip()
            else:
                raise CheckFailed(f"{values} rendered without a schema error")
            lint = helm_python.lint(str(CHART_DIR), values, strict=True)
            require(any(m["severity"] == 3 for m in lint["messages"]), f"helm lint accepted {values}")
            return message

        report.run(f"schema rejects {description}", body)
    for description, values, words in REFUSED_RENDERS:

        def refused(values: dict[str, Any] = values, words: str = words) -> str:
            try:
                chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)
            except helm_python.HelmError as err:  # the template's fail message
                message = str(err).strip().splitlines()[-1].strip()
            else:
                raise CheckFailed(f"{values} rendered")
            require(words in message, f"the refusal does not name {words}: {message}")
            return message[-160:]

        report.run(f"chart refuses {description}", refused)


def run(report: Report, generated_crd: Doc, cr_schema: dict[str, Any]) -> None:
    files = value_files()
    report.run("chart value files", lambda: f"{len(files)} in {VALUE_FILES_DIR}: " + ", ".join(p.name for p in files))
    chart = helm_python.Chart.load(str(CHART_DIR))
    try:
        report.run("values.schema.json is self-contained", lambda: check_schema_refs(chart.schema))
        report.run("versions agree (Cargo.toml, Chart.yaml, deploy/, CHANGELOG.md)", lambda: check_versions(chart))
        report.run(f"{KUBE_STATE_METRICS_CONFIG} reads existing fields", lambda: check_kube_state_metrics(cr_schema))
        report.run(
            "chart README and values.schema.json are generated from values.yaml (scripts/sync-chart-readme.sh --check)",
            check_chart_readme,
        )
        for path in files:
            run_value_file(report, chart, path, generated_crd, cr_schema)
        check_rejections(report, chart)
    finally:
        chart.close()


def check_chart_readme() -> str:
    """The generated chart README and schema document every value and are current."""
    readme, schema, undocumented = sync_chart_readme.render()
    require(not undocumented, f"values without a '# --' comment: {undocumented}")
    stale = sync_chart_readme.stale({sync_chart_readme.TARGET: readme, sync_chart_readme.SCHEMA: schema})
    require(not stale, f"{', '.join(map(str, stale))} stale: run scripts/sync-chart-readme.sh")
    rows = readme.count(chr(10) + "| ") - 1
    return f"{rows} values in {sync_chart_readme.TARGET}, {sync_chart_readme.SCHEMA} equal to the generated one"


def check_versions(chart: helm_python.Chart) -> str:
    """Cargo.toml, Chart.yaml, Artifact Hub's image, deploy/'s image tag and CHANGELOG.md agree."""
    cargo = re.search(r'^version = "([^"]+)"', pathlib.Path("Cargo.toml").read_text(encoding="utf-8"), re.M)
    require(cargo is not None, "no version in Cargo.toml")
    version = cargo.group(1)
    meta = yaml.safe_load((CHART_DIR / "Chart.yaml").read_text(encoding="utf-8"))
    require(meta["appVersion"] == version, f"appVersion {meta['appVersion']}, Cargo.toml {version}")
    require(meta["version"] == version, f"chart version {meta['version']}, Cargo.toml {version}")
    images = yaml.safe_load(meta["annotations"]["artifacthub.io/images"])
    require(all(i["image"].endswith(":" + version) for i in images), f"artifacthub.io/images {images}")
    for key in ("artifacthub.io/links", "artifacthub.io/crdsExamples"):
        require(isinstance(yaml.safe_load(meta["annotations"][key]), list), f"{key} is not a YAML list")
    # Artifact Hub shows the links of each version: they point at that version's files.
    for entry in yaml.safe_load(meta["annotations"]["artifacthub.io/links"]):
        url = entry["url"]
        require("/blob/" not in url or f"/blob/v{version}/" in url, f"artifacthub.io/links: {url} is not at v{version}")
    deploy = yaml.safe_load(pathlib.Path("deploy/kustomization.yaml").read_text(encoding="utf-8"))
    tags = [i["newTag"] for i in deploy["images"]]
    require(tags == [version], f"deploy/ image tags {tags}")
    result = subprocess.run(["scripts/release-notes.sh", version], capture_output=True, text=True, timeout=30)
    require(result.returncode == 0, f"CHANGELOG.md: {result.stderr.strip()}")
    return f"{version} everywhere; CHANGELOG.md has its section"


def check_schema_refs(schema: dict[str, Any] | None) -> str:
    """Only local `#/...` references: Helm would fetch remote ones, which fails offline."""
    require(schema is not None, "the chart has no values.schema.json")
    refs = _refs(schema)
    remote = [r for r in refs if not r.startswith("#")]
    require(not remote, f"remote $ref: {remote}")
    return f"{len(refs)} local $ref, none remote"


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "$ref"] + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []
