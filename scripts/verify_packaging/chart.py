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
from .docs import Doc, load_all, of_kind
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
]


def value_files() -> list[pathlib.Path]:
    return sorted(VALUE_FILES_DIR.glob("*-values.yaml"))


def fullname(values: dict[str, Any], release: str, chart_name: str) -> str:
    """The chart's "sendgrid-tls-operator.fullname" helper, in Python."""
    if values.get("fullnameOverride"):
        return values["fullnameOverride"][:63].rstrip("-")
    name = values.get("nameOverride") or chart_name
    return (release if name in release else f"{release}-{name}")[:63].rstrip("-")


def expectations(values: dict[str, Any], chart_name: str) -> policy.Expect:
    """What the merged `values` should render to."""
    full = fullname(values, RELEASE, chart_name)
    account = values["serviceAccount"]
    service_account = (account["name"] or full) if account["create"] else (account["name"] or "default")
    leader = bool(values["leaderElection"]["enabled"]) or int(values["replicaCount"]) > 1
    simulator = values["simulator"]
    return policy.Expect(
        namespace=NAMESPACE,
        service_account=service_account,
        watch_namespaces=list(values["watchNamespaces"]),
        watch_secrets=bool(values["secrets"]["watch"]),
        leader_election=leader,
        lease_name=(values["leaderElection"]["leaseName"] or full) if leader else None,
        metrics_port=int(values["metrics"]["port"]),
        rbac=bool(values["rbac"]["create"]),
        aggregate=bool(values["rbac"]["create"] and values["rbac"]["aggregateClusterRoles"]),
        simulator_url=(
            f"http://{full}-simulator.{NAMESPACE}.svc:{simulator['port']}" if simulator["enabled"] else None
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


def check_crd(rendered: Rendered, generated_crd: Doc) -> str:
    """The chart's CRD is the generated one, with the keep annotations when asked."""
    crds = of_kind(rendered.docs, "CustomResourceDefinition")
    if not rendered.values["crds"]["install"]:
        require(not crds, "crds.install=false still renders the CRD")
        return "not rendered (crds.install=false)"
    require(len(crds) == 1, f"{len(crds)} CRDs rendered")
    crd = crds[0]
    require(
        crd["spec"] == generated_crd["spec"], "the chart CRD's spec differs from crds/ (run scripts/sync-chart-crd.sh)"
    )
    require(crd["metadata"]["name"] == generated_crd["metadata"]["name"], "the chart CRD's name differs")
    annotations = crd["metadata"].get("annotations") or {}
    keep = {"helm.sh/resource-policy": "keep", "argocd.argoproj.io/sync-options": "Prune=false"}
    if rendered.values["crds"]["keep"]:
        require(
            all(annotations.get(k) == v for k, v in keep.items()), f"crds.keep=true but annotations are {annotations}"
        )
        return "generated spec, kept on uninstall and prune"
    require(not set(keep) & set(annotations), "crds.keep=false still keeps the CRD")
    return "generated spec, not kept"


def check_conventions(rendered: Rendered) -> str:
    """Each platform-convention value shows up where it should, and only when set."""
    values, docs = rendered.values, rendered.docs
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
    pod = deployment["spec"]["template"]["spec"]
    require(pod.get("volumes", []) == values["volumes"], "pod volumes differ from the values")
    mounts = pod["containers"][0].get("volumeMounts", [])
    require(mounts == values["volumeMounts"], "volumeMounts differ from the values")
    metrics = values["metrics"]
    for monitor in of_kind(docs, "ServiceMonitor"):
        namespace = metrics["serviceMonitor"]["namespace"] or NAMESPACE
        require(monitor["metadata"]["namespace"] == namespace, f"ServiceMonitor in {monitor['metadata']['namespace']}")
        honor = [e.get("honorLabels") for e in monitor["spec"]["endpoints"]]
        require(honor == [metrics["serviceMonitor"]["honorLabels"]], f"honorLabels {honor}")
        selector = monitor["spec"]["namespaceSelector"]["matchNames"]
        require(selector == [NAMESPACE], f"the ServiceMonitor looks for the Service in {selector}")
    rules = of_kind(docs, "PrometheusRule")
    require(len(rules) == int(metrics["prometheusRule"]["enabled"]), f"{len(rules)} PrometheusRules")
    dashboards = [d for d in of_kind(docs, "ConfigMap") if d["metadata"]["name"].endswith("-dashboard")]
    require(len(dashboards) == int(metrics["grafanaDashboard"]["enabled"]), f"{len(dashboards)} dashboards")
    for dashboard in dashboards:
        labels = dashboard["metadata"]["labels"]
        require(metrics["grafanaDashboard"]["labels"].items() <= labels.items(), "dashboard labels")
        json.loads(dashboard["data"]["sendgrid-tls-operator.json"])
    require(len(extra) == len(values["extraObjects"]), f"{len(extra)} extraObjects rendered")
    require(all("{{" not in yaml.safe_dump(d) for d in extra), "extraObjects were not rendered with tpl")
    return (
        f"{len(common)} common labels, {len(rules)} PrometheusRule, {len(dashboards)} dashboard, "
        f"{len(extra)} extra object(s), {len(values['volumes'])} volume(s)"
    )


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
    key = lambda d: (d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"])
    require(sorted(map(key, installed)) == sorted(map(key, rendered.docs)), "install manifest and render differ")
    require(NAMESPACE in release.get("notes", ""), "install printed no NOTES")
    return f"{len(installed)} objects, NOTES {len(release['notes'].splitlines())} lines"


def run_value_file(
    report: Report, chart: helm_python.Chart, path: pathlib.Path, generated_crd: Doc, cr_schema: dict[str, Any]
) -> None:
    label = path.name
    holder: list[Rendered] = []

    def render() -> str:
        holder.append(Rendered(chart, path))
        kinds = sorted({d["kind"] for d in holder[0].docs})
        require(NAMESPACE in holder[0].notes, "NOTES.txt did not render")
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


def run(report: Report, generated_crd: Doc, cr_schema: dict[str, Any]) -> None:
    files = value_files()
    report.run("chart value files", lambda: f"{len(files)} in {VALUE_FILES_DIR}: " + ", ".join(p.name for p in files))
    chart = helm_python.Chart.load(str(CHART_DIR))
    try:
        report.run("values.schema.json is self-contained", lambda: check_schema_refs(chart.schema))
        report.run("versions agree (Cargo.toml, Chart.yaml, deploy/, CHANGELOG.md)", lambda: check_versions(chart))
        report.run("chart README documents every value (scripts/sync-chart-readme.sh --check)", check_chart_readme)
        for path in files:
            run_value_file(report, chart, path, generated_crd, cr_schema)
        check_rejections(report, chart)
    finally:
        chart.close()


def check_chart_readme() -> str:
    """The generated chart README documents every value and is current."""
    wanted, undocumented = sync_chart_readme.render()
    require(not undocumented, f"values without a '# --' comment: {undocumented}")
    target = sync_chart_readme.TARGET
    require(
        target.is_file() and target.read_text(encoding="utf-8") == wanted,
        f"{target} is stale: run scripts/sync-chart-readme.sh",
    )
    return f"{wanted.count(chr(10) + '| ') - 1} values in {target}"


def check_versions(chart: helm_python.Chart) -> str:
    """Cargo.toml, Chart.yaml, Artifact Hub's image, deploy/'s image tag and CHANGELOG.md agree."""
    cargo = re.search(r'^version = "([^"]+)"', pathlib.Path("Cargo.toml").read_text(encoding="utf-8"), re.MULTILINE)
    require(cargo is not None, "no version in Cargo.toml")
    version = cargo.group(1)
    meta = yaml.safe_load((CHART_DIR / "Chart.yaml").read_text(encoding="utf-8"))
    require(meta["appVersion"] == version, f"appVersion {meta['appVersion']}, Cargo.toml {version}")
    require(meta["version"] == version, f"chart version {meta['version']}, Cargo.toml {version}")
    images = yaml.safe_load(meta["annotations"]["artifacthub.io/images"])
    require(all(i["image"].endswith(":" + version) for i in images), f"artifacthub.io/images {images}")
    for key in ("artifacthub.io/links", "artifacthub.io/crdsExamples"):
        require(isinstance(yaml.safe_load(meta["annotations"][key]), list), f"{key} is not a YAML list")
    deploy = yaml.safe_load(pathlib.Path("deploy/kustomization.yaml").read_text(encoding="utf-8"))
    tags = [i["newTag"] for i in deploy["images"]]
    require(tags == [version], f"deploy/ image tags {tags}")
    result = subprocess.run(
        ["scripts/release-notes.sh", version],
        check=False, capture_output=True, text=True, timeout=30,
    )
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
