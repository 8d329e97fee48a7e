//! SendGrid refusing: a key without a scope it needs (named from its listed scopes before any
//! other call, healed when the scope is added; a failed scopes read blocks nothing), an unknown
//! subuser (404), a value SendGrid rejects (400 -> Rejected, which waits for a spec change
//! instead of retrying); and the operator's RBAC refusing the account records.

use super::env::*;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, PostParams};
use kube_testkit::Refusal;
use sendgrid_tls_operator::api::{TlsSettings, TlsVersion};
use sendgrid_tls_operator::simulator::{self, Fault, Scope, SimKey};
use serde_json::json;
use std::time::Duration;

/// What the simulator answers, as SendGrid's `errors[0].message`, to a version the account's plan
/// refuses.
const REFUSAL: &str = "TLS 1.3 is not available on this account's plan";

/// Where SendGrid lists a key's scopes.
const SCOPES_PATH: &str = "/v3/scopes";

/// The simulator's requests made with `key`.
fn with_key(env: &Env, key: &str) -> Vec<simulator::LoggedRequest> {
    env.sg(|r| r.key_fingerprint.as_deref() == Some(fingerprint(key).as_str()))
}

/// (path, status) of each request.
fn answered(requests: &[simulator::LoggedRequest]) -> Vec<(String, u16)> {
    requests
        .iter()
        .map(|r| (r.path.clone(), r.status))
        .collect()
}

async fn forbidden_and_not_found(backend: Backend) {
    let env = Env::on(backend).await;
    // KEY2 may only read.
    env.sim.add_key(SimKey {
        key: KEY2.into(),
        account: "main".into(),
        scopes: vec![Scope::Read, Scope::UsernameRead],
    });
    env.key_secret(KEY).await;
    env.secret("readonly-key", &[("apiKey", KEY2)]).await;
    let _op = env.operator(&[]);
    env.create(
        "readonly",
        json!({"apiKeySecretRef": {"name": "readonly-key"}, "requireTls": true}),
    )
    .await;
    env.create(
        "ghost",
        json!({"onBehalfOf": {"subuser": "ghost"}, "requireTls": true}),
    )
    .await;

    let forbidden = env
        .wait_condition("readonly", "Synced", "False", "Forbidden")
        .await;
    assert!(has_condition(&forbidden, "Ready", "False", "Pending"));
    let text = message(&forbidden, "Synced");
    assert!(
        text.contains("user.settings.enforced_tls.update") && text.contains("to the API key"),
        "{text}"
    );
    let not_found = env
        .wait_condition("ghost", "Synced", "False", "NotFound")
        .await;
    assert!(has_condition(&not_found, "Ready", "False", "Pending"));

    env.until("both Warning Events", WAIT, |env| {
        env.event_reasons("readonly") == ["Forbidden"] && env.event_reasons("ghost") == ["NotFound"]
    })
    .await;
    let readonly = with_key(&env, KEY2);
    assert!(
        readonly
            .iter()
            .all(|r| r.method == "GET" && r.path.ends_with(SCOPES_PATH) && r.status == 200),
        "only its scopes are read: {readonly:?}"
    );
    let ghost = env.sg_for(Some("ghost"));
    assert!(ghost.iter().all(|r| r.method == "GET" && r.status == 404));
    assert_eq!(
        env.settings(None).require_tls,
        Some(false),
        "nothing written"
    );
    report(
        "403 missing scope",
        format!(
            "Synced=False Forbidden naming the update scope; SendGrid {} GET /v3/scopes (one per attempt, retried with backoff), no settings call",
            readonly.len()
        ),
    );
    report(
        "404 unknown subuser",
        format!(
            "Synced=False NotFound; {} GETs (404, retried with backoff), 0 PATCH",
            ghost.len()
        ),
    );
    env.assert_no_key_leaks();
}

/// A key that may not read whose account it is (no `user.username.read`) could be any
/// account's: it is never used to read or write the settings, and the status names the scope.
async fn a_key_that_cannot_say_whose_account_never_writes(backend: Backend) {
    let env = Env::on(backend).await;
    env.sim.add_key(SimKey {
        key: KEY2.into(),
        account: "main".into(),
        scopes: vec![Scope::Read, Scope::Update],
    });
    env.secret("no-identity-key", &[("apiKey", KEY2)]).await;
    let _op = env.operator(&[]);
    env.create(
        "unknown",
        json!({"apiKeySecretRef": {"name": "no-identity-key"}, "requireTls": true}),
    )
    .await;
    let forbidden = env
        .wait_condition("unknown", "Synced", "False", "Forbidden")
        .await;
    let text = message(&forbidden, "Synced");
    assert!(text.contains("user.username.read"), "{text}");
    assert!(has_condition(&forbidden, "Ready", "False", "Pending"));
    let used = with_key(&env, KEY2);
    assert!(
        used.iter()
            .all(|r| r.path.ends_with(SCOPES_PATH) && r.status == 200),
        "only its scopes are read: {used:?}"
    );
    assert_eq!(
        env.settings(None).require_tls,
        Some(false),
        "nothing written"
    );
    report(
        "no identity scope",
        format!(
            "Synced=False Forbidden naming user.username.read; SendGrid {:?}",
            methods(&used)
        ),
    );
    env.assert_no_key_leaks();
}

