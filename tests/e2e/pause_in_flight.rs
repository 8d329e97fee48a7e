//! A pause written while a reconcile is under way stops that reconcile's next SendGrid request:
//! the reconcile started from the cache's unpaused copy, but each request asks the cache again
//! right before it is sent.

use super::env::*;
use kube::api::{Patch, PatchParams};
use sendgrid_tls_operator::simulator::Fault;
use serde_json::json;
use std::time::Duration;

/// Sets (or with `null` removes) the pause annotation, as `kubectl annotate` would.
async fn pause(env: &Env, value: serde_json::Value) {
    let annotation = json!({"metadata": {"annotations": {"sendgrid.ops.dev/paused": value}}});
    env.api()
        .patch(
            "account",
            &PatchParams::default(),
            &Patch::Merge(annotation),
        )
        .await
        .unwrap();
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
    pause(&env, json!("true")).await;
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
    pause(&env, serde_json::Value::Null).await;
    env.wait_ready("account").await;
    assert_eq!(env.settings(None).require_tls, Some(true));
    report(
        "pause during a reconcile",
        format!("{withheld} request(s) withheld; SendGrid saw only the identity read"),
    );
    env.assert_no_key_leaks();
}

on_both!(a_pause_during_a_reconcile_stops_its_next_request);
