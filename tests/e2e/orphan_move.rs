//! An Orphan resource that moves to another account leaves the old one as it is, and so asks
//! SendGrid nothing about it: not even, after a restart, whether the current key still reaches
//! it (only a put-back needs a key for the account left).

use super::env::*;
use serde_json::json;

async fn an_orphan_move_asks_nothing_of_the_account_it_left(backend: Backend) {
    let env = Env::on(backend).await;
    env.key_secret(KEY).await;
    let mut first = env.operator_as("first", &[], &[]);
    env.create(
        "moving",
        json!({"onBehalfOf": {"subuser": "marketing-sub"}, "requireTls": true}),
    )
    .await;
    env.wait_ready("moving").await;
    first.kill();
    let before = env.sim.requests().len();
    env.edit("moving", json!({"onBehalfOf": {"subuser": "billing-sub"}}))
        .await;
    let _second = env.operator_as("second", &[], &[]);
    env.until("moving Ready on billing-sub", WAIT, |env| {
        env.get("moving")
            .is_some_and(|o| is_ready(&o) && o["status"]["target"]["username"] == "billing-sub")
    })
    .await;
    let after: Vec<_> = env.sim.requests()[before..]
        .iter()
        .filter(|r| r.on_behalf_of.as_deref() == Some("marketing-sub"))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(
        after.is_empty(),
        "requests about the account left: {after:?}"
    );
    assert_eq!(env.settings(Some("billing-sub")).require_tls, Some(true));
    report(
        "orphan move after a restart",
        "0 requests about the account left",
    );
    env.assert_no_key_leaks();
}

on_both!(an_orphan_move_asks_nothing_of_the_account_it_left);
