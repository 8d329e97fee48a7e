//! Write safety: retargeting, write-ahead originals through uncertain outcomes, stale
//! caches, resources created together and cleanup that spares what other resources declare.
//! Each runs on both APIs, with SendGrid latency and faults injected where timing matters; the
//! few that need a fault only the API test server can make say which.

use super::env::*;
use super::operator::Operator;
use kube_testkit::Refusal;
use sendgrid_tls_operator::api::TlsVersion;
use sendgrid_tls_operator::simulator::{Fault, SimAccount, SimKey};
use serde_json::{Value, json};
use std::time::Duration;

/// A key of another SendGrid account ("other"), for retargets through the Secret.
const OTHER_KEY: &str = "SG.e2e-other-account.0123456789abcdefOTHER";

/// Waits until `name` describes generation `generation` and is Ready.
async fn wait_ready_at(env: &Env, name: &str, generation: i64) -> Value {
    env.until(
        &format!("{name} Ready at generation {generation}"),
        WAIT,
        |env| {
            env.get(name).is_some_and(|o| {
                o["status"]["observedGeneration"] == json!(generation) && is_ready(&o)
            })
        },
    )
    .await;
    env.get(name).unwrap()
}

fn patches(env: &Env, subuser: Option<&str>) -> usize {
    env.sg_for(subuser)
        .iter()
        .filter(|r| r.method == "PATCH")
        .count()
}

// a Restore resource moved from subuser A to subuser B puts A back first (as if
// it had been deleted from A), records B's own original, and on deletion restores B to B's
// original: A's original is never written into B.
async fn retarget_puts_the_old_target_back_and_never_moves_its_original(backend: Backend) {
    let env = Env::on(backend).await;
    env.key_secret(KEY).await;
    // A (marketing-sub) is loose, B (billing-sub) is strict.
    let strict = tls(true, true, TlsVersion::V1_3);
    env.sim.set_from_ui("main", Some("billing-sub"), strict);
    let loose = env.settings(Some("marketing-sub"));
    assert_eq!(loose, tls(false, false, TlsVersion::V1_1));
    let _op = env.operator(&[]);
    env.create(
        "moving",
        json!({"onBehalfOf": {"subuser": "marketing-sub"}, "deletionPolicy": "Restore",
               "requireTls": true, "minimumTlsVersion": "1.2"}),
    )
    .await;
    let first = env.wait_ready("moving").await;
    let a = first["status"]["target"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        env.originals("moving"),
        json!({"requireTls": false, "minimumTlsVersion": "1.1"})
    );

    env.edit("moving", json!({"onBehalfOf": {"subuser": "billing-sub"}}))
        .await;
    let moved = wait_ready_at(&env, "moving", 2).await;
    assert_eq!(env.settings(Some("marketing-sub")), loose, "A put back");
    assert!(
        env.record(&a).is_none(),
        "A's record goes with its last resource"
    );
    assert_eq!(
        env.originals("moving"),
        json!({"requireTls": true, "minimumTlsVersion": "1.3"}),
        "B's own original"
    );
    assert_eq!(moved["status"]["target"]["username"], "billing-sub");
    env.until("a Retargeted Event", WAIT, |env| {
        env.event_reasons("moving")
            .contains(&"Retargeted".to_string())
    })
    .await;
    assert_eq!(
        env.settings(Some("billing-sub")),
        tls(true, true, TlsVersion::V1_2),
        "B as the spec says (its version lowered on the user's word)"
    );

    env.delete("moving").await;
    env.wait_gone("moving").await;
    assert_eq!(
        env.settings(Some("billing-sub")),
        strict,
        "B never weakened"
    );
    assert_eq!(env.settings(Some("marketing-sub")), loose);
    report(
        "retarget (item 1)",
        format!(
            "A restored on the move ({} PATCHes on A), B kept strict; Events {:?}",
            patches(&env, Some("marketing-sub")),
            env.event_reasons("moving")
        ),
    );
}

