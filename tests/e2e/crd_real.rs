//! The CRD on the real API server: every file in `examples/` is accepted, every invalid spec of
//! the project's validation table is refused naming the same fields as the project's own
//! validator (a differential test over one table), and a person's kubectl session works:
//! `apply --server-side`, `wait`, `explain`, `get` with the printer columns.

use super::control_plane;
use super::env::*;
use super::kubectl::{PLACEHOLDER, apply_basic_example, kubectl_at};
use crate::support::{crd_cases, example_files};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use sendgrid_tls_operator::simulator::SimConfig;
use std::collections::BTreeSet;

/// The fields a refusal names: its causes' fields (without the API server's note that CEL rules
/// were skipped, which names none), or the one field a server-side apply's typed-patch error
/// names in its message (type errors and unknown fields: `...): .spec.requireTls: expected boolean`).
fn refused_fields(status: &kube::core::Status) -> BTreeSet<String> {
    let causes: BTreeSet<String> = status
        .details
        .iter()
        .flat_map(|d| &d.causes)
        .map(|c| c.field.clone())
        .filter(|f| !f.is_empty() && f != "<nil>")
        .collect();
    if !causes.is_empty() {
        return causes;
    }
    status
        .message
        .rsplit_once("): ")
        .and_then(|(_, rest)| rest.split_once(": "))
        .map(|(field, _)| field.trim_start_matches('.').to_string())
        .into_iter()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn examples_are_accepted_and_invalid_specs_refused_naming_the_same_fields() {
    let env = Env::on(Backend::ControlPlane).await;
    let kubectl = kubectl_at(control_plane::kubectl(), &env);
    let files = example_files();
    for file in &files {
        let applied = kubectl
            .ok(&["apply", "--server-side", "-f", file.to_str().unwrap()])
            .await;
        assert!(applied.contains("serverside-applied"), "{applied}");
    }

    let api: Api<DynamicObject> =
        Api::namespaced_with(env.client.clone(), NS, &super::cluster::sgtls_resource());
    // As kubectl sends it: strict field validation. Dry run: nothing is stored.
    let params = PatchParams::apply("e2e").validation_strict().dry_run();
    let cases = crd_cases::invalid_specs();
    let mut diverging = Vec::new();
    for case in &cases {
        let mut object = crd_cases::resource(&case.spec);
        // A name no example uses: each case is a create, validated whole.
        object["metadata"]["name"] = "validation-case".into();
        // The fields the project's validator names (`field: message`).
        let ours: BTreeSet<String> = case
            .errors
            .iter()
            .map(|e| {
                e.split_once(": ")
                    .map_or(e.as_str(), |(f, _)| f)
                    .to_string()
            })
            .collect();
        let object: DynamicObject = serde_json::from_value(object).unwrap();
        match api
            .patch("validation-case", &params, &Patch::Apply(&object))
            .await
        {
            Err(kube::Error::Api(status)) => {
                let theirs = refused_fields(&status);
                if theirs != ours {
                    diverging.push(format!(
                        "{}: ours {ours:?}, kube-apiserver {theirs:?} ({})\n  spec: {:?}",
                        case.rule, status.message, case.spec
                    ));
                }
            }
            other => diverging.push(format!(
                "{}: kube-apiserver accepted it ({other:?})\n  spec: {:?}",
                case.rule, case.spec
            )),
        }
    }
    assert!(
        diverging.is_empty(),
        "{} of {} invalid specs diverge:\n{}",
        diverging.len(),
        cases.len(),
        diverging.join("\n")
    );
    report(
        "CRD on kube-apiserver",
        format!(
            "{} example files accepted; {} invalid specs refused naming the same fields as the project's validator",
            files.len(),
            cases.len()
        ),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_apply_wait_explain_get() {
    let sim = SimConfig::with_keys(&[PLACEHOLDER]);
    let env = Env::setup(Backend::ControlPlane, Chart::Default, sim).await;
    let _op = env.operator(&["--default-resync-interval", "2s"]);
    let kubectl = kubectl_at(control_plane::kubectl(), &env);
    let table = apply_basic_example(&kubectl, &["--server-side"], "60s").await;

    let explained = kubectl
        .ok(&["explain", "sgtls.spec.minimumTlsVersion"])
        .await;
    assert!(
        explained
            .lines()
            .any(|l| l.starts_with("KIND:") && l.ends_with("SendGridEnforcedTls")),
        "{explained}"
    );
    assert!(
        explained.contains("FIELD: minimumTlsVersion"),
        "{explained}"
    );
    let described = explained
        .split_once("DESCRIPTION:")
        .map(|(_, d)| d.trim().to_string())
        .unwrap_or_default();
    assert!(
        !described.is_empty(),
        "explain shows the field's doc comment: {explained}"
    );

    let yaml = kubectl
        .ok(&["get", "sgtls", "account", "-n", NS, "-o", "yaml"])
        .await;
    assert!(!yaml.contains(PLACEHOLDER), "{yaml}");
    report(
        "kubectl on kube-apiserver",
        format!(
            "apply --server-side, wait Ready, explain ({} lines), get sgtls -A:\n{table}",
            explained.lines().count()
        ),
    );
    env.assert_no_key_leaks();
}
