//! Every validation rule of the SendGridEnforcedTls CRD, accepting good objects and rejecting bad
//! ones with the message a user sees, through `validate_resource` (OpenAPI schema + CEL rules).

use sendgrid_tls_operator::api::{Mode, TlsVersion, validate_resource};
use serde_json::Value;

/// A resource with `spec` given as YAML (the way users write it, so `1.2` is a float).
fn resource(spec_yaml: &str) -> Value {
    let spec: Value = serde_yaml::from_str(spec_yaml).expect("test YAML parses");
    serde_json::json!({
        "apiVersion": "sendgrid.ops.dev/v1alpha1",
        "kind": "SendGridEnforcedTls",
        "metadata": {"name": "marketing", "namespace": "mail"},
        "spec": spec,
    })
}

/// The messages `validate_resource` gives for a spec, as `field: message` lines.
fn errors(spec_yaml: &str) -> Vec<String> {
    match validate_resource(&resource(spec_yaml)) {
        Ok(_) => Vec::new(),
        Err(violations) => violations.iter().map(ToString::to_string).collect(),
    }
}

const KEY: &str = "apiKeySecretRef: {name: sendgrid-api-key}\n";

fn with_key(rest: &str) -> String {
    format!("{KEY}{rest}")
}

#[track_caller]
fn assert_valid(spec_yaml: &str) {
    assert_eq!(
        errors(spec_yaml),
        Vec::<String>::new(),
        "spec:\n{spec_yaml}"
    );
}

#[track_caller]
fn assert_rejected(spec_yaml: &str, expected: &[&str]) {
    assert_eq!(errors(spec_yaml), expected, "spec:\n{spec_yaml}");
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
    assert_valid(KEY);
}

#[test]
fn api_key_secret_ref_is_required() {
    assert_rejected(
        "requireTls: true\n",
        &[
            "spec.apiKeySecretRef: apiKeySecretRef is required; add it: The Secret, in this resource's namespace, that holds the SendGrid API key",
        ],
    );
    assert_rejected(
        "apiKeySecretRef: {key: apiKey}\n",
        &[
            "spec.apiKeySecretRef.name: name is required; add it: Name of the Secret, in the same namespace as this resource",
        ],
    );
}

#[test]
fn secret_name_is_a_dns_subdomain() {
    for good in ["sendgrid-api-key", "a", "sendgrid.key-1", "0abc"] {
        assert_valid(&format!("apiKeySecretRef: {{name: {good}}}\n"));
    }
    let message = "name must be the name of a Secret in this namespace: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit";
    for bad in ["SendGrid", "-key", "key-", "my_key", "a..b", "\"\""] {
        assert_rejected(
            &format!("apiKeySecretRef: {{name: {bad}}}\n"),
            &[&format!("spec.apiKeySecretRef.name: {message}")],
        );
    }
    let long = "a".repeat(254);
    assert_rejected(
        &format!("apiKeySecretRef: {{name: {long}}}\n"),
        &["spec.apiKeySecretRef.name: must be at most 253 characters long; shorten it"],
    );
}

#[test]
fn secret_key_is_a_data_key() {
    for good in ["apiKey", "api_key", "SENDGRID.key-2"] {
        assert_valid(&format!("apiKeySecretRef: {{name: k, key: {good}}}\n"));
    }
    for bad in ["api key", "a/b", "\"\""] {
        assert_rejected(
            &format!("apiKeySecretRef: {{name: k, key: {bad}}}\n"),
            &[
                "spec.apiKeySecretRef.key: key must be a key of the Secret's data: letters, digits, '-', '_' and '.' only; leave it unset to use apiKey",
            ],
        );
    }
}

#[test]
fn region_is_global_or_eu() {
    assert_valid(&with_key("region: global\n"));
    assert_valid(&with_key("region: eu\n"));
    assert_rejected(
        &with_key("region: EU\n"),
        &["spec.region: \"EU\" is not allowed; use one of \"global\", \"eu\""],
    );
    assert_rejected(
        &with_key("region: us\n"),
        &["spec.region: \"us\" is not allowed; use one of \"global\", \"eu\""],
    );
}

