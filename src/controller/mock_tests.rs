//! The controller's reconcile against a mocked Kubernetes API and a real SendGrid simulator on
//! loopback: which calls it makes, in which order (each Kubernetes API call asserted in turn, in
//! the style of kube-rs/controller-rs, and the simulator's request log), with what the
//! controller itself builds (the account's claim record, compare-and-swap status patches,
//! finalizers, Events, requeues). What the conditions say is the pure decision's, tested in
//! `crate::decision`.

use super::claims::ClaimIndex;
use super::context::{Context, Timing};
use super::error::Error;
use super::mock_api::{self, ApiServer, Objects, Written, merge};
use super::reconcile::reconcile;
use crate::api::Guarded;
use crate::api::{FINALIZER, MANAGER, PAUSED, SendGridEnforcedTls, TlsSettings, TlsVersion};
use crate::sendgrid::{ClientConfig, Endpoints, SendGridClient};
use crate::simulator::{Fault, Scope, SimConfig, SimKey, Simulator, SimulatorHandle};
use crate::telemetry::Metrics;
use http::Method;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::ObjectMeta;
use kube::core::DeserializeGuard;
use kube::runtime::controller::Action;
use kube::runtime::events::Reporter;
use kube::runtime::reflector::{self, store::Writer};
use kube::runtime::watcher;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

const KEY: &str = "SG.controller-mock-key.0123456789abcdef";
const NS: &str = "mail";
const NAME: &str = "marketing";
/// How the account's record names the resource under test.
const ME: &str = "mail/marketing";
const SECRET_PATH: &str = "/api/v1/namespaces/mail/secrets/sendgrid-api-key";
/// The Secret's resourceVersion, unless a test rotates the key.
const SECRET_VERSION: &str = "7";
const RES_PATH: &str =
    "/apis/sendgrid.ops.dev/v1alpha1/namespaces/mail/sendgridenforcedtlses/marketing";
const EVENTS_PATH: &str = "/apis/events.k8s.io/v1/namespaces/mail/events";
/// The simulator's parent account "main" has user id 1001; its record is named for that.
const ACCOUNT: &str = "global-1001";
const SG_PATH: &str = "/v3/user/settings/enforced_tls";
const USERNAME_PATH: &str = "/v3/user/username";
const SCOPES_PATH: &str = "/v3/scopes";
const RESYNC: Duration = Duration::from_secs(90);

/// A mocked API server (with the accounts' claim records in memory), a simulator, and a Context
/// wired to both.
struct Harness {
    api: ApiServer,
    sim: SimulatorHandle,
    ctx: Arc<Context>,
    writer: Writer<Guarded>,
    records: Objects,
}

impl Harness {
    async fn new() -> Harness {
        let sim = Simulator::start("127.0.0.1:0".parse().unwrap(), SimConfig::with_keys(&[KEY]))
            .await
            .unwrap();
        let sendgrid = SendGridClient::new(ClientConfig {
            endpoints: Endpoints {
                global: sim.global_url(),
                eu: sim.eu_url(),
            },
            ..Default::default()
        })
        .unwrap();
        let (client, mut api) = mock_api::client();
        api.forbid(KEY);
        let reporter = Reporter {
            controller: MANAGER.to_string(),
            instance: None,
        };
        let (store, writer) = reflector::store::<Guarded>();
        let ctx = Context::new(
            client,
            sendgrid,
            reporter,
            Metrics::default(),
            store,
            Arc::new(ClaimIndex::default()),
            // The fixtures' deletions date from 2026-01-03: keep them inside the cleanup timeout.
            &Timing {
                cleanup_timeout: Duration::from_secs(100 * 365 * 86_400),
                ..Timing::default()
            },
        );
        Harness {
            api,
            sim,
            ctx: Arc::new(ctx),
            writer,
            records: Objects::new("sendgrid.ops.dev/v1alpha1", "sendgridtargets"),
        }
    }

    /// Answers the read of another holder of the account (`mail/<name>`): `obj`, or not found.
    async fn holder(&mut self, name: &str, obj: Option<&SendGridEnforcedTls>) {
        let path =
            format!("/apis/sendgrid.ops.dev/v1alpha1/namespaces/mail/sendgridenforcedtlses/{name}");
        let call = self.api.expect(Method::GET, &path).await;
        match obj {
            Some(obj) => call.ok(&serde_json::to_value(obj).unwrap()),
            None => call.not_found("sendgridenforcedtlses", name),
        }
    }

    /// Puts `objects` in the controller's cache, as its watch would.
    fn cache(&mut self, objects: &[&SendGridEnforcedTls]) {
        for obj in objects {
            let event = watcher::Event::Apply(DeserializeGuard(Ok((*obj).clone())));
            self.writer.apply_watcher_event(&event);
            self.ctx.claims.apply(&event);
        }
    }

    /// A person changes the key's own account in SendGrid's UI.
    fn change_in_ui(&self, settings: TlsSettings) {
        self.sim.set_from_ui("main", None, settings);
    }

    /// What SendGrid holds now for the key's own account.
    fn main_account(&self) -> TlsSettings {
        self.sim.settings("main", None).into()
    }

    /// A second key of the simulator's parent account, with these scopes; never sent to the
    /// Kubernetes API.
    fn add_key(&mut self, key: &str, scopes: &[Scope]) {
        self.api.forbid(key);
        self.sim.add_key(SimKey {
            key: key.to_string(),
            account: "main".to_string(),
            scopes: scopes.to_vec(),
        });
    }

    /// Starts a reconcile of `obj`, which the cache holds first (the controller reconciles only
    /// what its cache has).
    fn reconcile(&mut self, obj: &SendGridEnforcedTls) -> JoinHandle<Result<Action, Error>> {
        self.cache(&[obj]);
        tokio::spawn(reconcile(
            Arc::new(DeserializeGuard(Ok(obj.clone()))),
            self.ctx.clone(),
        ))
    }

    /// Waits for the reconcile to end (failing on any further call) and returns its action.
    async fn done(&mut self, task: JoinHandle<Result<Action, Error>>) -> Action {
        self.api.finish(task).await.expect("reconcile succeeded")
    }

