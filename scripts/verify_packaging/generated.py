"""The generated CRD (crds/) as the reference for everything else: the chart's copy must equal
it, and every example and test object must satisfy its schema. Also proves, with deliberately
broken objects, that each validator used by these checks can fail.
"""

from __future__ import annotations

import copy
import pathlib
from typing import Any

import sync_chart_crd

from . import schemas
from .docs import Doc, load_file
from .report import CheckFailed, Report, require

CRD_FILE = pathlib.Path("crds/sendgridenforcedtlses.sendgrid.ops.dev.yaml")
EXAMPLES_DIR = pathlib.Path("examples")


def load_crd() -> Doc:
    require(CRD_FILE.is_file(), f"{CRD_FILE} is missing")
    docs = load_file(CRD_FILE)
    require(len(docs) == 1 and docs[0].get("kind") == "CustomResourceDefinition", f"{CRD_FILE} is not one CRD")
    return docs[0]


def check_chart_copy() -> str:
    for source, target in sync_chart_crd.PAIRS:
        wanted = sync_chart_crd.render_template(source.read_text(encoding="utf-8"), source)
        require(target.is_file(), f"{target} is missing: run scripts/sync-chart-crd.sh")
        require(target.read_text(encoding="utf-8") == wanted, f"{target} is stale: run scripts/sync-chart-crd.sh")
    return ", ".join(f"{target} == template of {source}" for source, target in sync_chart_crd.PAIRS)


def check_examples(cr_schema: dict[str, Any]) -> str:
    files = sorted(EXAMPLES_DIR.glob("*.yaml")) + sorted(EXAMPLES_DIR.glob("*.yml"))
    require(bool(files), f"no {EXAMPLES_DIR}/*.yaml")
    secrets = sorted(EXAMPLES_DIR.glob("secrets/*.yaml"))
    counts: dict[str, int] = {}
    for path in files + secrets:
        for doc in load_file(path):
            # Deleting an example must never delete a key: Secrets live in examples/secrets/.
            require(doc["kind"] != "Secret" or path in secrets, f"{path}: a Secret among the resources")
            try:
                schemas.validate_any(doc, cr_schema)
            except CheckFailed as err:
                raise CheckFailed(f"{path}: {err}") from None
            counts[doc["kind"]] = counts.get(doc["kind"], 0) + 1
    require(counts.get(schemas.CR_KIND, 0) > 0, f"{EXAMPLES_DIR} has no {schemas.CR_KIND}")
    return f"{len(files) + len(secrets)} files: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))


def _must_fail(description: str, action: Any) -> str:
    try:
        action()
    except CheckFailed as err:
        return f"{description}: {str(err)[:100]}"
    raise CheckFailed(f"{description} was accepted")


def check_validators_can_fail(cr_schema: dict[str, Any], crd: Doc) -> str:
    resource = {
        "apiVersion": schemas.CR_API_VERSION,
        "kind": schemas.CR_KIND,
        "metadata": {"name": "x", "namespace": "mail"},
        "spec": {"apiKeySecretRef": {"name": "sendgrid-api-key"}, "minimumTlsVersion": "1.2"},
    }
    schemas.validate_custom_resource(resource, cr_schema)  # the baseline is valid
    typo = copy.deepcopy(resource)
    typo["spec"]["requireTLS"] = True
    float_version = copy.deepcopy(resource)
    float_version["spec"]["minimumTlsVersion"] = 1.2
    no_secret = copy.deepcopy(resource)
    del no_secret["spec"]["apiKeySecretRef"]
    bad_crd = copy.deepcopy(crd)
    bad_crd["spec"]["versions"][0]["served"] = "yes"
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "i", "securityContext": {"readOnlyRootFilesytem": True}}]},
    }
    monitor = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": "m"},
        "spec": {"selector": {}, "endpoints": [{"port": "http-metrics", "intervall": "30s"}]},
    }
    notes = [
        _must_fail("CRD schema, unknown field", lambda: schemas.validate_custom_resource(typo, cr_schema)),
        _must_fail(
            "CRD schema, number for a string", lambda: schemas.validate_custom_resource(float_version, cr_schema)
        ),
        _must_fail("CRD schema, missing required", lambda: schemas.validate_custom_resource(no_secret, cr_schema)),
        _must_fail("kubernetes-validate, CRD field of the wrong type", lambda: schemas.validate_builtin(bad_crd)),
        _must_fail("kubernetes-validate, misspelt field", lambda: schemas.validate_builtin(pod)),
        _must_fail("ServiceMonitor, misspelt field", lambda: schemas.validate_service_monitor(monitor)),
    ]
    return f"{len(notes)} broken objects rejected"


def run(report: Report) -> tuple[Doc, dict[str, Any]] | None:
    loaded: dict[str, Any] = {}

    def load() -> str:
        loaded["crd"] = load_crd()
        loaded["schema"] = schemas.crd_json_schema(loaded["crd"])
        return f"{CRD_FILE}"

    report.run("generated CRD loads", load)
    if not loaded:
        return None
    crd, cr_schema = loaded["crd"], loaded["schema"]
    report.run(
        "generated CRD passes kubernetes-validate",
        lambda: schemas.validate_builtin(crd) or "strict, " + "/".join(schemas.KUBE_VERSIONS),
    )
    report.run("chart CRD template is in sync (scripts/sync-chart-crd.sh --check)", check_chart_copy)
    report.run("validators reject broken objects", lambda: check_validators_can_fail(cr_schema, crd))
    report.run("examples/ match their schemas", lambda: check_examples(cr_schema))
    return crd, cr_schema