// the Secret pointed at another account's key is a retarget too. The old
// account is put back with the key the operator last read for it (kept in memory only).
async fn a_secret_pointed_at_another_account_puts_the_first_account_back(backend: Backend) {
    // The chart's secrets.watch=true: the change of key is seen at once.
    let env = with_another_account(backend, Chart::WatchSecrets).await;
    env.key_secret(KEY).await;
    let _op = env.operator(&[]);
    env.create(
        "account",
        json!({"deletionPolicy": "Restore", "requireTls": true, "minimumTlsVersion": "1.2"}),
    )
    .await;
    env.wait_ready("account").await;
    assert_eq!(
        env.sim.settings("main", None),
        tls(true, false, TlsVersion::V1_2)
    );

    env.key_secret(OTHER_KEY).await;
    env.until("the resource on the other account", WAIT, |env| {
        env.get("account")
            .is_some_and(|o| o["status"]["target"]["username"] == "other" && is_ready(&o))
    })
    .await;
    assert_eq!(
        env.sim.settings("main", None),
        tls(false, false, TlsVersion::V1_1),
        "the first account is put back with the key kept in memory"
    );
    assert_eq!(
        env.sim.settings("other", None),
        tls(true, false, TlsVersion::V1_2)
    );
    assert_eq!(
        env.originals("account"),
        json!({"requireTls": false, "minimumTlsVersion": "1.1"}),
        "the other account's own original"
    );
    env.assert_no_key_leaks();
}

/// A world whose simulator has a second account, "other", reached by [`OTHER_KEY`].
async fn with_another_account(backend: Backend, chart: Chart) -> Env {
    let mut config = sim_config();
    config.accounts.push(SimAccount {
        name: "other".into(),
        subusers: Vec::new(),
        customer_accounts: Vec::new(),
    });
    let env = Env::setup(backend, chart, config).await;
    let other: SimKey =
        serde_json::from_value(json!({"key": OTHER_KEY, "account": "other"})).unwrap();
    env.sim.add_key(other);
    env
}

// The Secret pointed at another account's key while no operator runs: the next one has no key
// for the first account (the last one read is kept in memory only), so it leaves that account as
// it is and says so, then claims the other account with its own originals.
async fn a_retarget_without_a_key_for_the_old_account_says_what_was_left(backend: Backend) {
    let env = with_another_account(backend, Chart::Default).await;
    env.key_secret(KEY).await;
    let mut first = env.operator_as("first", &[], &[]);
    env.create(
        "account",
        json!({"deletionPolicy": "Restore", "requireTls": true, "minimumTlsVersion": "1.2"}),
    )
    .await;
    env.wait_ready("account").await;
    let applied = env.sim.settings("main", None);
    first.terminate().await;
    env.key_secret(OTHER_KEY).await;
    let _second = env.operator_as("second", &[], &[]);
    env.until("the resource on the other account", WAIT, |env| {
        env.get("account")
            .is_some_and(|o| o["status"]["target"]["username"] == "other" && is_ready(&o))
    })
    .await;
    assert_eq!(
        env.sim.settings("main", None),
        applied,
        "no key for it: left as is"
    );
    assert_eq!(
        env.sim.settings("other", None),
        tls(true, false, TlsVersion::V1_2)
    );
    assert_eq!(
        env.originals("account"),
        json!({"requireTls": false, "minimumTlsVersion": "1.1"})
    );
    let main = env.target_name("main", None);
    env.until("a Warning naming what was left", WAIT, |env| {
        env.events_for("account").iter().any(|e| {
            e["reason"] == "CleanupSkipped"
                && e["note"]
                    .as_str()
                    .is_some_and(|n| n.contains(&main) && n.contains("left as is"))
        })
    })
    .await;
    assert!(env.record(&main).is_none(), "its claim went with the move");
    env.assert_no_key_leaks();
}

// A move of on-behalf-of while the operator is down: the new process has no key in memory, but
// the current key still reaches the old account; SendGrid says so, and the old account is put
// back before the new one is claimed.
async fn a_move_made_while_the_operator_was_down_still_puts_the_old_account_back(backend: Backend) {
    let env = Env::on(backend).await;
    env.key_secret(KEY).await;
    let loose = env.settings(Some("marketing-sub"));
    let mut first = env.operator_as("first", &[], &[]);
    env.create(
        "moving",
        json!({"onBehalfOf": {"subuser": "marketing-sub"}, "deletionPolicy": "Restore",
               "requireTls": true}),
    )
    .await;
    env.wait_ready("moving").await;
    first.kill();
    env.edit("moving", json!({"onBehalfOf": {"subuser": "billing-sub"}}))
        .await;
    let _second = env.operator_as("second", &[], &[]);
    let moved = wait_ready_at(&env, "moving", 2).await;
    assert_eq!(moved["status"]["target"]["username"], "billing-sub");
    assert_eq!(
        env.settings(Some("marketing-sub")),
        loose,
        "the old account put back"
    );
    assert_eq!(env.settings(Some("billing-sub")).require_tls, Some(true));
    env.assert_no_key_leaks();
}

