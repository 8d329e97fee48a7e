//! The paused annotation: no SendGrid call for that resource at all, not for drift, not for a
//! retarget, not for its deletion, which acts as Orphan with a Warning naming what was left as
//! is; and a pause written while a reconcile is under way stops that reconcile's next request
//! (it started from the cache's unpaused copy, but each request asks the cache again right
//! before it is sent).

use super::env::*;
use sendgrid_tls_operator::simulator::Fault;
use serde_json::json;
use std::time::Duration;

/// The annotation that pauses a resource.
const PAUSED: &str = "sendgrid.ops.dev/paused";

async fn a_paused_resource_calls_sendgrid_for_nothing(backend: Backend) {
    let env = Env::on(backend).await;
    env.key_secret(KEY).await;
    let _op = env.operator(&[]);
    env.create(
        "paused",
        json!({"onBehalfOf": {"subuser": "marketing-sub"}, "deletionPolicy": "Reset",
               "requireTls": true}),
    )
    .await;
    env.wait_ready("paused").await;
    let applied = env.settings(Some("marketing-sub"));
    let target = env.target_name("main", Some("marketing-sub"));

    env.annotate("paused", PAUSED, Some("true")).await;
    env.wait_condition("paused", "Synced", "False", "Paused")
        .await;
    let before = env.sim.requests().len();
    let since = |env: &Env| env.sim.requests()[before..].to_vec();

    // A retarget while paused: reconciled (the new generation is Paused), nothing sent.
    env.edit(
        "paused",
        json!({"onBehalfOf": {"subuser": "billing-sub"}, "requireTls": true}),
    )
    .await;
    let moved = env
        .wait_condition("paused", "Synced", "False", "Paused")
        .await;
    assert_eq!(moved["metadata"]["generation"], 2);
    assert!(since(&env).is_empty(), "{:?}", since(&env));

    env.delete("paused").await;
    env.wait_gone("paused").await;
    assert!(since(&env).is_empty(), "{:?}", since(&env));
    assert_eq!(
        env.settings(Some("marketing-sub")),
        applied,
        "left as it was"
    );
    let skipped = env.warnings("paused", "CleanupSkipped");
    assert!(
        skipped
            .iter()
            .any(|n| n.contains(&target) && n.contains("left as is") && n.contains("paused")),
        "{skipped:?}"
    );
    assert_eq!(
        env.published("paused", "Paused"),
        1,
        "one Event for the pause"
    );
    assert!(env.record(&target).is_none(), "its claim went with it");
    report(
        "pause",
        format!(
            "0 SendGrid requests for a retarget and a Reset deletion while paused: {skipped:?}"
        ),
    );
    env.assert_no_key_leaks();
}

async fn a_pause_during_a_reconcile_stops_its_next_request(backend: Backend) {
    let env = Env::on(backend).await;
    env.key_secret(KEY).await;
    let mut op = env.operator(&[]);
    // The identity read's answer comes late, so the pause lands while the reconcile waits.
    env.sim.inject(Fault::Latency(Duration::from_secs(3)));
    env.create("account", json!({"requireTls": true})).await;
    env.until("the identity read", WAIT, |env| {
        !env.identity_reads(None).is_empty()
    })
    .await;
    env.annotate("account", PAUSED, Some("true")).await;
    env.sim.inject(Fault::Latency(Duration::ZERO));
    env.wait_condition("account", "Synced", "False", "Paused")
        .await;
    let withheld = op
        .metric(
            "sendgrid_tls_operator_sendgrid_requests_total",
            &[("class", "withheld")],
        )
        .await;
    assert_eq!(env.identity_reads(None).len(), 1);
    assert!(
        env.sg_for(None).is_empty(),
        "the settings GET after the identity read was withheld: {:?}",
        methods(&env.sg_for(None))
    );
    assert!(
        withheld >= 1.0,
        "the withheld request is counted: {withheld}"
    );
    assert_eq!(env.settings(None).require_tls, Some(false), "unchanged");
    // Unpaused, it carries on.
    env.annotate("account", PAUSED, None).await;
    env.wait_ready("account").await;
    assert_eq!(env.settings(None).require_tls, Some(true));
    report(
        "pause during a reconcile",
        format!("{withheld} request(s) withheld; SendGrid saw only the identity read"),
    );
    env.assert_no_key_leaks();
}

on_both!(
    a_paused_resource_calls_sendgrid_for_nothing,
    a_pause_during_a_reconcile_stops_its_next_request
);