    /// Answers the Secret GET with a Secret at `version` holding `data`.
    async fn secret_at(&mut self, version: &str, data: &[(&str, &str)]) {
        let call = self.api.expect(Method::GET, SECRET_PATH).await;
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some("sendgrid-api-key".into()),
                namespace: Some(NS.into()),
                resource_version: Some(version.into()),
                ..ObjectMeta::default()
            },
            data: Some(
                data.iter()
                    .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                    .collect::<BTreeMap<_, _>>(),
            ),
            ..Secret::default()
        };
        call.ok(&serde_json::to_value(secret).unwrap());
    }

    /// Answers the Secret GET with a Secret holding `data`.
    async fn secret(&mut self, data: &[(&str, &str)]) {
        self.secret_at(SECRET_VERSION, data).await;
    }

    /// Answers the Secret GET with the API key under `apiKey`.
    async fn key(&mut self) {
        self.secret(&[("apiKey", KEY)]).await;
    }

    async fn no_secret(&mut self) {
        self.api
            .expect(Method::GET, SECRET_PATH)
            .await
            .not_found("secrets", "sendgrid-api-key");
    }

    /// Answers the GET of the account's claim record from the records kept (404 when none).
    async fn record(&mut self) {
        let call = self
            .api
            .expect(Method::GET, &self.records.path(ACCOUNT))
            .await;
        self.records.answer_get(call);
    }

    /// The account's claim record as the API server holds it now.
    fn stored_record(&self) -> Option<Value> {
        self.records.get(ACCOUNT).cloned()
    }

    /// The next call, a write of the account's claim record (not answered yet).
    async fn record_call(&mut self) -> mock_api::Call {
        let call = self.api.next().await;
        let path = match call.method {
            Method::POST => self.records.collection().to_string(),
            _ => self.records.path(ACCOUNT),
        };
        assert_eq!(call.path, path, "a {} of the account's record", call.method);
        if call.method != Method::DELETE {
            assert_eq!(call.param("fieldManager").as_deref(), Some(MANAGER));
        }
        call
    }

    /// Answers a write of the account's claim record (create, merge patch or delete), keeping it.
    async fn write_record(&mut self) -> Written {
        let call = self.record_call().await;
        self.records.answer_write(call)
    }

    /// Answers the claim written before a PATCH (a create or a patch of the record), checking
    /// while the write waits for its answer that SendGrid has seen no PATCH. Returns the write.
    async fn claim(&mut self) -> Written {
        let call = self.record_call().await;
        assert_ne!(call.method, Method::DELETE, "a claim writes the record");
        assert!(
            self.sim.requests().iter().all(|r| r.method != "PATCH"),
            "no PATCH before the claim is recorded: {:?}",
            self.sendgrid_log()
        );
        self.records.answer_write(call)
    }

    /// Answers the status merge patch as the API server would; returns the status sent and the
    /// object as it now is.
    async fn status(&mut self, obj: &SendGridEnforcedTls) -> (Value, SendGridEnforcedTls) {
        let call = self
            .api
            .expect(Method::PATCH, &format!("{RES_PATH}/status"))
            .await;
        assert_merge_patch(&call);
        let keys: Vec<&String> = call.body.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            ["metadata", "status"],
            "a status write touches status only"
        );
        assert_eq!(
            call.body["metadata"],
            json!({"resourceVersion": obj.metadata.resource_version}),
            "a compare-and-swap on the resourceVersion it was computed from"
        );
        let updated = patched(obj, &call.body);
        let status = call.body["status"].clone();
        call.ok(&serde_json::to_value(&updated).unwrap());
        (status, updated)
    }

    /// Answers an Event creation; returns the Event.
    async fn event(&mut self) -> Value {
        let call = self.api.expect(Method::POST, EVENTS_PATH).await;
        assert!(call.body.get("series").is_none(), "{}", call.body);
        Self::check_event(call)
    }

    fn check_event(call: mock_api::Call) -> Value {
        let event = call.body.clone();
        assert_eq!(event["regarding"]["kind"], "SendGridEnforcedTls");
        assert_eq!(event["regarding"]["name"], NAME);
        assert_eq!(event["regarding"]["namespace"], NS);
        assert_eq!(event["reportingController"], MANAGER);
        let action = event["action"].as_str().unwrap_or_default();
        assert!(action.starts_with("Reconcile generation "), "{action}");
        call.echo();
        event
    }

    /// Answers the finalizer merge patch; returns its body.
    async fn finalizer(&mut self, obj: &SendGridEnforcedTls) -> Value {
        let call = self.api.expect(Method::PATCH, RES_PATH).await;
        assert_merge_patch(&call);
        let updated = patched(obj, &call.body);
        let body = call.body.clone();
        call.ok(&serde_json::to_value(&updated).unwrap());
        body
    }

    /// What SendGrid was sent: (method, path, status, body).
    fn sendgrid_log(&self) -> Vec<(String, String, u16, Option<Value>)> {
        self.sim
            .requests()
            .into_iter()
            .map(|r| (r.method, r.path, r.status, r.body))
            .collect()
    }

    /// Runs one create reconcile of `obj` (SendGrid at its defaults, one field to change): the
    /// claim is recorded, then SendGrid PATCHed. Returns the object with its new, in-sync
    /// status.
    async fn converge(&mut self, obj: &SendGridEnforcedTls) -> SendGridEnforcedTls {
        let task = self.reconcile(obj);
        self.key().await;
        self.record().await;
        self.claim().await;
        let (_, updated) = self.status(obj).await;
        assert_eq!(self.event().await["reason"], "Applied");
        self.done(task).await;
        self.sim.clear_requests();
        updated
    }
}

fn assert_merge_patch(call: &mock_api::Call) {
    assert_eq!(
        call.content_type.as_deref(),
        Some("application/merge-patch+json")
    );
    assert_eq!(call.param("fieldManager").as_deref(), Some(MANAGER));
}

/// `obj` after a merge patch, with a new resourceVersion, as the API server returns it.
fn patched(obj: &SendGridEnforcedTls, patch: &Value) -> SendGridEnforcedTls {
    let mut value = serde_json::to_value(obj).unwrap();
    merge(&mut value, patch);
    let version: u64 = obj
        .metadata
        .resource_version
        .as_deref()
        .unwrap()
        .parse()
        .unwrap();
    value["metadata"]["resourceVersion"] = json!((version + 1).to_string());
    serde_json::from_value(value).unwrap()
}

/// A resource as the API server would hand it out: generation 1, resourceVersion "100".
fn resource(name: &str, created: &str, spec: Value) -> SendGridEnforcedTls {
    serde_json::from_value(json!({
        "apiVersion": "sendgrid.ops.dev/v1alpha1",
        "kind": "SendGridEnforcedTls",
        "metadata": {
            "name": name,
            "namespace": NS,
            "uid": format!("uid-{name}"),
            "generation": 1,
            "resourceVersion": "100",
            "creationTimestamp": created,
        },
        "spec": spec,
    }))
    .unwrap()
}

/// The resource under test, created at 2026-01-02.
fn marketing(spec: Value) -> SendGridEnforcedTls {
    resource(NAME, "2026-01-02T00:00:00Z", spec)
}

/// A spec with the Secret reference and a 90s resync, plus `fields`.
fn spec(fields: Value) -> Value {
    let mut spec = json!({
        "apiKeySecretRef": { "name": "sendgrid-api-key" },
        "resyncInterval": "90s",
    });
    merge(&mut spec, &fields);
    spec
}

/// `obj` being deleted (deletionTimestamp set), with these finalizers and policy.
fn deleting(
    obj: &SendGridEnforcedTls,
    finalizers: &[&str],
    policy: Option<&str>,
) -> SendGridEnforcedTls {
    let mut obj = obj.clone();
    obj.metadata.deletion_timestamp =
        Some(serde_json::from_value(json!("2026-01-03T00:00:00Z")).unwrap());
    obj.metadata.finalizers = Some(finalizers.iter().map(|f| f.to_string()).collect());
    obj.spec.deletion_policy = policy.map(|p| serde_json::from_value(json!(p)).unwrap());
    obj
}

