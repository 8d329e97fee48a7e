//! Deleting resources: Orphan (no finalizer, SendGrid untouched), Restore (the settings from
//! before the first change come back), Reset (SendGrid's defaults come back), and Reset while the
//! Secret is gone (reported, not hung; switching to Orphan lets it go). Putting back leaves what
//! someone changed since, and a field no longer declared is put back at once; deletions made
//! while no operator watched are still put back and handed over.

use super::env::*;
use super::operator::Operator;
use sendgrid_tls_operator::api::{FINALIZER, TlsSettings, TlsVersion};
use sendgrid_tls_operator::simulator::Fault;
use serde_json::{Value, json};
use std::time::Duration;

/// The world of the cleanup scenarios: the key's Secret, billing-sub with TLS required already
/// (nothing else: what Restore must put back), and the operator running.
pub async fn cleanup_world(backend: Backend) -> (Env, Operator) {
    let env = Env::on(backend).await;
    env.key_secret(KEY).await;
    env.sim.set_from_ui(
        "main",
        Some("billing-sub"),
        tls(true, false, TlsVersion::V1_1),
    );
    let op = env.operator(&[]);
    (env, op)
}

/// All three settings on `subuser`, deleted with `policy`.
pub fn cleanup_spec(subuser: &str, policy: &str) -> Value {
    json!({"onBehalfOf": {"subuser": subuser}, "deletionPolicy": policy,
           "requireTls": true, "requireValidCert": true, "minimumTlsVersion": "1.3"})
}

async fn orphan_restore_and_reset(backend: Backend) {
    let (env, _op) = cleanup_world(backend).await;
    env.create("orphan", cleanup_spec("marketing-sub", "Orphan"))
        .await;
    env.create("restore", cleanup_spec("billing-sub", "Restore"))
        .await;
    env.create("reset", cleanup_spec("transactional-sub", "Reset"))
        .await;
    let orphan = env.wait_ready("orphan").await;
    let restore = env.wait_ready("restore").await;
    let reset = env.wait_ready("reset").await;
    assert!(
        orphan["metadata"]["finalizers"].is_null(),
        "Orphan adds no finalizer"
    );
    for object in [&restore, &reset] {
        assert_eq!(object["metadata"]["finalizers"], json!([FINALIZER]));
    }
    let billing = env.target_name("main", Some("billing-sub"));
    assert_eq!(restore["status"]["target"]["name"], billing.as_str());
    let fields = env.record(&billing).expect("billing-sub's record")["spec"]["fields"].clone();
    assert_eq!(
        fields,
        json!({
            "requireTls": {"original": true, "written": true, "holders": ["mail/restore"]},
            "requireValidCert": {"original": false, "written": true, "holders": ["mail/restore"]},
            "minimumTlsVersion": {"original": "1.1", "written": "1.3", "holders": ["mail/restore"]},
        })
    );
    let applied = tls(true, true, TlsVersion::V1_3);

    // Orphan: gone at once, SendGrid as it was.
    let before = env.sim.requests().len();
    env.delete("orphan").await;
    env.wait_gone("orphan").await;
    assert_eq!(env.settings(Some("marketing-sub")), applied);
    assert!(
        env.sim.requests()[before..]
            .iter()
            .all(|r| r.on_behalf_of.as_deref() != Some("marketing-sub")),
        "Orphan does not touch SendGrid"
    );

    // Restore: only the fields the operator changed are PATCHed back; the record goes with the
    // last resource on the account.
    env.delete("restore").await;
    env.wait_gone("restore").await;
    assert!(env.record(&billing).is_none(), "the record is deleted");
    assert_eq!(
        env.settings(Some("billing-sub")),
        tls(true, false, TlsVersion::V1_1)
    );
    let restored =
        env.sg(|r| r.on_behalf_of.as_deref() == Some("billing-sub") && r.method == "PATCH");
    assert_eq!(restored.len(), 2);
    assert_eq!(
        restored[1].body,
        Some(json!({"require_valid_cert": false, "version": 1.1}))
    );

    // Reset: SendGrid's defaults.
    env.delete("reset").await;
    env.wait_gone("reset").await;
    assert_eq!(
        env.settings(Some("transactional-sub")),
        tls(false, false, TlsVersion::V1_1)
    );
    let resets =
        env.sg(|r| r.on_behalf_of.as_deref() == Some("transactional-sub") && r.method == "PATCH");
    assert_eq!(resets.len(), 2);
    assert_eq!(
        resets[1].body,
        Some(json!({"require_tls": false, "require_valid_cert": false, "version": 1.1}))
    );
    let cleaned: Vec<_> = env
        .server
        .list_objects(&events(), Some(NS))
        .into_iter()
        .filter(|e| e["reason"] == "CleanedUp")
        .map(|e| e["note"].clone())
        .collect();
    assert_eq!(cleaned.len(), 2, "{cleaned:?}");
    let writes = [
        env.operator_writes("orphan"),
        env.operator_writes("restore"),
        env.operator_writes("reset"),
    ];
    // One status write (the claim and its originals are the account's record, written before
    // the PATCH); Restore/Reset: finalizer added and removed.
    assert_eq!(writes, [(1, 0), (1, 2), (1, 2)], "(status, other) writes");
    report(
        "deletion",
        format!(
            "Orphan: no finalizer, 0 SendGrid requests on delete; Restore: PATCH {:?}; Reset: PATCH {:?}; kube writes (status, finalizer) {writes:?}; Events {cleaned:?}",
            restored[1].body, resets[1].body
        ),
    );
    env.assert_no_key_leaks();
}

