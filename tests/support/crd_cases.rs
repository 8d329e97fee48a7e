//! The invalid SendGridEnforcedTls specs, with the messages the project's validator gives
//! (`field: message`). One table for two tests: `tests/it/crd_validation.rs` checks the messages
//! through the project's validator (schema + CEL, no API server), and the end-to-end
//! differential test checks that the real kube-apiserver refuses each spec naming the same fields.

/// A spec the CRD must refuse: the rule it breaks, the spec as YAML, the expected messages.
pub struct Invalid {
    pub rule: &'static str,
    pub spec: String,
    pub errors: Vec<String>,
}

/// The minimal valid spec: the Secret reference alone.
pub const SECRET_REF: &str = "apiKeySecretRef: {name: sendgrid-api-key}\n";

/// `rest` with the minimal valid `apiKeySecretRef` before it.
pub fn with_key(rest: &str) -> String {
    format!("{SECRET_REF}{rest}")
}

/// A resource named `marketing` in `mail` with `spec` given as YAML (the way users write it, so
/// `1.2` is a float).
pub fn resource(spec_yaml: &str) -> serde_json::Value {
    let spec = serde_saphyr::from_str(spec_yaml).expect("test YAML parses");
    super::object(super::NS, "marketing", spec)
}

pub fn invalid_specs() -> Vec<Invalid> {
    let mut cases = Vec::new();
    let mut add = |rule: &'static str, spec: String, errors: &[&str]| {
        cases.push(Invalid {
            rule,
            spec,
            errors: errors.iter().map(|e| e.to_string()).collect(),
        })
    };
    add(
        "apiKeySecretRef is required",
        "requireTls: true\n".into(),
        &[
            "spec.apiKeySecretRef: missing; add it: The Secret, in this resource's namespace, that holds the SendGrid API key",
        ],
    );
    add(
        "apiKeySecretRef.name is required",
        "apiKeySecretRef: {key: apiKey}\n".into(),
        &[
            "spec.apiKeySecretRef.name: missing; add it: Name of the Secret, in the same namespace as this resource",
        ],
    );
    let name_rule = "spec.apiKeySecretRef.name: must be the name of a Secret in this namespace: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit";
    for bad in ["SendGrid", "-key", "key-", "my_key", "a..b", "\"\""] {
        add(
            "the Secret's name is a DNS subdomain",
            format!("apiKeySecretRef: {{name: {bad}}}\n"),
            &[name_rule],
        );
    }
    add(
        "the Secret's name is at most 253 characters",
        format!("apiKeySecretRef: {{name: {}}}\n", "a".repeat(254)),
        &["spec.apiKeySecretRef.name: must be at most 253 characters long; shorten it"],
    );
    for bad in ["api key", "a/b", "\"\""] {
        add(
            "the Secret's key is a data key",
            format!("apiKeySecretRef: {{name: k, key: {bad}}}\n"),
            &[
                "spec.apiKeySecretRef.key: must be a key of the Secret's data: letters, digits, '-', '_' and '.' only; leave it unset to use apiKey",
            ],
        );
    }
    for bad in ["EU", "us"] {
        add(
            "region is global or eu",
            with_key(&format!("region: {bad}\n")),
            &[&format!(
                "spec.region: \"{bad}\" is not allowed; use one of \"global\", \"eu\""
            )],
        );
    }
    let one_target = "spec.onBehalfOf: needs exactly one of subuser or accountId; remove onBehalfOf to manage the API key's own account";
    for spec in [
        "onBehalfOf: {subuser: a, accountId: \"1\"}\n",
        "onBehalfOf: {}\n",
    ] {
        add(
            "onBehalfOf has exactly one target",
            with_key(spec),
            &[one_target],
        );
    }
    let subuser = "spec.onBehalfOf.subuser: must be the subuser's username: visible ASCII characters only, no spaces, CR/LF or other control characters";
    for bad in [
        "\"a\\r\\nX-Evil: 1\"",
        "\"a b\"",
        "\"a\\tb\"",
        "\"\\u0000\"",
        "\"ünïcode\"",
        "\"\"",
    ] {
        add(
            "subuser has no whitespace or control characters",
            with_key(&format!("onBehalfOf: {{subuser: {bad}}}\n")),
            &[subuser],
        );
    }
    add(
        "accountId is letters, digits, '-' and '_'",
        with_key("onBehalfOf: {accountId: \"account-id 123\"}\n"),
        &[
            "spec.onBehalfOf.accountId: must be the customer account's ID: letters, digits, '-' and '_' only",
        ],
    );
    add(
        "accountId is a string",
        with_key("onBehalfOf: {accountId: 1234567}\n"),
        &[
            "spec.onBehalfOf.accountId: must be a string, not the number 1234567; quote it in YAML: \"1234567\"",
        ],
    );
    add(
        "minimumTlsVersion is a quoted string",
        with_key("minimumTlsVersion: 1.2\n"),
        &[
            "spec.minimumTlsVersion: must be a string, one of \"1.1\", \"1.2\", \"1.3\", not the number 1.2; quote it in YAML: \"1.2\"",
        ],
    );
    add(
        "minimumTlsVersion is 1.1, 1.2 or 1.3",
        with_key("minimumTlsVersion: \"1.0\"\n"),
        &["spec.minimumTlsVersion: \"1.0\" is not allowed; use one of \"1.1\", \"1.2\", \"1.3\""],
    );
    add(
        "booleans are booleans",
        with_key("requireTls: \"yes\"\n"),
        &["spec.requireTls: must be a boolean, not \"yes\""],
    );
    add(
        "mode is an enum",
        with_key("mode: enforce\n"),
        &["spec.mode: \"enforce\" is not allowed; use one of \"Enforce\", \"Observe\""],
    );
    add(
        "deletionPolicy is an enum",
        with_key("deletionPolicy: Delete\n"),
        &[
            "spec.deletionPolicy: \"Delete\" is not allowed; use one of \"Orphan\", \"Restore\", \"Reset\"",
        ],
    );
    let needs_enforce = "spec.deletionPolicy: Restore or Reset needs mode Enforce: an Observe resource never writes to SendGrid, so it has nothing to undo; set deletionPolicy: Orphan or mode: Enforce";
    for policy in ["Restore", "Reset"] {
        add(
            "Restore and Reset need Enforce",
            with_key(&format!("deletionPolicy: {policy}\nmode: Observe\n")),
            &[needs_enforce],
        );
    }
    let too_short = "spec.resyncInterval: must be at least 30s, so drift checks stay within SendGrid's rate limits; use 30s or more, or leave it unset for 10m";
    for bad in ["10s", "29999ms", "0s"] {
        add(
            "resyncInterval is at least 30s",
            with_key(&format!("resyncInterval: {bad}\n")),
            &[too_short],
        );
    }
    let not_a_duration = "spec.resyncInterval: must be a duration such as 90s, 10m or 1h30m: numbers of at most 6 digits, each followed by a unit ns, us, ms, s, m or h";
    for bad in ["abc", "\"10\"", "1d", "-10m", "1000000h", "\"\""] {
        add(
            "resyncInterval is a duration",
            with_key(&format!("resyncInterval: {bad}\n")),
            &[not_a_duration],
        );
    }
    add(
        "resyncInterval is a string",
        with_key("resyncInterval: 600\n"),
        &[
            "spec.resyncInterval: must be a duration with a unit, not the number 600; write \"10m\" for 600 seconds, or \"600m\" for 600 minutes",
        ],
    );
    add(
        "unknown fields are refused, with a suggestion",
        with_key("requireTLS: true\n"),
        &["spec.requireTLS: unknown field \"requireTLS\"; did you mean \"requireTls\"?"],
    );
    add(
        "unknown fields are refused",
        with_key("minTlsVersion: \"1.2\"\n"),
        &[
            "spec.minTlsVersion: unknown field \"minTlsVersion\"; remove it (known fields: apiKeySecretRef, deletionPolicy, minimumTlsVersion, mode, onBehalfOf, region, requireTls, requireValidCert, resyncInterval)",
        ],
    );
    add(
        "a type error skips the CEL rules, like the API server",
        with_key("onBehalfOf: {subuser: \"a b\"}\nrequireTls: 1\n"),
        &["spec.requireTls: must be a boolean, not 1"],
    );
    cases
}
