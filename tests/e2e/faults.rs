//! SendGrid misbehaving: a 429 burst with `X-RateLimit-Reset` (nothing is sent to that endpoint
//! before the reset, by any resource using the key: refused by the client or paced by the key's
//! budget), 5xx answers and dropped connections (backoff, then the update still lands), and a
//! refused value tried again at the resync (no failure parks a resource).

use super::env::*;
use sendgrid_tls_operator::api::TlsVersion;
use sendgrid_tls_operator::simulator::{self, Fault};
use serde_json::json;
use std::time::{Duration, UNIX_EPOCH};

fn spec() -> serde_json::Value {
    json!({"requireTls": true, "requireValidCert": true, "minimumTlsVersion": "1.2"})
}

async fn rate_limit_waits_until_reset(backend: Backend) {
    let env = Env::on(backend).await;
    env.key_secret(KEY).await;
    let mut op = env.operator(&[]);
    env.create("account", spec()).await;
    env.wait_ready("account").await;
    // The next request, the settings GET of an edit, gets a 429.
    env.sim.inject(Fault::RateLimitBurst {
        count: 1,
        reset_after: Duration::from_secs(2),
    });
    env.edit("account", json!({"minimumTlsVersion": "1.3"}))
        .await;
    env.until("a 429", WAIT, |env| !env.sg(|r| r.status == 429).is_empty())
        .await;
    let limited = env.sg(|r| r.status == 429).remove(0);
    // The simulator's X-RateLimit-Reset: Unix seconds of arrival + 2s, rounded up.
    let end = limited.at.duration_since(UNIX_EPOCH).unwrap() + Duration::from_secs(2);
    let reset = UNIX_EPOCH + Duration::from_secs(end.as_secs() + u64::from(end.subsec_nanos() > 0));
    // Another resource on the same key: the shared limiter holds its settings requests back too
    // (its identity read is another endpoint, which SendGrid counts on its own).
    env.create(
        "marketing",
        json!({"onBehalfOf": {"subuser": "marketing-sub"}, "requireTls": true}),
    )
    .await;
    env.until("both Ready at their generation", WAIT, |env| {
        ["account", "marketing"].iter().all(|name| {
            env.get(name).is_some_and(|o| {
                is_ready(&o) && o["status"]["observedGeneration"] == o["metadata"]["generation"]
            })
        })
    })
    .await;

    let log = env.sim.requests();
    let at = log.iter().position(|r| r.status == 429).unwrap();
    let after: Vec<_> = log[at + 1..]
        .iter()
        .filter(|r| r.path == limited.path)
        .collect();
    for r in &after {
        assert!(
            r.at >= reset,
            "a request {:?} to {} before X-RateLimit-Reset {:?}: {r:?}",
            r.at.duration_since(UNIX_EPOCH).unwrap(),
            limited.path,
            reset.duration_since(UNIX_EPOCH).unwrap()
        );
    }
    let settings = |subuser: Option<&str>| -> Vec<String> {
        log[at + 1..]
            .iter()
            .filter(|r| r.on_behalf_of.as_deref() == subuser && r.path == limited.path)
            .map(|r| r.method.clone())
            .collect()
    };
    assert_eq!(
        settings(None),
        ["GET", "PATCH"],
        "the edit, once, after Reset"
    );
    assert_eq!(settings(Some("marketing-sub")), ["GET", "PATCH"]);
    let waited = after[0]
        .at
        .duration_since(limited.at)
        .unwrap()
        .as_secs_f64();
    let local = op
        .metric(
            "sendgrid_tls_operator_sendgrid_requests_total",
            &[("class", "ratelimited-local")],
        )
        .await;
    // Marketing was held back one of two ways: refused by the client (a RateLimited Event), or
    // not started until the key's window ended (the 429 said Remaining 0 until Reset: a wait
    // for the key's budget).
    let paced = op
        .metric(
            "sendgrid_tls_operator_budget_wait_seconds_sum",
            &[("class", "change")],
        )
        .await;
    let reported = env
        .event_reasons("marketing")
        .contains(&"RateLimited".to_string());
    assert!(
        (local >= 1.0 && reported) || paced > 0.0,
        "marketing was neither refused locally ({local}, Event {reported}) nor paced ({paced}s)"
    );
    report(
        "429 with Reset",
        format!(
            "0 settings requests before Reset; the first {waited:.2}s after the 429 (Reset {:.2}s after it); {local} requests refused locally, {paced:.1}s waited for the key's budget",
            reset.duration_since(limited.at).unwrap().as_secs_f64()
        ),
    );
    env.assert_no_key_leaks();
}

