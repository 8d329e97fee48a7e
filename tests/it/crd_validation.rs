//! Every validation rule of the SendGridEnforcedTls CRD, accepting good objects and rejecting bad
//! ones with the message a user sees, through `validate_resource` (OpenAPI schema + CEL rules).
//! The rejected specs are one table (`support/crd_cases.rs`), which the end-to-end tests also
//! send to the real API server.

use crate::support::crd_cases::{SECRET_REF, invalid_specs, resource, with_key};
use sendgrid_tls_operator::api::{Mode, TlsVersion, validate_resource};

/// The messages `validate_resource` gives for a spec, as `field: message` lines.
fn errors(spec_yaml: &str) -> Vec<String> {
    match validate_resource(&resource(spec_yaml)) {
        Ok(_) => Vec::new(),
        Err(violations) => violations.iter().map(ToString::to_string).collect(),
    }
}

#[track_caller]
fn assert_valid(spec_yaml: &str) {
    assert_eq!(
        errors(spec_yaml),
        Vec::<String>::new(),
        "spec:\n{spec_yaml}"
    );
}

#[test]
fn every_invalid_spec_is_rejected_with_its_message() {
    let cases = invalid_specs();
    for case in &cases {
        assert_eq!(
            errors(&case.spec),
            case.errors,
            "{}: spec:\n{}",
            case.rule,
            case.spec
        );
    }
    assert!(cases.len() > 40, "{} cases", cases.len());
}

#[test]
fn a_full_resource_is_read() {
    let tls = validate_resource(&resource(&with_key(
        "region: eu\nonBehalfOf: {subuser: marketing-sub}\nrequireTls: true\nrequireValidCert: false\nminimumTlsVersion: \"1.2\"\nmode: Observe\nresyncInterval: 1h30m\n",
    )))
    .expect("valid");
    assert_eq!(tls.spec.minimum_tls_version, Some(TlsVersion::V1_2));
    assert_eq!(tls.spec.mode(), Mode::Observe);
    assert_eq!(tls.spec.require_valid_cert, Some(false));
    assert_eq!(tls.spec.resync_interval().as_secs(), 5400);
}

#[test]
fn the_smallest_resource_is_valid() {
    assert_valid(SECRET_REF);
}

#[test]
fn valid_values_of_every_field_are_accepted() {
    for good in ["sendgrid-api-key", "a", "sendgrid.key-1", "0abc"] {
        assert_valid(&format!("apiKeySecretRef: {{name: {good}}}\n"));
    }
    for good in ["apiKey", "api_key", "SENDGRID.key-2"] {
        assert_valid(&format!("apiKeySecretRef: {{name: k, key: {good}}}\n"));
    }
    for good in ["marketing-sub", "a.b@example.com", "Sub_1"] {
        assert_valid(&with_key(&format!("onBehalfOf: {{subuser: \"{good}\"}}\n")));
    }
    for good in ["\"1.1\"", "\"1.2\"", "'1.3'"] {
        assert_valid(&with_key(&format!("minimumTlsVersion: {good}\n")));
    }
    for good in ["30s", "10m", "1h30m", "1.5h", "90s", "30000ms", "999999h"] {
        assert_valid(&with_key(&format!("resyncInterval: {good}\n")));
    }
    for spec in [
        "region: global\n",
        "region: eu\n",
        "onBehalfOf: {subuser: marketing-sub}\n",
        "onBehalfOf: {accountId: \"1234567\"}\n",
        "onBehalfOf: {accountId: abc123def456hij789klm0}\n",
        "requireTls: false\nrequireValidCert: true\n",
        "mode: Enforce\ndeletionPolicy: Reset\n",
        "mode: Observe\ndeletionPolicy: Orphan\n",
        "deletionPolicy: Restore\n",
        "deletionPolicy: Restore\nmode: Enforce\n",
    ] {
        assert_valid(&with_key(spec));
    }
}

#[test]
fn an_unknown_top_level_field_is_rejected_with_a_suggestion() {
    let mut object = resource(SECRET_REF);
    object["specs"] = serde_json::json!({});
    let errors: Vec<String> = validate_resource(&object)
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        errors,
        ["specs: unknown field \"specs\"; did you mean \"spec\"?"]
    );
}

