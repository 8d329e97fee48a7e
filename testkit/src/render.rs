//! Content negotiation and response shapes: full objects and lists, metadata-only
//! `PartialObjectMetadata[List]` (kube's `metadata_watcher`, `Api::get_metadata`) and
//! `Table` (kubectl), chosen from the `Accept` header like the API server does.
//!
//! Differences from a real API server: JSON only (no protobuf, no YAML responses).

use crate::kinds::Kind;
use crate::table::{self, IncludeObject};
use serde_json::{Value, json};

/// The representation a client asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    Full,
    Metadata,
    Table(IncludeObject),
}

impl Format {
    /// The first supported media type of `Accept` (JSON when none is given or none matches).
    pub fn negotiate(accept: Option<&str>, include_object: Option<&str>) -> Format {
        for media in accept.unwrap_or("").split(',') {
            let mut parts = media.split(';').map(str::trim);
            let base = parts.next().unwrap_or("");
            if !matches!(base, "application/json" | "*/*" | "application/*") {
                continue;
            }
            let as_ = parts.find_map(|p| p.strip_prefix("as="));
            match as_ {
                None => return Format::Full,
                Some("Table") => return Format::Table(IncludeObject::parse(include_object)),
                Some("PartialObjectMetadata" | "PartialObjectMetadataList") => {
                    return Format::Metadata;
                }
                Some(_) => {}
            }
        }
        Format::Full
    }
}

/// A stored object as served at `version` (its `apiVersion` rewritten; no conversion between
/// versions, only a view's own, see `Kind::view_of`).
pub(crate) fn served(kind: &Kind, version: &str, object: &Value) -> Value {
    let mut out = kind.view_of(object);
    out["apiVersion"] = Value::String(kind.api_version(version));
    out["kind"] = Value::String(kind.kind.clone());
    out
}

/// One object in the asked format.
pub(crate) fn object(kind: &Kind, version: &str, object: &Value, format: Format) -> Value {
    let full = served(kind, version, object);
    match format {
        Format::Full => full,
        Format::Metadata => table::partial_metadata(&full),
        Format::Table(include) => table::table(kind, version, &[full], None, include),
    }
}

/// One page of a list: its objects, how many follow, and the offset the next page starts at.
pub(crate) struct Page<'a> {
    pub objects: &'a [&'a Value],
    pub remaining: usize,
    pub next: usize,
}

/// A page of a list in the asked format, at resourceVersion `rv`, with a continue token when
/// more follow. (A real server's token pins the first page's snapshot; this one is an offset
/// into the current state.)
pub(crate) fn list(kind: &Kind, version: &str, page: &Page, rv: u64, format: Format) -> Value {
    let items: Vec<Value> = page
        .objects
        .iter()
        .map(|o| served(kind, version, o))
        .collect();
    let mut metadata = json!({ "resourceVersion": rv.to_string() });
    if page.remaining > 0 {
        metadata["continue"] = page.next.to_string().into();
        metadata["remainingItemCount"] = page.remaining.into();
    }
    match format {
        Format::Full => json!({
            "apiVersion": kind.api_version(version),
            "kind": format!("{}List", kind.kind),
            "metadata": metadata,
            "items": items,
        }),
        Format::Metadata => json!({
            "apiVersion": "meta.k8s.io/v1",
            "kind": "PartialObjectMetadataList",
            "metadata": metadata,
            "items": items.iter().map(table::partial_metadata).collect::<Vec<_>>(),
        }),
        Format::Table(include) => {
            let mut table = table::table(kind, version, &items, Some(rv), include);
            table["metadata"] = metadata;
            table
        }
    }
}

/// The object of a watch BOOKMARK event in the asked format.
pub(crate) fn bookmark(
    kind: &Kind,
    version: &str,
    rv: u64,
    format: Format,
    annotations: Option<Value>,
) -> Value {
    let (api_version, kind_name) = match format {
        Format::Full => (kind.api_version(version), kind.kind.clone()),
        Format::Metadata => (
            "meta.k8s.io/v1".to_string(),
            "PartialObjectMetadata".to_string(),
        ),
        Format::Table(_) => ("meta.k8s.io/v1".to_string(), "Table".to_string()),
    };
    let mut metadata = json!({ "resourceVersion": rv.to_string() });
    if let Some(a) = annotations {
        metadata["annotations"] = a;
    }
    json!({ "apiVersion": api_version, "kind": kind_name, "metadata": metadata })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiates_like_the_api_server() {
        let table = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(
            Format::negotiate(Some(table), None),
            Format::Table(IncludeObject::Metadata)
        );
        let meta = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";
        assert_eq!(Format::negotiate(Some(meta), None), Format::Metadata);
        let proto = "application/vnd.kubernetes.protobuf, application/json";
        assert_eq!(Format::negotiate(Some(proto), None), Format::Full);
        assert_eq!(Format::negotiate(None, None), Format::Full);
    }
}
