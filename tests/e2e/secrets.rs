//! The API key's Secret: missing, without the key, rotated, revoked (401 with bounded retries),
//! and `--watch-secrets` picking a fix up at once.

use super::env::*;
use sendgrid_tls_operator::simulator::{SimConfig, SimKey};
use serde_json::json;
use std::time::{Duration, Instant};

fn spec() -> serde_json::Value {
    json!({"requireTls": true, "requireValidCert": true, "minimumTlsVersion": "1.2"})
}

async fn missing_secret_then_missing_key_then_heals(backend: Backend) {
    let env = Env::on(backend).await;
    let _op = env.operator(&[]);
    env.create("account", spec()).await;
    let missing = env
        .wait_condition("account", "Synced", "False", "SecretNotFound")
        .await;
    assert!(has_condition(&missing, "Ready", "False", "Pending"));
    assert!(message(&missing, "Synced").contains(SECRET));

    env.secret(SECRET, &[("token", KEY)]).await;
    let no_key = env
        .wait_condition("account", "Synced", "False", "SecretKeyNotFound")
        .await;
    assert!(
        message(&no_key, "Synced").contains("apiKey"),
        "{}",
        message(&no_key, "Synced")
    );
    assert!(
        env.sim.requests().is_empty(),
        "no SendGrid call without a key"
    );

    env.key_secret(KEY).await;
    env.wait_ready("account").await;
    assert_eq!(methods(&env.sg_for(None)), ["GET", "PATCH"]);
    env.until("the Events of each step", WAIT, |env| {
        env.event_reasons("account") == ["SecretNotFound", "SecretKeyNotFound", "Applied"]
    })
    .await;
    let secret_gets = env
        .server
        .count(|r| r.is_for("secrets") && r.verb == kube_testkit::Verb::Get);
    report(
        "secret missing -> key missing -> created",
        format!(
            "healed; SendGrid {:?}; {secret_gets} Secret GETs (retries with backoff); Events {:?}",
            methods(&env.sg_for(None)),
            env.event_reasons("account")
        ),
    );
    env.assert_no_key_leaks();
}

async fn rotated_key_is_used(backend: Backend) {
    let env = Env::setup(
        backend,
        Chart::Default,
        SimConfig {
            rate_limit_per_minute: 100_000,
            first_user_id: first_user_id(),
            ..SimConfig::with_keys(&[KEY])
        },
    )
    .await;
    env.key_secret(KEY).await;
    let _op = env.operator(&["--default-resync-interval", "2s"]);
    // Restore: a rotation taken for a move to another account would put the account back to
    // its original (weaker) settings first.
    let mut restore = spec();
    restore["deletionPolicy"] = json!("Restore");
    env.create("account", restore).await;
    let first = env.wait_ready("account").await;
    let target = first["status"]["target"].clone();
    assert_eq!(target["name"], env.target_name("main", None).as_str());
    let applied = env.settings(None);

    // Rotation as a platform team does it: new key first, then the Secret, then revoke the old.
    env.sim.add_key(SimKey {
        key: KEY2.into(),
        account: "main".into(),
        scopes: sendgrid_tls_operator::simulator::Scope::ALL.to_vec(),
    });
    env.key_secret(KEY2).await;
    env.sim.remove_key(KEY);
    env.until("the new key's Secret version in status", WAIT, |env| {
        env.get("account").is_some_and(|o| {
            o["status"]["target"]["secretResourceVersion"] != target["secretResourceVersion"]
        })
    })
    .await;
    let object = env.wait_ready("account").await;
    assert_eq!(
        object["status"]["target"]["name"], target["name"],
        "the same account: a rotation, not a move"
    );
    assert_eq!(env.settings(None), applied, "nothing put back");
    assert!(
        !env.event_reasons("account")
            .contains(&"Retargeted".to_string()),
        "no retarget"
    );
    let log = env.sim.requests();
    let first_new = log
        .iter()
        .position(|r| r.key_fingerprint.as_deref() == Some(fingerprint(KEY2).as_str()))
        .expect("a request with the new key");
    assert!(
        log[first_new..]
            .iter()
            .all(|r| r.key_fingerprint.as_deref() == Some(fingerprint(KEY2).as_str())),
        "the old key is not used after the new one: {:?}",
        &log[first_new..]
    );
    let old_key_401s = log.iter().filter(|r| r.status == 401).count();
    assert!(
        log.iter().filter(|r| r.method == "PATCH").count() == 1,
        "no PATCH: settings match"
    );
    assert!(has_condition(&object, "Synced", "True", "ReconcileSuccess"));
    report(
        "key rotated",
        format!(
            "fingerprint {} -> {} in the simulator log, the same account in status.target, nothing put back; {old_key_401s} requests with the revoked key",
            fingerprint(KEY),
            fingerprint(KEY2)
        ),
    );
    env.assert_no_key_leaks();
}

