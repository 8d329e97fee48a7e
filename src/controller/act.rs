//! Act: write what the decision concluded — the account's claim record, status (only when it
//! changed), Events, finalizer.

use super::context::Context;
use super::error::Error;
use crate::api::{
    FINALIZER, MANAGER, SendGridEnforcedTls, SendGridEnforcedTlsStatus, SendGridTarget,
    SendGridTargetSpec, TargetAccount, TargetFields,
};
use crate::decision::{Event, EventKind};
use k8s_openapi::api::core::v1::ObjectReference;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::core::{ObjectMeta, PartialObjectMeta};
use kube::runtime::events::{Event as KubeEvent, EventType, Recorder};
use kube::{Api, Resource, ResourceExt};
use serde_json::{Map, Value, json};

/// Every write names the operator as its field manager.
fn params() -> PatchParams {
    PatchParams {
        field_manager: Some(MANAGER.to_string()),
        ..PatchParams::default()
    }
}

fn api(ctx: &Context, res: &SendGridEnforcedTls) -> Result<Api<SendGridEnforcedTls>, Error> {
    let ns = res.namespace().ok_or(Error::NoNamespace)?;
    Ok(Api::namespaced(ctx.kube.clone(), &ns))
}

/// Writes `status` when it differs from the resource's, as a compare-and-swap on the
/// resourceVersion it was computed from: a write based on a stale cache fails with
/// [`Error::Stale`] and the reconcile starts over, so the operator never overwrites a newer status
/// (say, an original recorded by its own earlier write) with an older one. Returns the resource
/// as written, or `None` when nothing needed writing.
pub async fn write_status(
    ctx: &Context,
    res: &SendGridEnforcedTls,
    status: &SendGridEnforcedTlsStatus,
) -> Result<Option<SendGridEnforcedTls>, Error> {
    if res
        .status
        .as_ref()
        .unwrap_or(&SendGridEnforcedTlsStatus::default())
        == status
    {
        return Ok(None);
    }
    ctx.sendgrid.fence().check()?;
    let old = serde_json::to_value(&res.status).unwrap_or(Value::Null);
    let new = serde_json::to_value(status).unwrap_or(Value::Null);
    let patch = Patch::Merge(json!({
        "metadata": { "resourceVersion": res.resource_version() },
        "status": merge_patch(&old, &new),
    }));
    let written = api(ctx, res)?
        .patch_status(&res.name_any(), &params(), &patch)
        .await
        .map_err(stale_on_conflict)?;
    ctx.metrics.status_written(res, status);
    Ok(Some(written))
}

/// Writes the account's claim record as `fields`: created when there is none (`current`), else
/// replaced as a compare-and-swap on the version read; a record in which nobody holds anything
/// is deleted instead, unless `keep` (other resources still point at the account, and the next
/// holder must inherit its originals). A write that finds the record changed since it was read
/// fails with [`Error::Stale`]: the reconcile starts over.
pub async fn write_record(
    ctx: &Context,
    target: &TargetAccount,
    current: Option<&SendGridTarget>,
    fields: TargetFields,
    keep: bool,
) -> Result<(), Error> {
    ctx.sendgrid.fence().check()?;
    let api: Api<SendGridTarget> = Api::all(ctx.kube.clone());
    let holders = fields.holders();
    if holders.is_empty() && (!keep || fields == TargetFields::default()) {
        let Some(current) = current else {
            return Ok(());
        };
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                resource_version: current.resource_version(),
                uid: current.uid(),
            }),
            ..DeleteParams::default()
        };
        return match api.delete(&target.name, &params).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
            Err(e) => Err(stale_on_conflict(e)),
        };
    }
    let spec = SendGridTargetSpec {
        region: target.region,
        user_id: target.user_id,
        username: target.username.clone(),
        on_behalf_of: match current {
            Some(current) => current.spec.on_behalf_of.clone(),
            None => target.on_behalf_of.clone(),
        },
        holders,
        fields,
    };
    let post = PostParams {
        field_manager: Some(MANAGER.to_string()),
        ..PostParams::default()
    };
    let written = match current {
        None => {
            api.create(&post, &SendGridTarget::new(&target.name, spec))
                .await
        }
        // A merge patch carrying the resourceVersion read: a compare-and-swap, like every other
        // write the operator makes (no `update` verb).
        Some(current) => {
            let old = serde_json::to_value(&current.spec).unwrap_or(Value::Null);
            let new = serde_json::to_value(&spec).unwrap_or(Value::Null);
            let patch = Patch::Merge(json!({
                "metadata": { "resourceVersion": current.resource_version() },
                "spec": merge_patch(&old, &new),
            }));
            api.patch(&target.name, &params(), &patch).await
        }
    };
    written.map(|_| ()).map_err(stale_on_conflict)
}

/// The JSON merge patch (RFC 7396) from `old` to `new`: fields gone from `new` become `null`,
/// because a merge patch leaves absent fields as they were (a cleared `original` must go).
fn merge_patch(old: &Value, new: &Value) -> Value {
    match (old, new) {
        (Value::Object(old), Value::Object(new)) => {
            let mut patch = Map::new();
            for (k, v) in new {
                patch.insert(
                    k.clone(),
                    merge_patch(old.get(k).unwrap_or(&Value::Null), v),
                );
            }
            for k in old.keys().filter(|k| !new.contains_key(*k)) {
                patch.insert(k.clone(), Value::Null);
            }
            Value::Object(patch)
        }
        _ => new.clone(),
    }
}

