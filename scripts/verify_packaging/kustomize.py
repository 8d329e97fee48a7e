"""deploy/: `kubectl kustomize` renders it offline; the same policy as the chart applies, plus
the high-availability Component (deploy/components/ha) through a throwaway kustomization.
"""

from __future__ import annotations

import pathlib
import subprocess
from typing import Any

from . import chart, policy
from .chart import validate_docs
from .docs import Doc, load_all, of_kind, one
from .report import CheckFailed, Report, require

DEPLOY_DIR = pathlib.Path("deploy")
HA_COMPONENT = DEPLOY_DIR / "components" / "ha"
WORK_DIR = pathlib.Path("target/verify-packaging")
NAMESPACE = "sendgrid-tls-operator"
BASE_ARGS = ["run", "--log-format", "json", "--leader-election"]


def kustomize(directory: pathlib.Path) -> list[Doc]:
    result = subprocess.run(["kubectl", "kustomize", str(directory)], capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise CheckFailed(f"kubectl kustomize {directory} failed: {result.stderr.strip()}")
    return load_all(result.stdout)


def base_expect(**changes: Any) -> policy.Expect:
    expect = policy.Expect(
        namespace=NAMESPACE,
        service_account="sendgrid-tls-operator",
        leader_election=True,
        lease_role=True,
        lease_name="sendgrid-tls-operator",
        exact_args=BASE_ARGS,
        targets_role=False,
    )
    for key, value in changes.items():
        setattr(expect, key, value)
    return expect


def check_namespaces(docs: list[Doc]) -> str:
    cluster_scoped = {"Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"}
    for doc in docs:
        namespace = doc["metadata"].get("namespace")
        if doc["kind"] in cluster_scoped:
            require(namespace is None, f"cluster-scoped {doc['kind']} has a namespace")
        else:
            require(namespace == NAMESPACE, f"{doc['kind']} {doc['metadata']['name']} in namespace {namespace}")
    one(docs, "Namespace", NAMESPACE)
    return f"{len(docs)} objects, namespaced ones in {NAMESPACE}"


def check_crd(docs: list[Doc], generated_crd: Doc) -> str:
    crds = of_kind(docs, "CustomResourceDefinition")
    names = chart.check_generated(crds, chart.generated_crds(generated_crd), "deploy/")
    return f"the generated CRDs from ../crds: {', '.join(names)}"


def check_ha(docs: list[Doc]) -> str:
    deployment = policy.operator_deployment(docs)
    require(deployment["spec"]["replicas"] == 2, f"replicas {deployment['spec']['replicas']}")
    pdb = one(docs, "PodDisruptionBudget")
    require(pdb["metadata"].get("namespace") == NAMESPACE, "the PDB is not in the operator namespace")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    selector = pdb["spec"]["selector"]["matchLabels"]
    require(all(pod_labels.get(k) == v for k, v in selector.items()), "the PDB does not select the operator pods")
    return "2 replicas, --leader-election, PDB maxUnavailable " + str(pdb["spec"].get("maxUnavailable"))


def run(report: Report, generated_crd: Doc, cr_schema: dict[str, Any]) -> None:
    rendered: dict[str, list[Doc]] = {}

    def render_base() -> str:
        rendered["base"] = kustomize(DEPLOY_DIR)
        return check_namespaces(rendered["base"])

    report.run("kubectl kustomize deploy/", render_base)
    if "base" in rendered:
        docs = rendered["base"]
        report.run("schemas deploy/", lambda: validate_docs(docs, cr_schema))
        report.run("pod security deploy/", lambda: policy.check_pod_security(docs))
        report.run("operator wiring deploy/", lambda: policy.check_operator(docs, base_expect()))
        report.run("rbac deploy/", lambda: policy.check_rbac(docs, base_expect()))
        report.run("crd deploy/", lambda: check_crd(docs, generated_crd))

    def render_ha() -> str:
        # A Component is used from a kustomization outside deploy/ (an overlay inside its base
        # would be a cycle), as a user would.
        ha_dir = WORK_DIR / "ha"
        ha_dir.mkdir(parents=True, exist_ok=True)
        up = "../" * len(ha_dir.parts)
        (ha_dir / "kustomization.yaml").write_text(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
            f"resources:\n  - {up}{DEPLOY_DIR}\ncomponents:\n  - {up}{HA_COMPONENT}\n",
            encoding="utf-8",
        )
        rendered["ha"] = kustomize(ha_dir)
        return check_ha(rendered["ha"])

    report.run("kubectl kustomize deploy/ + components/ha", render_ha)
    if "ha" in rendered:
        docs_ha = rendered["ha"]
        expect = base_expect()
        report.run("schemas deploy/ + ha", lambda: validate_docs(docs_ha, cr_schema))
        report.run("pod security deploy/ + ha", lambda: policy.check_pod_security(docs_ha))
        report.run("operator wiring deploy/ + ha", lambda: policy.check_operator(docs_ha, expect))
        report.run("rbac deploy/ + ha", lambda: policy.check_rbac(docs_ha, expect))
