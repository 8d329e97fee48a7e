//! kstatus's own verdict (sigs.k8s.io/cli-utils, as Flux, kpt and Config Sync compute it) on one
//! resource per condition reason, with its status as the operator writes it: Ready and Synced,
//! and the kstatus condition `api::kstatus` derives from them. The verdicts come from
//! `tools/kstatus-check`, built (or reused) by its `build.sh` into the user's cache.

use sendgrid_tls_operator::api::Reason;
use sendgrid_tls_operator::api::{Condition, SendGridEnforcedTls, kstatus};
use serde_json::{Value, json};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

const GENERATION: i64 = 2;

struct Case {
    name: String,
    ready: Option<(bool, Reason)>,
    synced: Option<(bool, Reason)>,
    deleting: bool,
    /// kstatus's verdict.
    want: &'static str,
}

fn case(
    name: &str,
    ready: Option<(bool, Reason)>,
    synced: Option<(bool, Reason)>,
    want: &'static str,
) -> Case {
    Case {
        name: name.to_string(),
        ready,
        synced,
        deleting: false,
        want,
    }
}

/// One case per reason, in the state the decision leaves it: a Ready reason after a reconcile
/// that reached SendGrid, a failing Synced reason on a resource that was in sync.
fn cases() -> Vec<Case> {
    use Reason::*;
    let answered = Some((true, ReconcileSuccess));
    let in_sync = Some((true, InSync));
    let mut cases = Vec::new();
    for (status, reason) in Reason::READY {
        let mut case = match reason {
            InSync => case("insync", Some((status, reason)), answered, "Current"),
            // The write before the first PATCH of a new resource: no Synced yet.
            Pending => case("pending", Some((status, reason)), None, "InProgress"),
            // A cleanup that failed; kstatus reads any deleted object as Terminating.
            Deleting => case(
                "deleting",
                Some((status, reason)),
                Some((false, ApiUnavailable)),
                "Terminating",
            ),
            Drifted | Conflict | Contested => {
                case(&name(reason), Some((status, reason)), answered, "Failed")
            }
            other => panic!("no case for Ready {other}"),
        };
        case.deleting = reason == Deleting;
        cases.push(case);
    }
    for (status, reason) in Reason::SYNCED {
        let want = match reason {
            ReconcileSuccess => continue,
            RateLimited | ApiUnavailable => "InProgress",
            // Paused after it was in sync holds what was reached: see "paused-new" for the other.
            Paused => "Current",
            SecretNotFound | SecretKeyNotFound | SecretKeyInvalid | SecretForbidden
            | Unauthorized | Forbidden | NotFound | DataResidency | Rejected => "Failed",
            other => panic!("no case for Synced {other}"),
        };
        cases.push(case(&name(reason), in_sync, Some((status, reason)), want));
    }
    // Paused before the first reconcile: nothing will happen until the annotation goes.
    cases.push(case("paused-new", None, Some((false, Paused)), "Failed"));
    cases
}

fn name(reason: Reason) -> String {
    reason.as_str().to_lowercase()
}

fn condition(type_: &str, (status, reason): (bool, Reason)) -> Condition {
    serde_json::from_value(json!({
        "type": type_,
        "status": if status { "True" } else { "False" },
        "reason": reason.as_str(),
        "message": format!("{reason}: the message"),
        "observedGeneration": GENERATION,
        "lastTransitionTime": "2026-12-01T10:00:00Z",
    }))
    .unwrap()
}

/// The resource as the operator writes it, through the operator's own types.
fn object(case: &Case) -> Value {
    let ready = case.ready.map(|r| condition("Ready", r));
    let synced = case.synced.map(|s| condition("Synced", s));
    let derived = kstatus::condition(ready.as_ref(), synced.as_ref(), Some(GENERATION));
    let mut conditions: Vec<Condition> = [ready, synced, derived].into_iter().flatten().collect();
    conditions.sort_by(|a, b| a.type_.cmp(&b.type_));
    let mut metadata = json!({"name": case.name, "namespace": "mail", "generation": GENERATION});
    if case.deleting {
        metadata["deletionTimestamp"] = json!("2026-12-01T11:00:00Z");
        metadata["finalizers"] = json!([sendgrid_tls_operator::api::FINALIZER]);
    }
    let res: SendGridEnforcedTls = serde_json::from_value(json!({
        "apiVersion": "sendgrid.ops.dev/v1alpha1",
        "kind": "SendGridEnforcedTls",
        "metadata": metadata,
        "spec": {"apiKeySecretRef": {"name": "sendgrid-api-key"}, "requireTls": true},
        "status": {"observedGeneration": GENERATION, "conditions": conditions},
    }))
    .unwrap();
    serde_json::to_value(res).unwrap()
}

/// kstatus-check's lines for `objects`: (name, verdict, message).
fn verdicts(objects: &[Value]) -> Vec<(String, String, String)> {
    let build = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/kstatus-check/build.sh");
    let built = Command::new(&build)
        .stderr(Stdio::inherit())
        .output()
        .expect("tools/kstatus-check/build.sh runs");
    assert!(built.status.success(), "{} failed", build.display());
    let binary = String::from_utf8(built.stdout).unwrap();
    let mut child = Command::new(binary.trim())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("kstatus-check starts");
    let mut stdin = child.stdin.take().unwrap();
    for object in objects {
        writeln!(stdin, "{object}").unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "kstatus-check failed");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let mut parts = line.splitn(3, '\t').map(str::to_string);
            let mut next = || parts.next().unwrap_or_default();
            (next(), next(), next())
        })
        .collect()
}

#[test]
fn kstatus_reads_every_reason_as_the_operator_means_it() {
    let cases = cases();
    let got = verdicts(&cases.iter().map(object).collect::<Vec<_>>());
    assert_eq!(got.len(), cases.len(), "one verdict per object: {got:?}");
    for (case, (name, verdict, message)) in cases.iter().zip(&got) {
        println!("[kstatus] {name:<18} {verdict:<12} {message}");
        assert_eq!(name, &case.name);
        assert_eq!(verdict, case.want, "{name}: {message}");
    }
    assert!(cases.len() >= Reason::READY.len() + Reason::SYNCED.len());
}

#[test]
fn a_spec_the_operator_has_not_seen_reads_in_progress() {
    let mut object = object(&case(
        "edited",
        Some((true, Reason::InSync)),
        Some((true, Reason::ReconcileSuccess)),
        "",
    ));
    object["metadata"]["generation"] = json!(GENERATION + 1);
    let got = verdicts(&[object]);
    assert_eq!(got[0].1, "InProgress", "{got:?}");
}