/// the Secret goes before its resource (a namespace deletion, an Argo CD
/// prune). The operator cleans up with the key it last read (kept in memory only).
async fn reset_with_the_secret_gone_uses_the_key_kept_in_memory(backend: Backend) {
    let env = Env::on(backend).await;
    env.secret("doomed-key", &[("apiKey", KEY)]).await;
    let _op = env.operator(&[]);
    env.create(
        "reset",
        json!({"apiKeySecretRef": {"name": "doomed-key"}, "deletionPolicy": "Reset",
               "requireTls": true, "minimumTlsVersion": "1.2"}),
    )
    .await;
    env.wait_ready("reset").await;
    env.delete_secret("doomed-key").await;
    env.delete("reset").await;
    env.wait_gone("reset").await;
    assert_eq!(
        env.settings(None),
        tls(false, false, TlsVersion::V1_1),
        "Reset carried out with the key kept in memory"
    );
    report(
        "Reset with the Secret gone",
        "cleaned up with the last key read; gone without waiting",
    );
    env.assert_no_key_leaks();
}

/// A Ready Reset resource "reset" whose Secret and then itself were deleted while no operator ran:
/// the next operator has no key for it at all.
async fn keyless_deletion(backend: Backend) -> Env {
    let env = Env::on(backend).await;
    env.secret("doomed-key", &[("apiKey", KEY)]).await;
    let mut op = env.operator(&[]);
    env.create(
        "reset",
        json!({"apiKeySecretRef": {"name": "doomed-key"}, "deletionPolicy": "Reset",
               "requireTls": true, "minimumTlsVersion": "1.2"}),
    )
    .await;
    env.wait_ready("reset").await;
    // Gracefully: the Lease is released, and the key in memory goes with the process.
    op.terminate().await;
    env.delete_secret("doomed-key").await;
    env.delete("reset").await;
    env
}

/// with no key at all (the operator restarted after the Secret went), deletion
/// waits, says why, and after --cleanup-timeout lets go with a Warning naming what was left.
async fn deletion_without_any_key_gives_up_after_the_cleanup_timeout(backend: Backend) {
    let env = keyless_deletion(backend).await;
    let _op = env.operator(&["--cleanup-timeout", "6s"]);
    let stuck = env
        .wait_condition("reset", "Ready", "False", "Deleting")
        .await;
    assert!(has_condition(&stuck, "Synced", "False", "SecretNotFound"));
    let text = message(&stuck, "Ready");
    assert!(text.contains("--cleanup-timeout"), "{text}");
    env.wait_gone("reset").await;
    let reasons = env.event_reasons("reset");
    assert!(
        reasons.contains(&"CleanupFailed".to_string()),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&"CleanupSkipped".to_string()),
        "{reasons:?}"
    );
    let skipped: Vec<String> = env
        .events_for("reset")
        .into_iter()
        .filter(|e| e["reason"] == "CleanupSkipped")
        .map(|e| e["note"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        skipped[0].contains(&format!("{} (main)", env.target_name("main", None)))
            && skipped[0].contains("left as is"),
        "{skipped:?}"
    );
    assert_eq!(
        env.settings(None),
        tls(true, false, TlsVersion::V1_2),
        "left as it was"
    );
    report(
        "deletion without a key",
        format!("Ready=False Deleting ({text}); released after the timeout: {skipped:?}"),
    );
    env.assert_no_key_leaks();
}