/// The key's own account, as a status records it.
fn target() -> Value {
    json!({
        "name": ACCOUNT,
        "region": "global",
        "userId": 1001,
        "username": "main",
        "secretResourceVersion": SECRET_VERSION,
    })
}

/// The claim record of the key's own account: `holders` hold `fields` (`claim` entries).
fn account_record(holders: &[&str], fields: Value) -> Value {
    json!({
        "apiVersion": "sendgrid.ops.dev/v1alpha1",
        "kind": "SendGridTarget",
        "metadata": {"name": ACCOUNT},
        "spec": {
            "region": "global",
            "userId": 1001,
            "username": "main",
            "holders": holders,
            "fields": fields,
        },
    })
}

/// One field's entry in a record.
fn claim(original: Value, written: Value, holders: &[&str]) -> Value {
    json!({"original": original, "written": written, "holders": holders})
}

/// SendGrid's answer to `GET /v3/user/username`: whose account the key reaches.
fn identity(status: u16) -> (String, String, u16, Option<Value>) {
    ("GET".into(), USERNAME_PATH.into(), status, None)
}

/// SendGrid's answer to `GET /v3/scopes`: the scopes of the key.
fn scopes(status: u16) -> (String, String, u16, Option<Value>) {
    ("GET".into(), SCOPES_PATH.into(), status, None)
}

fn get(status: u16) -> (String, String, u16, Option<Value>) {
    ("GET".into(), SG_PATH.into(), status, None)
}

fn patch(body: Value) -> (String, String, u16, Option<Value>) {
    ("PATCH".into(), SG_PATH.into(), 200, Some(body))
}

/// The requeue delay of an action. kube 5's `Action` has no getter, only Debug
/// (`Action { requeue_after: Some(1.5s) }`), so this reads that.
fn requeue_after(action: &Action) -> Option<Duration> {
    let text = format!("{action:?}");
    let inner = text.split("Some(").nth(1)?.split(')').next()?;
    let (number, scale) = [("ns", 1e-9), ("µs", 1e-6), ("ms", 1e-3), ("s", 1.0)]
        .iter()
        .find_map(|(unit, scale)| Some((inner.strip_suffix(unit)?, *scale)))
        .unwrap_or_else(|| panic!("unexpected Debug of Action: {text}"));
    Some(Duration::from_secs_f64(
        number.parse::<f64>().unwrap() * scale,
    ))
}

/// Asserts a drift-check requeue: the resync interval, give or take its tenth of jitter.
fn assert_resync(action: &Action) {
    let delay = requeue_after(action).expect("a requeue");
    assert!(
        delay >= RESYNC.mul_f64(0.9) && delay <= RESYNC.mul_f64(1.1),
        "{delay:?} is not {RESYNC:?} give or take a tenth"
    );
}

/// Asserts a backoff delay within the jitter bounds of attempt `n` (base 2s, jittered down to
/// half): [2^(n-1), 2^n] seconds.
fn assert_backoff(action: &Action, attempt: u32) -> Duration {
    let delay = requeue_after(action).expect("a requeue");
    let high = Duration::from_secs(1 << attempt);
    assert!(
        delay >= high / 2 && delay <= high,
        "attempt {attempt}: {delay:?} not in {:?}..={high:?}",
        high / 2
    );
    delay
}

fn settings(tls: bool, cert: bool, version: TlsVersion) -> TlsSettings {
    TlsSettings {
        require_tls: Some(tls),
        require_valid_cert: Some(cert),
        minimum_tls_version: Some(version),
    }
}

/// The Event's type and reason, and a piece of its note.
fn assert_event(event: &Value, type_: &str, reason: &str, note_has: &str) {
    assert_eq!(
        (&event["type"], &event["reason"]),
        (&json!(type_), &json!(reason))
    );
    assert!(
        event["note"].as_str().unwrap().contains(note_has),
        "{event}"
    );
}

/// The condition of `type_` in a status.
fn condition<'a>(status: &'a Value, type_: &str) -> &'a Value {
    status["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == type_))
        .unwrap_or_else(|| panic!("no {type_} condition: {status}"))
}

/// Only requireTls: what a person changes in SendGrid's UI in most scenarios.
fn require_tls(on: bool) -> TlsSettings {
    TlsSettings {
        require_tls: Some(on),
        ..TlsSettings::default()
    }
}

/// `obj` with the paused annotation.
fn paused(mut obj: SendGridEnforcedTls) -> SendGridEnforcedTls {
    obj.metadata.annotations = Some([(PAUSED.to_string(), "true".to_string())].into());
    obj
}

#[tokio::test]
async fn create_records_the_claim_then_patches_only_managed_fields_then_resync_is_quiet() {
    let mut h = Harness::new().await;
    // SendGrid starts with a valid certificate required, so the spec's explicit `false` must be
    // sent.
    h.change_in_ui(settings(false, true, TlsVersion::V1_1));
    let obj = marketing(spec(json!({
        "requireTls": true,
        "requireValidCert": false,
        "minimumTlsVersion": "1.2",
    })));
    h.cache(&[&obj]);

    let task = h.reconcile(&obj);
    h.key().await;
    h.record().await;
    let record = h.claim().await.object()["spec"].clone();
    let (status, updated) = h.status(&obj).await;
    let event = h.event().await;
    let action = h.done(task).await;

    assert_eq!(
        record,
        json!({
            "region": "global",
            "userId": 1001,
            "username": "main",
            "holders": [ME],
            "fields": {
                "requireTls": claim(json!(false), json!(true), &[ME]),
                "requireValidCert": claim(json!(true), json!(false), &[ME]),
                "minimumTlsVersion": claim(json!("1.1"), json!("1.2"), &[ME]),
            },
        }),
        "the originals are the account's, in its record"
    );
    assert_eq!(
        h.sendgrid_log(),
        [
            scopes(200),
            identity(200),
            get(200),
            patch(json!({"require_tls": true, "require_valid_cert": false, "version": 1.2})),
        ]
    );
    assert_eq!(status["observedGeneration"], 1);
    assert_eq!(
        status["observed"],
        json!({"requireTls": true, "requireValidCert": false, "minimumTlsVersion": "1.2"})
    );
    assert!(status.get("original").is_none(), "{status}");
    assert_eq!(status["target"], target());
    assert!(status["lastAppliedTime"].is_string(), "{status}");
    assert_event(&event, "Normal", "Applied", "");
    assert_eq!(
        event["note"],
        "Set requireTls=true, requireValidCert=false, minimumTlsVersion=1.2"
    );
    assert_resync(&action);

    // The resync of the object as it now is: the account is known (nothing asked), the record
    // read, one GET, and no write at all.
    h.sim.clear_requests();
    let before = h.stored_record();
    let task = h.reconcile(&updated);
    h.key().await;
    h.record().await;
    let action = h.done(task).await;
    assert_eq!(h.sendgrid_log(), [get(200)]);
    assert_eq!(h.stored_record(), before);
    assert_resync(&action);
}