#[test]
fn on_behalf_of_needs_exactly_one_target() {
    assert_valid(&with_key("onBehalfOf: {subuser: marketing-sub}\n"));
    assert_valid(&with_key("onBehalfOf: {accountId: \"1234567\"}\n"));
    let message = "spec.onBehalfOf: onBehalfOf needs exactly one of subuser or accountId; remove onBehalfOf to manage the API key's own account";
    assert_rejected(
        &with_key("onBehalfOf: {subuser: a, accountId: \"1\"}\n"),
        &[message],
    );
    assert_rejected(&with_key("onBehalfOf: {}\n"), &[message]);
}

#[test]
fn subuser_has_no_whitespace_or_control_characters() {
    for good in ["marketing-sub", "a.b@example.com", "Sub_1"] {
        assert_valid(&with_key(&format!("onBehalfOf: {{subuser: \"{good}\"}}\n")));
    }
    let message = "spec.onBehalfOf.subuser: subuser must be the subuser's username: visible ASCII characters only, no spaces, CR/LF or other control characters";
    for bad in [
        "\"a\\r\\nX-Evil: 1\"",
        "\"a b\"",
        "\"a\\tb\"",
        "\"\\u0000\"",
        "\"ünïcode\"",
        "\"\"",
    ] {
        assert_rejected(
            &with_key(&format!("onBehalfOf: {{subuser: {bad}}}\n")),
            &[message],
        );
    }
}

#[test]
fn account_id_is_letters_digits_dash_underscore() {
    assert_valid(&with_key(
        "onBehalfOf: {accountId: abc123def456hij789klm0}\n",
    ));
    assert_rejected(
        &with_key("onBehalfOf: {accountId: \"account-id 123\"}\n"),
        &[
            "spec.onBehalfOf.accountId: accountId must be the customer account's ID: letters, digits, '-' and '_' only",
        ],
    );
    assert_rejected(
        &with_key("onBehalfOf: {accountId: 1234567}\n"),
        &[
            "spec.onBehalfOf.accountId: must be a string, not the number 1234567; quote it in YAML: \"1234567\"",
        ],
    );
}

#[test]
fn minimum_tls_version_is_a_quoted_string() {
    for good in ["\"1.1\"", "\"1.2\"", "'1.3'"] {
        assert_valid(&with_key(&format!("minimumTlsVersion: {good}\n")));
    }
    assert_rejected(
        &with_key("minimumTlsVersion: 1.2\n"),
        &[
            "spec.minimumTlsVersion: must be a string, one of \"1.1\", \"1.2\", \"1.3\", not the number 1.2; quote it in YAML: \"1.2\"",
        ],
    );
    assert_rejected(
        &with_key("minimumTlsVersion: \"1.0\"\n"),
        &["spec.minimumTlsVersion: \"1.0\" is not allowed; use one of \"1.1\", \"1.2\", \"1.3\""],
    );
}

#[test]
fn booleans_are_booleans() {
    assert_valid(&with_key("requireTls: false\nrequireValidCert: true\n"));
    assert_rejected(
        &with_key("requireTls: \"yes\"\n"),
        &["spec.requireTls: must be a boolean, not \"yes\""],
    );
}

#[test]
fn mode_and_deletion_policy_are_enums() {
    assert_valid(&with_key("mode: Enforce\ndeletionPolicy: Reset\n"));
    assert_valid(&with_key("mode: Observe\ndeletionPolicy: Orphan\n"));
    assert_rejected(
        &with_key("mode: enforce\n"),
        &["spec.mode: \"enforce\" is not allowed; use one of \"Enforce\", \"Observe\""],
    );
    assert_rejected(
        &with_key("deletionPolicy: Delete\n"),
        &[
            "spec.deletionPolicy: \"Delete\" is not allowed; use one of \"Orphan\", \"Restore\", \"Reset\"",
        ],
    );
}

