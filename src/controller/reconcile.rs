//! One reconcile of one resource, top to bottom: *gather* (the key and whose account it reaches,
//! a key for the recorded target, the other claims) -> *decide* (the pure functions of [`crate::decision`]) -> *act*
//! (SendGrid GET/PATCH, status, Events, finalizer).
//!
//! Every status and finalizer write is a compare-and-swap on the resourceVersion it was computed
//! from. When one finds the cached object stale, the whole reconcile starts over from the object
//! as the API server has it now: SendGrid writes are absolute values, so doing them again is safe.

use super::context::Context;
use super::error::Error;
use super::gather::Reached;
use super::{act, gather};
use crate::api::{
    DeletionPolicy, FINALIZER, Guarded, Reason, SendGridEnforcedTls, SendGridEnforcedTlsStatus,
    SendGridTarget, TargetAccount, TargetFields, TlsSettings,
};
use crate::decision::claim::{self, Claimant, Letting};
use crate::decision::cleanup::{
    OldTarget, cleanup_failed, left_as_is, moved, put_back, waiting_for_key,
};
use crate::decision::decide::{self, Decision, Facts, on_failure};
use crate::decision::lifecycle::{self, Life, Plan, Retarget};
use crate::decision::malformed::{self, Malformed, Next};
use crate::decision::{Event, Failure, Outcome};
use crate::sendgrid::gate::{Gate, with_gate};
use crate::sendgrid::{Account, ApiKey};
use kube::core::ObjectMeta;
use kube::core::error_boundary::InvalidObject;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Resource, ResourceExt};
use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

/// How often a reconcile starts over after a stale write before it backs off.
const FRESH_STARTS: usize = 3;

/// What a reconcile ends with: the next action, and the failure reason for metrics.
type Done = (Action, Option<Reason>);

/// The controller's reconcile function.
#[tracing::instrument(skip_all, fields(resource = %ObjectRef::from_obj(guarded.as_ref())))]
pub async fn reconcile(guarded: Arc<Guarded>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = Instant::now();
    let result = match &guarded.0 {
        Ok(res) => with_gate(unpaused_now(&ctx, &guarded), reconcile_fresh(res, &ctx)).await,
        Err(invalid) => invalid_object(invalid, &ctx).await,
    };
    let (result, failure) = match result {
        Ok((action, failure)) => (Ok(action), failure),
        Err(e) => {
            let reason = e.reason();
            (Err(e), Some(reason))
        }
    };
    ctx.metrics
        .reconciled(failure.map(Reason::as_str), started.elapsed());
    result
}

/// The controller's error policy: back off per resource.
pub fn error_policy(guarded: Arc<Guarded>, error: &Error, ctx: Arc<Context>) -> Action {
    tracing::warn!(%error, resource = %ObjectRef::from_obj(guarded.as_ref()), "reconcile failed");
    Action::requeue(ctx.backoff.next(&ObjectRef::from_obj(guarded.as_ref())))
}

/// Open while the cache still has `res` (the same object, by uid) and it is not paused: a pause
/// or a deletion that arrives while the reconcile is under way stops its SendGrid requests at
/// once (see [`crate::sendgrid::gate`]). A resource gone from the cache has nothing left to do
/// in SendGrid: it had no finalizer (Orphan), or its cleanup already removed it.
fn unpaused_now(ctx: &Context, res: &Guarded) -> Gate {
    let store = ctx.store.clone();
    let at = ObjectRef::from_obj(res);
    let uid = res.meta().uid.clone();
    Gate::new(move || {
        store.get(&at).is_some_and(|now| {
            let meta = kube::Resource::meta(now.as_ref());
            meta.uid == uid && !crate::api::is_paused(meta)
        })
    })
}

/// Reconciles `res`, starting over from fresh state when a write finds the cache stale.
async fn reconcile_fresh(res: &SendGridEnforcedTls, ctx: &Context) -> Result<Done, Error> {
    let mut current = Cow::Borrowed(res);
    for _ in 0..FRESH_STARTS {
        match reconcile_resource(&current, ctx).await {
            Err(Error::Stale) => {
                tracing::debug!("stale cache: starting over from the API server's copy");
                match api(ctx, res)?.get_opt(&res.name_any()).await? {
                    Some(fresh) => current = Cow::Owned(fresh),
                    None => return Ok((Action::await_change(), None)),
                }
            }
            other => return other,
        }
    }
    Err(Error::Stale)
}

