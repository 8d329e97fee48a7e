"""Renders tests/kind/values.yaml through the real Helm engine (helm-python-sdk, from the venv that
scripts/verify-packaging.sh prepares) and checks what tests/kind/run.sh assumes about the chart:
object names, the simulator's Service/Secret, the operator's flags, the Lease and its RBAC, the
image that kind loads. Also lints and dry-run installs the values, and validates every rendered
object against the Kubernetes schemas of the versions the workflow runs.

Run by tests/kind/check.sh: python check_values.py REPO RELEASE NAMESPACE IMAGE
Prints one "ok: ..." line per check; raises on the first failure.
"""

from __future__ import annotations

import pathlib
import sys

import helm_python
import kubernetes_validate
import yaml

repo, release, namespace, image = sys.argv[1:5]
chart_dir = pathlib.Path(repo) / "charts" / "sendgrid-tls-operator"
values = yaml.safe_load((pathlib.Path(repo) / "tests" / "kind" / "values.yaml").read_text())
fullname = f"{release}-sendgrid-tls-operator"
simulator = f"{fullname}-simulator"
KUBE_VERSIONS = ("1.31", "1.34")  # the workflow's matrix


def ok(message: str) -> None:
    print(f"ok: {message}")


def check(condition: bool, message: str) -> None:
    if not condition:
        raise SystemExit(f"FAILED: {message}")
    ok(message)


chart = helm_python.Chart.load(str(chart_dir))
try:
    manifests = chart.render(values, name=release, namespace=namespace, is_install=True)
finally:
    chart.close()
docs = [
    doc
    for name, text in sorted(manifests.items())
    if not name.endswith("NOTES.txt")
    for doc in yaml.safe_load_all(text)
    if doc
]
ok(f"helm render: {len(docs)} objects")
by_kind_name = {(d["kind"], d["metadata"]["name"]): d for d in docs}


def get(kind: str, name: str) -> dict:
    doc = by_kind_name.get((kind, name))
    check(doc is not None, f"renders {kind} {name}")
    return doc  # type: ignore[return-value]


for version in ("v1.31.0", "v1.34.0"):
    lint = helm_python.lint(str(chart_dir), values, strict=True, namespace=namespace, kube_version=version)
    problems = [m for m in lint["messages"] if m["severity"] >= 2] + lint["errors"]
    check(not problems, f"helm lint --strict --kube-version {version}: {problems or 'clean'}")

config = helm_python.Config(namespace=namespace)
try:
    installed = config.install(str(chart_dir), release, values, namespace=namespace, dry_run="client")
finally:
    config.close()
check(bool(installed["manifest"]), "helm install --dry-run=client")

for doc in docs:
    kind = doc["kind"]
    if kind == "CustomResourceDefinition":
        continue  # validated by scripts/verify-packaging.sh against the generated CRD
    for version in KUBE_VERSIONS:
        kubernetes_validate.validate(doc, version, strict=True)
ok(f"every object valid (strict) for Kubernetes {', '.join(KUBE_VERSIONS)}")

operator = get("Deployment", fullname)
pod = operator["spec"]["template"]
container = pod["spec"]["containers"][0]
check(operator["spec"]["replicas"] == 2, "two operator replicas")
check(pod["metadata"]["labels"].get("app.kubernetes.io/component") == "controller", "operator pods labelled component=controller")
check(container["image"] == image and container["imagePullPolicy"] == "Never", f"operator image {image}, never pulled")
args = container["args"]
for wanted in (
    f"--sendgrid-url=http://{simulator}.{namespace}.svc:8025",
    f"--sendgrid-eu-url=http://{simulator}.{namespace}.svc:8025/eu",
    "--leader-election",
    f"--leader-election-lease={fullname}",
    "--default-resync-interval=10s",
    "--retry-max-delay=10s",
):
    check(wanted in args, f"operator flag {wanted}")
check("--watch-secrets" not in args, "no Secret watch (the suite tests the get-only default)")

sim = get("Deployment", simulator)
sim_container = sim["spec"]["template"]["spec"]["containers"][0]
check(sim_container["image"] == image and sim_container["args"][0] == "simulate", "simulator runs `simulate` from the same image")
service = get("Service", simulator)
check([p["port"] for p in service["spec"]["ports"]] == [8025], "simulator Service on port 8025 (run.sh port-forwards it)")
secret = get("Secret", simulator)
check("apiKey" in secret.get("stringData", {}), "simulator Secret has apiKey (the examples scenario reads it)")

role = get("Role", f"{fullname}-leader-election")
named = [r for r in role["rules"] if r.get("resourceNames")]
check(any(fullname in r["resourceNames"] and "update" in r["verbs"] for r in named), f"Role may update Lease {fullname}")
get("ServiceAccount", fullname)
