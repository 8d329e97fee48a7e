//! One reconcile of one resource: gather -> decide -> act, and the deletion path.

use super::context::{Context, Guarded};
use super::error::Error;
use super::{act, gather};
use crate::api::{DeletionPolicy, FINALIZER, SendGridEnforcedTls};
use crate::reconcile::cleanup::{cleaned_up, cleanup_failed};
use crate::reconcile::decide::{Facts, Outcome, on_failure};
use crate::reconcile::sync::{apply, cleanup};
use crate::sendgrid::Account;
use kube::ResourceExt;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use std::sync::Arc;
use std::time::Instant;

/// The controller's reconcile function.
#[tracing::instrument(skip_all, fields(resource = %ObjectRef::from_obj(guarded.as_ref())))]
pub async fn reconcile(guarded: Arc<Guarded>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = Instant::now();
    let (result, failure) = match &guarded.0 {
        Ok(res) => match reconcile_resource(res, &ctx).await {
            Ok((action, failure)) => (Ok(action), failure),
            Err(e) => {
                let reason = e.reason();
                (Err(e), Some(reason))
            }
        },
        Err(invalid) => {
            // One malformed object (say, written before a CRD upgrade) is reported and skipped;
            // it must not stop the others.
            tracing::warn!(error = %invalid.error, "skipping a resource that does not match the CRD");
            (Ok(Action::await_change()), Some("InvalidObject"))
        }
    };
    ctx.metrics.reconciled(failure, started.elapsed());
    result
}

/// The controller's error policy: back off per resource.
pub fn error_policy(guarded: Arc<Guarded>, error: &Error, ctx: Arc<Context>) -> Action {
    tracing::warn!(%error, resource = %ObjectRef::from_obj(guarded.as_ref()), "reconcile failed");
    Action::requeue(ctx.backoff.next(&ObjectRef::from_obj(guarded.as_ref())))
}

async fn reconcile_resource(
    res: &SendGridEnforcedTls,
    ctx: &Context,
) -> Result<(Action, Option<&'static str>), Error> {
    let wants_finalizer = res.spec.deletion_policy() != DeletionPolicy::Orphan;
    let has_finalizer = res.finalizers().iter().any(|f| f == FINALIZER);
    if res.metadata.deletion_timestamp.is_some() {
        return delete(res, ctx, has_finalizer).await;
    }
    if wants_finalizer != has_finalizer {
        act::set_finalizer(ctx, res, wants_finalizer).await?;
    }

    let status = res.status.clone().unwrap_or_default();
    let mut facts = Facts::of(res, &status, ctx.default_resync);
    let account = gather::account(ctx, res).await?;
    let outcome = match &account {
        Err(failure) => on_failure(&facts, failure.clone()),
        Ok(account) => {
            let target = account.target();
            facts.conflict_with = gather::conflict(ctx, res, &target);
            facts.target = Some(target);
            apply(&ctx.sendgrid, account, &facts).await
        }
    };
    finish(ctx, res, outcome).await
}

/// Writes the outcome and turns it into the next action.
async fn finish(
    ctx: &Context,
    res: &SendGridEnforcedTls,
    outcome: Outcome,
) -> Result<(Action, Option<&'static str>), Error> {
    if let Some(failure) = &outcome.failure {
        tracing::info!(reason = failure.reason(), %failure, "SendGrid not in sync");
    }
    act::write_status(ctx, res, &outcome.status).await?;
    act::publish(ctx, res, &outcome.notes).await;
    let action = ctx.action(&key(res), outcome.retry);
    Ok((action, outcome.failure.as_ref().map(|f| f.reason())))
}

/// The deletion path: clean SendGrid up as the policy says, then let the resource go.
async fn delete(
    res: &SendGridEnforcedTls,
    ctx: &Context,
    has_finalizer: bool,
) -> Result<(Action, Option<&'static str>), Error> {
    if !has_finalizer {
        return Ok((Action::await_change(), None));
    }
    // Switching to Orphan releases a resource whose cleanup cannot succeed; Restore with nothing
    // recorded has nothing to put back, so it needs neither the Secret nor SendGrid.
    let nothing_to_restore = res.spec.deletion_policy() == DeletionPolicy::Restore
        && res.status.as_ref().is_none_or(|s| s.original.is_none());
    if res.spec.deletion_policy() == DeletionPolicy::Orphan || nothing_to_restore {
        act::set_finalizer(ctx, res, false).await?;
        return Ok((Action::await_change(), None));
    }
    let status = res.status.clone().unwrap_or_default();
    let mut facts = Facts::of(res, &status, ctx.default_resync);
    let account: Result<Account, _> = gather::account(ctx, res).await?;
    let result = match account {
        Err(failure) => Err(failure),
        Ok(account) => {
            let target = account.target();
            // A resource in conflict never wrote, so it has nothing to undo.
            if gather::conflict(ctx, res, &target).is_some() {
                Ok(None)
            } else {
                facts.target = Some(target);
                cleanup(&ctx.sendgrid, &account, &facts).await
            }
        }
    };
    match result {
        Ok(applied) => {
            act::publish(ctx, res, &[cleaned_up(&facts, applied.as_ref())]).await;
            act::set_finalizer(ctx, res, false).await?;
            ctx.backoff.reset(&key(res));
            Ok((Action::await_change(), None))
        }
        Err(failure) => finish(ctx, res, cleanup_failed(&facts, failure)).await,
    }
}

/// The key the controller (and the backoff state) knows this resource by.
fn key(res: &SendGridEnforcedTls) -> ObjectRef<Guarded> {
    let key = ObjectRef::new(&res.name_any());
    match res.namespace() {
        Some(ns) => key.within(&ns),
        None => key,
    }
}