async fn reconcile_resource(res: &SendGridEnforcedTls, ctx: &Context) -> Result<Done, Error> {
    let mut res = Cow::Borrowed(res);
    // The Secret is read (and whose account its key reaches learned) only once a step needs
    // the key: a finalizer change, a pause and a deletion that puts nothing back never touch it.
    let mut reached: Option<Result<Reached, Failure>> = None;
    loop {
        // Gather.
        let status = res.status.clone().unwrap_or_default();
        let recorded = status.target.as_ref();
        let current = reached.as_ref().and_then(|r| r.as_ref().ok());
        // Orphan puts nothing back, so it needs no key for the recorded target (asking SendGrid
        // whether the current key still reaches it would be a call for nothing).
        let recorded_key = match recorded {
            Some(t) if res.spec.deletion_policy() != DeletionPolicy::Orphan => {
                gather::key_for(ctx, &res, t, current).await
            }
            _ => None,
        };
        // Decide.
        let facts = Facts::of(&res, &status, ctx.default_resync);
        let plan = lifecycle::plan(&Life {
            policy: res.spec.deletion_policy(),
            deleting_for: ctx.deletions.elapsed(&res.metadata),
            has_finalizer: res.finalizers().iter().any(|f| f == FINALIZER),
            paused: facts.paused,
            recorded,
            reached: status.observed.is_some(),
            current: current.map(|r| &r.target),
            recorded_key: recorded_key.is_some(),
            cleanup_timeout: ctx.cleanup_timeout,
        });
        // A paused resource asks SendGrid nothing, not even whose account its key reaches.
        let needs_key = !facts.paused
            && !matches!(
                plan,
                Plan::SetFinalizer(_) | Plan::Nothing | Plan::Release(None) | Plan::Paused
            );
        if reached.is_none() && needs_key {
            reached = Some(gather::reach(ctx, &res).await?);
            continue;
        }
        // Act.
        return match plan {
            Plan::SetFinalizer(present) => {
                res = Cow::Owned(act::set_finalizer(ctx, &res, present).await?);
                continue;
            }
            Plan::Nothing => Ok((Action::await_change(), None)),
            Plan::Paused => finish(ctx, &res, decide::paused(&facts), Vec::new(), None).await,
            Plan::Release(left) => release(ctx, &res, left).await,
            Plan::Cleanup(target) => {
                let key = recorded_key.or_else(|| current.map(|r| r.account.key.clone()));
                clean_up(ctx, &res, &target, key).await
            }
            Plan::WaitForKey(left) => {
                let unread = reached.and_then(Result::err);
                let outcome = waiting_for_key(&facts, unread, left, ctx.cleanup_timeout);
                finish(ctx, &res, outcome, Vec::new(), None).await
            }
            Plan::Sync(retarget) => {
                let reached = reached.unwrap_or_else(|| unreachable!("a sync needs the key"));
                sync(ctx, &res, reached, retarget, recorded_key).await
            }
        };
    }
}

