#!/usr/bin/env python3
"""Writes the chart's README.md (helm-docs style) and values.schema.json from one source, the
comments in values.yaml:

- `# -- text` describes the key below it; the comment lines that follow continue it.
- `# @schema {...}` (a JSON object, one line; several lines merge) adds JSON Schema to the key
  below it. The type comes from the default value; an object with keys becomes a closed object
  (additionalProperties false) of its keys, unless the hint gives `$ref`, `oneOf` or `anyOf`
  (which replace the inferred schema) or `additionalProperties`.

`--check` exits 1 when a committed file differs from what values.yaml generates, or when a value
has no `# --` comment (so no value goes undocumented).

Usage: scripts/sync_chart_readme.py [--check]   (from the repository root)
"""

from __future__ import annotations

import argparse
import json
import pathlib
import re
import sys
from dataclasses import dataclass, field
from typing import Any

import yaml

CHART = pathlib.Path("charts/sendgrid-tls-operator")
TARGET = CHART / "README.md"
SCHEMA = CHART / "values.schema.json"
REPOSITORY = "https://github.com/sendgrid-tls-operator/sendgrid-tls-operator"
KEY = re.compile(r"^(\s*)([A-Za-z0-9_.-]+):(\s|$)")
HINT = "@schema"
REPLACING = ("$ref", "oneOf", "anyOf")

# Shared types the `@schema` hints refer to ($ref "#/definitions/NAME").
DEFINITIONS: dict[str, Any] = {
    "stringMap": {"type": "object", "additionalProperties": {"type": "string"}},
    "k8sObject": {"type": "object", "description": "A Kubernetes API object (validated by the API server)."},
    "k8sObjectList": {"type": "array", "items": {"type": "object"}},
    "named": {
        "type": "object",
        "description": "A Kubernetes object with a name (a volume, a container), validated by the API server.",
        "required": ["name"],
        "properties": {"name": {"type": "string", "minLength": 1}},
    },
    "localObjectReference": {
        "type": "object",
        "additionalProperties": False,
        "required": ["name"],
        "properties": {"name": {"type": "string", "description": "Secret name.", "minLength": 1}},
    },
    "envVar": {
        "type": "object",
        "required": ["name"],
        "properties": {"name": {"type": "string", "description": "Variable name.", "minLength": 1}},
    },
    "volumeMount": {
        "type": "object",
        "required": ["name", "mountPath"],
        "properties": {"name": {"type": "string", "minLength": 1}, "mountPath": {"type": "string", "minLength": 1}},
    },
    "resources": {
        "type": "object",
        "additionalProperties": False,
        "properties": {"requests": {"type": "object"}, "limits": {"type": "object"}, "claims": {"type": "array"}},
    },
    "probeTimings": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            name: {"type": "integer", "minimum": low}
            for name, low in (
                ("initialDelaySeconds", 0),
                ("periodSeconds", 1),
                ("timeoutSeconds", 1),
                ("successThreshold", 1),
                ("failureThreshold", 1),
                ("terminationGracePeriodSeconds", 1),
            )
        },
    },
    "dnsLabel": {"type": "string", "minLength": 1, "maxLength": 63, "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
    "port": {"type": "integer", "minimum": 1, "maximum": 65535},
    "intOrPercent": {"oneOf": [{"type": "integer", "minimum": 0}, {"type": "string", "pattern": "^[0-9]+%$"}]},
    "duration": {"type": "string", "pattern": "^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"},
    "cidr": {"type": "string", "pattern": "^[0-9a-fA-F:.]+/[0-9]{1,3}$"},
}


@dataclass
class Key:
    """One key of values.yaml with what its comments say."""

    path: str
    description: str | None = None
    hint: dict[str, Any] = field(default_factory=dict)


def parse(values_text: str) -> list[Key]:
    """Every key of values.yaml (outside lists), in file order, with its comments."""
    out: list[Key] = []
    stack: list[tuple[int, str]] = []
    description: list[str] | None = None
    hint: dict[str, Any] = {}
    for number, line in enumerate(values_text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("#"):
            body = stripped[1:].strip()
            if body.startswith(HINT):
                try:
                    fragment = json.loads(body[len(HINT) :])
                except json.JSONDecodeError as err:
                    raise SystemExit(f"values.yaml:{number}: {HINT} is not JSON: {err}") from None
                hint = merge(hint, fragment)
            elif body.startswith("--"):
                description = [body[2:].strip()]
            elif description is not None:
                description.append(body)
            continue
        match = KEY.match(line)
        if not match or stripped.startswith("-"):
            continue
        indent, name = len(match.group(1)), match.group(2)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, name))
        out.append(Key(".".join(n for _, n in stack), " ".join(description) if description else None, hint))
        description, hint = None, {}
    return out


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """`extra` over `base`; nested "properties" merge key by key."""
    out = dict(base)
    for key, value in extra.items():
        if key == "properties" and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def inferred(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"type": "boolean"}
    for kind, name in ((int, "integer"), (float, "number"), (str, "string"), (list, "array"), (dict, "object")):
        if isinstance(value, kind):
            return {"type": name}
    return {}


def schema_of(value: Any, path: str, keys: dict[str, Key]) -> dict[str, Any]:
    """The JSON Schema of the value at `path` (its hint over what its default implies)."""
    key = keys.get(path, Key(path))
    hint = key.hint
    node: dict[str, Any] = {} if any(k in hint for k in REPLACING) else inferred(value)
    if key.description:
        node["description"] = key.description
    if isinstance(value, dict) and value and not any(k in hint for k in REPLACING):
        node["additionalProperties"] = False
        node["properties"] = {
            name: schema_of(child, f"{path}.{name}" if path else name, keys) for name, child in value.items()
        }
    if not node.get("type") and not any(k in node for k in REPLACING) and not any(k in hint for k in REPLACING):
        raise SystemExit(f"values.yaml: {path} has no type (a null default needs an {HINT} hint)")
    return merge(node, hint)


