//! Two replicas with leader election over a Lease: only the holder talks to SendGrid; killing it
//! (no release) hands over to the standby within about the lease duration, which converges new
//! work without repeating the old.

use super::env::*;
use super::operator::Operator;
use serde_json::json;
use std::time::{Duration, Instant};

const LEASE_SECONDS: u64 = 3;

/// A replica as the chart's Deployment starts it (leader election, its Lease in the release
/// namespace), with a short lease.
fn replica(env: &Env, name: &str) -> Operator {
    env.operator_as(name, &["--lease-duration=3"], &[("POD_NAME", name)])
}

fn holder(env: &Env) -> Option<String> {
    env.lease_holder()
}

async fn patches_sent(op: &mut Operator) -> f64 {
    op.metric(
        "sendgrid_tls_operator_sendgrid_requests_total",
        &[("method", "PATCH")],
    )
    .await
}

async fn only_the_leader_reconciles_and_the_standby_takes_over(backend: Backend) {
    let env = Env::setup(backend, Chart::LeaderElection, sim_config()).await;
    env.key_secret(KEY).await;
    let mut a = replica(&env, "op-a");
    env.until("op-a to hold the lease", WAIT, |env| {
        holder(env).as_deref() == Some("op-a")
    })
    .await;
    let mut b = replica(&env, "op-b");
    b.wait_log("waiting to lead", WAIT).await;

    env.create(
        "marketing",
        json!({"onBehalfOf": {"subuser": "marketing-sub"}, "requireTls": true}),
    )
    .await;
    env.wait_ready("marketing").await;
    assert_eq!(patches_sent(&mut a).await, 1.0);
    assert_eq!(patches_sent(&mut b).await, 0.0, "the standby sent nothing");
    assert_eq!(
        b.logs().count("SendGrid exchange"),
        0,
        "the standby reconciled nothing"
    );
    assert_eq!(b.wait_http("/readyz", 200, WAIT).await, "ready (standby)\n");
    assert_eq!(holder(&env).as_deref(), Some("op-a"));

    a.kill();
    let killed = Instant::now();
    env.until(
        "op-b to take the lease over",
        Duration::from_secs(3 * LEASE_SECONDS + 10),
        |env| holder(env).as_deref() == Some("op-b"),
    )
    .await;
    let takeover = killed.elapsed().as_secs_f64();
    b.wait_log("leading", WAIT).await;
    env.create(
        "billing",
        json!({"onBehalfOf": {"subuser": "billing-sub"}, "requireTls": true}),
    )
    .await;
    env.wait_ready("billing").await;
    let per_target = |sub: &str| {
        env.sg(|r| r.method == "PATCH" && r.on_behalf_of.as_deref() == Some(sub))
            .len()
    };
    assert_eq!(
        (per_target("marketing-sub"), per_target("billing-sub")),
        (1, 1),
        "no duplicate PATCH after the takeover"
    );
    assert_eq!(patches_sent(&mut b).await, 1.0);
    assert_eq!(b.metric("sendgrid_tls_operator_leader", &[]).await, 1.0);
    report(
        "leader election",
        format!(
            "standby sent 0 SendGrid requests while op-a led; op-b took over {takeover:.2}s after op-a was killed (lease {LEASE_SECONDS}s) and converged a new resource; PATCHes per resource (1, 1)"
        ),
    );
    env.assert_no_key_leaks();
    // The new leader serves traffic-ready probes once its watch has synced.
    assert_eq!(
        b.wait_http("/readyz", 200, Duration::from_secs(5)).await,
        "ready (leader)\n"
    );
}

on_both!(only_the_leader_reconciles_and_the_standby_takes_over);
