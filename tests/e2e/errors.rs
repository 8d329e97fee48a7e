//! SendGrid refusing: a key without the update scope (403), an unknown subuser (404), and a
//! value SendGrid rejects (400 -> Rejected, which waits for a spec change instead of retrying).

use super::env::*;
use crate::support::USERNAME_PATH;
use sendgrid_tls_operator::api::{TlsSettings, TlsVersion};
use sendgrid_tls_operator::simulator::{self, Fault, Scope, SimKey};
use serde_json::json;
use std::time::Duration;

/// What the simulator answers, as SendGrid's `errors[0].message`, to a version the account's plan
/// refuses.
const REFUSAL: &str = "TLS 1.3 is not available on this account's plan";

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
    assert!(message(&forbidden, "Synced").contains("access forbidden"));
    // The GET worked, so what SendGrid has is known.
    assert_eq!(forbidden["status"]["observed"]["requireTls"], false);
    let not_found = env
        .wait_condition("ghost", "Synced", "False", "NotFound")
        .await;
    assert!(has_condition(&not_found, "Ready", "False", "Pending"));

    env.until("both Warning Events", WAIT, |env| {
        env.event_reasons("readonly") == ["Forbidden"] && env.event_reasons("ghost") == ["NotFound"]
    })
    .await;
    let readonly = env.sg(|r| r.key_fingerprint.as_deref() == Some(fingerprint(KEY2).as_str()));
    assert!(
        readonly
            .iter()
            .all(|r| matches!((r.method.as_str(), r.status), ("GET", 200) | ("PATCH", 403))),
        "{readonly:?}"
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
            "Synced=False Forbidden; SendGrid {:?} (GET 200 + PATCH 403 per attempt, retried with backoff)",
            methods(&readonly)
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
    let used = env.sg(|r| r.key_fingerprint.as_deref() == Some(fingerprint(KEY2).as_str()));
    assert!(
        used.iter()
            .all(|r| r.path.ends_with(USERNAME_PATH) && r.status == 403),
        "only the refused identity read: {used:?}"
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

on_both!(
    forbidden_and_not_found,
    a_key_that_cannot_say_whose_account_never_writes,
    rejected_value_waits_for_a_spec_change
);