async fn bad_key_backs_off_then_heals(backend: Backend) {
    const ATTEMPTS: usize = 7;
    let env = Env::on(backend).await;
    env.key_secret(BAD_KEY).await;
    let op = env.operator(&[]);
    env.create("account", spec()).await;
    let failed = env
        .wait_condition("account", "Synced", "False", "Unauthorized")
        .await;
    assert!(has_condition(&failed, "Ready", "False", "Pending"));
    env.until(
        &format!("{ATTEMPTS} attempts"),
        Duration::from_secs(30),
        |env| env.sim.requests().len() >= ATTEMPTS,
    )
    .await;
    let attempts = env.sim.requests();
    assert!(
        attempts
            .iter()
            .all(|r| r.method == "GET" && r.status == 401)
    );
    // Backoff 100ms doubling, capped at 2s, jittered down by at most half: the n-th gap is at
    // least half of min(100ms * 2^n, 2s). A hot loop would break this at once. A reconcile that
    // finds its status write stale starts over at once (its cache had not seen its own last
    // write yet): that restart's request is not a retry, and the operator logs each one.
    let gaps = gaps(&attempts);
    let restarts = op
        .logs()
        .count("stale cache: starting over from the API server's copy");
    let mut retry = 0;
    let mut short = 0;
    for gap in &gaps {
        let floor = 0.5 * (0.1 * f64::from(1u32 << retry)).min(2.0);
        if *gap >= floor - 0.005 {
            retry += 1;
        } else {
            short += 1;
        }
    }
    assert!(
        short <= restarts,
        "{short} requests sooner than the backoff allows, {restarts} restarts logged: {gaps:?}; {:?}",
        attempts.iter().map(|r| &r.path).collect::<Vec<_>>()
    );
    let window = gaps.iter().sum::<f64>();
    // Repeating the same failure writes nothing and emits no new Event.
    assert_eq!(
        env.operator_writes("account"),
        (1, 0),
        "one status write for the first failure"
    );
    assert_eq!(env.event_reasons("account"), ["Unauthorized"]);

    env.key_secret(KEY).await;
    let fixed = Instant::now();
    env.wait_ready("account").await;
    report(
        "bad key (401)",
        format!(
            "{} attempts in {window:.2}s, gaps {gaps:.2?}s (backoff 100ms..2s); 1 status write, 1 Event while failing; healed {:.2}s after the Secret was fixed",
            attempts.len(),
            fixed.elapsed().as_secs_f64()
        ),
    );
    env.assert_no_key_leaks();
}

async fn watch_secrets_picks_a_fixed_key_up_at_once(backend: Backend) {
    // The chart's secrets.watch=true: --watch-secrets, with list/watch on Secrets.
    let env = Env::setup(backend, Chart::WatchSecrets, sim_config()).await;
    env.key_secret(BAD_KEY).await;
    // A first retry 15-30s away: only the Secret watch can heal this within the wait below.
    let op = env.operator(&["--retry-base-delay", "30s", "--retry-max-delay", "60s"]);
    env.synced(&op).await;
    env.create("account", spec()).await;
    env.wait_condition("account", "Synced", "False", "Unauthorized")
        .await;
    env.key_secret(KEY).await;
    let fixed = Instant::now();
    env.until(
        "Ready within 10s of the fix (the retry is 15s+ away)",
        Duration::from_secs(10),
        |env| env.get("account").is_some_and(|o| is_ready(&o)),
    )
    .await;
    let took = fixed.elapsed().as_secs_f64();
    let watched = env
        .server
        .count(|r| r.is_for("secrets") && r.verb == kube_testkit::Verb::Watch);
    report(
        "--watch-secrets",
        format!(
            "healed {took:.2}s after the Secret was fixed (backoff alone: 15s or more); {watched} Secret watch requests"
        ),
    );
    env.assert_no_key_leaks();
}

on_both!(
    missing_secret_then_missing_key_then_heals,
    rotated_key_is_used,
    bad_key_backs_off_then_heals,
    watch_secrets_picks_a_fixed_key_up_at_once
);
