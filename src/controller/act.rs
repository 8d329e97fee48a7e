//! Act: write what the decision concluded — status (only when it changed), Events, finalizer.

use super::context::Context;
use super::error::Error;
use crate::api::{FINALIZER, MANAGER, SendGridEnforcedTls, SendGridEnforcedTlsStatus};
use crate::reconcile::{Note, NoteKind};
use kube::api::{Patch, PatchParams};
use kube::runtime::events::{Event, EventType};
use kube::{Api, Resource, ResourceExt};
use serde_json::json;

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

/// Writes `status` when it differs from the resource's; returns whether it wrote.
pub async fn write_status(
    ctx: &Context,
    res: &SendGridEnforcedTls,
    status: &SendGridEnforcedTlsStatus,
) -> Result<bool, Error> {
    if res.status.as_ref() == Some(status) {
        return Ok(false);
    }
    // A merge patch of the whole status: lists (conditions) are replaced as a whole.
    let patch = Patch::Merge(json!({ "status": status }));
    api(ctx, res)?
        .patch_status(&res.name_any(), &params(), &patch)
        .await?;
    Ok(true)
}

/// Publishes the Events. A failure to publish is logged, not fatal: Events are a courtesy.
pub async fn publish(ctx: &Context, res: &SendGridEnforcedTls, notes: &[Note]) {
    let reference = res.object_ref(&());
    for note in notes {
        let event = Event {
            type_: match note.kind {
                NoteKind::Normal => EventType::Normal,
                NoteKind::Warning => EventType::Warning,
            },
            reason: note.reason.to_string(),
            note: Some(truncate(&note.message, MAX_NOTE).to_string()),
            // kube's Recorder folds Events with the same type, reason and action into one series
            // that keeps the first note; naming the generation keeps a spec edit's Event apart.
            action: format!(
                "Reconcile generation {}",
                res.metadata.generation.unwrap_or_default()
            ),
            secondary: None,
        };
        if let Err(error) = ctx.recorder.publish(&event, &reference).await {
            tracing::warn!(%error, reason = note.reason, "could not publish an Event");
        }
    }
}

/// Adds or removes the cleanup finalizer. The resourceVersion in the patch makes it a
/// compare-and-swap: a concurrent change fails with 409 and is retried, never overwritten.
pub async fn set_finalizer(
    ctx: &Context,
    res: &SendGridEnforcedTls,
    present: bool,
) -> Result<(), Error> {
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
    api(ctx, res)?
        .patch(&res.name_any(), &params(), &patch)
        .await?;
    Ok(())
}

/// The Events API rejects notes over 1 KiB.
const MAX_NOTE: usize = 1000;

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
    #[test]
    fn notes_are_cut_at_a_character_boundary() {
        assert_eq!(super::truncate("short", 1000), "short");
        let long = "é".repeat(600); // 1200 bytes
        let cut = super::truncate(&long, 1000);
        assert_eq!(cut.len(), 1000);
        assert!(cut.chars().all(|c| c == 'é'));
    }
}
