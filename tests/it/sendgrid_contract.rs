//! The client's real requests, captured on loopback, checked against SendGrid's own OpenAPI
//! description (tests/fixtures/openapi/tsg_enforced_tls_v3.yaml): declared paths, methods and
//! header parameters, PATCH bodies valid against the request schema, Bearer auth, the servers;
//! and the client decodes every example the description gives; likewise its list of a key's
//! scopes (tsg_scopes_v3.yaml). The simulator's answers to the
//! identity and scope endpoints are checked against their descriptions in `simulator`.

mod simulator;

use crate::support::client::{account, subuser};
use crate::support::scripted::{Reply, ScriptedServer};
use crate::support::{KEY, PATH};
use sendgrid_tls_operator::api::Reason;
use sendgrid_tls_operator::api::{Region, TlsSettings, TlsVersion};
use sendgrid_tls_operator::sendgrid::{Endpoints, OnBehalfOf};
use serde_json::{Value, json};

const SPEC: &str = include_str!("../fixtures/openapi/tsg_enforced_tls_v3.yaml");
const SCOPES_SPEC: &str = include_str!("../fixtures/openapi/tsg_scopes_v3.yaml");

fn spec() -> Value {
    parse_spec(SPEC)
}

fn parse_spec(text: &str) -> Value {
    serde_saphyr::from_str(text).expect("the OpenAPI file is valid YAML")
}

/// Follows a local `$ref` ("#/components/...") until the value is not a reference.
fn resolve<'a>(spec: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let pointer = reference.strip_prefix('#').expect("only local references");
            resolve(spec, spec.pointer(pointer).expect("the reference resolves"))
        }
        None => value,
    }
}

fn operation<'a>(spec: &'a Value, path: &str, method: &str) -> Option<&'a Value> {
    spec["paths"].get(path)?.get(method.to_ascii_lowercase())
}

/// The `in: header` parameters an operation declares, by lower-cased name.
fn header_parameters<'a>(spec: &'a Value, op: &'a Value) -> Vec<(String, &'a Value)> {
    op["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| resolve(spec, p))
        .filter(|p| p["in"] == "header")
        .map(|p| (p["name"].as_str().unwrap().to_ascii_lowercase(), p))
        .collect()
}

/// A validator for the PATCH request body schema.
fn request_body_validator(spec: &Value) -> jsonschema::Validator {
    let op = operation(spec, PATH, "PATCH").unwrap();
    let body = resolve(spec, &op["requestBody"]);
    schema_validator(spec, &body["content"]["application/json"]["schema"])
}

/// A validator for one of the spec's schemas. The schema is wrapped in a document that carries
/// the spec's `components`, so its `$ref`s resolve inside it (and never over a network).
fn schema_validator(spec: &Value, schema: &Value) -> jsonschema::Validator {
    let mut document = json!({ "components": spec["components"].clone() });
    document
        .as_object_mut()
        .unwrap()
        .extend(schema.as_object().unwrap().clone());
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&document)
        .expect("the schema compiles")
}

/// Every non-empty change set: each field unset or set to each of its values.
fn all_change_sets() -> Vec<TlsSettings> {
    let bools = [None, Some(false), Some(true)];
    let versions = [
        None,
        Some(TlsVersion::V1_1),
        Some(TlsVersion::V1_2),
        Some(TlsVersion::V1_3),
    ];
    let mut sets = Vec::new();
    for require_tls in bools {
        for require_valid_cert in bools {
            for minimum_tls_version in versions {
                let set = TlsSettings {
                    require_tls,
                    require_valid_cert,
                    minimum_tls_version,
                };
                if !set.is_empty() {
                    sets.push(set);
                }
            }
        }
    }
    sets
}