/// 409 from a compare-and-swap write: the resource changed since it was read.
fn stale_on_conflict(error: kube::Error) -> Error {
    match error {
        kube::Error::Api(status) if status.code == 409 => Error::Stale,
        other => Error::Kube(other),
    }
}

/// Publishes the Events about `res`, named for the generation they concern: kube's Recorder
/// folds Events with the same type, reason and action into one series that keeps the first note,
/// so a spec edit's Event stays apart.
pub async fn publish(ctx: &Context, res: &SendGridEnforcedTls, events: &[Event]) {
    let action = format!(
        "Reconcile generation {}",
        res.metadata.generation.unwrap_or_default()
    );
    ctx.metrics
        .events_published(res.namespace().as_deref(), events.iter().map(|e| e.reason));
    publish_about(ctx, &res.object_ref(&()), &action, events).await;
}

/// Publishes Events about `regarding`. A failure to publish is logged, not fatal: Events are a
/// courtesy. One `Recorder` per call, as kube intends: a shared one keeps every Event it
/// published for six minutes and sweeps that whole cache on each publish (memory and a walk of
/// every recent Event per Event, at scale), to fold repeats the decision never makes (it emits
/// one Event per episode).
pub async fn publish_about(
    ctx: &Context,
    regarding: &ObjectReference,
    action: &str,
    events: &[Event],
) {
    let recorder = Recorder::new(ctx.kube.clone(), ctx.reporter.clone());
    for note in events {
        if let Err(error) = ctx.sendgrid.fence().check() {
            tracing::warn!(%error, reason = %note.reason, "Event not published");
            return;
        }
        let event = KubeEvent {
            type_: match note.kind {
                EventKind::Normal => EventType::Normal,
                EventKind::Warning => EventType::Warning,
            },
            reason: note.reason.to_string(),
            note: Some(truncate_note(&note.message)),
            action: action.to_string(),
            secondary: None,
        };
        match recorder.publish(&event, regarding).await {
            Ok(()) => {}
            // A namespace being deleted takes no new objects, Events included: expected then.
            Err(kube::Error::Api(status))
                if status.code == 403 && status.message.contains("being terminated") =>
            {
                tracing::debug!(reason = %note.reason, "namespace terminating: Event not published");
            }
            Err(error) => {
                tracing::warn!(%error, reason = %note.reason, "could not publish an Event");
            }
        }
    }
}

/// Adds or removes the cleanup finalizer. The resourceVersion in the patch makes it a
/// compare-and-swap: a concurrent change fails with [`Error::Stale`], never overwritten. Returns
/// the resource as written.
pub async fn set_finalizer(
    ctx: &Context,
    res: &SendGridEnforcedTls,
    present: bool,
) -> Result<SendGridEnforcedTls, Error> {
    let mut finalizers: Vec<String> = res
        .finalizers()
        .iter()
        .filter(|f| *f != FINALIZER)
        .cloned()
        .collect();
    if present {
        finalizers.push(FINALIZER.to_string());
    }
    let patch = Patch::Merge(json!({
        "metadata": { "finalizers": finalizers, "resourceVersion": res.resource_version() }
    }));
    ctx.sendgrid.fence().check()?;
    api(ctx, res)?
        .patch(&res.name_any(), &params(), &patch)
        .await
        .map_err(stale_on_conflict)
}

/// Drops our finalizer from an object known only by its metadata (one that does not match the
/// CRD).
pub async fn drop_finalizer_of(ctx: &Context, meta: &ObjectMeta) -> Result<(), Error> {
    let finalizers: Vec<&String> = meta
        .finalizers
        .iter()
        .flatten()
        .filter(|f| *f != FINALIZER)
        .collect();
    let patch = Patch::Merge(json!({
        "metadata": { "finalizers": finalizers, "resourceVersion": meta.resource_version }
    }));
    let ns = meta.namespace.as_deref().ok_or(Error::NoNamespace)?;
    let api: Api<PartialObjectMeta<SendGridEnforcedTls>> = Api::namespaced(ctx.kube.clone(), ns);
    ctx.sendgrid.fence().check()?;
    api.patch_metadata(meta.name.as_deref().unwrap_or_default(), &params(), &patch)
        .await
        .map_err(stale_on_conflict)?;
    Ok(())
}

/// The Events API rejects events over 1 KiB.
const MAX_NOTE: usize = 1000;

/// An Event note within the Events API's limit.
fn truncate_note(text: &str) -> String {
    truncate(text, MAX_NOTE).to_string()
}

/// `text` cut to at most `max` bytes, at a character boundary.
fn truncate(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn merge_patch_nulls_what_is_gone_at_any_depth() {
        let old = json!({"original": {"requireTls": false, "minimumTlsVersion": "1.1"}, "target": "t", "conditions": [1, 2]});
        let new = json!({"original": {"requireTls": true}, "conditions": [3]});
        assert_eq!(
            super::merge_patch(&old, &new),
            json!({"original": {"requireTls": true, "minimumTlsVersion": null}, "target": null, "conditions": [3]})
        );
        assert_eq!(super::merge_patch(&json!(null), &new), new);
    }

    #[test]
    fn notes_are_cut_at_a_character_boundary() {
        assert_eq!(super::truncate("short", 1000), "short");
        let long = "é".repeat(600); // 1200 bytes
        let cut = super::truncate(&long, 1000);
        assert_eq!(cut.len(), 1000);
        assert!(cut.chars().all(|c| c == 'é'));
    }
}