// a PATCH that SendGrid applies but whose answer outlives the client timeout
// leaves the original on record (written before the PATCH), so Restore still puts it back.
async fn an_unanswered_patch_never_loses_the_original(backend: Backend) {
    let env = Env::on(backend).await;
    env.key_secret(KEY).await;
    env.sim.inject(Fault::PatchLatency(Duration::from_secs(3)));
    let _op = env.operator(&["--sendgrid-timeout", "500ms"]);
    env.create(
        "slow",
        json!({"deletionPolicy": "Restore", "requireTls": true, "minimumTlsVersion": "1.2"}),
    )
    .await;
    env.until("a PATCH sent and timed out", WAIT, |env| {
        env.get("slow")
            .is_some_and(|o| has_condition(&o, "Synced", "False", "ApiUnavailable"))
    })
    .await;
    assert_eq!(
        env.sim.settings("main", None),
        tls(true, false, TlsVersion::V1_2),
        "SendGrid applied it"
    );
    assert_eq!(
        env.originals("slow"),
        json!({"requireTls": false, "minimumTlsVersion": "1.1"}),
        "recorded before the PATCH"
    );
    env.sim.clear_faults();
    env.wait_ready("slow").await;
    env.delete("slow").await;
    env.wait_gone("slow").await;
    assert_eq!(
        env.sim.settings("main", None),
        tls(false, false, TlsVersion::V1_1),
        "Restore put the original back"
    );
}

/// The operator `op` is killed once its PATCH for a Restore resource has landed in SendGrid but
/// before it could write the resource's status (the fault that keeps it from doing so is the
/// caller's, ended by `clear`): the originals are on the account's record, written before the
/// PATCH, and a new operator restores them on deletion.
async fn killed_before_the_status_the_original_survives(
    env: &Env,
    mut op: Operator,
    clear: impl FnOnce(&Env),
) {
    env.create(
        "killed",
        json!({"deletionPolicy": "Restore", "requireTls": true, "minimumTlsVersion": "1.2"}),
    )
    .await;
    env.until("the PATCH landed", WAIT, |env| {
        env.sim.settings("main", None) == tls(true, false, TlsVersion::V1_2)
    })
    .await;
    op.kill();
    clear(env);
    assert!(
        env.get("killed").unwrap()["status"]["target"].is_null(),
        "the status never said where"
    );
    let target = env.target_name("main", None);
    let record = env.record(&target).expect("the account's record");
    assert_eq!(record["spec"]["fields"]["requireTls"]["original"], false);
    assert_eq!(
        record["spec"]["fields"]["minimumTlsVersion"]["original"],
        "1.1"
    );
    let _op = env.operator_as("restarted", &[], &[]);
    env.wait_ready("killed").await;
    assert_eq!(
        env.originals("killed"),
        json!({"requireTls": false, "minimumTlsVersion": "1.1"})
    );
    env.delete("killed").await;
    env.wait_gone("killed").await;
    assert_eq!(
        env.sim.settings("main", None),
        tls(false, false, TlsVersion::V1_1)
    );
    assert_eq!(patches(env, None), 2, "the apply and the restore, no more");
}

// Refusing only the status write that follows a PATCH is a fault the real control plane cannot
// make; `a_kill_while_the_patch_is_answered_never_loses_the_original` shows the rule there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_status_write_and_a_kill_never_lose_the_original() {
    let env = Env::start().await;
    env.key_secret(KEY).await;
    // Only the status written after a PATCH carries lastAppliedTime.
    env.server.test_server().refuse(Refusal {
        method: "PATCH".into(),
        path_contains: "/status".into(),
        body_contains: Some("lastAppliedTime".into()),
        status: 500,
        count: u32::MAX,
    });
    let op = env.operator(&[]);
    killed_before_the_status_the_original_survives(&env, op, |env| {
        env.server.test_server().clear_refusals();
    })
    .await;
}

