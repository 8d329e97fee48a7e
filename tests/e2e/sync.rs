//! The main loop: create, quiet resyncs, spec edits, drift in Enforce and Observe mode, and
//! drift that keeps coming back (Contested: the operator stops writing instead of fighting).

use super::env::*;
use sendgrid_tls_operator::api::{TlsSettings, TlsVersion};
use sendgrid_tls_operator::simulator::Fault;
use serde_json::json;
use std::time::Duration;

fn spec_all() -> serde_json::Value {
    json!({"requireTls": true, "requireValidCert": true, "minimumTlsVersion": "1.2"})
}

async fn create_patches_exactly_the_managed_fields(backend: Backend) {
    let env = Env::on(backend).await;
    env.key_secret(KEY).await;
    let _op = env.operator(&[]);
    env.create("account", spec_all()).await;
    // Only requireTls is managed here: the PATCH must carry nothing else.
    env.create(
        "marketing",
        json!({"onBehalfOf": {"subuser": "marketing-sub"}, "requireTls": true}),
    )
    .await;
    let account = env.wait_ready("account").await;
    let marketing = env.wait_ready("marketing").await;

    let main = env.sg_for(None);
    assert_eq!(methods(&main), ["GET", "PATCH"]);
    assert_eq!(
        main[1].body,
        Some(json!({"require_tls": true, "require_valid_cert": true, "version": 1.2}))
    );
    let sub = env.sg_for(Some("marketing-sub"));
    assert_eq!(methods(&sub), ["GET", "PATCH"]);
    assert_eq!(sub[1].body, Some(json!({"require_tls": true})));
    assert_eq!(env.settings(None), tls(true, true, TlsVersion::V1_2));
    assert_eq!(
        env.settings(Some("marketing-sub")),
        tls(true, false, TlsVersion::V1_1)
    );

    let status = &account["status"];
    assert_eq!(status["observedGeneration"], 1);
    assert_eq!(
        status["observed"],
        json!({"requireTls": true, "requireValidCert": true, "minimumTlsVersion": "1.2"})
    );
    // The account's record holds the originals, per field, with their holder.
    let main_target = env.target_name("main", None);
    assert_eq!(status["target"]["name"], main_target.as_str());
    assert_eq!(status["target"]["username"], "main");
    assert!(status.get("original").is_none(), "{status}");
    let record = env.record(&main_target).expect("the account's record");
    assert_eq!(
        record["spec"]["fields"],
        json!({
            "requireTls": {"original": false, "written": true, "holders": ["mail/account"]},
            "requireValidCert": {"original": false, "written": true, "holders": ["mail/account"]},
            "minimumTlsVersion": {"original": "1.1", "written": "1.2", "holders": ["mail/account"]},
        })
    );
    assert_eq!(record["spec"]["holders"], json!(["mail/account"]));
    // Whose account each key reaches is asked once per key and account.
    assert_eq!(methods(&env.identity_reads(None)), ["GET"]);
    assert!(status["lastAppliedTime"].is_string(), "{status}");
    assert!(has_condition(
        &account,
        "Synced",
        "True",
        "ReconcileSuccess"
    ));
    assert_eq!(
        marketing["status"]["observed"],
        json!({"requireTls": true, "requireValidCert": false, "minimumTlsVersion": "1.1"})
    );
    assert_eq!(
        marketing["status"]["target"]["name"],
        env.target_name("main", Some("marketing-sub")).as_str()
    );
    assert_eq!(marketing["status"]["target"]["username"], "marketing-sub");
    // Orphan (the default) adds no finalizer.
    assert!(account["metadata"]["finalizers"].is_null());

    env.until("an Applied Event for each", WAIT, |env| {
        env.event_reasons("account") == ["Applied"] && env.event_reasons("marketing") == ["Applied"]
    })
    .await;
    let writes = (
        env.operator_writes("account"),
        env.operator_writes("marketing"),
    );
    // The claim (with the originals) is the account's record, written before the PATCH; the
    // resource's status once, after it.
    assert_eq!(writes, ((1, 0), (1, 0)), "(status, other) writes");
    // The real control plane's audit log may trail: wait for both writes, then count.
    env.until("both record writes logged", WAIT, |env| {
        env.record_writes() >= 2
    })
    .await;
    assert_eq!(env.record_writes(), 2, "one record write per account");
    report(
        "create",
        format!(
            "account: SendGrid {:?}, marketing: {:?}; kube writes (status, other) {writes:?}",
            methods(&main),
            methods(&sub)
        ),
    );
    env.assert_no_key_leaks();
}

