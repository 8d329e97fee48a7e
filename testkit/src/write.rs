//! The API server's write semantics: create, update (PUT), patch and delete, on a resource
//! or its `/status` subresource.
//!
//! - resourceVersion: one global counter; a stale `metadata.resourceVersion` in a PUT or a
//!   patch is a 409 Conflict; a PUT of a custom resource must carry one.
//! - Status subresource: main-resource writes keep the stored `.status`; `/status` writes
//!   change only `.status`. Custom resources' status is dropped on create.
//! - `metadata.generation` starts at 1 and is bumped when anything outside metadata (and
//!   status, with a status subresource) changes, and when deletion starts.
//! - A write that changes nothing is not committed (no new resourceVersion, no watch event).
//! - Delete with finalizers sets `deletionTimestamp` and keeps the object; no finalizer can be
//!   added then; removing the last one deletes the object (one DELETED event).
//! - Every written object passes `admit` (type, namespace, name, the resource's validator);
//!   status writes included.
//!
//! Differences from a real API server: no defaulting or pruning from the schema, no
//! admission webhooks, `propagationPolicy` is ignored (no garbage collector), no graceful
//! deletion period, `fieldValidation` is ignored.

use crate::admit::{check_type, invalid, set_namespace, validate};
use crate::cluster::{Cluster, defaults, now};
use crate::errors::ApiError;
use crate::fields::{Owners, Path};
use crate::kinds::Kind;
use crate::patch::{self, PatchType};
use crate::store::{Entry, ObjectKey};
use serde_json::{Value, json};

/// Which part of the object a request addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sub {
    Main,
    Status,
}

/// One write request, as routed.
pub(crate) struct Write<'a> {
    pub kind: &'a Kind,
    /// The namespace from the URL (`""` for cluster-scoped resources).
    pub namespace: &'a str,
    pub sub: Sub,
    /// The field manager (`fieldManager`, else the client's user agent).
    pub manager: String,
    /// `fieldManager` as given (apply requires it).
    pub explicit_manager: bool,
    pub dry_run: bool,
}

impl Write<'_> {
    fn key(&self, name: &str) -> ObjectKey {
        ObjectKey {
            resource: self.kind.resource.clone(),
            namespace: self.namespace.to_string(),
            name: name.to_string(),
        }
    }

    fn not_found(&self, name: &str) -> ApiError {
        ApiError::not_found(&self.kind.resource.qualified(), name)
    }

    /// Which fields this request may own/change.
    fn in_scope(&self) -> impl Fn(&Path) -> bool + '_ {
        move |p: &Path| {
            let status = p.first().is_some_and(|f| f == "status");
            match self.sub {
                Sub::Status => status,
                Sub::Main => !(status && self.kind.status_subresource),
            }
        }
    }
}

/// POST.
pub(crate) fn create(cluster: &mut Cluster, w: &Write, body: Value) -> Result<Value, ApiError> {
    insert(cluster, w, body, None)
}

/// Creates an object; `owners` are those of a server-side apply that creates it.
fn insert(
    cluster: &mut Cluster,
    w: &Write,
    mut body: Value,
    owners: Option<Owners>,
) -> Result<Value, ApiError> {
    if w.sub != Sub::Main {
        return Err(ApiError::method_not_allowed());
    }
    check_type(w.kind, &body)?;
    let meta = &mut body["metadata"];
    if meta["name"].as_str().is_none_or(str::is_empty) {
        match meta["generateName"].as_str() {
            Some(prefix) if !prefix.is_empty() => {
                let suffix = cluster.store.new_uid();
                meta["name"] = json!(format!("{prefix}{}", &suffix[suffix.len() - 5..]));
            }
            _ => {
                return Err(invalid(
                    w.kind,
                    "",
                    &["metadata.name: Required value: name or generateName is required".into()],
                ));
            }
        }
    }
    let name = meta["name"].as_str().unwrap_or_default().to_string();
    set_namespace(w.kind, w.namespace, &mut body)?;
    let key = w.key(&name);
    if cluster.store.get(&key).is_some() {
        return Err(ApiError::already_exists(
            &w.kind.resource.qualified(),
            &name,
        ));
    }
    let meta = &mut body["metadata"];
    for f in [
        "resourceVersion",
        "managedFields",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
    ] {
        remove(meta, f);
    }
    meta["uid"] = json!(cluster.store.new_uid());
    meta["creationTimestamp"] = json!(now());
    if w.kind.generation {
        meta["generation"] = json!(1);
    }
    if w.kind.status_subresource && w.kind.custom {
        remove(&mut body, "status");
    }
    defaults(&w.kind.resource, &mut body);
    validate(w.kind, &name, &body, None)?;
    let owners = owners.unwrap_or_else(|| {
        let mut owners = Owners::default();
        owners.record_update(&w.manager, &Value::Null, &body, &w.in_scope());
        owners
    });
    if w.dry_run {
        return Ok(body);
    }
    let stored = cluster.store.commit(
        key,
        Entry {
            object: body,
            owners,
        },
    );
    cluster.after_write(&w.kind.resource, &stored, false);
    Ok(stored)
}