#[test]
fn restore_and_reset_need_enforce() {
    assert_valid(&with_key("deletionPolicy: Restore\n"));
    assert_valid(&with_key("deletionPolicy: Restore\nmode: Enforce\n"));
    let message = "spec.deletionPolicy: deletionPolicy Restore or Reset needs mode Enforce: an Observe resource never writes to SendGrid, so it has nothing to undo; set deletionPolicy: Orphan or mode: Enforce";
    assert_rejected(
        &with_key("deletionPolicy: Restore\nmode: Observe\n"),
        &[message],
    );
    assert_rejected(
        &with_key("deletionPolicy: Reset\nmode: Observe\n"),
        &[message],
    );
}

#[test]
fn resync_interval_is_a_duration_of_at_least_30s() {
    for good in ["30s", "10m", "1h30m", "1.5h", "90s", "30000ms", "999999h"] {
        assert_valid(&with_key(&format!("resyncInterval: {good}\n")));
    }
    let too_short = "spec.resyncInterval: resyncInterval must be at least 30s, so drift checks stay within SendGrid's rate limits; use 30s or more, or leave it unset for 10m";
    for bad in ["10s", "29999ms", "0s"] {
        assert_rejected(&with_key(&format!("resyncInterval: {bad}\n")), &[too_short]);
    }
    let not_a_duration = "spec.resyncInterval: resyncInterval must be a duration such as 90s, 10m or 1h30m: numbers of at most 6 digits, each followed by a unit ns, us, ms, s, m or h";
    for bad in ["abc", "\"10\"", "1d", "-10m", "1000000h", "\"\""] {
        assert_rejected(
            &with_key(&format!("resyncInterval: {bad}\n")),
            &[not_a_duration],
        );
    }
    assert_rejected(
        &with_key("resyncInterval: 600\n"),
        &["spec.resyncInterval: must be a string, not the number 600; quote it in YAML: \"600\""],
    );
}

#[test]
fn unknown_fields_are_rejected_with_a_suggestion() {
    assert_rejected(
        &with_key("requireTLS: true\n"),
        &["spec.requireTLS: unknown field \"requireTLS\"; did you mean \"requireTls\"?"],
    );
    assert_rejected(
        &with_key("minTlsVersion: \"1.2\"\n"),
        &[
            "spec.minTlsVersion: unknown field \"minTlsVersion\"; remove it (known fields: apiKeySecretRef, deletionPolicy, minimumTlsVersion, mode, onBehalfOf, region, requireTls, requireValidCert, resyncInterval)",
        ],
    );
    let mut object = resource(KEY);
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
fn a_type_error_skips_the_cel_rules_like_the_api_server() {
    // The subuser rule would fail too, but a type error means the rules are not run.
    assert_rejected(
        &with_key("onBehalfOf: {subuser: \"a b\"}\nrequireTls: 1\n"),
        &["spec.requireTls: must be a boolean, not 1"],
    );
}

#[test]
fn api_version_and_kind_must_name_this_resource() {
    let mut object = resource(KEY);
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
    let mut object = resource(KEY);
    object.as_object_mut().expect("object").remove("kind");
    let errors: Vec<String> = validate_resource(&object)
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        errors,
        ["kind: kind is required; add kind: SendGridEnforcedTls"]
    );
    let errors = validate_resource(&serde_json::json!("spec")).unwrap_err();
    assert_eq!(errors[0].field, "");
}

#[test]
fn the_spec_must_be_an_object() {
    let mut object = resource(KEY);
    object.as_object_mut().expect("object").remove("spec");
    let errors: Vec<String> = validate_resource(&object)
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].starts_with("spec: spec is required; add it"),
        "{errors:?}"
    );
}

#[test]
fn status_is_checked_too() {
    let mut object = resource(KEY);
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
    let mut object = resource(KEY);
    object["metadata"] = "marketing".into();
    let errors: Vec<String> = validate_resource(&object)
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(errors, ["metadata: must be an object, not \"marketing\""]);
}