#[test]
fn null_means_unset() {
    let tls = validate_resource(&resource(&with_key(
        "mode: null\nresyncInterval: null\ndeletionPolicy: ~\n",
    )))
    .expect("valid");
    assert_eq!(tls.spec.mode, None);
    assert_eq!(tls.spec.resync_interval, None);
}

#[test]
fn several_problems_are_all_reported() {
    let found = errors(&with_key(
        "onBehalfOf: {subuser: \"a b\", accountId: \"1\"}\nresyncInterval: 5s\n",
    ));
    assert_eq!(found.len(), 3, "{found:#?}");
}

#[test]
fn api_version_and_kind_must_name_this_resource() {
    let mut object = resource(SECRET_REF);
    object["apiVersion"] = "sendgrid.ops.dev/v1".into();
    let errors: Vec<String> = validate_resource(&object)
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        errors,
        [
            "apiVersion: must be sendgrid.ops.dev/v1alpha1, not \"sendgrid.ops.dev/v1\"; this file is not a SendGridEnforcedTls"
        ]
    );
    let mut object = resource(SECRET_REF);
    object.as_object_mut().expect("object").remove("kind");
    let errors: Vec<String> = validate_resource(&object)
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(errors, ["kind: missing; add kind: SendGridEnforcedTls"]);
    let errors = validate_resource(&serde_json::json!("spec")).unwrap_err();
    assert_eq!(errors[0].field, "");
}

#[test]
fn the_spec_must_be_an_object() {
    let mut object = resource(SECRET_REF);
    object.as_object_mut().expect("object").remove("spec");
    let errors: Vec<String> = validate_resource(&object)
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(errors.len(), 1);
    assert!(errors[0].starts_with("spec: missing; add it"), "{errors:?}");
}

#[test]
fn status_is_checked_too() {
    let mut object = resource(SECRET_REF);
    object["status"] = serde_json::json!({
        "observedGeneration": 4,
        "observed": {"requireTls": true, "minimumTlsVersion": "1.2"},
        "conditions": [{"type": "Ready", "status": "True", "reason": "InSync", "message": "", "lastTransitionTime": "2026-11-26T07:00:00Z"}],
    });
    assert!(validate_resource(&object).is_ok());
    object["status"]["conditions"][0]["lastTransitionTime"] = "yesterday".into();
    object["status"]["observed"]["minimumTlsVersion"] = "1.0".into();
    let errors: Vec<String> = validate_resource(&object)
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        errors,
        [
            "status.conditions[0].lastTransitionTime: \"yesterday\" is not a valid date-time (RFC 3339, such as 2026-01-02T15:04:05Z)",
            "status.observed.minimumTlsVersion: \"1.0\" is not allowed; use one of \"1.1\", \"1.2\", \"1.3\"",
        ]
    );
}

#[test]
fn accepted_durations_mean_the_same_to_the_controller() {
    for (text, seconds) in [
        ("30s", 30),
        ("10m", 600),
        ("1.5h", 5400),
        ("30000ms", 30),
        ("1h0m30s", 3630),
    ] {
        let tls = validate_resource(&resource(&with_key(&format!("resyncInterval: {text}\n"))))
            .unwrap_or_else(|e| panic!("{text}: {e:?}"));
        assert_eq!(tls.spec.resync_interval().as_secs(), seconds, "{text}");
    }
}

#[test]
fn metadata_must_be_an_object() {
    let mut object = resource(SECRET_REF);
    object["metadata"] = "marketing".into();
    let errors: Vec<String> = validate_resource(&object)
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(errors, ["metadata: must be an object, not \"marketing\""]);
}

#[test]
fn no_message_names_its_field_twice() {
    for case in invalid_specs() {
        for error in &case.errors {
            let (field, message) = error.split_once(": ").expect("field: message");
            let name = field.rsplit('.').next().unwrap();
            assert!(
                !message.starts_with(&format!("{name} ")),
                "{}: {error}",
                case.rule
            );
        }
    }
}

#[test]
fn a_bare_number_for_a_duration_suggests_a_unit() {
    assert_eq!(
        errors(&with_key("resyncInterval: 5\n")),
        [
            "spec.resyncInterval: must be a duration with a unit, not the number 5; write \"5m\" for 5 minutes (units s, m and h)"
        ]
    );
    assert_eq!(
        errors(&with_key("resyncInterval: 90\n")),
        [
            "spec.resyncInterval: must be a duration with a unit, not the number 90; write \"90s\" for 90 seconds, or \"90m\" for 90 minutes"
        ]
    );
}