async fn resync_is_one_get_and_no_writes(backend: Backend) {
    const INTERVALS: usize = 3;
    let env = Env::on(backend).await;
    env.key_secret(KEY).await;
    let _op = env.operator(&["--default-resync-interval", "2s"]);
    env.create("account", spec_all()).await;
    env.create(
        "marketing",
        json!({"onBehalfOf": {"subuser": "marketing-sub"}, "requireTls": true}),
    )
    .await;
    env.wait_ready("account").await;
    env.wait_ready("marketing").await;
    env.until("the Applied Events", WAIT, |env| {
        env.events_for("account").len() == 1 && env.events_for("marketing").len() == 1
    })
    .await;

    let before = env.sim.requests().len();
    let writes = (
        env.operator_writes("account"),
        env.operator_writes("marketing"),
        env.record_writes(),
    );
    let secret_gets = |env: &Env| {
        env.server
            .count(|r| r.is_for("secrets") && r.verb == kube_testkit::Verb::Get)
    };
    let secret_gets_before = secret_gets(&env);
    let event_count = env.server.list_objects(&events(), None).len();
    let since = |env: &Env, who: Option<&str>| {
        env.sim.requests()[before..]
            .iter()
            .filter(|r| r.on_behalf_of.as_deref() == who)
            .cloned()
            .collect::<Vec<_>>()
    };
    env.until(
        &format!("{INTERVALS} resyncs of each resource"),
        Duration::from_secs(30),
        |env| {
            since(env, None).len() >= INTERVALS
                && since(env, Some("marketing-sub")).len() >= INTERVALS
        },
    )
    .await;

    for who in [None, Some("marketing-sub")] {
        let requests = since(&env, who);
        assert!(
            requests
                .iter()
                .all(|r| r.method == "GET" && r.status == 200),
            "{who:?}: only GETs in steady state: {requests:?}"
        );
        // One GET per interval: never two within (most of) one interval.
        let gaps = gaps(&requests);
        assert!(
            gaps.iter().all(|g| *g >= 1.8),
            "{who:?}: GETs closer than the 2s resync interval: {gaps:?}"
        );
        report(
            "no-op resync",
            format!(
                "{who:?}: {} GETs, 0 PATCH, gaps {gaps:.2?}s (interval 2s)",
                requests.len()
            ),
        );
    }
    assert_eq!(
        (
            env.operator_writes("account"),
            env.operator_writes("marketing"),
            env.record_writes(),
        ),
        writes,
        "no status, record or other writes during resyncs"
    );
    assert_eq!(
        env.server.list_objects(&events(), None).len(),
        event_count,
        "no new Events"
    );
    report(
        "no-op resync",
        format!(
            "0 kube writes, 0 Events, {} Secret GETs over the resyncs",
            secret_gets(&env) - secret_gets_before
        ),
    );
    env.assert_no_key_leaks();
}

async fn spec_edit_patches_once(backend: Backend) {
    let (env, _op, _) = Env::account_ready(backend, &[], spec_all()).await;
    let before = env.sim.requests().len();
    let writes = env.operator_writes("account");

    env.edit("account", json!({"minimumTlsVersion": "1.3"}))
        .await;
    let edited = env.wait_ready("account").await;
    assert_eq!(edited["metadata"]["generation"], 2);
    assert_eq!(edited["status"]["observedGeneration"], 2);
    assert_eq!(edited["status"]["observed"]["minimumTlsVersion"], "1.3");
    // The account's record keeps the original from before the first change.
    assert_eq!(env.originals("account")["minimumTlsVersion"], "1.1");
    let after = env.sim.requests()[before..].to_vec();
    assert_eq!(methods(&after), ["GET", "PATCH"]);
    assert_eq!(after[1].body, Some(json!({"version": 1.3})));
    assert_eq!(env.settings(None), tls(true, true, TlsVersion::V1_3));
    let (status, other) = env.operator_writes("account");
    assert_eq!((status - writes.0, other - writes.1), (1, 0));
    report(
        "spec edit",
        format!(
            "SendGrid {:?} (1 PATCH), 1 status write, observedGeneration 2",
            methods(&after)
        ),
    );
    env.assert_no_key_leaks();
    // The Event for the edit must say what this PATCH set, not repeat the first one's note.
    // A generous deadline: on a loaded 2-core machine the Event can trail the status write.
    let soon = Duration::from_secs(15);
    env.until(
        "an Applied Event naming minimumTlsVersion=1.3",
        soon,
        |env| {
            env.events_for("account").iter().any(|e| {
                e["reason"] == "Applied"
                    && e["note"].as_str().unwrap_or_default() == "Set minimumTlsVersion=1.3"
            })
        },
    )
    .await;
}

