//! Controller wiring: the watches, the trigger streams and the run loop.
//!
//! - Resources are watched (all namespaces, or the ones given) into one cache; only changes that
//!   matter (generation, the reconcile-requested-at annotation, deletion) trigger a reconcile, so
//!   the operator's own status writes do not cause extra SendGrid calls.
//! - When a resource goes away, the resources that shared its target are reconciled at once, so a
//!   conflict loser takes the target over without waiting for its resync.
//! - With `watch_secrets`, a metadata-only watch on Secrets triggers the resources that use one.

use super::claims::ClaimIndex;
use super::context::{Context, Timing};
use super::pace::Pacer;
use super::reconcile::{error_policy, forget};
use super::{gather, watches};
use crate::api::{Guarded, MANAGER, READY, Reason, SendGridEnforcedTls, SendGridTarget};
use crate::decision::conditions;
use crate::sendgrid::SendGridClient;
use crate::telemetry::Metrics;
use crate::telemetry::http::Health;
use futures::channel::mpsc;
use futures::{Stream, StreamExt, stream};
use k8s_openapi::api::core::v1::Secret;
use kube::api::ListParams;
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{Config as ControllerConfig, Controller};
use kube::runtime::events::Reporter;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

/// How to run the controller.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Namespaces to watch; empty means all.
    pub namespaces: Vec<String>,
    pub watch_secrets: bool,
    /// Reconciles running at once (0: unbounded).
    pub concurrency: u16,
    /// Event reporter instance (the pod name).
    pub instance: Option<String>,
    pub timing: Timing,
}

/// Checks that the cluster answers and the CRD is installed, with a one-line error otherwise.
pub async fn preflight(client: &Client, options: &RunOptions) -> Result<(), String> {
    let api: Api<PartialObjectMeta<SendGridEnforcedTls>> = match options.namespaces.first() {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    match api.list_metadata(&ListParams::default().limit(1)).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Err(
            "the SendGridEnforcedTls CRD is not installed: run `kubectl apply -f crds/` (or install the Helm chart)"
                .to_string(),
        ),
        Err(kube::Error::Api(status)) if status.code == 403 => Err(format!(
            "not allowed to list sendgridenforcedtlses: {} (check the operator's RBAC)",
            status.message
        )),
        Err(e) => Err(format!("no Kubernetes cluster reachable: {e}")),
    }
}

/// What, in a resource, is worth a reconcile: not status, not managedFields.
fn trigger_hash(obj: &Guarded) -> Option<u64> {
    let meta = obj.meta();
    let mut h = DefaultHasher::new();
    meta.generation.hash(&mut h);
    meta.deletion_timestamp.is_some().hash(&mut h);
    for name in [crate::api::RECONCILE_REQUESTED_AT, crate::api::PAUSED] {
        meta.annotations
            .as_ref()
            .and_then(|a| a.get(name))
            .hash(&mut h);
    }
    Some(h.finish())
}

/// Drops what the operator never reads before an object reaches the cache: its managedFields
/// (often larger than the rest of it) and kubectl's last-applied-configuration annotation (a
/// whole copy of it).
fn trim(obj: &mut Guarded) {
    let meta = obj.meta_mut();
    meta.managed_fields = None;
    if let Some(annotations) = meta.annotations.as_mut() {
        annotations.remove(LAST_APPLIED);
    }
}

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

fn apis<K: Resource<Scope = kube::core::NamespaceResourceScope>>(
    client: &Client,
    namespaces: &[String],
) -> Vec<Api<K>>
where
    K::DynamicType: Default,
{
    if namespaces.is_empty() {
        vec![Api::all(client.clone())]
    } else {
        namespaces
            .iter()
            .map(|ns| Api::namespaced(client.clone(), ns))
            .collect()
    }
}

/// The resource watch, reflected into `writer`; deletions are reported on `gone`.
fn resource_stream(
    client: &Client,
    namespaces: &[String],
    writer: reflector::store::Writer<Guarded>,
    claims: Arc<ClaimIndex>,
    gone: mpsc::UnboundedSender<Arc<Guarded>>,
    edited: mpsc::UnboundedSender<String>,
    health: Health,
) -> impl Stream<Item = Result<Guarded, watcher::Error>> + Send + 'static {
    let apis = apis::<Guarded>(client, namespaces);
    let watches = apis
        .into_iter()
        .map(|api| {
            watcher(api, watcher::Config::default())
                .default_backoff()
                .boxed()
        })
        .collect();
    // Ready once every namespace has listed once (the merged stream's one InitDone). (Awaiting
    // the store's readiness from a second task does not work: the controller waits on the same
    // one-waker future.)
    watches::merge(namespaces.to_vec(), watches, writer.as_reader())
        .modify(trim)
        .reflect(writer)
        .inspect(move |event| {
            if let Ok(event) = event {
                claims.apply(event);
            }
        })
        .inspect(move |event| match event {
            Ok(watcher::Event::Delete(obj)) => {
                let _ = gone.unbounded_send(Arc::new(obj.clone()));
            }
            Ok(watcher::Event::InitDone) => {
                tracing::info!("resource cache synced");
                health.set_ready(true);
            }
            _ => {}
        })
        .applied_objects()
        .predicate_filter(trigger_hash, Default::default())
        .inspect(move |obj| {
            // A holder's edit may make it agree with the account's Conflict losers.
            if let Some(account) = obj.as_ref().ok().and_then(recorded_account) {
                let _ = edited.unbounded_send(account);
            }
        })
}

