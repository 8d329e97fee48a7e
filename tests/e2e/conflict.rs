//! Two resources on one target that disagree: the older keeps it, the newer reports Conflict and
//! never writes; the holder deleted, moved away or agreeing hands the target over at once (no
//! resync needed: the default 10m interval is in force here), and the heir inherits the
//! account's original, never the holder's write.

use super::env::*;
use sendgrid_tls_operator::api::TlsVersion;
use serde_json::{Value, json};

fn patch_bodies(env: &Env, on_behalf_of: Option<&str>) -> Vec<Option<Value>> {
    env.sg_for(on_behalf_of)
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .map(|r| r.body)
        .collect()
}

async fn newer_resource_conflicts_until_the_older_goes(backend: Backend) {
    let env = Env::on(backend).await;
    env.key_secret(KEY).await;
    let _op = env.operator(&[]);
    // Names sort like ages, so a tie on the (1s) creation timestamps gives the same owner.
    env.create("a-older", json!({"requireTls": true})).await;
    env.wait_ready("a-older").await;
    env.create(
        "b-newer",
        json!({"requireTls": false, "minimumTlsVersion": "1.2"}),
    )
    .await;
    let newer = env
        .wait_condition("b-newer", "Ready", "False", "Conflict")
        .await;
    let text = message(&newer, "Ready");
    assert!(text.contains(&format!("{NS}/a-older")), "{text}");
    env.until("a Conflict Warning Event", WAIT, |env| {
        env.event_reasons("b-newer") == ["Conflict"]
    })
    .await;
    let patches = env.sg(|r| r.method == "PATCH");
    assert_eq!(patches.len(), 1, "only the older one wrote: {patches:?}");
    assert_eq!(patches[0].body, Some(json!({"require_tls": true})));

    env.delete("a-older").await;
    env.wait_gone("a-older").await;
    env.wait_ready("b-newer").await;
    let patches = env.sg(|r| r.method == "PATCH");
    assert_eq!(patches.len(), 2);
    assert_eq!(
        patches[1].body,
        Some(json!({"require_tls": false, "version": 1.2}))
    );
    report(
        "conflict",
        format!(
            "newer: Ready=False Conflict ({text}), 0 PATCH while the older existed; after deleting the older: handed over at once, PATCH {:?}",
            patches[1].body
        ),
    );
    env.assert_no_key_leaks();
}

/// The holder (Orphan) goes and leaves its writes in SendGrid; the resource in Conflict takes the
/// fields over with the account's originals, so its Restore puts back what SendGrid had before
/// the operator first changed anything. Taking over is no drift correction.
async fn an_heir_takes_over_the_accounts_original(backend: Backend) {
    let env = Env::on(backend).await;
    env.key_secret(KEY).await;
    let _op = env.operator(&[]);
    env.create(
        "first",
        json!({"requireTls": true, "minimumTlsVersion": "1.2"}),
    )
    .await;
    env.wait_ready("first").await;
    env.create(
        "heir",
        json!({"deletionPolicy": "Restore", "requireTls": true, "minimumTlsVersion": "1.3"}),
    )
    .await;
    env.wait_condition("heir", "Ready", "False", "Conflict")
        .await;

    env.delete("first").await;
    env.wait_gone("first").await;
    let heir = env.wait_ready("heir").await;
    assert_eq!(
        env.originals("heir"),
        json!({"requireTls": false, "minimumTlsVersion": "1.1"}),
        "the account's originals, not the first holder's writes"
    );
    assert_eq!(
        patch_bodies(&env, None),
        [
            Some(json!({"require_tls": true, "version": 1.2})),
            Some(json!({"version": 1.3}))
        ]
    );
    assert!(
        heir["status"]["driftCorrections"]
            .as_array()
            .is_none_or(Vec::is_empty),
        "{}",
        heir["status"]
    );
    assert_eq!(env.published("heir", "DriftCorrected"), 0);

    env.delete("heir").await;
    env.wait_gone("heir").await;
    assert_eq!(
        env.settings(None),
        tls(false, false, TlsVersion::V1_1),
        "Restore put the account's originals back"
    );
    report(
        "heir",
        format!(
            "took over with the account's originals; PATCHes {:?}",
            patch_bodies(&env, None)
        ),
    );
    env.assert_no_key_leaks();
}

/// A resource in Conflict is reconciled as soon as the holder moves to another account, or
/// starts agreeing with it.
async fn a_conflict_loser_is_reconciled_when_the_holder_moves_away_or_agrees(backend: Backend) {
    let env = Env::on(backend).await;
    env.key_secret(KEY).await;
    let _op = env.operator(&[]);
    env.create(
        "holder",
        json!({"onBehalfOf": {"subuser": "marketing-sub"}, "requireTls": true}),
    )
    .await;
    env.wait_ready("holder").await;
    env.create(
        "loser",
        json!({"onBehalfOf": {"subuser": "marketing-sub"}, "requireTls": false,
               "minimumTlsVersion": "1.2"}),
    )
    .await;
    env.wait_condition("loser", "Ready", "False", "Conflict")
        .await;

    env.edit("holder", json!({"onBehalfOf": {"subuser": "billing-sub"}}))
        .await;
    env.wait_ready("loser").await;
    assert_eq!(
        env.settings(Some("marketing-sub")),
        tls(false, false, TlsVersion::V1_2)
    );
    let moved = env.wait_ready("holder").await;
    assert_eq!(moved["status"]["target"]["username"], "billing-sub");

    env.create(
        "stickler",
        json!({"onBehalfOf": {"subuser": "billing-sub"}, "requireTls": false}),
    )
    .await;
    env.wait_condition("stickler", "Ready", "False", "Conflict")
        .await;
    env.edit("holder", json!({"requireTls": false})).await;
    env.wait_ready("stickler").await;
    assert_eq!(env.settings(Some("billing-sub")).require_tls, Some(false));
    assert_eq!(
        patch_bodies(&env, Some("billing-sub")),
        [
            Some(json!({"require_tls": true})),
            Some(json!({"require_tls": false}))
        ],
        "the holder's writes only: the one that agrees has nothing to send"
    );
    report(
        "conflict handed over",
        "the loser reconciled at once when the holder moved away, and when it agreed",
    );
    env.assert_no_key_leaks();
}

on_both!(
    newer_resource_conflicts_until_the_older_goes,
    an_heir_takes_over_the_accounts_original,
    a_conflict_loser_is_reconciled_when_the_holder_moves_away_or_agrees,
);