async fn a_stuck_cleanup_is_released_by_switching_to_orphan(backend: Backend) {
    let env = keyless_deletion(backend).await;
    let _op = env.operator(&[]);
    let stuck = env
        .wait_condition("reset", "Ready", "False", "Deleting")
        .await;
    assert!(message(&stuck, "Ready").contains("deletionPolicy to Orphan"));
    env.edit("reset", json!({"deletionPolicy": "Orphan"})).await;
    env.wait_gone("reset").await;
    assert_eq!(env.settings(None), tls(true, false, TlsVersion::V1_2));
    assert_eq!(
        env.sg(|r| r.method == "PATCH").len(),
        1,
        "only the first apply"
    );
}

// A deletion the API server stamped an hour before the operator saw it (a skewed clock, or an
// operator down all that while) is a fault the real control plane cannot make: it stamps every
// deletion with its own clock, at once.
/// The cleanup timeout runs on the operator's own clock from when it first saw the deletion, not
/// from the deletionTimestamp: the resource still waits for a key before it is let go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cleanup_timeout_runs_from_when_the_operator_saw_the_deletion() {
    let env = keyless_deletion(Backend::TestServer).await;
    let mut stamped = env.get("reset").expect("held by its finalizer");
    let an_hour_ago = k8s_openapi::jiff::Timestamp::now() - std::time::Duration::from_secs(3600);
    stamped["metadata"]["deletionTimestamp"] = json!(an_hour_ago.to_string());
    env.server.put_object(&sgtls(), stamped).unwrap();
    let _op = env.operator(&["--cleanup-timeout", "4s"]);
    env.wait_condition("reset", "Ready", "False", "Deleting")
        .await;
    env.wait_gone("reset").await;
    assert!(
        env.event_reasons("reset")
            .contains(&"CleanupSkipped".to_string())
    );
    assert_eq!(env.settings(None), tls(true, false, TlsVersion::V1_2));
}

/// The PATCHes sent to one target (None: the parent account).
fn patch_bodies(env: &Env, on_behalf_of: Option<&str>) -> Vec<Option<Value>> {
    env.sg_for(on_behalf_of)
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .map(|r| r.body)
        .collect()
}

/// Putting back (Restore) covers only what the operator still holds: a field the spec no
/// longer declares is put back at once, and on deletion a field someone changed since the
/// operator wrote it is left as it is, and the Warning says so.
async fn restore_puts_back_an_unset_field_and_leaves_one_changed_since(backend: Backend) {
    let env = Env::on(backend).await;
    env.key_secret(KEY).await;
    let _op = env.operator(&[]);
    env.create(
        "restore",
        json!({"deletionPolicy": "Restore",
               "requireTls": true, "requireValidCert": true, "minimumTlsVersion": "1.2"}),
    )
    .await;
    env.wait_ready("restore").await;

    env.edit("restore", json!({"requireValidCert": null})).await;
    let edited = env.wait_ready("restore").await;
    assert_eq!(edited["status"]["observedGeneration"], 2);
    assert_eq!(env.settings(None), tls(true, false, TlsVersion::V1_2));
    assert_eq!(
        patch_bodies(&env, None).last().unwrap(),
        &Some(json!({"require_valid_cert": false})),
        "the field let go, put back at once"
    );

    // Changed in the UI; the resync (10m away) would put it back, but the deletion comes first.
    env.sim.set_from_ui(
        "main",
        None,
        TlsSettings {
            minimum_tls_version: Some(TlsVersion::V1_3),
            ..TlsSettings::default()
        },
    );
    env.delete("restore").await;
    env.wait_gone("restore").await;
    assert_eq!(
        env.settings(None),
        tls(false, false, TlsVersion::V1_3),
        "requireTls restored; the version someone set since left as is"
    );
    assert_eq!(
        patch_bodies(&env, None).last().unwrap(),
        &Some(json!({"require_tls": false}))
    );
    let skipped = env.warnings("restore", "CleanupSkipped");
    assert!(
        skipped
            .iter()
            .any(|n| n.contains("minimumTlsVersion") && n.contains("someone changed it since")),
        "{skipped:?}"
    );
    report(
        "putting back",
        format!(
            "unset field put back at once; on deletion requireTls restored, the changed version left: {skipped:?}"
        ),
    );
    env.assert_no_key_leaks();
}