/// Resources that shared a deleted resource's target. What was kept for the deleted one (its key,
/// its retry count) is dropped, so a re-created resource of the same name starts afresh.
fn handover(
    ctx: Arc<Context>,
    gone: mpsc::UnboundedReceiver<Arc<Guarded>>,
) -> impl Stream<Item = ObjectRef<Guarded>> {
    gone.flat_map(move |obj| {
        forget(&ctx, obj.meta());
        stream::iter(match &obj.0 {
            Ok(res) => gather::same_target(&ctx, res),
            Err(_) => Vec::new(),
        })
    })
}

/// Resources whose key lives in a Secret that changed.
/// The resources in Conflict on `account`.
fn losers(store: &Store<Guarded>, claims: &ClaimIndex, account: &str) -> Vec<ObjectRef<Guarded>> {
    claims
        .members(account)
        .into_iter()
        .filter(|r| {
            store.get(r).is_some_and(|g| {
                g.0.as_ref().is_ok_and(|res| {
                    let conditions = res.status.as_ref().map(|s| &s.conditions[..]);
                    conditions::is(
                        conditions.unwrap_or_default(),
                        READY,
                        false,
                        Reason::Conflict,
                    )
                })
            })
        })
        .collect()
}

/// The resources in Conflict on the account whose record changed.
fn loser_mapper(
    store: Store<Guarded>,
    claims: Arc<ClaimIndex>,
) -> impl Fn(PartialObjectMeta<SendGridTarget>) -> Vec<ObjectRef<Guarded>> {
    move |record| losers(&store, &claims, &record.name_any())
}

/// The account a resource records, if any.
fn recorded_account(obj: &Guarded) -> Option<String> {
    let res = obj.0.as_ref().ok()?;
    Some(res.status.as_ref()?.target.as_ref()?.name.clone())
}

fn secret_mapper(
    store: Store<Guarded>,
) -> impl Fn(PartialObjectMeta<Secret>) -> Vec<ObjectRef<Guarded>> {
    move |secret| {
        let (Some(ns), name) = (secret.namespace(), secret.name_any()) else {
            return Vec::new();
        };
        store
            .state()
            .iter()
            .filter(|g| {
                g.0.as_ref().is_ok_and(|r| {
                    r.namespace().as_deref() == Some(ns.as_str())
                        && r.spec.api_key_secret_ref.name == name
                })
            })
            .map(|g| ObjectRef::from_obj(g.as_ref()))
            .collect()
    }
}

/// Runs the controller until `shutdown` resolves (then finishes the reconciles under way).
pub async fn run(
    client: Client,
    sendgrid: SendGridClient,
    metrics: Metrics,
    health: Health,
    options: RunOptions,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let (reader, writer) = reflector::store::<Guarded>();
    let (gone_tx, gone_rx) = mpsc::unbounded();
    let (edited_tx, edited_rx) = mpsc::unbounded();
    let claims = Arc::new(ClaimIndex::default());
    let resources = resource_stream(
        &client,
        &options.namespaces,
        writer,
        claims.clone(),
        gone_tx,
        edited_tx,
        health.clone(),
    );
    let reporter = Reporter {
        controller: MANAGER.to_string(),
        instance: options.instance.clone(),
    };
    let sendgrid = sendgrid.with_observer(Arc::new(metrics.clone()));
    // Per-state gauges (resources by Ready/Synced reason), counted from this cache at scrape time.
    metrics.observe_resources(reader.clone());
    let ctx = Arc::new(Context::new(
        client.clone(),
        sendgrid,
        reporter,
        metrics,
        reader.clone(),
        claims,
        &options.timing,
    ));

    let resources = ctx.metrics.queue.watched(resources);
    let mut controller = Controller::for_stream(resources, reader.clone())
        .with_config(ControllerConfig::default().concurrency(options.concurrency))
        .reconcile_on(ctx.metrics.queue.referenced(handover(ctx.clone(), gone_rx)))
        .graceful_shutdown_on(shutdown);
    // A Conflict loser is reconciled as soon as a holder's spec changes (it may now agree, even
    // before it can act on its edit) and as soon as its account's record changes (the holder
    // let go, moved, or now agrees), not at its next resync.
    let (store, claims) = (reader.clone(), ctx.claims.clone());
    let edited = edited_rx.flat_map(move |account| stream::iter(losers(&store, &claims, &account)));
    controller = controller.reconcile_on(ctx.metrics.queue.referenced(edited));
    let records = watcher(
        Api::<PartialObjectMeta<SendGridTarget>>::all(client.clone()),
        watcher::Config::default(),
    )
    .default_backoff()
    .touched_objects();
    controller =
        controller.watches_stream(records, loser_mapper(reader.clone(), ctx.claims.clone()));
    if options.watch_secrets {
        // `Api<PartialObjectMeta<_>>` asks only for metadata: Secret contents never reach us.
        let secrets = apis::<PartialObjectMeta<Secret>>(&client, &options.namespaces)
            .into_iter()
            .map(|api| {
                watcher(api, watcher::Config::default())
                    .default_backoff()
                    .boxed()
            });
        let secrets = stream::select_all(secrets).touched_objects();
        controller = controller.watches_stream(
            secrets,
            ctx.metrics.queue.mapped(secret_mapper(reader.clone())),
        );
    }

    // Every reconcile first asks its API key's rate budget (see `pace`).
    let pacer = Arc::new(Pacer::new(
        ctx.sendgrid.budgets(),
        ctx.metrics.budget.clone(),
    ));
    controller
        .run(
            move |obj, ctx| {
                ctx.metrics.queue.starts(&obj);
                pacer.clone().reconcile(obj, ctx)
            },
            error_policy,
            ctx,
        )
        .for_each(|result| async move {
            match result {
                Ok((obj, _)) => tracing::debug!(resource = %obj, "reconciled"),
                Err(error) => tracing::debug!(%error, "controller event"),
            }
        })
        .await;
    health.set_stopping();
}
