//! Many resources at once: 200 resources (each its own subuser) converge, with one GET, one
//! PATCH and one status write each, and the API key appears in no log line, Event, status or
//! other object.

use super::env::*;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const COUNT: usize = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_resources_converge_and_the_key_never_leaks() {
    let env = Env::with_sim(sim_with_subusers(COUNT)).await;
    env.key_secret(KEY).await;
    for i in 0..COUNT {
        env.create(
            &format!("r-{i:03}"),
            json!({"onBehalfOf": {"subuser": subuser(i)},
                   "requireTls": true, "requireValidCert": true, "minimumTlsVersion": "1.2"}),
        )
        .await;
    }
    // All of them are there before the operator starts: its first list holds 200.
    let started = Instant::now();
    let op = env.operator(&[]);
    env.until("all 200 Ready", Duration::from_secs(90), |env| {
        env.server
            .list_objects(&sgtls(), Some(NS))
            .iter()
            .filter(|o| is_ready(o))
            .count()
            == COUNT
    })
    .await;
    let took = started.elapsed().as_secs_f64();

    let mut per_target: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let (scopes, requests): (Vec<_>, Vec<_>) = env
        .sim
        .requests()
        .into_iter()
        .partition(|r| r.path.ends_with("/v3/scopes"));
    assert_eq!(scopes.len(), 1, "the key's scopes are checked once");
    for r in requests {
        per_target
            .entry(r.on_behalf_of.clone().unwrap_or_default())
            .or_default()
            .push(format!("{} {}", r.method, r.status));
    }
    assert_eq!(per_target.len(), COUNT);
    for (target, requests) in &per_target {
        // Whose account (once per key and subuser), the settings, the change.
        assert_eq!(requests, &["GET 200", "GET 200", "PATCH 200"], "{target}");
    }
    let mut status_writes = 0;
    for i in 0..COUNT {
        let (status, other) = env.operator_writes(&format!("r-{i:03}"));
        // One status write: the claim with the originals is the account's record.
        assert_eq!((status, other), (1, 0), "r-{i:03}");
        status_writes += status;
    }
    env.until("an Applied Event each", WAIT, |env| {
        env.server.list_objects(&events(), Some(NS)).len() == COUNT
    })
    .await;
    let (lines, objects) = env.assert_no_key_leaks();
    assert!(
        lines > 2 * COUNT,
        "the debug log covers every exchange ({lines} lines)"
    );
    drop(op);
    report(
        "200 resources",
        format!(
            "all Ready in {took:.1}s; per resource identity GET + GET + PATCH (600 SendGrid requests), {status_writes} status writes and {} record writes, {COUNT} Events; key found in none of {lines} log lines and {objects} objects (resources, Events, Leases, Namespaces, CRDs, Secrets' metadata)",
            env.record_writes()
        ),
    );
}