async fn drift_is_corrected_in_enforce_mode(backend: Backend) {
    let (env, _op, first) =
        Env::account_ready(backend, &["--default-resync-interval", "2s"], spec_all()).await;
    let before = env.sim.requests().len();

    env.sim.set_from_ui(
        "main",
        None,
        TlsSettings {
            require_tls: Some(false),
            minimum_tls_version: Some(TlsVersion::V1_1),
            ..TlsSettings::default()
        },
    );
    env.until("the drift to be corrected", WAIT, |env| {
        env.settings(None) == tls(true, true, TlsVersion::V1_2)
            && env
                .event_reasons("account")
                .contains(&"DriftCorrected".to_string())
    })
    .await;
    let after = env.sim.requests()[before..].to_vec();
    let patches: Vec<_> = after.iter().filter(|r| r.method == "PATCH").collect();
    assert_eq!(patches.len(), 1, "{after:?}");
    assert_eq!(
        patches[0].body,
        Some(json!({"require_tls": true, "version": 1.2})),
        "only the drifted fields"
    );
    let object = env.wait_ready("account").await;
    assert_eq!(object["status"]["original"], first["status"]["original"]);
    let event = env
        .events_for("account")
        .into_iter()
        .find(|e| e["reason"] == "DriftCorrected")
        .unwrap();
    assert_eq!(event["type"], "Normal");
    report(
        "drift (Enforce)",
        format!(
            "corrected with 1 PATCH {:?}; Event DriftCorrected: {}",
            patches[0].body, event["note"]
        ),
    );
    env.assert_no_key_leaks();
}

async fn drift_is_reported_in_observe_mode(backend: Backend) {
    let env = Env::on(backend).await;
    env.key_secret(KEY).await;
    let sub = Some("transactional-sub");
    env.sim
        .set_from_ui("main", sub, tls(true, true, TlsVersion::V1_2));
    let _op = env.operator(&["--default-resync-interval", "2s"]);
    env.create(
        "audit",
        json!({"onBehalfOf": {"subuser": "transactional-sub"}, "mode": "Observe",
               "requireTls": true, "requireValidCert": true, "minimumTlsVersion": "1.2"}),
    )
    .await;
    env.wait_ready("audit").await;

    env.sim.set_from_ui(
        "main",
        sub,
        TlsSettings {
            require_valid_cert: Some(false),
            ..TlsSettings::default()
        },
    );
    let drifted = env
        .wait_condition("audit", "Ready", "False", "Drifted")
        .await;
    let text = message(&drifted, "Ready");
    assert!(
        text.contains("requireValidCert (want true, SendGrid has false)"),
        "{text}"
    );
    assert!(has_condition(
        &drifted,
        "Synced",
        "True",
        "ReconcileSuccess"
    ));
    env.until("a Drifted Warning Event", WAIT, |env| {
        env.events_for("audit")
            .iter()
            .any(|e| e["reason"] == "Drifted" && e["type"] == "Warning")
    })
    .await;
    // Fixed in the UI again: back to InSync, still without a write.
    env.sim
        .set_from_ui("main", sub, tls(true, true, TlsVersion::V1_2));
    env.wait_ready("audit").await;
    let requests = env.sg_for(sub);
    assert!(
        requests.iter().all(|r| r.method == "GET"),
        "Observe never writes: {requests:?}"
    );
    report(
        "drift (Observe)",
        format!(
            "Ready=False Drifted ({text}), Event Drifted, {} GETs and 0 PATCH",
            requests.len()
        ),
    );
    env.assert_no_key_leaks();
}

