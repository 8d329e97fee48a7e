"""Schema validation of Kubernetes objects, offline.

- Built-in kinds: kubernetes-validate's bundled OpenAPI schemas, strict (unknown fields fail),
  for each Kubernetes version in KUBE_VERSIONS.
- ServiceMonitor, PodMonitor, PrometheusRule: no Kubernetes schema exists; the prometheus-operator models from
  cloudcoil-models-prometheus-operator check types and patterns, and a round trip through them
  catches unknown fields (the models ignore extras, so a dropped field means an unknown one).
- SendGridEnforcedTls: the generated CRD's openAPIV3Schema, turned into JSON Schema (structural
  schemas forbid unknown fields unless x-kubernetes-preserve-unknown-fields). CEL rules
  (x-kubernetes-validations) are not evaluated here.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import kubernetes_validate

from .report import CheckFailed

# The chart's kubeVersion floor and the API version the operator is built against (k8s-openapi).
KUBE_VERSIONS = ("1.30", "1.33")

CR_KIND = "SendGridEnforcedTls"
CR_API_VERSION = "sendgrid.ops.dev/v1alpha1"


def describe(doc: dict[str, Any]) -> str:
    meta = doc.get("metadata") or {}
    where = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{doc.get('kind')} {where}{meta.get('name')}"


def validate_builtin(doc: dict[str, Any]) -> None:
    """Strict schema validation of a built-in kind for every version in KUBE_VERSIONS."""
    for version in KUBE_VERSIONS:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as err:
            path = "/".join(str(p) for p in err.path)
            raise CheckFailed(f"{describe(doc)} invalid for Kubernetes {version} at /{path}: {err.message}") from None
        except kubernetes_validate.SchemaNotFoundError:
            raise CheckFailed(f"{describe(doc)}: no Kubernetes {version} schema for {doc.get('apiVersion')}") from None


PROMETHEUS_OPERATOR_KINDS = ("ServiceMonitor", "PodMonitor", "PrometheusRule")


def validate_service_monitor(doc: dict[str, Any]) -> None:
    """Types, enums and patterns from the prometheus-operator models, plus an unknown-field check
    (ServiceMonitor, PodMonitor and PrometheusRule)."""
    from cloudcoil.models.prometheus_operator import v1 as monitoring

    try:
        model = getattr(monitoring, doc["kind"]).model_validate(doc)
    except Exception as err:  # pydantic.ValidationError; imported lazily with the models
        raise CheckFailed(f"{describe(doc)} invalid: {err}") from None
    round_trip = model.model_dump(by_alias=True, exclude_unset=True, mode="json")
    if round_trip != doc:
        raise CheckFailed(
            f"{describe(doc)} has fields the {doc['kind']} schema does not know: {_first_difference(doc, round_trip)}"
        )


def _first_difference(want: Any, got: Any, path: str = "") -> str:
    if isinstance(want, dict) and isinstance(got, dict):
        for key in want:
            if key not in got:
                return f"{path}/{key}"
            found = _first_difference(want[key], got[key], f"{path}/{key}")
            if found:
                return found
        return ""
    if isinstance(want, list) and isinstance(got, list) and len(want) == len(got):
        for index, (a, b) in enumerate(zip(want, got, strict=True)):
            found = _first_difference(a, b, f"{path}/{index}")
            if found:
                return found
        return ""
    return "" if want == got else path or "/"


def crd_json_schema(crd: dict[str, Any], version: str = "v1alpha1") -> dict[str, Any]:
    """The JSON Schema equivalent of the CRD's structural openAPIV3Schema for `version`."""
    for served in crd["spec"]["versions"]:
        if served["name"] == version:
            schema = _structural(copy.deepcopy(served["schema"]["openAPIV3Schema"]))
            # The API server adds these to every custom resource's schema.
            properties = schema.setdefault("properties", {})
            properties.setdefault("apiVersion", {"type": "string"})
            properties.setdefault("kind", {"type": "string"})
            properties.setdefault("metadata", {"type": "object"})
            return schema
    raise CheckFailed(f"the CRD has no version {version}")


def _structural(node: Any) -> Any:
    if isinstance(node, list):
        return [_structural(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _structural(value) for key, value in node.items()}
    if node.pop("nullable", False) and "type" in node:
        node["type"] = [node["type"], "null"]
    if node.pop("x-kubernetes-int-or-string", False):
        node.pop("type", None)
        node["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    preserve = node.pop("x-kubernetes-preserve-unknown-fields", False)
    if node.get("type") == "object" and "properties" in node and not preserve:
        node.setdefault("additionalProperties", False)
    for key in [k for k in node if k.startswith("x-kubernetes-")]:
        del node[key]
    return node


def schema_defaults(crd: dict[str, Any]) -> list[str]:
    """Where the CRD's schemas declare a `default` (the API server would write it into objects)."""
    found: list[str] = []

    def walk(node: Any, path: str) -> None:
        if not isinstance(node, dict):
            return
        if "default" in node:
            found.append(path or "/")
        for name, child in (node.get("properties") or {}).items():
            walk(child, f"{path}.{name}")
        for key in ("items", "additionalProperties", "not"):
            walk(node.get(key), f"{path}[{key}]")
        for key in ("allOf", "anyOf", "oneOf"):
            for index, child in enumerate(node.get(key) or []):
                walk(child, f"{path}[{key}/{index}]")

    for version in crd["spec"]["versions"]:
        walk(version["schema"]["openAPIV3Schema"], version["name"])
    return found


def validate_custom_resource(doc: dict[str, Any], schema: dict[str, Any]) -> None:
    """A SendGridEnforcedTls object against the CRD schema (as the API server would, minus CEL)."""
    if doc.get("apiVersion") != CR_API_VERSION:
        raise CheckFailed(f"{describe(doc)}: apiVersion {doc.get('apiVersion')}, want {CR_API_VERSION}")
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(doc), key=lambda e: list(e.path))
    if errors:
        first = errors[0]
        path = "/".join(str(p) for p in first.path)
        raise CheckFailed(f"{describe(doc)} invalid at /{path}: {first.message}")


def validate_any(doc: dict[str, Any], cr_schema: dict[str, Any] | None) -> str:
    """Validates one object with the right validator; returns the validator's name."""
    kind = doc.get("kind")
    if kind in PROMETHEUS_OPERATOR_KINDS:
        validate_service_monitor(doc)
        return "prometheus-operator models"
    if kind == CR_KIND:
        if cr_schema is None:
            raise CheckFailed(f"{describe(doc)}: no CRD schema to validate it against")
        validate_custom_resource(doc, cr_schema)
        return "CRD schema"
    validate_builtin(doc)
    return "kubernetes-validate"