/// Another live resource holds requireTls=true on the account; `marketing` declares the same
/// value and a minimum version nobody holds. It joins the claim, and the record says so (a
/// compare-and-swap merge patch) before SendGrid is PATCHed.
#[tokio::test]
async fn record_is_written_before_the_patch() {
    let mut h = Harness::new().await;
    h.change_in_ui(require_tls(true));
    let mut other = resource(
        "transactional",
        "2026-01-01T00:00:00Z",
        spec(json!({"requireTls": true})),
    );
    other.status = Some(serde_json::from_value(json!({"target": target()})).unwrap());
    let other_id = "mail/transactional";
    h.records.insert(account_record(
        &[other_id],
        json!({"requireTls": claim(json!(false), json!(true), &[other_id])}),
    ));
    let obj = marketing(spec(
        json!({"requireTls": true, "minimumTlsVersion": "1.2"}),
    ));
    h.cache(&[&other, &obj]);

    let task = h.reconcile(&obj);
    h.key().await;
    h.record().await;
    // The other holder is in the cache: alive; its spec is read fresh (it agrees).
    h.holder("transactional", Some(&other)).await;
    let call = h.record_call().await;
    assert_eq!(call.method, Method::PATCH, "a patch of the record read");
    // Asked while the write waits for its answer: the reconcile can have sent nothing since.
    assert_eq!(
        h.sendgrid_log(),
        [scopes(200), identity(200), get(200)],
        "the record is written before any PATCH"
    );
    let record = h.records.answer_write(call).object()["spec"].clone();
    let (status, _) = h.status(&obj).await;
    assert_eq!(h.event().await["reason"], "Applied");
    let action = h.done(task).await;

    assert_eq!(record["holders"], json!([ME, other_id]));
    assert_eq!(
        record["fields"],
        json!({
            "requireTls": claim(json!(false), json!(true), &[other_id, ME]),
            "minimumTlsVersion": claim(json!("1.1"), json!("1.2"), &[ME]),
        }),
        "a shared field keeps its first original"
    );
    assert_eq!(
        h.sendgrid_log(),
        [
            scopes(200),
            identity(200),
            get(200),
            patch(json!({"version": 1.2}))
        ]
    );
    assert_eq!(status["target"], target());
    assert_resync(&action);
}

#[tokio::test]
async fn enforce_corrects_drift() {
    let mut h = Harness::new().await;
    let obj = h
        .converge(&marketing(spec(
            json!({"requireTls": true, "minimumTlsVersion": "1.2"}),
        )))
        .await;
    let before = h.stored_record();
    h.change_in_ui(require_tls(false));

    let task = h.reconcile(&obj);
    h.key().await;
    h.record().await;
    let (status, _) = h.status(&obj).await;
    let event = h.event().await;
    let action = h.done(task).await;

    assert_eq!(
        h.sendgrid_log(),
        [get(200), patch(json!({"require_tls": true}))]
    );
    assert_eq!(h.stored_record(), before, "the claim stands as it was");
    assert_eq!(status["observed"]["requireTls"], true);
    assert_event(&event, "Normal", "DriftCorrected", "requireTls");
    assert_resync(&action);
    assert_eq!(h.main_account(), settings(true, false, TlsVersion::V1_2));
}

#[tokio::test]
async fn observe_reports_drift_and_never_writes() {
    let mut h = Harness::new().await;
    // In sync at first: SendGrid already requires TLS.
    h.change_in_ui(require_tls(true));
    let obj = marketing(spec(json!({"requireTls": true, "mode": "Observe"})));
    let task = h.reconcile(&obj);
    h.key().await;
    h.record().await;
    // It holds what it declares, so that no one else's cleanup puts it back under it.
    let record = h.claim().await;
    let (_, obj) = h.status(&obj).await;
    let action = h.done(task).await;
    assert_resync(&action);
    assert_eq!(h.sendgrid_log(), [scopes(200), identity(200), get(200)]);
    assert_eq!(
        record.object()["spec"]["fields"],
        json!({"requireTls": claim(json!(true), json!(true), &[ME])})
    );

    h.sim.clear_requests();
    h.change_in_ui(require_tls(false));
    let task = h.reconcile(&obj);
    h.key().await;
    h.record().await;
    let (status, _) = h.status(&obj).await;
    let event = h.event().await;
    let action = h.done(task).await;

    assert_eq!(h.sendgrid_log(), [get(200)], "Observe never PATCHes");
    assert_eq!(
        h.stored_record().as_ref(),
        Some(record.object()),
        "drift changes no claim"
    );
    assert_eq!(status["observed"]["requireTls"], false);
    assert_event(&event, "Warning", "Drifted", "");
    assert_resync(&action);
    assert_eq!(h.main_account().require_tls, Some(false));
}

#[tokio::test]
async fn missing_secret_is_reported_without_calling_sendgrid() {
    let mut h = Harness::new().await;
    let obj = marketing(spec(json!({"requireTls": true})));
    let task = h.reconcile(&obj);
    h.no_secret().await;
    h.status(&obj).await;
    let event = h.event().await;
    let action = h.done(task).await;

    assert_eq!(h.sendgrid_log(), []);
    assert_event(&event, "Warning", "SecretNotFound", "sendgrid-api-key");
    assert_backoff(&action, 1);
}

#[tokio::test]
async fn secret_without_the_key_is_reported() {
    let mut h = Harness::new().await;
    let obj = marketing(spec(json!({"requireTls": true})));
    let task = h.reconcile(&obj);
    h.secret(&[("token", KEY)]).await;
    h.status(&obj).await;
    let event = h.event().await;
    let action = h.done(task).await;

    assert_eq!(h.sendgrid_log(), []);
    assert_eq!(event["reason"], "SecretKeyNotFound");
    assert!(
        event["note"].as_str().unwrap().contains("apiKey"),
        "{event}"
    );
    assert_backoff(&action, 1);
}

/// A key that may read and change the settings but not say whose account it is: the operator
/// cannot know which record to claim in, so it neither reads nor changes the settings. Its
/// listed scopes say so before any other call.
#[tokio::test]
async fn key_without_the_identity_scope_is_forbidden_before_any_settings_call() {
    const NARROW: &str = "SG.settings-only-key.00112233445566778899";
    let mut h = Harness::new().await;
    h.add_key(NARROW, &[Scope::Read, Scope::Update]);
    let obj = marketing(spec(json!({"requireTls": true})));

    let task = h.reconcile(&obj);
    h.secret(&[("apiKey", NARROW)]).await;
    let (status, _) = h.status(&obj).await;
    let event = h.event().await;
    let action = h.done(task).await;

    assert_eq!(h.sendgrid_log(), [scopes(200)]);
    assert_forbidden(&status, &["user.username.read"]);
    assert_event(&event, "Warning", "Forbidden", "user.username.read");
    assert!(status.get("target").is_none(), "{status}");
    assert!(requeue_after(&action).is_some(), "{action:?}");
    assert_eq!(h.stored_record(), None);
}