// The pod is killed while SendGrid, having applied the PATCH, is still answering it.
async fn a_kill_while_the_patch_is_answered_never_loses_the_original(backend: Backend) {
    let env = Env::on(backend).await;
    env.key_secret(KEY).await;
    env.sim.inject(Fault::PatchLatency(Duration::from_secs(30)));
    let op = env.operator(&[]);
    killed_before_the_status_the_original_survives(&env, op, |env| env.sim.clear_faults()).await;
}

/// A spec edit while the first apply is in flight (its PATCH answer 700ms late): the second
/// reconcile may start from a cached object without the first one's status. The original stays
/// SendGrid's, never the operator's own first write. Returns the status writes refused as stale.
async fn edit_during_the_first_patch(env: &Env) -> usize {
    env.key_secret(KEY).await;
    env.sim
        .inject(Fault::PatchLatency(Duration::from_millis(700)));
    let _op = env.operator(&[]);
    env.create(
        "edited",
        json!({"requireTls": true, "minimumTlsVersion": "1.2"}),
    )
    .await;
    env.until("the first PATCH sent", WAIT, |env| patches(env, None) == 1)
        .await;
    env.edit("edited", json!({"minimumTlsVersion": "1.3"}))
        .await;
    env.until("the edit applied", WAIT, |env| {
        env.sim.settings("main", None) == tls(true, false, TlsVersion::V1_3)
            && env
                .get("edited")
                .is_some_and(|o| o["status"]["observedGeneration"] == json!(2) && is_ready(&o))
    })
    .await;
    assert_eq!(
        env.originals("edited"),
        json!({"requireTls": false, "minimumTlsVersion": "1.1"}),
        "SendGrid's original, not the operator's first write"
    );
    env.server
        .count(|r| r.is_for("sendgridenforcedtlses") && r.is_status() && r.status == 409)
}

async fn an_edit_during_the_first_patch_keeps_sendgrids_original(backend: Backend) {
    let env = Env::on(backend).await;
    let stale = edit_during_the_first_patch(&env).await;
    report(
        "edit during the first PATCH",
        format!("{backend:?}: {stale} status writes refused as stale (409) and started over"),
    );
}

// A watch cache held 1.5s behind is a fault the real control plane cannot make (its watch cache
// lags as it will); `an_edit_during_the_first_patch_keeps_sendgrids_original` runs there. Here
// the second reconcile surely starts from a cached object without the first one's status: its
// compare-and-swap status write fails, and it starts over from fresh state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_cache_never_records_the_operators_own_write_as_original() {
    let env = Env::start().await;
    env.server
        .test_server()
        .set_watch_lag(Duration::from_millis(1500));
    let stale = edit_during_the_first_patch(&env).await;
    report(
        "stale cache",
        format!("{stale} status writes refused as stale (409) and started over"),
    );
}

/// Two resources that disagree, created in one go on one target (the Secret `secret_first`, or
/// only after them, as a directory apply or an ExternalSecret makes it): exactly one PATCH,
/// ever; the account's record decides who holds it, the other reports Conflict naming the
/// holder, and deleting the loser (Reset) puts nothing back.
async fn two_disagreeing_resources_created_together(backend: Backend, secret_first: bool) {
    let env = Env::on(backend).await;
    if secret_first {
        env.key_secret(KEY).await;
    }
    let _op = env.operator(&[]);
    // Both want a change; whichever records its claim first holds the account.
    tokio::join!(
        env.create(
            "b-second",
            json!({"minimumTlsVersion": "1.3", "deletionPolicy": "Reset"})
        ),
        env.create(
            "a-first",
            json!({"minimumTlsVersion": "1.2", "deletionPolicy": "Reset"})
        ),
    );
    if !secret_first {
        env.until("both waiting for the Secret", WAIT, |env| {
            ["a-first", "b-second"].iter().all(|name| {
                env.get(name)
                    .is_some_and(|o| has_condition(&o, "Synced", "False", "SecretNotFound"))
            })
        })
        .await;
        env.key_secret(KEY).await;
    }
    let conflict = |env: &Env, name: &str| {
        env.get(name)
            .is_some_and(|o| has_condition(&o, "Ready", "False", "Conflict"))
    };
    env.until("one holds, the other is in Conflict", WAIT, |env| {
        let ready = |name| env.get(name).is_some_and(|o| is_ready(&o));
        (ready("a-first") && conflict(env, "b-second"))
            || (ready("b-second") && conflict(env, "a-first"))
    })
    .await;
    let (winner, loser, version) = if conflict(&env, "b-second") {
        ("a-first", "b-second", TlsVersion::V1_2)
    } else {
        ("b-second", "a-first", TlsVersion::V1_3)
    };
    assert!(message(&env.get(loser).unwrap(), "Ready").contains(&format!("mail/{winner}")));
    // Watching for an absence (a second PATCH), the one place a sleep fits.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(patches(&env, None), 1, "one PATCH, ever");
    assert_eq!(env.settings(None).minimum_tls_version, Some(version));
    env.delete(loser).await;
    env.wait_gone(loser).await;
    assert_eq!(patches(&env, None), 1, "the loser cleans up nothing");
    assert_eq!(env.settings(None).minimum_tls_version, Some(version));
    assert!(is_ready(&env.get(winner).unwrap()));
    report(
        "created together",
        format!(
            "{backend:?}, Secret {}: {winner} holds, {loser} Conflict; 1 PATCH, none on the loser's deletion",
            if secret_first { "first" } else { "after" }
        ),
    );
}