/// Brings the current target in line with the spec, after letting an old target go.
async fn sync(
    ctx: &Context,
    res: &SendGridEnforcedTls,
    reached: Result<Reached, Failure>,
    retarget: Option<Retarget>,
    old_key: Option<ApiKey>,
) -> Result<Done, Error> {
    let mut status = res.status.clone().unwrap_or_default();
    let mut events = Vec::new();
    if let (Some(retarget), Ok(new)) = (&retarget, &reached) {
        let policy = res.spec.deletion_policy();
        // The old target stays recorded, so the move is retried as a whole.
        let retry_move = |failure: Failure| {
            let facts = Facts::of(res, &status, ctx.default_resync);
            finish(ctx, res, on_failure(&facts, failure), Vec::new(), None)
        };
        let what = match retarget {
            Retarget::Forget(old) => match drop_claim(ctx, res, old).await? {
                Ok(()) => OldTarget::Forgotten,
                Err(failure) => return retry_move(failure).await,
            },
            Retarget::Abandon(old) => match drop_claim(ctx, res, old).await? {
                Ok(()) => OldTarget::Abandoned,
                Err(failure) => return retry_move(failure).await,
            },
            Retarget::CleanUp(old) => match let_go(ctx, res, old, old_key, policy).await? {
                Ok(letting) => OldTarget::PutBack(letting),
                // Slow SendGrid, or records the operator may not touch: nothing let go yet.
                Err(failure) if failure.is_transient() || forbidden_records(&failure) => {
                    return retry_move(failure).await;
                }
                Err(failure) => match drop_claim(ctx, res, old).await? {
                    Ok(()) => OldTarget::Failed(failure),
                    Err(refused) => return retry_move(refused).await,
                },
            },
        };
        events.extend(moved(policy, retarget.old(), &new.target, &what));
        status = retargeted(status);
    }
    let mut facts = Facts::of(res, &status, ctx.default_resync);
    let Reached { account, target } = match reached {
        Ok(reached) => reached,
        Err(failure) => return finish(ctx, res, on_failure(&facts, failure), events, None).await,
    };
    // Gather the account's record, as one step with the writes below (see `turns`).
    let _turn = ctx.turns.take(&target.name).await;
    let record = match gather::record(ctx, &target).await? {
        Ok(record) => record,
        Err(failure) => return finish(ctx, res, on_failure(&facts, failure), events, None).await,
    };
    facts.record = record
        .as_ref()
        .map(|r| r.spec.fields.clone())
        .unwrap_or_default();
    facts.gone = gather::gone(ctx, &facts.record, &facts.id).await?;
    facts.declared = gather::declared(ctx, &facts.record, &facts.id).await?;
    facts.target = Some(target.clone());
    let observed = ctx.sendgrid.get(&account).await.map_err(Failure::from);
    // Decide, then act: the record first, the PATCH after it.
    match decide::decide(&facts, observed) {
        Decision::Done(outcome) => {
            if let Some(fields) = outcome.record.clone()
                && let Err(failure) = claim(ctx, &target, record.as_ref(), fields).await?
            {
                return finish(ctx, res, on_failure(&facts, failure), events, None).await;
            }
            finish(ctx, res, *outcome, events, Some(&account.key)).await
        }
        Decision::Patch(plan) => {
            // No PATCH without its claim recorded first.
            if let Some(fields) = plan.record.clone()
                && let Err(failure) = claim(ctx, &target, record.as_ref(), fields).await?
            {
                return finish(ctx, res, on_failure(&facts, failure), events, None).await;
            }
            let result = ctx
                .sendgrid
                .patch(&account, &plan.changes)
                .await
                .map_err(Failure::from);
            let outcome = decide::after_patch(&facts, &plan, result);
            finish(ctx, res, outcome, events, Some(&account.key)).await
        }
    }
}

/// Writes the account's record with the claim in `fields`, or says why the operator may not.
async fn claim(
    ctx: &Context,
    target: &TargetAccount,
    record: Option<&SendGridTarget>,
    fields: TargetFields,
) -> Result<Result<(), Failure>, Error> {
    gather::records_refused(act::write_record(ctx, target, record, fields, true).await)
}

/// The operator's RBAC refuses the account records.
fn forbidden_records(failure: &Failure) -> bool {
    matches!(failure, Failure::TargetsForbidden { .. })
}

/// The status once the resource has left its old target: nothing of the old one is kept.
fn retargeted(status: SendGridEnforcedTlsStatus) -> SendGridEnforcedTlsStatus {
    SendGridEnforcedTlsStatus {
        original: None,
        target: None,
        observed: None,
        drift_corrections: Vec::new(),
        ..status
    }
}