#[tokio::test]
async fn requests_use_declared_operations_headers_and_bearer_auth() {
    let spec = spec();
    let server = ScriptedServer::start(vec![]).await;
    let client = server.client();
    let customer = Some(OnBehalfOf::AccountId("1234567".into()));
    let change = TlsSettings {
        require_tls: Some(true),
        ..TlsSettings::default()
    };
    for on_behalf_of in [None, subuser("marketing-sub"), customer] {
        let global = account(KEY, Region::Global, on_behalf_of.clone());
        client.get(&global).await.unwrap();
        client.patch(&global, &change).await.unwrap();
        let eu = account(KEY, Region::Eu, on_behalf_of);
        client.get(&eu).await.unwrap();
    }

    let requests = server.requests();
    assert_eq!(requests.len(), 9);
    for request in requests {
        let path = request.path.strip_prefix("/eu").unwrap_or(&request.path);
        assert!(
            !path.contains('?'),
            "no query parameters are declared: {path}"
        );
        let op = operation(&spec, path, &request.method)
            .unwrap_or_else(|| panic!("{} {path} is not in the spec", request.method));
        let declared = header_parameters(&spec, op);
        if let Some(value) = request.header("on-behalf-of") {
            let (_, parameter) = declared
                .iter()
                .find(|(name, _)| name == "on-behalf-of")
                .expect("on-behalf-of is a declared header parameter");
            assert_eq!(parameter["schema"]["type"], "string");
            assert!(
                value == "marketing-sub" || value == "account-id 1234567",
                "{value}"
            );
        }
        for (name, parameter) in &declared {
            if parameter["required"] == true {
                assert!(request.header(name).is_some(), "required header {name}");
            }
        }

        // Security: the operation (or the document) requires BearerAuth, an http bearer scheme.
        let security = op.get("security").unwrap_or(&spec["security"]);
        let schemes: Vec<&str> = security
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|requirement| requirement.as_object().unwrap().keys())
            .map(String::as_str)
            .collect();
        assert_eq!(schemes, vec!["BearerAuth"]);
        let scheme = &spec["components"]["securitySchemes"]["BearerAuth"];
        assert_eq!(
            (scheme["type"].as_str(), scheme["scheme"].as_str()),
            (Some("http"), Some("bearer"))
        );
        let authorization = request
            .header("authorization")
            .expect("Authorization is sent");
        let (kind, token) = authorization.split_once(' ').unwrap();
        assert!(kind.eq_ignore_ascii_case("bearer"), "{authorization}");
        assert_eq!(token, KEY);
    }
}

#[tokio::test]
async fn every_patch_body_validates_against_the_request_schema() {
    let spec = spec();
    let validator = request_body_validator(&spec);
    let op = operation(&spec, PATH, "PATCH").unwrap();
    let media_types: Vec<&String> = resolve(&spec, &op["requestBody"])["content"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    let server = ScriptedServer::start(vec![]).await;
    let client = server.client();
    let changes = all_change_sets();
    assert_eq!(changes.len(), 3 * 3 * 4 - 1);
    for change in &changes {
        client
            .patch(&account(KEY, Region::Global, None), change)
            .await
            .unwrap();
    }

    let requests = server.requests();
    assert_eq!(requests.len(), changes.len());
    for (request, change) in requests.iter().zip(&changes) {
        let content_type = request.header("content-type").unwrap();
        assert!(
            media_types.iter().any(|m| *m == content_type),
            "{content_type}"
        );
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&body)
            .map(|e| e.to_string())
            .collect();
        assert!(
            errors.is_empty(),
            "{} fails the schema: {errors:?}",
            request.body_text()
        );
        // Exactly the set fields are present.
        let sent = body.as_object().unwrap();
        assert_eq!(
            sent.contains_key("require_tls"),
            change.require_tls.is_some()
        );
        assert_eq!(
            sent.contains_key("require_valid_cert"),
            change.require_valid_cert.is_some()
        );
        assert_eq!(
            sent.contains_key("version"),
            change.minimum_tls_version.is_some()
        );
    }
}

#[test]
fn the_request_schema_check_rejects_what_sendgrid_would() {
    let validator = request_body_validator(&spec());
    assert!(validator.is_valid(&json!({"require_tls": false, "version": 1.2})));
    for bad in [
        json!({"version": 1.100000023841858}),
        json!({"version": "1.1"}),
        json!({"version": 1.0}),
        json!({"require_tls": "false"}),
        json!({"require_valid_cert": null}),
        json!([true]),
    ] {
        assert!(!validator.is_valid(&bad), "{bad} should fail the schema");
    }
}

