//! The simulator's answers to `GET /v3/user/username` and `GET /v3/scopes`, checked against
//! SendGrid's descriptions of them (tests/fixtures/openapi/tsg_user_v3.yaml and
//! tsg_scopes_v3.yaml): each operation is declared with `on-behalf-of` on both servers, and every
//! answer validates against the schema declared for its status.

use super::{SCOPES_SPEC, header_parameters, operation, parse_spec, resolve, schema_validator};
use crate::simulator_api::{SCOPES, USERNAME, get_at};
use crate::support::sim::start;
use crate::support::{BAD_KEY, KEY};
use serde_json::{Value, json};

const USER_SPEC: &str = include_str!("../../fixtures/openapi/tsg_user_v3.yaml");

/// The validator of the JSON answer a GET of `path` declares for `status`.
fn response_validator(spec: &Value, path: &str, status: &str) -> jsonschema::Validator {
    let op = operation(spec, path, "GET").unwrap_or_else(|| panic!("GET {path} is declared"));
    let response = resolve(spec, &op["responses"][status]);
    let mut schema = resolve(spec, &response["content"]["application/json"]["schema"]).clone();
    nullable_as_json_schema(&mut schema);
    schema_validator(spec, &schema)
}

/// OpenAPI 3.0's `nullable: true` (which these 3.1 files still use, and which JSON Schema
/// ignores) as the type union it means, so `"field": null` is valid where it is described so.
fn nullable_as_json_schema(schema: &mut Value) {
    match schema {
        Value::Object(object) => {
            if object.get("nullable") == Some(&Value::Bool(true))
                && let Some(Value::String(kind)) = object.get("type").cloned()
            {
                object.insert("type".into(), json!([kind, "null"]));
            }
            object.values_mut().for_each(nullable_as_json_schema);
        }
        Value::Array(items) => items.iter_mut().for_each(nullable_as_json_schema),
        _ => {}
    }
}

#[track_caller]
fn assert_valid(validator: &jsonschema::Validator, body: &Value, what: &str) {
    let errors: Vec<String> = validator.iter_errors(body).map(|e| e.to_string()).collect();
    assert!(
        errors.is_empty(),
        "{what}: {body} fails the schema: {errors:?}"
    );
}

/// The operation is declared with the `on-behalf-of` header, and on the two servers the
/// simulator serves as `/` and `/eu`.
fn assert_declared_on_both_hosts(spec: &Value, path: &str) {
    let op = operation(spec, path, "GET").unwrap();
    let headers: Vec<String> = header_parameters(spec, op)
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(headers, ["on-behalf-of"], "{path}");
    let servers: Vec<&str> = spec["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["url"].as_str().unwrap())
        .collect();
    assert_eq!(
        servers,
        ["https://api.sendgrid.com", "https://api.eu.sendgrid.com"]
    );
}

#[test]
fn the_username_schema_check_rejects_what_sendgrid_would_not_send() {
    let spec = parse_spec(USER_SPEC);
    let validator = response_validator(&spec, USERNAME, "200");
    let op = operation(&spec, USERNAME, "GET").unwrap();
    let example = &op["responses"]["200"]["content"]["application/json"]["examples"]["response"];
    assert_valid(&validator, &example["value"], "the spec's example");
    for bad in [
        json!({"username": "main"}),
        json!({"user_id": 1001}),
        json!({"username": "main", "user_id": "1001"}),
        json!({"username": "main", "user_id": 1001.5}),
        json!({"username": null, "user_id": 1001}),
    ] {
        assert!(!validator.is_valid(&bad), "{bad} should fail the schema");
    }
}

#[tokio::test]
async fn username_answers_match_the_user_description() {
    let spec = parse_spec(USER_SPEC);
    assert_declared_on_both_hosts(&spec, USERNAME);
    let validator = response_validator(&spec, USERNAME, "200");
    let described = &resolve(
        &spec,
        &operation(&spec, USERNAME, "GET").unwrap()["responses"]["200"],
    )["content"]["application/json"]["schema"]["properties"];
    let mut described: Vec<&String> = described.as_object().unwrap().keys().collect();
    described.sort();

    let sim = start().await;
    for (base, on_behalf_of) in [
        (sim.global_url(), None),
        (sim.global_url(), Some("marketing-sub")),
        (sim.global_url(), Some("account-id 1234567")),
        (sim.eu_url(), Some("eu-sub")),
    ] {
        let (status, body) = get_at(base, USERNAME, Some(KEY), on_behalf_of).await;
        let what = format!("{on_behalf_of:?}");
        assert_eq!(status, 200, "{what}: {body}");
        assert_valid(&validator, &body, &what);
        // Exactly the described fields, no more.
        let mut sent: Vec<&String> = body.as_object().unwrap().keys().collect();
        sent.sort();
        assert_eq!(sent, described, "{what}");
    }
}

#[tokio::test]
async fn scopes_answers_match_the_scopes_description() {
    let spec = parse_spec(SCOPES_SPEC);
    assert_declared_on_both_hosts(&spec, SCOPES);
    let sim = start().await;
    let cases = [
        (Some(KEY), None, 200),
        (Some(KEY), Some("marketing-sub"), 200),
        (None, None, 401),
        (Some(BAD_KEY), None, 401),
        (Some(KEY), Some("nobody"), 404),
    ];
    for (key, on_behalf_of, expected) in cases {
        let (status, body) = get_at(sim.global_url(), SCOPES, key, on_behalf_of).await;
        let what = format!("key {} {on_behalf_of:?}", key.is_some());
        assert_eq!(status, expected, "{what}: {body}");
        let validator = response_validator(&spec, SCOPES, &status.to_string());
        assert_valid(&validator, &body, &what);
    }
    // The check can fail: a list with a repeated scope, or a bare list, is not the schema.
    let validator = response_validator(&spec, SCOPES, "200");
    for bad in [
        json!({"scopes": ["user.username.read", "user.username.read"]}),
        json!(["user.username.read"]),
        json!({"scopes": [1]}),
    ] {
        assert!(!validator.is_valid(&bad), "{bad} should fail the schema");
    }
}