/// Lets go of every field `res` holds on `target`, putting back as `policy` says with `key`
/// (`Orphan`: only the claim goes, and SendGrid is not called). SendGrid is PATCHed before the
/// record drops the claim: a failure in between leaves the claim, and the next try finds
/// SendGrid already put back.
async fn let_go(
    ctx: &Context,
    res: &SendGridEnforcedTls,
    target: &TargetAccount,
    key: Option<ApiKey>,
    policy: DeletionPolicy,
) -> Result<Result<Letting, Failure>, Error> {
    let _turn = ctx.turns.take(&target.name).await;
    let me = Facts::id_of(res);
    let record = match gather::record(ctx, target).await? {
        Ok(Some(record)) => record,
        Ok(None) => return Ok(Ok(Letting::default())),
        Err(failure) => return Ok(Err(failure)),
    };
    if !record.spec.fields.holders().contains(&me) {
        // Never held anything here (a Conflict loser): nothing of its own to undo. The last
        // resource pointing at a record nobody holds anything in takes the record with it.
        if record.spec.fields.holders().is_empty() && !gather::residents(ctx, res, &target.name) {
            let fields = record.spec.fields.clone();
            let written = act::write_record(ctx, target, Some(&record), fields, false).await;
            return Ok(gather::records_refused(written)?.map(|()| Letting::default()));
        }
        return Ok(Ok(Letting::default()));
    }
    let account = key.map(|k| Account::at(target, k));
    let seen = match (policy, &account) {
        (DeletionPolicy::Orphan, _) => TlsSettings::default(),
        (_, Some(Ok(account))) => match ctx.sendgrid.get(account).await {
            Ok(seen) => seen,
            Err(e) => return Ok(Err(e.into())),
        },
        _ => {
            return Ok(Err(Failure::InvalidSpec {
                message: "the recorded target cannot be addressed any more".to_string(),
            }));
        }
    };
    let gone = gather::gone(ctx, &record.spec.fields, &me).await?;
    let me = Claimant {
        id: &me,
        gone: &gone,
        // Letting go compares nothing with the other holders' specs.
        declared: &Default::default(),
    };
    let letting = claim::release(&record.spec.fields, me, policy, &seen);
    if !letting.changes.is_empty()
        && let Some(Ok(account)) = &account
        && let Err(e) = ctx.sendgrid.patch(account, &letting.changes).await
    {
        return Ok(Err(e.into()));
    }
    if let Some(fields) = letting.record.clone() {
        let keep = gather::residents(ctx, res, &target.name);
        let written = act::write_record(ctx, target, Some(&record), fields, keep).await;
        if let Err(failure) = gather::records_refused(written)? {
            return Ok(Err(failure));
        }
    }
    Ok(Ok(letting))
}

/// Drops `res`'s claim on `target` without calling SendGrid (nothing is put back). Orphan asks
/// SendGrid nothing, so it can only fail on the record (the operator's RBAC).
async fn drop_claim(
    ctx: &Context,
    res: &SendGridEnforcedTls,
    target: &TargetAccount,
) -> Result<Result<(), Failure>, Error> {
    let dropped = let_go(ctx, res, target, None, DeletionPolicy::Orphan).await?;
    Ok(dropped.map(|_| ()))
}

/// Deletion: puts `target` back as the policy says, then lets the resource go.
async fn clean_up(
    ctx: &Context,
    res: &SendGridEnforcedTls,
    target: &TargetAccount,
    key: Option<ApiKey>,
) -> Result<Done, Error> {
    let policy = res.spec.deletion_policy();
    match let_go(ctx, res, target, key, policy).await? {
        Ok(letting) => {
            act::publish(ctx, res, &put_back(policy, target, &letting, None)).await;
            let_resource_go(ctx, res).await
        }
        Err(failure) => {
            if timed_out(&res.metadata, ctx) {
                let why = format!(
                    "{target} left as is: deletionPolicy {policy:?} could not be carried out within the cleanup timeout of {}s ({}: {failure})",
                    ctx.cleanup_timeout.as_secs(),
                    failure.reason()
                );
                return release(ctx, res, Some(why)).await;
            }
            let status = res.status.clone().unwrap_or_default();
            let facts = Facts::of(res, &status, ctx.default_resync);
            let outcome = cleanup_failed(&facts, failure, ctx.cleanup_timeout);
            finish(ctx, res, outcome, Vec::new(), None).await
        }
    }
}

/// Lets a deleted resource go: drops its claim on its account (nothing put back), the
/// finalizer, and everything kept for it. `left` names what was left as is (a Warning).
async fn release(
    ctx: &Context,
    res: &SendGridEnforcedTls,
    left: Option<String>,
) -> Result<Done, Error> {
    if let Some(target) = res.status.as_ref().and_then(|s| s.target.as_ref())
        && let Err(failure) = drop_claim(ctx, res, target).await?
    {
        let status = res.status.clone().unwrap_or_default();
        let facts = Facts::of(res, &status, ctx.default_resync);
        return finish(ctx, res, on_failure(&facts, failure), Vec::new(), None).await;
    }
    if let Some(why) = left {
        act::publish(ctx, res, &[left_as_is(why)]).await;
    }
    let_resource_go(ctx, res).await
}