async fn two_disagreeing_resources_created_together_cause_one_patch(backend: Backend) {
    two_disagreeing_resources_created_together(backend, true).await;
}

async fn two_disagreeing_resources_whose_secret_comes_later_cause_one_patch(backend: Backend) {
    two_disagreeing_resources_created_together(backend, false).await;
}

// deleting a Reset (or Restore) resource never undoes a field that another live
// resource on the same target still declares.
async fn cleanup_spares_fields_another_resource_still_declares(backend: Backend) {
    let env = Env::on(backend).await;
    env.key_secret(KEY).await;
    let _op = env.operator(&[]);
    env.create(
        "leaver",
        json!({"requireTls": true, "minimumTlsVersion": "1.2", "deletionPolicy": "Reset"}),
    )
    .await;
    env.wait_ready("leaver").await;
    // Another resource that only observes, and wants requireTls kept.
    env.create("keeper", json!({"requireTls": true, "mode": "Observe"}))
        .await;
    env.wait_ready("keeper").await;
    env.delete("leaver").await;
    env.wait_gone("leaver").await;
    assert_eq!(
        env.settings(None),
        tls(true, false, TlsVersion::V1_1),
        "requireTls kept for the resource that still declares it; the version reset"
    );
    assert!(is_ready(&env.get("keeper").unwrap()));
}

// Storing an object the CRD refuses (as one written before a CRD upgrade would be) is a fault
// the real control plane cannot make: kube-apiserver validates every write.
// a malformed object that carries the finalizer and is being deleted is reported, then let go
// after --cleanup-timeout: deletion never hangs on an object the operator cannot read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_object_being_deleted_is_let_go_after_the_timeout() {
    let env = Env::start().await;
    env.key_secret(KEY).await;
    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    let mut broken = object(
        NS,
        "broken",
        json!({"apiKeySecretRef": {"name": SECRET}, "requireTls": "yes", "deletionPolicy": "Reset"}),
    );
    broken["metadata"]["finalizers"] = json!([sendgrid_tls_operator::api::FINALIZER]);
    broken["metadata"]["deletionTimestamp"] = json!(now);
    env.put_raw(broken);
    let _op = env.operator(&["--cleanup-timeout", "3s"]);
    env.until("the malformed object let go", WAIT, |env| {
        env.get("broken").is_none_or(|o| {
            o["metadata"]["finalizers"]
                .as_array()
                .is_none_or(Vec::is_empty)
        })
    })
    .await;
    assert!(
        env.event_reasons("broken")
            .contains(&"InvalidObject".to_string())
    );
    assert!(env.sim.requests().is_empty(), "SendGrid untouched");
}

on_both!(
    retarget_puts_the_old_target_back_and_never_moves_its_original,
    a_secret_pointed_at_another_account_puts_the_first_account_back,
    a_retarget_without_a_key_for_the_old_account_says_what_was_left,
    a_move_made_while_the_operator_was_down_still_puts_the_old_account_back,
    an_unanswered_patch_never_loses_the_original,
    a_kill_while_the_patch_is_answered_never_loses_the_original,
    an_edit_during_the_first_patch_keeps_sendgrids_original,
    two_disagreeing_resources_created_together_cause_one_patch,
    two_disagreeing_resources_whose_secret_comes_later_cause_one_patch,
    cleanup_spares_fields_another_resource_still_declares,
);