async fn rejected_value_waits_for_a_spec_change(backend: Backend) {
    let env = Env::on(backend).await;
    // An account whose plan refuses TLS 1.3: the one 400 a valid spec can get.
    env.sim
        .inject(Fault::RefuseVersion(simulator::TlsVersion::V1_3));
    env.key_secret(KEY).await;
    let _op = env.operator(&[]);
    env.create(
        "account",
        json!({"requireTls": true, "minimumTlsVersion": "1.3"}),
    )
    .await;
    let rejected = env
        .wait_condition("account", "Synced", "False", "Rejected")
        .await;
    let text = message(&rejected, "Synced");
    assert!(text.contains(REFUSAL), "SendGrid's message is kept: {text}");
    // With 100ms backoff there would be several retries in this window: a Rejected spec waits
    // for a change instead. (Watching for an absence is the one place a plain sleep fits.)
    let meanwhile = {
        let before = env.sg_for(None).len();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        env.sg_for(None)[before..].to_vec()
    };
    assert!(
        meanwhile.is_empty(),
        "no retry of a rejected spec: {meanwhile:?}"
    );
    let sent = env.sg_for(None);
    assert_eq!(
        sent[1].body,
        Some(json!({"require_tls": true, "version": 1.3}))
    );
    let attempts: Vec<_> = sent.iter().map(|r| (r.method.clone(), r.status)).collect();
    assert_eq!(
        attempts,
        [("GET".to_string(), 200), ("PATCH".to_string(), 400)]
    );
    assert_eq!(
        env.settings(None),
        TlsSettings::SENDGRID_DEFAULTS,
        "nothing written"
    );

    env.edit("account", json!({"minimumTlsVersion": "1.2"}))
        .await;
    env.wait_ready("account").await;
    assert_eq!(
        env.settings(None).minimum_tls_version,
        Some(TlsVersion::V1_2)
    );
    report(
        "400 rejected value",
        format!(
            "Synced=False Rejected ({text}); {attempts:?} then 0 requests in 1.5s; healed by a spec edit with 1 GET + 1 PATCH"
        ),
    );
    env.assert_no_key_leaks();
}

/// The key's scopes are read at its first use: a failed read (503) blocks nothing; a key
/// lacking the update scope is refused before any other call and heals once the scope is added
/// in SendGrid; the read is not repeated for the key's other resources.
async fn scopes_are_checked_once_per_key_and_a_missing_one_heals(backend: Backend) {
    let env = Env::on(backend).await;
    // KEY2 may only read.
    env.sim.add_key(SimKey {
        key: KEY2.into(),
        account: "main".into(),
        scopes: vec![Scope::Read, Scope::UsernameRead],
    });
    env.key_secret(KEY).await;
    env.secret("reader-key", &[("apiKey", KEY2)]).await;
    // The operator's first SendGrid request is the scopes read of KEY: SendGrid fails it.
    env.sim.inject(Fault::ServerErrors {
        count: 1,
        status: 503,
    });
    let _op = env.operator(&[]);
    env.create("fallback", json!({"requireTls": true})).await;
    env.wait_ready("fallback").await;
    let fell_through = answered(&with_key(&env, KEY));
    assert_eq!(
        fell_through,
        [
            (SCOPES_PATH.to_string(), 503),
            ("/v3/user/username".to_string(), 200),
            ("/v3/user/settings/enforced_tls".to_string(), 200),
            ("/v3/user/settings/enforced_tls".to_string(), 200),
        ],
        "a failed scopes read blocks nothing"
    );

    let reader = |sub: &str| {
        json!({"apiKeySecretRef": {"name": "reader-key"}, "onBehalfOf": {"subuser": sub},
               "requireTls": true})
    };
    env.create("marketing", reader("marketing-sub")).await;
    let forbidden = env
        .wait_condition("marketing", "Synced", "False", "Forbidden")
        .await;
    let text = message(&forbidden, "Synced");
    assert!(
        text.contains("user.settings.enforced_tls.update") && text.contains("to the API key"),
        "{text}"
    );
    let refused = with_key(&env, KEY2);
    assert!(
        refused.iter().all(|r| r.path.ends_with(SCOPES_PATH)),
        "no identity read, GET or PATCH: {refused:?}"
    );

    // The scope is added in SendGrid: the next retry finds it.
    env.sim.add_key(SimKey {
        key: KEY2.into(),
        account: "main".into(),
        scopes: Scope::ALL.to_vec(),
    });
    env.wait_ready("marketing").await;
    let reads = |env: &Env| {
        with_key(env, KEY2)
            .iter()
            .filter(|r| r.path.ends_with(SCOPES_PATH))
            .count()
    };
    let scopes_reads = reads(&env);
    for (name, sub) in [
        ("transactional", "transactional-sub"),
        ("billing", "billing-sub"),
    ] {
        env.create(name, reader(sub)).await;
        env.wait_ready(name).await;
    }
    assert_eq!(reads(&env), scopes_reads, "the key's scopes are known");
    for sub in ["transactional-sub", "billing-sub"] {
        assert_eq!(methods(&env.identity_reads(Some(sub))), ["GET"], "{sub}");
    }
    assert_eq!(env.settings(Some("billing-sub")).require_tls, Some(true));
    report(
        "missing scope named by GET /v3/scopes",
        format!(
            "503 on the scopes read fell through ({} requests); Forbidden naming user.settings.enforced_tls.update after {} scopes reads and no other request, healed when the scope was added; 2 more resources on the key: 0 scopes reads",
            fell_through.len(),
            refused.len()
        ),
    );
    env.assert_no_key_leaks();
}