async fn server_errors_and_dropped_connections_back_off_then_recover(backend: Backend) {
    let (env, _op, _) = Env::account_ready(backend, &[], spec()).await;
    let before = env.sim.requests().len();

    env.sim.inject(Fault::ServerErrors {
        count: 3,
        status: 503,
    });
    env.sim.inject(Fault::DropConnections { count: 2 });
    env.edit("account", json!({"minimumTlsVersion": "1.3"}))
        .await;
    let object = env.wait_ready("account").await;
    assert_eq!(object["status"]["observedGeneration"], 2);
    assert_eq!(
        env.settings(None),
        tls(true, true, TlsVersion::V1_3),
        "the update landed"
    );

    let after = env.sim.requests()[before..].to_vec();
    let statuses: Vec<(&str, u16)> = after
        .iter()
        .map(|r| (r.method.as_str(), r.status))
        .collect();
    assert_eq!(
        statuses,
        [
            ("GET", 503),
            ("GET", 503),
            ("GET", 503),
            ("GET", 0),
            ("GET", 0),
            ("GET", 200),
            ("PATCH", 200)
        ],
        "0 = connection dropped"
    );
    // The six GETs are attempts: each waits at least the backoff floor after the previous one.
    let gaps = gaps(&after[..6]);
    for (n, gap) in gaps.iter().enumerate() {
        let floor = 0.5 * (0.1 * f64::from(1u32 << n)).min(2.0);
        assert!(
            *gap >= floor - 0.005,
            "retry {n} after {gap:.3}s, floor {floor:.3}s"
        );
    }
    env.until("an ApiUnavailable Warning Event", WAIT, |env| {
        env.event_reasons("account")
            .contains(&"ApiUnavailable".to_string())
    })
    .await;
    report(
        "5xx burst + dropped connections",
        format!(
            "attempts {statuses:?}, gaps {gaps:.2?}s; recovered, 1 PATCH with the edit (no lost update)"
        ),
    );
    env.assert_no_key_leaks();
}

/// A value SendGrid refuses (`Rejected`) waits for a spec change, but at the latest for the
/// resync: an account whose plan changes meanwhile gets the spec applied without an edit.
async fn a_rejected_value_is_tried_again_at_the_resync(backend: Backend) {
    let env = Env::on(backend).await;
    env.sim
        .inject(Fault::RefuseVersion(simulator::TlsVersion::V1_3));
    env.key_secret(KEY).await;
    let _op = env.operator(&["--default-resync-interval", "2s"]);
    env.create("account", json!({"minimumTlsVersion": "1.3"}))
        .await;
    env.wait_condition("account", "Synced", "False", "Rejected")
        .await;
    let refused = |env: &Env| env.sg(|r| r.method == "PATCH" && r.status == 400).len();
    env.until("the resync's attempt, refused again", WAIT, |env| {
        refused(env) >= 2
    })
    .await;
    // The account's plan now allows TLS 1.3.
    env.sim.clear_faults();
    let object = env.wait_ready("account").await;
    assert_eq!(object["metadata"]["generation"], 1, "no spec change");
    assert_eq!(
        env.settings(None).minimum_tls_version,
        Some(TlsVersion::V1_3)
    );
    report(
        "Rejected, then the resync",
        format!(
            "{} refused PATCHes (one per resync), applied at a resync once allowed",
            refused(&env)
        ),
    );
    env.assert_no_key_leaks();
}

on_both!(
    rate_limit_waits_until_reset,
    server_errors_and_dropped_connections_back_off_then_recover,
    a_rejected_value_is_tried_again_at_the_resync,
);