/// Drops the finalizer and everything kept for a resource whose claim is gone.
async fn let_resource_go(ctx: &Context, res: &SendGridEnforcedTls) -> Result<Done, Error> {
    act::set_finalizer(ctx, res, false).await?;
    forget(ctx, &res.metadata);
    Ok((Action::await_change(), None))
}

/// Drops the key and retry state kept for a resource that is gone.
pub fn forget(ctx: &Context, meta: &ObjectMeta) {
    if let Some(uid) = &meta.uid {
        ctx.keys.forget(uid);
        ctx.deletions.forget(uid);
    }
    ctx.metrics.forget(meta);
    ctx.backoff.reset(&object_key(meta));
}

/// Writes the outcome, publishes its Events, keeps the key, and turns it into the next action.
async fn finish(
    ctx: &Context,
    res: &SendGridEnforcedTls,
    mut outcome: Outcome,
    mut events: Vec<Event>,
    used_key: Option<&ApiKey>,
) -> Result<Done, Error> {
    if let Some(failure) = &outcome.failure {
        tracing::info!(reason = %failure.reason(), %failure, "SendGrid not in sync");
    }
    act::write_status(ctx, res, &outcome.status).await?;
    events.append(&mut outcome.events);
    act::publish(ctx, res, &events).await;
    if let (Some(key), Some(uid)) = (used_key, &res.metadata.uid) {
        ctx.keys.remember(uid, key);
    }
    let action = ctx.action(&object_key(&res.metadata), outcome.retry);
    Ok((action, outcome.failure.as_ref().map(Failure::reason)))
}

/// This replica first saw the deletion longer ago than `--cleanup-timeout`.
fn timed_out(meta: &ObjectMeta, ctx: &Context) -> bool {
    ctx.deletions
        .elapsed(meta)
        .is_some_and(|elapsed| elapsed >= ctx.cleanup_timeout)
}

/// An object that does not match the CRD: see [`malformed`].
async fn invalid_object(invalid: &InvalidObject, ctx: &Context) -> Result<Done, Error> {
    let meta = &invalid.metadata;
    tracing::warn!(error = %invalid.error, "skipping a resource that does not match the CRD");
    let key = object_key(meta);
    let has_finalizer = meta.finalizers.iter().flatten().any(|f| f == FINALIZER);
    let plan = malformed::plan(&Malformed {
        error: &invalid.error,
        first: ctx.backoff.attempts(&key) == 0,
        has_finalizer,
        // The deletion's clock starts only for one that waits for our finalizer.
        deleting_for: has_finalizer.then(|| ctx.deletions.elapsed(meta)).flatten(),
        cleanup_timeout: ctx.cleanup_timeout,
    });
    if let Some(warning) = plan.warning {
        act::publish_about(ctx, &object_reference(meta), "Reconcile", &[warning]).await;
    }
    let action = match plan.next {
        Next::AwaitChange => Action::await_change(),
        Next::Retry(retry) => ctx.action(&key, retry),
        Next::LetGo => {
            act::drop_finalizer_of(ctx, meta).await?;
            forget(ctx, meta);
            Action::await_change()
        }
    };
    Ok((action, Some(Reason::InvalidObject)))
}

fn object_reference(meta: &ObjectMeta) -> k8s_openapi::api::core::v1::ObjectReference {
    k8s_openapi::api::core::v1::ObjectReference {
        api_version: Some(SendGridEnforcedTls::api_version(&()).to_string()),
        kind: Some(SendGridEnforcedTls::kind(&()).to_string()),
        name: meta.name.clone(),
        namespace: meta.namespace.clone(),
        uid: meta.uid.clone(),
        resource_version: meta.resource_version.clone(),
        ..Default::default()
    }
}

fn api(ctx: &Context, res: &SendGridEnforcedTls) -> Result<Api<SendGridEnforcedTls>, Error> {
    let ns = res.namespace().ok_or(Error::NoNamespace)?;
    Ok(Api::namespaced(ctx.kube.clone(), &ns))
}

/// The name the controller (and the backoff state) knows this resource by.
pub fn object_key(meta: &ObjectMeta) -> ObjectRef<Guarded> {
    let key = ObjectRef::new(meta.name.as_deref().unwrap_or_default());
    match &meta.namespace {
        Some(ns) => key.within(ns),
        None => key,
    }
}