#[test]
fn the_spec_servers_are_the_default_endpoints() {
    let spec = spec();
    let servers: Vec<url::Url> = spec["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| url::Url::parse(s["url"].as_str().unwrap()).unwrap())
        .collect();
    let defaults = Endpoints::default();
    assert_eq!(servers, vec![defaults.global, defaults.eu]);
    let eu_description = spec["servers"][1]["description"].as_str().unwrap();
    assert!(eu_description.contains("EU"), "{eu_description}");
}

/// What the client should make of a settings example: each field as given, absent = None.
fn expected_settings(example: &Value) -> TlsSettings {
    TlsSettings {
        require_tls: example.get("require_tls").and_then(Value::as_bool),
        require_valid_cert: example.get("require_valid_cert").and_then(Value::as_bool),
        minimum_tls_version: example
            .get("version")
            .and_then(Value::as_f64)
            .map(|v| TlsVersion::from_number(v).expect("an enum version")),
    }
}

#[tokio::test]
async fn the_client_decodes_every_success_example() {
    let spec = spec();
    let schema_example = &spec["components"]["schemas"]["EnforcedTlsRequestResponse"]["example"];
    let mut examples = vec![schema_example.clone()];
    for method in ["GET", "PATCH"] {
        let ok = &operation(&spec, PATH, method).unwrap()["responses"]["200"];
        let media = &resolve(&spec, ok)["content"]["application/json"];
        for example in media["examples"].as_object().unwrap().values() {
            examples.push(resolve(&spec, example)["value"].clone());
        }
    }
    assert_eq!(examples.len(), 3);
    let change = TlsSettings {
        require_tls: Some(true),
        ..TlsSettings::default()
    };
    for example in examples {
        let text = example.to_string();
        let server =
            ScriptedServer::start(vec![Reply::json(200, &text), Reply::json(200, &text)]).await;
        let client = server.client();
        let global = account(KEY, Region::Global, None);
        assert_eq!(
            client.get(&global).await.unwrap(),
            expected_settings(&example),
            "{text}"
        );
        assert_eq!(
            client.patch(&global, &change).await.unwrap(),
            expected_settings(&example),
            "{text}"
        );
    }
}

#[tokio::test]
async fn every_declared_error_response_maps_to_its_class() {
    let spec = spec();
    let error_example = &spec["components"]["schemas"]["ErrorResponse"]["example"];
    let mut checked = 0;
    for method in ["GET", "PATCH"] {
        let responses = operation(&spec, PATH, method).unwrap()["responses"]
            .as_object()
            .unwrap();
        for (status, response) in responses.iter().filter(|(status, _)| *status != "200") {
            let status: u16 = status.parse().unwrap();
            let schema = resolve(
                &spec,
                &resolve(&spec, response)["content"]["application/json"]["schema"],
            );
            // The 500 schema has no example; its shape is errors[].message only.
            let body = match schema.get("properties").and_then(|p| p.get("id")) {
                Some(_) => error_example.clone(),
                None => json!({"errors": [{"message": "error message"}]}),
            };
            let server = ScriptedServer::start(vec![Reply::json(status, &body.to_string())]).await;
            let global = account(KEY, Region::Global, None);
            let error = server.client().get(&global).await.unwrap_err();
            let expected = match status {
                401 => Reason::Unauthorized,
                403 => Reason::Forbidden,
                404 => Reason::NotFound,
                500 => Reason::ApiUnavailable,
                other => panic!("the spec declares {other}: decide its class"),
            };
            assert_eq!(error.reason(), expected, "{method} {status}");
            let message = error.to_string();
            assert!(message.starts_with(&format!("{status} ")), "{message}");
            assert!(message.ends_with("error message"), "{message}");
            checked += 1;
        }
    }
    assert_eq!(checked, 8, "4 error responses for each of GET and PATCH");
}

/// `GET /v3/scopes` as the client sends it is the declared operation, with the declared
/// on-behalf-of header; its 200 example decodes, and each declared error maps to its class.
#[tokio::test]
async fn the_scopes_request_is_declared_and_every_answer_decodes() {
    let spec = parse_spec(SCOPES_SPEC);
    let op = operation(&spec, "/v3/scopes", "GET").expect("GET /v3/scopes is declared");
    let mut replies = Vec::new();
    let ok = &resolve(&spec, &op["responses"]["200"])["content"]["application/json"];
    let example = ok["examples"]["response"]["value"].clone();
    replies.push((200, example.clone()));
    for (status, response) in op["responses"].as_object().unwrap() {
        if status == "200" {
            continue;
        }
        let media = &resolve(&spec, response)["content"]["application/json"];
        let body = media["examples"]
            .as_object()
            .unwrap()
            .values()
            .next()
            .unwrap();
        replies.push((status.parse::<u16>().unwrap(), body["value"].clone()));
    }
    assert_eq!(replies.len(), 5, "200, 401, 403, 404 and 500 are declared");
    let server = ScriptedServer::start(
        replies
            .iter()
            .map(|(status, body)| Reply::json(*status, &body.to_string()))
            .collect(),
    )
    .await;
    let client = server.client();
    let customer = account(KEY, Region::Global, subuser("marketing-sub"));
    let listed = client.scopes(&customer).await.unwrap();
    assert_eq!(listed, ["mail.send", "alerts.create", "alerts.read"]);
    for (status, body) in &replies[1..] {
        let error = client.scopes(&customer).await.unwrap_err();
        let expected = match status {
            401 => Reason::Unauthorized,
            403 => Reason::Forbidden,
            404 => Reason::NotFound,
            500 => Reason::ApiUnavailable,
            other => panic!("the spec declares {other}: decide its class"),
        };
        assert_eq!(error.reason(), expected, "{status} {body}");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(error.to_string().contains(message), "{error}");
    }
    let declared = header_parameters(&spec, op);
    for request in server.requests() {
        assert_eq!(
            (request.method.as_str(), request.path.as_str()),
            ("GET", "/v3/scopes")
        );
        assert_eq!(request.header("on-behalf-of"), Some("marketing-sub"));
        assert!(declared.iter().any(|(name, _)| name == "on-behalf-of"));
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {KEY}").as_str())
        );
    }
}