/// Synced=False `Forbidden` naming each of `missing` and the fix.
fn assert_forbidden(status: &Value, missing: &[&str]) {
    let synced = condition(status, "Synced");
    assert_eq!(
        (&synced["status"], &synced["reason"]),
        (&json!("False"), &json!("Forbidden"))
    );
    let text = synced["message"].as_str().unwrap();
    for scope in missing {
        assert!(text.contains(scope), "{scope} in {text}");
    }
    assert!(text.contains("to the API key"), "{text}");
}

/// An Enforce resource whose key may only read: refused at the key's scopes, before any
/// identity read, settings GET or PATCH; asked again at each retry, so the scope added in
/// SendGrid heals it.
#[tokio::test]
async fn key_without_the_update_scope_is_forbidden_until_the_scope_is_added() {
    const READER: &str = "SG.read-only-key.00112233445566778899";
    let mut h = Harness::new().await;
    h.add_key(READER, &[Scope::Read, Scope::UsernameRead]);
    let obj = marketing(spec(json!({"requireTls": true})));

    let task = h.reconcile(&obj);
    h.secret(&[("apiKey", READER)]).await;
    let (status, obj) = h.status(&obj).await;
    let event = h.event().await;
    let action = h.done(task).await;
    assert_eq!(
        h.sendgrid_log(),
        [scopes(200)],
        "no identity read, GET or PATCH"
    );
    assert_forbidden(&status, &["user.settings.enforced_tls.update"]);
    assert!(
        !condition(&status, "Synced")["message"]
            .as_str()
            .unwrap()
            .contains("user.username.read"),
        "only what is missing is named: {status}"
    );
    assert_event(
        &event,
        "Warning",
        "Forbidden",
        "user.settings.enforced_tls.update",
    );
    assert_backoff(&action, 1);
    assert_eq!(h.stored_record(), None);

    // The retry asks again (a failing answer is not kept); the same failure writes nothing.
    h.sim.clear_requests();
    let task = h.reconcile(&obj);
    h.secret(&[("apiKey", READER)]).await;
    assert_backoff(&h.done(task).await, 2);
    assert_eq!(h.sendgrid_log(), [scopes(200)]);

    // The scope is added to the key in SendGrid: the next retry goes all the way.
    h.sim.clear_requests();
    h.add_key(READER, &Scope::ALL);
    let task = h.reconcile(&obj);
    h.secret(&[("apiKey", READER)]).await;
    h.record().await;
    h.claim().await;
    let (status, _) = h.status(&obj).await;
    assert_eq!(h.event().await["reason"], "Applied");
    assert_resync(&h.done(task).await);
    assert_eq!(
        h.sendgrid_log(),
        [
            scopes(200),
            identity(200),
            get(200),
            patch(json!({"require_tls": true}))
        ]
    );
    assert_eq!(condition(&status, "Synced")["reason"], "ReconcileSuccess");
}

/// Three resources on one key, each on another account (the parent, two subusers): each
/// account's identity is read, the key's scopes once.
#[tokio::test]
async fn a_keys_scopes_are_read_once_for_all_its_resources() {
    let mut h = Harness::new().await;
    for on_behalf_of in [None, Some("marketing-sub"), Some("transactional-sub")] {
        let mut fields = json!({"requireTls": true});
        if let Some(sub) = on_behalf_of {
            fields["onBehalfOf"] = json!({"subuser": sub});
        }
        let obj = marketing(spec(fields));
        let task = h.reconcile(&obj);
        h.key().await;
        let call = h.api.next().await;
        h.records.answer_get(call);
        let call = h.api.next().await;
        h.records.answer_write(call);
        h.status(&obj).await;
        assert_eq!(h.event().await["reason"], "Applied");
        h.done(task).await;
    }
    let paths: Vec<String> = h.sim.requests().into_iter().map(|r| r.path).collect();
    let count = |path: &str| paths.iter().filter(|p| *p == path).count();
    assert_eq!(count(SCOPES_PATH), 1, "{paths:?}");
    assert_eq!(count(USERNAME_PATH), 3, "{paths:?}");
    assert_eq!(paths[0], SCOPES_PATH, "asked first");
}

/// SendGrid cannot list the scopes (503): the check says nothing, and the key goes on as
/// without it; the identity read's own 403 still names the missing scope, and nothing is
/// read or written with the key.
#[tokio::test]
async fn a_failed_scopes_read_falls_through_to_the_calls_own_refusals() {
    const NARROW: &str = "SG.settings-only-key.00112233445566778899";
    let mut h = Harness::new().await;
    h.add_key(NARROW, &[Scope::Read, Scope::Update]);
    h.sim.inject(Fault::ServerErrors {
        count: 1,
        status: 503,
    });
    let obj = marketing(spec(json!({"requireTls": true})));

    let task = h.reconcile(&obj);
    h.secret(&[("apiKey", NARROW)]).await;
    let (status, _) = h.status(&obj).await;
    assert_eq!(h.event().await["reason"], "Forbidden");
    h.done(task).await;

    assert_eq!(h.sendgrid_log(), [scopes(503), identity(403)]);
    let text = condition(&status, "Synced")["message"].as_str().unwrap();
    assert!(text.contains("GET /v3/user/username was refused"), "{text}");
    assert!(text.contains("user.username.read"), "{text}");
}

/// The operator's RBAC refuses the account records (a trimmed ClusterRole): the resource says
/// so in its status, naming the permission and the chart's role, and nothing is PATCHed,
/// whether the read or the claim's write is refused.
#[tokio::test]
async fn refused_account_records_are_reported_and_nothing_is_patched() {
    let mut h = Harness::new().await;
    let obj = marketing(spec(json!({"requireTls": true})));

    let task = h.reconcile(&obj);
    h.key().await;
    h.api
        .expect(Method::GET, &h.records.path(ACCOUNT))
        .await
        .forbidden("get", "sendgridtargets.sendgrid.ops.dev", ACCOUNT);
    let (status, obj) = h.status(&obj).await;
    let event = h.event().await;
    assert_backoff(&h.done(task).await, 1);
    assert_eq!(
        h.sendgrid_log(),
        [scopes(200), identity(200)],
        "no settings call without the record"
    );
    assert_targets_forbidden(&status, "get");
    assert_event(&event, "Warning", "SecretForbidden", "sendgridtargets");

    // Reading is allowed now, creating is not: the claim cannot be written, so no PATCH.
    h.sim.clear_requests();
    let task = h.reconcile(&obj);
    h.key().await;
    h.record().await;
    let call = h.record_call().await;
    assert_eq!(call.method, Method::POST);
    call.forbidden("create", "sendgridtargets.sendgrid.ops.dev", ACCOUNT);
    let (status, _) = h.status(&obj).await;
    assert_eq!(h.event().await["reason"], "SecretForbidden");
    assert_backoff(&h.done(task).await, 2);
    assert_eq!(h.sendgrid_log(), [get(200)], "no PATCH without the claim");
    assert_targets_forbidden(&status, "create");
    assert_eq!(h.stored_record(), None);
    assert_eq!(h.main_account(), TlsSettings::SENDGRID_DEFAULTS);
}

