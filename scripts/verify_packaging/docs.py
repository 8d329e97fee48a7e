"""Loading YAML documents and finding objects in a rendered set."""

from __future__ import annotations

import pathlib
from typing import Any

import yaml

Doc = dict[str, Any]


def load_all(text: str) -> list[Doc]:
    """Every non-empty YAML document in `text` (a `kind: List` is flattened)."""
    docs: list[Doc] = []
    for doc in yaml.safe_load_all(text):
        if not doc:
            continue
        if doc.get("kind") == "List":
            docs.extend(item for item in doc.get("items") or [] if item)
        else:
            docs.append(doc)
    return docs


def load_file(path: pathlib.Path) -> list[Doc]:
    return load_all(path.read_text(encoding="utf-8"))


def of_kind(docs: list[Doc], kind: str) -> list[Doc]:
    return [d for d in docs if d.get("kind") == kind]


def one(docs: list[Doc], kind: str, name_suffix: str = "") -> Doc:
    """The single object of `kind` (whose name ends with `name_suffix`, when given)."""
    found = [d for d in of_kind(docs, kind) if d["metadata"]["name"].endswith(name_suffix)]
    if len(found) != 1:
        names = [d["metadata"]["name"] for d in of_kind(docs, kind)]
        raise LookupError(f"expected one {kind} named *{name_suffix}, found {names}")
    return found[0]


def component(docs: list[Doc], kind: str, name: str) -> list[Doc]:
    """Objects of `kind` labelled app.kubernetes.io/component=`name`."""
    return [
        d for d in of_kind(docs, kind) if (d["metadata"].get("labels") or {}).get("app.kubernetes.io/component") == name
    ]