/// The chart's `<fullname>-targets` ClusterRole, which lets the operator use the accounts'
/// records.
const TARGETS_ROLE: &str = "sgtls-sendgrid-tls-operator-targets";

fn cluster_roles(env: &Env) -> Api<DynamicObject> {
    let resource = ApiResource {
        group: "rbac.authorization.k8s.io".into(),
        version: "v1".into(),
        api_version: "rbac.authorization.k8s.io/v1".into(),
        kind: "ClusterRole".into(),
        plural: "clusterroles".into(),
    };
    Api::all_with(env.client.clone(), &resource)
}

/// Takes the account records away from the operator, as a trimmed ClusterRole would: on the
/// test server by refusing every request for them (403), on the control plane by deleting the
/// chart's role. Returns the role deleted, to give back.
async fn trim_targets_rbac(env: &Env) -> Option<DynamicObject> {
    match &env.server {
        Server::Test(server) => {
            for method in ["GET", "POST", "PATCH", "DELETE"] {
                server.refuse(Refusal {
                    method: method.into(),
                    path_contains: "/sendgridtargets".into(),
                    body_contains: None,
                    status: 403,
                    count: u32::MAX,
                });
            }
            None
        }
        Server::Real(_) => {
            let roles = cluster_roles(env);
            let role = roles.get(TARGETS_ROLE).await.unwrap();
            roles
                .delete(TARGETS_ROLE, &DeleteParams::default())
                .await
                .unwrap();
            Some(role)
        }
    }
}

/// Gives the records back to the operator.
async fn restore_targets_rbac(env: &Env, role: Option<DynamicObject>) {
    match (&env.server, role) {
        (Server::Test(server), _) => server.clear_refusals(),
        (Server::Real(_), Some(mut role)) => {
            // As a person re-applies it: what the server stamped on the old one goes.
            role.metadata.resource_version = None;
            role.metadata.uid = None;
            role.metadata.managed_fields = None;
            role.metadata.creation_timestamp = None;
            cluster_roles(env)
                .create(&PostParams::default(), &role)
                .await
                .unwrap();
        }
        (Server::Real(_), None) => unreachable!("the role was deleted"),
    }
}

/// Without RBAC on the account records a resource says so in its status, naming the permission
/// and the chart's role, and SendGrid gets no PATCH; given back, it converges.
async fn refused_account_records_are_a_status_and_no_patch(backend: Backend) {
    let env = Env::on(backend).await;
    env.key_secret(KEY).await;
    let role = trim_targets_rbac(&env).await;
    let _op = env.operator(&[]);
    env.create("account", json!({"requireTls": true})).await;
    let refused = env
        .wait_condition("account", "Synced", "False", "SecretForbidden")
        .await;
    let text = message(&refused, "Synced");
    for part in [
        "sendgridtargets (group sendgrid.ops.dev",
        "get, list, watch, create, patch and delete",
        "ClusterRole <fullname>-targets",
    ] {
        assert!(text.contains(part), "{part} in {text}");
    }
    assert!(has_condition(&refused, "Ready", "False", "Pending"));
    let sent = env.sg(|_| true);
    assert!(
        sent.iter()
            .all(|r| r.method == "GET" && !r.path.ends_with("/enforced_tls")),
        "no settings call without the record: {sent:?}"
    );
    assert_eq!(
        env.settings(None).require_tls,
        Some(false),
        "nothing written"
    );

    restore_targets_rbac(&env, role).await;
    env.wait_ready("account").await;
    assert_eq!(env.settings(None).require_tls, Some(true));
    report(
        "RBAC without sendgridtargets",
        format!(
            "Synced=False SecretForbidden ({text}); SendGrid {:?} before the role came back, 0 PATCH; Ready after",
            methods(&sent)
        ),
    );
    env.assert_no_key_leaks();
}

on_both!(
    forbidden_and_not_found,
    a_key_that_cannot_say_whose_account_never_writes,
    rejected_value_waits_for_a_spec_change,
    scopes_are_checked_once_per_key_and_a_missing_one_heals,
    refused_account_records_are_a_status_and_no_patch
);