/// Synced=False naming the refused `verb`, the permission and the chart's ClusterRole.
fn assert_targets_forbidden(status: &Value, verb: &str) {
    let synced = condition(status, "Synced");
    assert_eq!(
        (&synced["status"], &synced["reason"]),
        (&json!("False"), &json!("SecretForbidden"))
    );
    let text = synced["message"].as_str().unwrap();
    let refused = format!("cannot {verb} resource \"sendgridtargets\"");
    for part in [
        refused.as_str(),
        "sendgridtargets (group sendgrid.ops.dev",
        "get, list, watch, create, patch and delete",
        "ClusterRole <fullname>-targets",
    ] {
        assert!(text.contains(part), "{part} in {text}");
    }
    assert_eq!(condition(status, "Ready")["reason"], "Pending");
}

#[tokio::test]
async fn unauthorized_backs_off_more_each_time_and_resets_after_success() {
    const BAD: &str = "SG.revoked-key.fedcba9876543210";
    let mut h = Harness::new().await;
    h.api.forbid(BAD);
    let mut obj = marketing(spec(json!({"requireTls": true})));

    // First failure: status and a Warning; then the same failure changes nothing in the cluster.
    // Each change of the Secret is a new resourceVersion, as the API server makes it.
    for attempt in 1..=3 {
        let task = h.reconcile(&obj);
        h.secret_at("6", &[("apiKey", BAD)]).await;
        if attempt == 1 {
            let (status, updated) = h.status(&obj).await;
            assert!(!status.to_string().contains(BAD));
            assert_eq!(h.event().await["reason"], "Unauthorized");
            obj = updated;
        }
        let action = h.done(task).await;
        assert_backoff(&action, attempt);
    }
    // A key SendGrid refuses reaches no account: only its scopes are asked, each time.
    assert_eq!(h.sendgrid_log(), [scopes(401), scopes(401), scopes(401)]);

    // The Secret is fixed: success, then the resync interval.
    h.sim.clear_requests();
    let task = h.reconcile(&obj);
    h.key().await;
    h.record().await;
    h.claim().await;
    let (_, fixed) = h.status(&obj).await;
    assert_eq!(h.event().await["reason"], "Applied");
    assert_resync(&h.done(task).await);

    // Broken again: the backoff starts over.
    let task = h.reconcile(&fixed);
    h.secret_at("9", &[("apiKey", BAD)]).await;
    h.status(&fixed).await;
    // A new episode, a new Event (each reconcile publishes through its own Recorder).
    assert_eq!(h.event().await["reason"], "Unauthorized");
    let action = h.done(task).await;
    assert_backoff(&action, 1);
}

#[tokio::test]
async fn rate_limit_waits_until_reset_without_sending() {
    let mut h = Harness::new().await;
    let obj = h
        .converge(&marketing(spec(json!({"requireTls": true}))))
        .await;
    h.sim.inject(Fault::RateLimitBurst {
        count: 1,
        reset_after: Duration::from_secs(30),
    });

    let task = h.reconcile(&obj);
    h.key().await;
    h.record().await;
    let (_, obj) = h.status(&obj).await;
    let event = h.event().await;
    let action = h.done(task).await;

    assert_eq!(h.sendgrid_log(), [get(429)]);
    assert_event(&event, "Warning", "RateLimited", "");
    // X-RateLimit-Reset is ~30s ahead (whole seconds, rounded up), plus up to 1s of jitter.
    let wait = requeue_after(&action).unwrap();
    assert!(
        wait >= Duration::from_secs(29) && wait <= Duration::from_secs(32),
        "{wait:?}"
    );

    // Reconciled again before the reset (say, the spec changed): nothing reaches SendGrid.
    let task = h.reconcile(&obj);
    h.key().await;
    h.record().await;
    // The message now says the request was refused locally: a status write, and a Warning with
    // the new message (each reconcile publishes through its own Recorder).
    h.status(&obj).await;
    assert_eq!(h.event().await["reason"], "RateLimited");
    let action = h.done(task).await;
    assert_eq!(
        h.sendgrid_log(),
        [get(429)],
        "nothing sent before the reset"
    );
    let wait = requeue_after(&action).unwrap();
    assert!(
        wait >= Duration::from_secs(28) && wait <= Duration::from_secs(32),
        "{wait:?}"
    );
}

#[tokio::test]
async fn server_error_leaves_ready_as_it_was() {
    let mut h = Harness::new().await;
    let obj = h
        .converge(&marketing(spec(json!({"requireTls": true}))))
        .await;
    h.sim.inject(Fault::ServerErrors {
        count: 1,
        status: 503,
    });

    let task = h.reconcile(&obj);
    h.key().await;
    h.record().await;
    let (status, _) = h.status(&obj).await;
    let event = h.event().await;
    let action = h.done(task).await;

    assert_eq!(h.sendgrid_log(), [get(503)]);
    assert_eq!(event["reason"], "ApiUnavailable");
    assert_eq!(condition(&status, "Ready")["reason"], "InSync");
    assert_eq!(condition(&status, "Synced")["reason"], "ApiUnavailable");
    assert_backoff(&action, 1);
}

/// A new key of the same account (a rotation, the old key revoked) reaches the same record:
/// nothing is put back, the claim stands, and only the Secret version in the status changes.
#[tokio::test]
async fn key_rotation_puts_nothing_back_and_writes_no_record() {
    const ROTATED: &str = "SG.controller-mock-rotated.fedcba9876543210";
    let mut h = Harness::new().await;
    let obj = h
        .converge(&marketing(spec(
            json!({"requireTls": true, "deletionPolicy": "Orphan"}),
        )))
        .await;
    let before = h.stored_record();
    h.add_key(ROTATED, &Scope::ALL);
    h.sim.remove_key(KEY);

    let task = h.reconcile(&obj);
    h.secret_at("8", &[("apiKey", ROTATED)]).await;
    h.record().await;
    let (status, _) = h.status(&obj).await;
    let action = h.done(task).await;

    // The new key is asked whose it is (the old one's answer is no proof), then the settings.
    assert_eq!(h.sendgrid_log(), [scopes(200), identity(200), get(200)]);
    assert_eq!(h.stored_record(), before, "no record write");
    let mut expected = serde_json::to_value(&obj.status).unwrap();
    expected["target"]["secretResourceVersion"] = json!("8");
    assert_eq!(status, expected, "only the Secret version changes");
    assert_eq!(h.main_account().require_tls, Some(true));
    assert_resync(&action);
}