/// How many drift corrections the operator puts up with within the hour before it stops.
const CONTEST_LIMIT: usize = 3;

async fn drift_put_back_again_and_again_is_contested(backend: Backend) {
    let (env, _op, _) = Env::account_ready(
        backend,
        &["--default-resync-interval", "1s"],
        json!({"requireTls": true}),
    )
    .await;
    let weakened = TlsSettings {
        require_tls: Some(false),
        ..TlsSettings::default()
    };
    let corrections = |env: &Env| {
        env.get("account").map_or(0, |o| {
            o["status"]["driftCorrections"]
                .as_array()
                .map_or(0, Vec::len)
        })
    };
    for n in 1..=CONTEST_LIMIT {
        env.sim.set_from_ui("main", None, weakened);
        env.until(&format!("drift correction {n}"), WAIT, |env| {
            env.settings(None).require_tls == Some(true) && corrections(env) == n
        })
        .await;
    }
    let patches = |env: &Env| env.sg(|r| r.method == "PATCH").len();
    let written = patches(&env);
    assert_eq!(written, 1 + CONTEST_LIMIT, "the apply and each correction");

    env.sim.set_from_ui("main", None, weakened);
    let contested = env
        .wait_condition("account", "Ready", "False", "Contested")
        .await;
    let text = message(&contested, "Ready");
    assert!(
        text.contains("requireTls") && text.contains(&format!("{CONTEST_LIMIT} times")),
        "{text}"
    );
    // Two more resyncs: each looks, none writes.
    let gets = env.sg(|r| r.method == "GET").len();
    env.until("two more resyncs", WAIT, |env| {
        env.sg(|r| r.method == "GET").len() >= gets + 2
    })
    .await;
    assert_eq!(patches(&env), written, "no PATCH once Contested");
    assert_eq!(env.settings(None).require_tls, Some(false));
    env.until("one Contested Warning", WAIT, |env| {
        env.published("account", "Contested") == 1
    })
    .await;

    env.request_reconcile("account", "resume").await;
    env.until("put back once asked to", WAIT, |env| {
        env.settings(None).require_tls == Some(true)
            && env.get("account").is_some_and(|o| is_ready(&o))
    })
    .await;
    assert_eq!(patches(&env), written + 1);
    report(
        "contested",
        format!(
            "{CONTEST_LIMIT} corrections, then Ready=False Contested ({text}); resumed on a reconcile request"
        ),
    );
    env.assert_no_key_leaks();
}

async fn readyz_turns_ready_once_the_watch_has_synced(backend: Backend) {
    let (_env, mut op, _) = Env::account_ready(backend, &[], spec_all()).await;
    assert_eq!(op.http_get("/healthz").await.0, 200);
    // The resource has been reconciled, so the watch has long synced: /readyz must say so.
    let body = op.wait_http("/readyz", 200, Duration::from_secs(5)).await;
    assert_eq!(body, "ready (leader)\n");
    report("readyz", "200 ready (leader) once synced");
}

/// The PATCH's answer is the new observed state: SendGrid's GET may lag a PATCH (here the next
/// GET after it still shows the old settings), so the operator does not ask again to confirm.
async fn the_patch_answer_is_the_observed_state_while_a_get_lags(backend: Backend) {
    let env = Env::on(backend).await;
    env.key_secret(KEY).await;
    env.sim.inject(Fault::LaggingReads { count: 1 });
    let _op = env.operator(&[]);
    env.create("account", json!({"requireTls": true})).await;
    let ready = env.wait_ready("account").await;
    assert_eq!(ready["status"]["observed"]["requireTls"], true);
    assert_eq!(
        methods(&env.sg_for(None)),
        ["GET", "PATCH"],
        "no GET after the PATCH (it would have shown the old settings)"
    );
    report(
        "a GET lagging the PATCH",
        "Ready from the PATCH's answer; no confirming GET",
    );
}

on_both!(
    create_patches_exactly_the_managed_fields,
    resync_is_one_get_and_no_writes,
    spec_edit_patches_once,
    drift_is_corrected_in_enforce_mode,
    drift_is_reported_in_observe_mode,
    drift_put_back_again_and_again_is_contested,
    readyz_turns_ready_once_the_watch_has_synced,
    the_patch_answer_is_the_observed_state_while_a_get_lags
);