/// PUT.
pub(crate) fn update(
    cluster: &mut Cluster,
    w: &Write,
    name: &str,
    body: Value,
) -> Result<Value, ApiError> {
    check_type(w.kind, &body)?;
    match body["metadata"]["name"].as_str() {
        Some(n) if n == name => {}
        other => {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({}) does not match the name on the URL ({name})",
                other.unwrap_or("")
            )));
        }
    }
    let old = cluster
        .store
        .get(&w.key(name))
        .cloned()
        .ok_or_else(|| w.not_found(name))?;
    match body["metadata"]["resourceVersion"].as_str() {
        Some(rv) if Some(rv) != old.object["metadata"]["resourceVersion"].as_str() => {
            return Err(ApiError::conflict(&w.kind.resource.qualified(), name));
        }
        None if w.kind.custom => {
            return Err(invalid(
                w.kind,
                name,
                &[
                    "metadata.resourceVersion: Invalid value: 0x0: must be specified for an update"
                        .into(),
                ],
            ));
        }
        _ => {}
    }
    let mut owners = old.owners.clone();
    let mut body = body;
    set_namespace(w.kind, w.namespace, &mut body)?;
    let candidate = scoped(w, &old.object, body);
    owners.record_update(&w.manager, &old.object, &candidate, &w.in_scope());
    finish(cluster, w, name, old, candidate, owners)
}

/// PATCH (merge, JSON, strategic as merge, or server-side apply, which may create).
pub(crate) fn patch(
    cluster: &mut Cluster,
    w: &Write,
    name: &str,
    type_: PatchType,
    body: &[u8],
    force: bool,
) -> Result<Value, ApiError> {
    if type_ == PatchType::Strategic && w.kind.custom {
        return Err(ApiError::unsupported_media_type(
            "application/strategic-merge-patch+json",
        ));
    }
    if type_ == PatchType::Apply && !w.explicit_manager {
        return Err(ApiError::bad_request(
            "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
        ));
    }
    let existing = cluster.store.get(&w.key(name)).cloned();
    let Some(old) = existing else {
        if type_ != PatchType::Apply || w.sub != Sub::Main {
            return Err(w.not_found(name));
        }
        // Server-side apply creates the object.
        let mut owners = Owners::default();
        let applied = patch::parse_apply(body)?;
        let mut object = owners
            .apply(&w.manager, &Value::Null, &applied, force, &w.in_scope())
            .map_err(|c| ApiError::apply_conflicts(&c))?;
        object["metadata"]["name"] = json!(name);
        return insert(cluster, w, object, Some(owners));
    };
    let mut owners = old.owners.clone();
    let patched = match type_ {
        PatchType::Merge | PatchType::Strategic => patch::merge(&old.object, body)?,
        PatchType::Json => patch::json(&old.object, body)?,
        PatchType::Apply => {
            let applied = patch::parse_apply(body)?;
            check_type(w.kind, &applied)?;
            owners
                .apply(&w.manager, &old.object, &applied, force, &w.in_scope())
                .map_err(|c| ApiError::apply_conflicts(&c))?
        }
    };
    check_type(w.kind, &patched)?;
    if let Some(rv) = patched["metadata"]["resourceVersion"].as_str()
        && Some(rv) != old.object["metadata"]["resourceVersion"].as_str()
    {
        return Err(ApiError::conflict(&w.kind.resource.qualified(), name));
    }
    let candidate = scoped(w, &old.object, patched);
    if type_ != PatchType::Apply {
        owners.record_update(&w.manager, &old.object, &candidate, &w.in_scope());
    }
    finish(cluster, w, name, old, candidate, owners)
}

