//! What must not stop the operator: malformed objects in the watch, watches dropped or expired
//! (410 Gone) mid-run, and the process itself killed and restarted, even mid-PATCH.

use super::env::*;
use sendgrid_tls_operator::api::TlsVersion;
use sendgrid_tls_operator::simulator::Fault;
use serde_json::{Value, json};
use std::time::Duration;

fn spec_for(subuser: &str) -> Value {
    json!({"onBehalfOf": {"subuser": subuser}, "requireTls": true, "minimumTlsVersion": "1.2"})
}

fn patches_for(env: &Env, subuser: &str) -> usize {
    env.sg(|r| r.method == "PATCH" && r.on_behalf_of.as_deref() == Some(subuser))
        .len()
}

// Storing objects the CRD refuses (as ones written before a CRD upgrade would be) is a fault the
// real control plane cannot make: kube-apiserver validates every write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_objects_do_not_stop_the_others() {
    let env = Env::start().await;
    env.key_secret(KEY).await;
    env.put_raw(object(
        NS,
        "broken-early",
        json!({"apiKeySecretRef": {"name": SECRET}, "requireTls": "yes"}),
    ));
    let op = env.operator(&[]);
    env.create("marketing", spec_for("marketing-sub")).await;
    env.wait_ready("marketing").await;
    env.synced(&op).await;
    env.put_raw(object(NS, "broken-late", json!({"requireTls": true})));
    // Well-typed but unusable: a header value with a line break (the CRD's rules would refuse it).
    env.put_raw(object(NS, "crlf",
        json!({"apiKeySecretRef": {"name": SECRET}, "onBehalfOf": {"subuser": "evil\r\nX-Injected: 1"}, "requireTls": true}),
    ));
    env.create("billing", spec_for("billing-sub")).await;
    env.wait_ready("billing").await;
    let crlf = env
        .wait_condition("crlf", "Synced", "False", "Rejected")
        .await;
    assert!(
        message(&crlf, "Synced").contains("control characters"),
        "{}",
        message(&crlf, "Synced")
    );

    let logs = op.logs();
    env.until("both malformed objects to be reported", WAIT, |_| {
        logs.count("skipping a resource that does not match the CRD") >= 2
    })
    .await;
    for name in ["broken-early", "broken-late"] {
        assert_eq!(
            env.operator_writes(name),
            (0, 0),
            "{name} is skipped, not written"
        );
    }
    assert!(
        env.sg(|r| r
            .on_behalf_of
            .as_deref()
            .is_some_and(|o| o.contains("evil")))
            .is_empty(),
        "no header built from a CR/LF value"
    );
    report(
        "malformed objects",
        format!(
            "2 undecodable objects skipped ({} warnings), 1 CR/LF subuser Rejected without a request; the others converged",
            logs.count("skipping a resource that does not match the CRD")
        ),
    );
    env.assert_no_key_leaks();
}

// Ending every watch with 410 Gone at once is a fault the real control plane cannot make;
// `a_watch_relists_after_410_gone` compacts etcd under a real watch instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_and_expired_watches_relist_without_duplicate_patches() {
    let env = Env::start().await;
    env.key_secret(KEY).await;
    let op = env.operator(&[]);
    env.create("marketing", spec_for("marketing-sub")).await;
    env.wait_ready("marketing").await;
    env.synced(&op).await;
    let lists = |env: &Env, verb| {
        env.server
            .count(|r| r.is_for("sendgridenforcedtlses") && r.verb == verb)
    };
    let (lists0, watches0) = (
        lists(&env, kube_testkit::Verb::List),
        lists(&env, kube_testkit::Verb::Watch),
    );
    let gets0 = env.sg_for(Some("marketing-sub")).len();

    env.server.drop_watches();
    env.until("a new watch", WAIT, |env| {
        lists(env, kube_testkit::Verb::Watch) > watches0
    })
    .await;
    env.create("billing", spec_for("billing-sub")).await;
    env.wait_ready("billing").await;

    let watches1 = lists(&env, kube_testkit::Verb::Watch);
    env.server.expire_watches();
    env.until("a relist after 410 Gone", WAIT, |env| {
        lists(env, kube_testkit::Verb::List) > lists0
            && lists(env, kube_testkit::Verb::Watch) > watches1
    })
    .await;
    env.create("transactional", spec_for("transactional-sub"))
        .await;
    env.wait_ready("transactional").await;

    for subuser in ["marketing-sub", "billing-sub", "transactional-sub"] {
        assert_eq!(patches_for(&env, subuser), 1, "{subuser}: one PATCH");
    }
    // The relist found nothing new about marketing: no reconcile, not even a GET.
    let gets = env.sg_for(Some("marketing-sub")).len();
    assert_eq!(gets, gets0, "no extra SendGrid call after the relist");
    // One status write: the claim with the originals is the account's record.
    assert_eq!(env.operator_writes("marketing"), (1, 0));
    report(
        "watch dropped / expired",
        format!(
            "re-watched and relisted ({} lists, {} watches); 1 PATCH per resource, 0 extra requests for the existing one",
            lists(&env, kube_testkit::Verb::List) - lists0,
            lists(&env, kube_testkit::Verb::Watch) - watches0
        ),
    );
    env.assert_no_key_leaks();
}

async fn restart_converges_without_duplicate_patches(backend: Backend) {
    let env = Env::on(backend).await;
    env.key_secret(KEY).await;
    let mut first = env.operator_as("first", &[], &[]);
    env.create("marketing", spec_for("marketing-sub")).await;
    env.create("billing", spec_for("billing-sub")).await;
    env.wait_ready("marketing").await;
    env.wait_ready("billing").await;
    first.kill();

    // While it is down: an edit and a new resource.
    env.edit("marketing", json!({"minimumTlsVersion": "1.3"}))
        .await;
    env.create("transactional", spec_for("transactional-sub"))
        .await;
    let mut second = env.operator_as("second", &[], &[]);
    env.wait_ready("marketing").await;
    env.wait_ready("transactional").await;
    assert_eq!(
        env.settings(Some("marketing-sub")),
        tls(true, false, TlsVersion::V1_3),
        "no lost update"
    );
    let counts = [
        patches_for(&env, "marketing-sub"),
        patches_for(&env, "billing-sub"),
        patches_for(&env, "transactional-sub"),
    ];
    assert_eq!(counts, [2, 1, 1], "PATCHes: create + edit, create, create");

    // Killed mid-PATCH: SendGrid applied it but the operator never saw the answer.
    env.sim.inject(Fault::Latency(Duration::from_secs(3)));
    env.create(
        "eu",
        json!({"region": "eu", "onBehalfOf": {"subuser": "eu-sub"}, "requireTls": true}),
    )
    .await;
    env.until("the PATCH to arrive", WAIT, |env| {
        patches_for(env, "eu-sub") == 1
    })
    .await;
    second.kill();
    env.sim.clear_faults();
    let mut third = env.operator_as("third", &[], &[]);
    let eu = env.wait_ready("eu").await;
    assert_eq!(
        patches_for(&env, "eu-sub"),
        1,
        "the restarted operator saw it done"
    );
    assert_eq!(eu["status"]["observed"]["requireTls"], true);
    assert_eq!(third.terminate().await, Some(0), "SIGTERM: a graceful exit");
    report(
        "restart",
        format!(
            "killed, edited + created while down, restarted: PATCHes per resource {counts:?} (create+edit, create, create); killed mid-PATCH: 1 PATCH in all, originals {} after the restart",
            env.originals("eu")
        ),
    );
    env.assert_no_key_leaks();
}

on_both!(restart_converges_without_duplicate_patches);