def render_schema(values: dict[str, Any], keys: dict[str, Key]) -> dict[str, Any]:
    root = schema_of(values, "", keys)
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "sendgrid-tls-operator chart values",
        "description": "GENERATED by scripts/sync-chart-readme.sh from values.yaml: do not edit. Self-contained (no "
        "remote $ref): Helm validates values on install, upgrade, lint and template, offline.",
        "type": "object",
        "additionalProperties": False,
        "definitions": DEFINITIONS,
        "properties": root["properties"],
    }


def type_name(node: dict[str, Any]) -> str:
    """The README's type column: helm-docs' words for a schema node."""
    if "$ref" in node:
        return type_name(DEFINITIONS[node["$ref"].rsplit("/", 1)[1]])
    for combined in ("oneOf", "anyOf"):
        if combined in node:
            return " or ".join(dict.fromkeys(type_name(n) for n in node[combined] if n.get("type") != "null"))
    if "const" in node:
        return type_name(inferred(node["const"]))
    words = {"boolean": "bool", "integer": "int", "number": "float", "array": "list"}
    return words.get(node.get("type", ""), node.get("type", "string"))


def lookup(values: dict[str, Any], key: str) -> Any:
    node: Any = values
    for part in key.split("."):
        node = node[part]
    return node


def schema_node(schema: dict[str, Any], key: str) -> dict[str, Any]:
    node: dict[str, Any] = schema
    for part in key.split("."):
        node = node["properties"][part]
    return node


def undocumented(values: dict[str, Any], documented: set[str], prefix: str = "") -> list[str]:
    """Leaf keys with no description of their own or of an enclosing object."""
    out: list[str] = []
    for name, value in values.items():
        key = prefix + name
        if key in documented:
            continue
        if isinstance(value, dict) and value:
            out += undocumented(value, documented, key + ".")
        else:
            out.append(key)
    return out


def link(chart: dict[str, Any], path: str) -> str:
    """An absolute link to `path` at the chart's release tag: it works on Artifact Hub and from the
    OCI package, where relative links lead nowhere."""
    return f"{REPOSITORY}/blob/v{chart['version']}/{path}"


def render_readme(chart: dict[str, Any], values: dict[str, Any], keys: list[Key], schema: dict[str, Any]) -> str:
    lines = [
        "<!-- GENERATED by scripts/sync-chart-readme.sh from Chart.yaml and values.yaml: do not edit. -->",
        f"# {chart['name']}",
        "",
        f"![Version: {chart['version']}](https://img.shields.io/badge/Version-{chart['version']}-informational) "
        + f"![AppVersion: {chart['appVersion']}](https://img.shields.io/badge/AppVersion-{chart['appVersion']}-informational)",
        "",
        chart["description"],
        "",
        "Kubernetes: `" + chart.get("kubeVersion", "") + "`",
        "",
        "Install (from a release; see the repository README for building the image yourself):",
        "",
        "```sh",
        f"helm install {chart['name']} oci://ghcr.io/sendgrid-tls-operator/charts/{chart['name']} \\",
        f"  --version {chart['version']} --namespace {chart['name']} --create-namespace",
        "```",
        "",
        f"Upgrading, CRDs and the v1alpha1 -> v1beta1 plan: [docs/upgrading.md]({link(chart, 'docs/upgrading.md')}).",
        f"Alerts, per-object metrics and the dashboard: [docs/alerts.md]({link(chart, 'docs/alerts.md')}).",
        f"Proxies, CA bundles and other topics: [docs/helm-values.md]({link(chart, 'docs/helm-values.md')}).",
        "",
        "## Values",
        "",
        "| Key | Type | Default | Description |",
        "|-----|------|---------|-------------|",
    ]
    for key in keys:
        if key.description is None:
            continue
        default = json.dumps(lookup(values, key.path), separators=(",", ":")).replace("|", "\\|")
        text = key.description.replace("|", "\\|")
        lines.append(f"| {key.path} | {type_name(schema_node(schema, key.path))} | `{default}` | {text} |")
    return "\n".join(lines) + "\n"


def render() -> tuple[str, str, list[str]]:
    """(README text, values.schema.json text, undocumented keys)."""
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text(encoding="utf-8"))
    text = (CHART / "values.yaml").read_text(encoding="utf-8")
    values = yaml.safe_load(text)
    keys = parse(text)
    schema = render_schema(values, {k.path: k for k in keys})
    readme = render_readme(chart, values, keys, schema)
    documented = {k.path for k in keys if k.description is not None}
    return readme, json.dumps(schema, indent=2) + "\n", undocumented(values, documented)


def stale(wanted: dict[pathlib.Path, str]) -> list[pathlib.Path]:
    return [p for p, text in wanted.items() if not p.is_file() or p.read_text(encoding="utf-8") != text]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the README or the schema is stale")
    args = parser.parse_args()
    readme, schema, missing = render()
    if missing:
        print(f"sync-chart-readme: no '# --' comment for {missing}", file=sys.stderr)
        return 1
    wanted = {TARGET: readme, SCHEMA: schema}
    if args.check:
        for path in stale(wanted):
            print(f"sync-chart-readme: {path} is stale: run scripts/sync-chart-readme.sh", file=sys.stderr)
        return 1 if stale(wanted) else 0
    for path, text in wanted.items():
        path.write_text(text, encoding="utf-8")
        print(f"sync-chart-readme: wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
