//! Two resources on one target that disagree: the older keeps it, the newer reports Conflict and
//! never writes; deleting the older hands the target over at once (no resync needed: the
//! default 10m interval is in force here).

use super::env::*;
use serde_json::json;

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

on_both!(newer_resource_conflicts_until_the_older_goes);