#[tokio::test]
async fn paused_resource_makes_no_sendgrid_call() {
    let mut h = Harness::new().await;
    h.change_in_ui(require_tls(false));
    let obj = paused(marketing(spec(json!({"requireTls": true}))));

    let task = h.reconcile(&obj);
    // Neither the Secret nor the account's record: a pause needs no key.
    let (status, _) = h.status(&obj).await;
    let event = h.event().await;
    let action = h.done(task).await;

    assert_eq!(h.sendgrid_log(), []);
    assert_event(&event, "Normal", "Paused", PAUSED);
    assert!(status.get("observed").is_none(), "{status}");
    assert_resync(&action);
    assert_eq!(h.main_account().require_tls, Some(false));
}

#[tokio::test]
async fn orphan_deletion_touches_nothing() {
    let mut h = Harness::new().await;
    let obj = deleting(&marketing(spec(json!({"requireTls": true}))), &[], None);
    let ctx = h.ctx.clone();
    let guarded = Arc::new(DeserializeGuard(Ok(obj)));
    let action = h
        .api
        .expect_no_calls(reconcile(guarded, ctx))
        .await
        .unwrap();
    assert_eq!(action, Action::await_change());
    assert_eq!(h.sendgrid_log(), []);
}

/// A resource that changed SendGrid from `original` to (true, true, 1.2), now being deleted;
/// the account's record (kept in `h`) says so.
fn applied(h: &mut Harness, policy: &str, original: TlsSettings) -> SendGridEnforcedTls {
    let mut obj = marketing(spec(json!({
        "requireTls": true,
        "requireValidCert": true,
        "minimumTlsVersion": "1.2",
        "deletionPolicy": policy,
    })));
    let observed =
        json!({"requireTls": true, "requireValidCert": true, "minimumTlsVersion": "1.2"});
    obj.status = Some(
        serde_json::from_value(json!({
            "observedGeneration": 1,
            "observed": observed,
            "target": target(),
        }))
        .unwrap(),
    );
    let original = serde_json::to_value(original).unwrap();
    h.records.insert(account_record(
        &[ME],
        json!({
            "requireTls": claim(original["requireTls"].clone(), json!(true), &[ME]),
            "requireValidCert": claim(original["requireValidCert"].clone(), json!(true), &[ME]),
            "minimumTlsVersion": claim(original["minimumTlsVersion"].clone(), json!("1.2"), &[ME]),
        }),
    ));
    deleting(&obj, &["example.com/keep", FINALIZER], Some(policy))
}

/// Answers a cleanup's letting go, after the key and before the Event: the record read, then
/// (SendGrid put back first) the record deleted, as nobody holds anything any more.
async fn let_go(h: &mut Harness) {
    h.record().await;
    let written = h.write_record().await;
    assert!(matches!(written, Written::Deleted(_)), "{written:?}");
    assert_eq!(h.stored_record(), None);
}

#[tokio::test]
async fn restore_puts_back_the_original_then_releases() {
    let mut h = Harness::new().await;
    h.change_in_ui(settings(true, true, TlsVersion::V1_2));
    let obj = applied(&mut h, "Restore", settings(false, true, TlsVersion::V1_3));

    let task = h.reconcile(&obj);
    h.key().await;
    let_go(&mut h).await;
    let event = h.event().await;
    let finalizer = h.finalizer(&obj).await;
    let action = h.done(task).await;

    // requireValidCert was true before the operator came: never changed, never written.
    assert_eq!(
        h.sendgrid_log(),
        [
            get(200),
            patch(json!({"require_tls": false, "version": 1.3}))
        ]
    );
    assert_eq!(h.main_account(), settings(false, true, TlsVersion::V1_3));
    assert_event(&event, "Normal", "CleanedUp", "");
    assert_eq!(
        finalizer,
        json!({"metadata": {"finalizers": ["example.com/keep"], "resourceVersion": "100"}})
    );
    assert_eq!(action, Action::await_change());
}

#[tokio::test]
async fn reset_puts_back_sendgrid_defaults_of_what_the_operator_changed() {
    let mut h = Harness::new().await;
    h.change_in_ui(settings(true, true, TlsVersion::V1_2));
    // requireTls was already true: not the operator's change, so Reset leaves it.
    let obj = applied(&mut h, "Reset", settings(true, false, TlsVersion::V1_3));

    let task = h.reconcile(&obj);
    h.key().await;
    let_go(&mut h).await;
    assert_eq!(h.event().await["reason"], "CleanedUp");
    let finalizer = h.finalizer(&obj).await;
    h.done(task).await;

    assert_eq!(
        h.sendgrid_log(),
        [
            get(200),
            patch(json!({"require_valid_cert": false, "version": 1.1}))
        ]
    );
    assert_eq!(h.main_account(), settings(true, false, TlsVersion::V1_1));
    assert_eq!(
        finalizer["metadata"]["finalizers"],
        json!(["example.com/keep"])
    );
}

#[tokio::test]
async fn failed_cleanup_keeps_the_finalizer_until_switched_to_orphan() {
    let mut h = Harness::new().await;
    h.change_in_ui(settings(true, true, TlsVersion::V1_2));
    let obj = applied(&mut h, "Reset", settings(true, true, TlsVersion::V1_3));

    let task = h.reconcile(&obj);
    h.no_secret().await;
    let (_, obj) = h.status(&obj).await;
    let event = h.event().await;
    let action = h.done(task).await;

    assert_eq!(h.sendgrid_log(), []);
    assert_event(&event, "Warning", "CleanupFailed", "");
    assert_backoff(&action, 1);
    assert!(
        h.stored_record().is_some(),
        "the claim stays while it retries"
    );

    // The user gives up on the cleanup: the claim and the finalizer go, SendGrid is not called.
    let mut orphan = obj.clone();
    orphan.spec.deletion_policy = Some(serde_json::from_value(json!("Orphan")).unwrap());
    let task = h.reconcile(&orphan);
    let_go(&mut h).await;
    let finalizer = h.finalizer(&orphan).await;
    let action = h.done(task).await;
    assert_eq!(
        finalizer,
        json!({"metadata": {"finalizers": ["example.com/keep"], "resourceVersion": "101"}})
    );
    assert_eq!(action, Action::await_change());
    assert_eq!(h.sendgrid_log(), []);
    assert_eq!(h.main_account(), settings(true, true, TlsVersion::V1_2));
}