/// Deletions made while no operator watched (a watch gap): a Restore resource (its finalizer
/// holds it) is put back by the next operator, and the fields of an Orphan one, gone without a
/// trace, are handed over to the resource in Conflict with it, which inherits the account's
/// original, not the gone one's write.
async fn deletions_missed_while_the_operator_was_down_are_put_back_and_handed_over(
    backend: Backend,
) {
    let env = Env::on(backend).await;
    env.key_secret(KEY).await;
    let mut first = env.operator_as("first", &[], &[]);
    env.create(
        "restore",
        json!({"onBehalfOf": {"subuser": "marketing-sub"}, "deletionPolicy": "Restore",
               "requireTls": true}),
    )
    .await;
    env.create(
        "orphan",
        json!({"onBehalfOf": {"subuser": "billing-sub"}, "minimumTlsVersion": "1.2"}),
    )
    .await;
    env.wait_ready("restore").await;
    env.wait_ready("orphan").await;
    env.create(
        "heir",
        json!({"onBehalfOf": {"subuser": "billing-sub"}, "deletionPolicy": "Restore",
               "minimumTlsVersion": "1.3"}),
    )
    .await;
    env.wait_condition("heir", "Ready", "False", "Conflict")
        .await;
    let (marketing, billing) = (
        env.target_name("main", Some("marketing-sub")),
        env.target_name("main", Some("billing-sub")),
    );

    first.kill();
    env.delete("restore").await;
    env.delete("orphan").await;
    env.wait_gone("orphan").await;
    let _second = env.operator_as("second", &[], &[]);
    env.wait_gone("restore").await;
    assert_eq!(
        env.settings(Some("marketing-sub")).require_tls,
        Some(false),
        "put back"
    );
    assert!(env.record(&marketing).is_none(), "its record went with it");
    env.wait_ready("heir").await;
    assert_eq!(
        env.settings(Some("billing-sub")).minimum_tls_version,
        Some(TlsVersion::V1_3)
    );
    assert_eq!(
        env.originals("heir"),
        json!({"minimumTlsVersion": "1.1"}),
        "the account's original"
    );
    let record = env.record(&billing).expect("billing-sub's record");
    assert_eq!(record["spec"]["holders"], json!(["mail/heir"]));
    report(
        "deletions missed",
        format!(
            "while the operator was down: Restore put back by the next one, the Orphan's field handed over (originals {})",
            env.originals("heir")
        ),
    );
    env.assert_no_key_leaks();
}

/// An Orphan resource deleted while its reconcile waits for SendGrid's answer: the reconcile
/// sends nothing more (the resource is gone from the cache; nothing of it is left to do).
async fn a_deletion_during_a_reconcile_stops_its_next_request(backend: Backend) {
    let env = Env::on(backend).await;
    env.key_secret(KEY).await;
    let mut op = env.operator(&[]);
    env.sim.inject(Fault::Latency(Duration::from_secs(3)));
    env.create("account", json!({"requireTls": true})).await;
    env.until("the identity read", WAIT, |env| {
        !env.identity_reads(None).is_empty()
    })
    .await;
    env.delete("account").await;
    env.wait_gone("account").await;
    env.sim.inject(Fault::Latency(Duration::ZERO));
    let withheld = wait_withheld(&mut op).await;
    assert!(
        env.sg_for(None).is_empty(),
        "the settings GET after the identity read was withheld: {:?}",
        methods(&env.sg_for(None))
    );
    assert_eq!(env.settings(None).require_tls, Some(false), "unchanged");
    report(
        "deletion during a reconcile",
        format!("{withheld} request(s) withheld; SendGrid saw only the identity read"),
    );
}

/// The operator's count of requests withheld by its gate, once there is one.
async fn wait_withheld(op: &mut Operator) -> f64 {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let withheld = op
            .metric(
                "sendgrid_tls_operator_sendgrid_requests_total",
                &[("class", "withheld")],
            )
            .await;
        if withheld >= 1.0 || tokio::time::Instant::now() > deadline {
            return withheld;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

on_both!(
    orphan_restore_and_reset,
    a_deletion_during_a_reconcile_stops_its_next_request,
    reset_with_the_secret_gone_uses_the_key_kept_in_memory,
    deletion_without_any_key_gives_up_after_the_cleanup_timeout,
    a_stuck_cleanup_is_released_by_switching_to_orphan,
    restore_puts_back_an_unset_field_and_leaves_one_changed_since,
    deletions_missed_while_the_operator_was_down_are_put_back_and_handed_over,
);