/// DELETE. `options` is the request's DeleteOptions (preconditions are honoured).
pub(crate) fn delete(
    cluster: &mut Cluster,
    w: &Write,
    name: &str,
    options: &Value,
) -> Result<Value, ApiError> {
    if w.sub != Sub::Main {
        return Err(ApiError::method_not_allowed());
    }
    let key = w.key(name);
    let old = cluster
        .store
        .get(&key)
        .cloned()
        .ok_or_else(|| w.not_found(name))?;
    let meta = &old.object["metadata"];
    for (field, label) in [("uid", "UID"), ("resourceVersion", "ResourceVersion")] {
        let want = &options["preconditions"][field];
        if !want.is_null() && *want != meta[field] {
            return Err(ApiError::conflict_with(
                &w.kind.resource.qualified(),
                name,
                &format!(
                    "Precondition failed: {label} in precondition: {want}, {label} in object meta: {}",
                    meta[field]
                ),
            ));
        }
    }
    let has_finalizers = meta["finalizers"].as_array().is_some_and(|f| !f.is_empty());
    if w.dry_run {
        return Ok(old.object);
    }
    if !has_finalizers {
        let gone = cluster.store.remove(&key, None).unwrap_or(old.object);
        cluster.after_write(&w.kind.resource, &gone, true);
        return Ok(gone);
    }
    if !meta["deletionTimestamp"].is_null() {
        return Ok(old.object);
    }
    let mut object = old.object.clone();
    object["metadata"]["deletionTimestamp"] = json!(now());
    object["metadata"]["deletionGracePeriodSeconds"] = json!(0);
    if let Some(g) = object["metadata"]["generation"].as_i64() {
        object["metadata"]["generation"] = json!(g + 1);
    }
    Ok(cluster.store.commit(
        key,
        Entry {
            object,
            owners: old.owners,
        },
    ))
}

/// The candidate object with the parts this request may not change taken from `old`.
fn scoped(w: &Write, old: &Value, mut candidate: Value) -> Value {
    let keep_status = match w.sub {
        Sub::Status => {
            let mut merged = old.clone();
            copy_field(&candidate, &mut merged, "status");
            return merged;
        }
        Sub::Main => w.kind.status_subresource,
    };
    if keep_status {
        copy_field(old, &mut candidate, "status");
    }
    candidate
}

/// Common end of PUT and PATCH: system metadata, finalizer rules, generation, validation,
/// no-op detection, and deletion when the last finalizer goes.
fn finish(
    cluster: &mut Cluster,
    w: &Write,
    name: &str,
    old: Entry,
    mut new: Value,
    mut owners: Owners,
) -> Result<Value, ApiError> {
    check_type(w.kind, &new)?;
    let old_meta = &old.object["metadata"];
    for f in [
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
        "resourceVersion",
    ] {
        copy_field(old_meta, &mut new["metadata"], f);
    }
    remove(&mut new["metadata"], "managedFields");
    new["apiVersion"] = old.object["apiVersion"].clone();
    new["kind"] = old.object["kind"].clone();
    let deleting = !old_meta["deletionTimestamp"].is_null();
    let finalizers = |v: &Value| -> Vec<Value> {
        v["metadata"]["finalizers"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    let (old_fin, new_fin) = (finalizers(&old.object), finalizers(&new));
    if deleting && new_fin.iter().any(|f| !old_fin.contains(f)) {
        return Err(invalid(w.kind, name, &["metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted".into()]));
    }
    if new_fin.is_empty() {
        remove(&mut new["metadata"], "finalizers");
    }
    defaults(&w.kind.resource, &mut new);
    if w.kind.generation && spec_changed(w.kind, &old.object, &new) {
        let g = old_meta["generation"].as_i64().unwrap_or(0);
        new["metadata"]["generation"] = json!(g + 1);
    }
    let key = w.key(name);
    owners.prune(&new);
    if new == old.object {
        if !w.dry_run {
            cluster.store.set_owners(&key, owners);
        }
        return Ok(old.object);
    }
    validate(w.kind, name, &new, Some(&old.object))?;
    if w.dry_run {
        return Ok(new);
    }
    if deleting && new_fin.is_empty() {
        let gone = cluster.store.remove(&key, Some(new.clone())).unwrap_or(new);
        cluster.after_write(&w.kind.resource, &gone, true);
        return Ok(gone);
    }
    let stored = cluster.store.commit(
        key,
        Entry {
            object: new,
            owners,
        },
    );
    cluster.after_write(&w.kind.resource, &stored, false);
    Ok(stored)
}

/// Did anything outside metadata (and status, with a status subresource) change?
fn spec_changed(kind: &Kind, old: &Value, new: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        remove(&mut v, "metadata");
        if kind.status_subresource {
            remove(&mut v, "status");
        }
        v
    };
    strip(old) != strip(new)
}

fn copy_field(from: &Value, to: &mut Value, field: &str) {
    match from.get(field) {
        Some(v) => to[field] = v.clone(),
        None => remove(to, field),
    }
}

fn remove(object: &mut Value, field: &str) {
    if let Some(map) = object.as_object_mut() {
        map.remove(field);
    }
}