/// Paused, a Restore resource's deletion acts as Orphan: its claim goes without a SendGrid
/// call, the original stays for a resource that still points at the account, and a Warning
/// says what was left as is.
#[tokio::test]
async fn paused_restore_deletion_drops_the_claim_without_calling_sendgrid() {
    let mut h = Harness::new().await;
    h.change_in_ui(settings(true, true, TlsVersion::V1_2));
    let obj = paused(applied(
        &mut h,
        "Restore",
        settings(false, true, TlsVersion::V1_3),
    ));
    // A Conflict loser points at the account and holds nothing: the next holder, it inherits
    // the originals.
    let mut loser = resource(
        "loser",
        "2026-01-01T00:00:00Z",
        spec(json!({"requireTls": false})),
    );
    loser.status = Some(serde_json::from_value(json!({"target": target()})).unwrap());
    h.cache(&[&loser, &obj]);

    let task = h.reconcile(&obj);
    h.record().await;
    let written = h.write_record().await;
    let event = h.event().await;
    let finalizer = h.finalizer(&obj).await;
    let action = h.done(task).await;

    assert!(matches!(written, Written::Patched(_)), "{written:?}");
    assert_eq!(
        written.object()["spec"]["fields"],
        json!({
            "requireTls": claim(json!(false), json!(true), &[]),
            "requireValidCert": claim(json!(true), json!(true), &[]),
            "minimumTlsVersion": claim(json!("1.3"), json!("1.2"), &[]),
        }),
        "the claim goes, the originals stay"
    );
    assert!(written.object()["spec"].get("holders").is_none());
    assert_eq!(h.sendgrid_log(), [], "no SendGrid call, not even the key");
    assert_event(&event, "Warning", "CleanupSkipped", "paused");
    assert!(
        event["note"].as_str().unwrap().contains(ACCOUNT),
        "names what was left: {event}"
    );
    assert_eq!(
        finalizer["metadata"]["finalizers"],
        json!(["example.com/keep"])
    );
    assert_eq!(action, Action::await_change());
    assert_eq!(h.main_account(), settings(true, true, TlsVersion::V1_2));
}

#[tokio::test]
async fn restore_policy_adds_the_finalizer_first() {
    let mut h = Harness::new().await;
    let obj = marketing(spec(
        json!({"requireTls": true, "deletionPolicy": "Restore"}),
    ));

    let task = h.reconcile(&obj);
    let finalizer = h.finalizer(&obj).await;
    let obj = patched(&obj, &finalizer);
    h.key().await;
    h.record().await;
    // The original is on record before SendGrid is changed.
    let record = h.claim().await;
    assert_eq!(
        record.object()["spec"]["fields"],
        json!({"requireTls": claim(json!(false), json!(true), &[ME])})
    );
    let (status, _) = h.status(&obj).await;
    assert_eq!(h.event().await["reason"], "Applied");
    let action = h.done(task).await;

    assert_eq!(
        finalizer,
        json!({"metadata": {"finalizers": [FINALIZER], "resourceVersion": "100"}})
    );
    assert_eq!(
        h.sendgrid_log(),
        [
            scopes(200),
            identity(200),
            get(200),
            patch(json!({"require_tls": true}))
        ]
    );
    assert!(status.get("original").is_none(), "{status}");
    assert_eq!(status["target"], target());
    assert_resync(&action);
}

/// Another live resource holds requireTls=false in the account's record; `obj` (created
/// earlier, with `status`) wants true: the record, not age, decides. It reports Conflict and
/// leaves SendGrid and the record alone.
async fn assert_conflict(status: Option<Value>) {
    let mut h = Harness::new().await;
    let mut holder = resource(
        "holder",
        "2026-01-05T00:00:00Z",
        spec(json!({"requireTls": false})),
    );
    holder.status =
        Some(serde_json::from_value(json!({"observedGeneration": 1, "target": target()})).unwrap());
    h.records.insert(account_record(
        &["mail/holder"],
        json!({"requireTls": claim(json!(false), json!(false), &["mail/holder"])}),
    ));
    let before = h.stored_record();
    let mut obj = marketing(spec(json!({"requireTls": true})));
    obj.status = status.map(|s| serde_json::from_value(s).unwrap());
    h.cache(&[&holder, &obj]);

    let task = h.reconcile(&obj);
    h.key().await;
    h.record().await;
    h.holder("holder", Some(&holder)).await;
    let (status, _) = h.status(&obj).await;
    let event = h.event().await;
    let action = h.done(task).await;

    assert_eq!(
        h.sendgrid_log(),
        [scopes(200), identity(200), get(200)],
        "a conflicting resource never PATCHes"
    );
    assert_eq!(h.stored_record(), before, "and claims nothing");
    assert_eq!(status["target"], target());
    assert_event(&event, "Warning", "Conflict", "mail/holder");
    assert_resync(&action);
    assert_eq!(h.main_account().require_tls, Some(false));
}

#[tokio::test]
async fn resource_declaring_another_value_of_a_held_field_is_in_conflict() {
    // It has been reconciled before (say, while its Secret was missing), so it has a status.
    assert_conflict(Some(json!({"observedGeneration": 1}))).await;
}

/// The common case: the conflicting resource was just created and has no status yet.
#[tokio::test]
async fn brand_new_resource_on_a_held_target_is_in_conflict_from_its_first_reconcile() {
    assert_conflict(None).await;
}

/// A holder the record lists that is neither cached nor found is gone: the next resource
/// declaring the field inherits its original, and SendGrid, already as written, is left alone.
#[tokio::test]
async fn a_gone_holder_is_asked_for_then_its_claim_inherited() {
    let mut h = Harness::new().await;
    h.change_in_ui(require_tls(true));
    h.records.insert(account_record(
        &["mail/old"],
        json!({"requireTls": claim(json!(false), json!(true), &["mail/old"])}),
    ));
    let obj = marketing(spec(json!({"requireTls": true})));

    let task = h.reconcile(&obj);
    h.key().await;
    h.record().await;
    let call = h
        .api
        .expect(
            Method::GET,
            "/apis/sendgrid.ops.dev/v1alpha1/namespaces/mail/sendgridenforcedtlses/old",
        )
        .await;
    call.not_found("sendgridenforcedtlses", "old");
    h.holder("old", None).await;
    let record = h.claim().await;
    h.status(&obj).await;
    let action = h.done(task).await;

    assert!(matches!(record, Written::Patched(_)), "{record:?}");
    assert_eq!(
        record.object()["spec"]["fields"],
        json!({"requireTls": claim(json!(false), json!(true), &[ME])}),
        "the heir keeps the original, not the operator's own write"
    );
    assert_eq!(h.sendgrid_log(), [scopes(200), identity(200), get(200)]);
    assert_resync(&action);
}

#[tokio::test]
async fn malformed_object_is_skipped_without_calls() {
    let mut h = Harness::new().await;
    let guarded: Guarded = serde_json::from_value(json!({
        "apiVersion": "sendgrid.ops.dev/v1alpha1",
        "kind": "SendGridEnforcedTls",
        "metadata": {"name": "broken", "namespace": NS, "uid": "uid-broken"},
        "spec": {"apiKeySecretRef": {"name": "sendgrid-api-key"}, "minimumTlsVersion": 1.2},
    }))
    .unwrap();
    assert!(guarded.0.is_err(), "the fixture must be malformed");
    let task = tokio::spawn(reconcile(Arc::new(guarded), h.ctx.clone()));
    let call = h.api.expect(Method::POST, EVENTS_PATH).await;
    assert_eq!(
        (&call.body["type"], &call.body["reason"]),
        (&json!("Warning"), &json!("InvalidObject"))
    );
    assert_eq!(call.body["regarding"]["name"], "broken");
    let body = call.body.clone();
    call.ok(&body);
    let action = h.done(task).await;
    assert_eq!(action, Action::await_change());
    assert_eq!(h.sendgrid_log(), []);
}
