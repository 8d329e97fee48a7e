//! The `/_sim/...` control endpoints, as an out-of-process test or a person with curl uses them.

use crate::simulator_api::{USERNAME, get_at};
use crate::support::sim::*;
use crate::support::{KEY, KEY2, PATH, assert_no_key, simulator};
use futures::{StreamExt, stream};
use reqwest::{Method, Response};
use sendgrid_tls_operator::api::{TlsSettings, TlsVersion};
use sendgrid_tls_operator::simulator::{SimConfig, SimulatorHandle};
use serde_json::{Value, json};
use std::time::Duration;

async fn admin(sim: &SimulatorHandle, method: Method, path: &str, body: Option<Value>) -> Response {
    let mut request = client().request(method, format!("{}_sim/{path}", sim.global_url()));
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn settings_can_be_read_and_changed_from_the_ui() {
    let sim = start().await;
    let response = admin(
        &sim,
        Method::PUT,
        "settings?account=main&on_behalf_of=marketing-sub",
        Some(json!({"requireTls": true, "minimumTlsVersion": "1.3"})),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"requireTls": true, "requireValidCert": false, "minimumTlsVersion": "1.3"})
    );
    assert_eq!(
        sim.settings("main", Some("marketing-sub")),
        TlsSettings {
            require_tls: Some(true),
            require_valid_cert: Some(false),
            minimum_tls_version: Some(TlsVersion::V1_3),
        }
    );
    // The API sees the drift.
    let (_, body) = Call::get(&sim).on_behalf_of("marketing-sub").json().await;
    assert_eq!(body["version"], json!(1.3));

    let response = admin(&sim, Method::GET, "settings?account=main", None).await;
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"requireTls": false, "requireValidCert": false, "minimumTlsVersion": "1.1"})
    );
    let response = admin(
        &sim,
        Method::GET,
        "settings?account=main&on_behalf_of=account-id%201234567",
        None,
    )
    .await;
    assert_eq!(response.status(), 200);
    for path in [
        "settings?account=ghost",
        "settings?account=main&on_behalf_of=ghost",
    ] {
        let response = admin(&sim, Method::GET, path, None).await;
        assert_eq!(response.status(), 404, "{path}");
    }
    let response = admin(
        &sim,
        Method::PUT,
        "settings?account=main",
        Some(json!({"minimumTlsVersion": "1.0"})),
    )
    .await;
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn faults_can_be_injected_and_cleared() {
    let sim = start().await;
    let response = admin(
        &sim,
        Method::POST,
        "faults",
        Some(json!({"kind": "server_errors", "count": 1, "status": 502})),
    )
    .await;
    assert_eq!(response.status(), 204);
    assert_eq!(Call::get(&sim).json().await.0, 502);
    assert_eq!(Call::get(&sim).json().await.0, 200);

    admin(
        &sim,
        Method::POST,
        "faults",
        Some(json!({"kind": "rate_limit_burst", "count": 5, "reset_after_ms": 1000})),
    )
    .await;
    assert_eq!(Call::get(&sim).json().await.0, 429);
    let response = admin(&sim, Method::DELETE, "faults", None).await;
    assert_eq!(response.status(), 204);
    assert_eq!(Call::get(&sim).json().await.0, 200);

    admin(
        &sim,
        Method::POST,
        "faults",
        Some(json!({"kind": "latency", "ms": 200})),
    )
    .await;
    let started = std::time::Instant::now();
    Call::get(&sim).send().await;
    assert!(started.elapsed() >= Duration::from_millis(200));
    sim.clear_faults();

    admin(
        &sim,
        Method::POST,
        "faults",
        Some(json!({"kind": "drop_connections", "count": 1})),
    )
    .await;
    assert!(Call::get(&sim).try_send().await.is_err());

    for bad in [
        json!({"kind": "server_errors", "count": 1, "status": 200}),
        json!({"kind": "volcano"}),
        json!({"kind": "latency"}),
    ] {
        let response = admin(&sim, Method::POST, "faults", Some(bad.clone())).await;
        assert_eq!(response.status(), 400, "{bad}");
        let body = response.json::<Value>().await.unwrap();
        assert!(body["errors"][0]["message"].is_string(), "{body}");
    }
}

#[tokio::test]
async fn keys_can_be_added_and_removed() {
    let sim = start().await;
    let response = admin(
        &sim,
        Method::POST,
        "keys",
        Some(json!({"key": "SG.admin-added.key", "scopes": ["read"]})),
    )
    .await;
    assert_eq!(response.status(), 204);
    assert_eq!(
        Call::get(&sim)
            .key(Some("SG.admin-added.key"))
            .json()
            .await
            .0,
        200
    );
    assert_eq!(
        Call::patch(&sim, "{}")
            .key(Some("SG.admin-added.key"))
            .json()
            .await
            .0,
        403
    );

    let response = admin(&sim, Method::DELETE, "keys/SG.admin-added.key", None).await;
    assert_eq!(response.status(), 204);
    assert_eq!(
        Call::get(&sim)
            .key(Some("SG.admin-added.key"))
            .json()
            .await
            .0,
        401
    );
    let response = admin(&sim, Method::DELETE, "keys/SG.admin-added.key", None).await;
    assert_eq!(response.status(), 404);

    let response = admin(
        &sim,
        Method::POST,
        "keys",
        Some(json!({"key": "SG.bad-scope.key", "scopes": ["SG.bad-scope.key"]})),
    )
    .await;
    assert_eq!(response.status(), 400);
    let text = response.text().await.unwrap();
    assert!(!text.contains("SG.bad-scope.key"), "{text}");
}

#[tokio::test]
async fn the_request_log_is_served_as_json_and_can_be_cleared() {
    let sim = start().await;
    Call::patch(&sim, r#"{"require_tls":true}"#)
        .on_behalf_of("marketing-sub")
        .send()
        .await;
    let response = admin(&sim, Method::GET, "requests", None).await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert_no_key(&text);
    let log: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        log.as_array().unwrap().len(),
        1,
        "admin calls are not logged: {log}"
    );
    let entry = &log[0];
    assert_eq!(entry["method"], "PATCH");
    assert_eq!(entry["region"], "global");
    assert_eq!(entry["path"], PATH);
    assert_eq!(entry["on_behalf_of"], "marketing-sub");
    assert_eq!(entry["body"], json!({"require_tls": true}));
    assert_eq!(entry["status"], 200);
    assert!(
        entry["key_fingerprint"]
            .as_str()
            .unwrap()
            .starts_with("key-")
    );
    let at = entry["at"].as_str().unwrap();
    assert!(at.parse::<k8s_openapi::jiff::Timestamp>().is_ok(), "{at}");

    let response = admin(&sim, Method::DELETE, "requests", None).await;
    assert_eq!(response.status(), 204);
    assert!(sim.requests().is_empty());
}

#[tokio::test]
async fn fleets_can_be_added_by_pattern() {
    let sim = start().await;
    assert_eq!(Call::get(&sim).on_behalf_of("team-42").json().await.0, 404);
    let response = admin(
        &sim,
        Method::POST,
        "accounts",
        Some(json!({"account": "main", "subusers": ["team-{0..99}"],
                    "eu_subusers": ["eu-team-{0..1}"], "customer_accounts": ["{7000..7009}"]})),
    )
    .await;
    assert_eq!(response.status(), 204);
    for (call, status) in [
        (Call::get(&sim).on_behalf_of("team-42"), 200),
        (Call::get(&sim).on_behalf_of("team-99"), 200),
        (Call::get(&sim).on_behalf_of("team-100"), 404),
        (Call::get(&sim).on_behalf_of("eu-team-1").eu(&sim), 200),
        (Call::get(&sim).on_behalf_of("eu-team-1"), 451),
        (Call::get(&sim).on_behalf_of("account-id 7009"), 200),
    ] {
        assert_eq!(call.json().await.0, status);
    }
    for bad in [
        json!({"account": "main", "subusers": ["team-{9..0}"]}),
        json!({"subusers": ["a"]}),
        json!({"account": "main", "subuser": ["a"]}),
    ] {
        let response = admin(&sim, Method::POST, "accounts", Some(bad.clone())).await;
        assert_eq!(response.status(), 400, "{bad}");
    }
}

#[tokio::test]
async fn counts_stay_exact_past_the_log_and_clear_with_it() {
    let sim = simulator(SimConfig {
        rate_limit_per_minute: 100_000,
        ..SimConfig::with_keys(&[KEY])
    })
    .await;
    let calls = 10_050;
    let client = client();
    let url = endpoint(&sim.global_url());
    let requests = (0..calls).map(|i| {
        let request = client.get(&url).bearer_auth(KEY).header(
            "on-behalf-of",
            if i % 2 == 0 { "marketing-sub" } else { "ghost" },
        );
        async move { request.send().await.unwrap().status() }
    });
    let _: Vec<_> = stream::iter(requests).buffer_unordered(16).collect().await;
    assert_eq!(
        sim.requests().len(),
        10_000,
        "the log keeps the latest 10,000"
    );
    let response = admin(&sim, Method::GET, "counts", None).await;
    let text = response.text().await.unwrap();
    assert_no_key(&text);
    let counts: Value = serde_json::from_str(&text).unwrap();
    let of = |on_behalf_of: &str, status: u64| {
        counts
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["on_behalf_of"] == on_behalf_of && c["status"] == status)
            .map(|c| c["count"].as_u64().unwrap())
    };
    assert_eq!(of("marketing-sub", 200), Some(calls / 2));
    assert_eq!(of("ghost", 404), Some(calls / 2));
    assert_eq!(counts[0]["method"], "GET");
    assert!(
        counts[0]["key_fingerprint"]
            .as_str()
            .unwrap()
            .starts_with("key-")
    );
    admin(&sim, Method::DELETE, "requests", None).await;
    assert!(sim.counts().is_empty());
}

#[tokio::test]
async fn unknown_admin_paths_get_404() {
    let sim = start().await;
    let response = admin(&sim, Method::GET, "nothing", None).await;
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        error_body("resource not found")
    );
}

#[tokio::test]
async fn user_ids_can_be_read_and_a_second_key_is_a_rotation() {
    let sim = start().await;
    for (query, on_behalf_of, username, region) in [
        ("", None, "main", "global"),
        (
            "&on_behalf_of=marketing-sub",
            Some("marketing-sub"),
            "marketing-sub",
            "global",
        ),
        ("&on_behalf_of=eu-sub", Some("eu-sub"), "eu-sub", "eu"),
        (
            "&on_behalf_of=account-id%201234567",
            Some("account-id 1234567"),
            "customer-1234567",
            "global",
        ),
    ] {
        let response = admin(
            &sim,
            Method::GET,
            &format!("user?account=main{query}"),
            None,
        )
        .await;
        assert_eq!(response.status(), 200, "{query}");
        let user_id = sim.user("main", on_behalf_of).unwrap().user_id;
        assert_eq!(
            response.json::<Value>().await.unwrap(),
            json!({"username": username, "user_id": user_id, "region": region}),
            "{query}"
        );
    }
    for query in ["account=ghost", "account=main&on_behalf_of=ghost"] {
        let response = admin(&sim, Method::GET, &format!("user?{query}"), None).await;
        assert_eq!(response.status(), 404, "{query}");
    }

    // A second key of account main, as a rotation adds it, reaches the same ids.
    let response = admin(
        &sim,
        Method::POST,
        "keys",
        Some(json!({"key": KEY2, "account": "main"})),
    )
    .await;
    assert_eq!(response.status(), 204);
    for on_behalf_of in [None, Some("marketing-sub")] {
        let first = get_at(sim.global_url(), USERNAME, Some(KEY), on_behalf_of).await;
        let second = get_at(sim.global_url(), USERNAME, Some(KEY2), on_behalf_of).await;
        assert_eq!(first.0, 200);
        assert_eq!(first, second, "{on_behalf_of:?}");
    }
    // And one without the identity scope is refused there.
    admin(
        &sim,
        Method::POST,
        "keys",
        Some(json!({"key": KEY2, "account": "main", "scopes": ["read", "update"]})),
    )
    .await;
    let (status, _) = get_at(sim.global_url(), USERNAME, Some(KEY2), None).await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn unknown_query_parameters_get_400_naming_them() {
    let sim = start().await;
    Call::get(&sim).send().await;
    let every_endpoint = [
        (Method::GET, "requests?"),
        (Method::DELETE, "requests?"),
        (Method::GET, "counts?"),
        (Method::POST, "accounts?"),
        (Method::GET, "settings?account=main&"),
        (Method::PUT, "settings?account=main&"),
        (Method::GET, "user?account=main&"),
        (Method::POST, "faults?"),
        (Method::DELETE, "faults?"),
        (Method::POST, "keys?"),
        (Method::DELETE, "keys/SG.unknown.key?"),
    ];
    for (method, path) in every_endpoint {
        let response = admin(&sim, method.clone(), &format!("{path}colour=blue"), None).await;
        assert_eq!(response.status(), 400, "{method} {path}");
        let body = response.json::<Value>().await.unwrap();
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(
            message.contains(r#"unknown query parameter "colour""#),
            "{method} {path}: {message}"
        );
    }
    // Nothing was done: the log is still there.
    assert_eq!(sim.requests().len(), 1);

    // A typo of a parameter an endpoint takes is named with the right spelling.
    let response = admin(
        &sim,
        Method::GET,
        "settings?account=main&on-behalf-of=marketing-sub",
        None,
    )
    .await;
    assert_eq!(response.status(), 400);
    let message = response.json::<Value>().await.unwrap()["errors"][0]["message"].clone();
    assert_eq!(
        message,
        r#"unknown query parameter "on-behalf-of": /_sim/settings takes only account, on_behalf_of"#
    );
    let response = admin(&sim, Method::GET, "counts?limit=5", None).await;
    let message = response.json::<Value>().await.unwrap()["errors"][0]["message"].clone();
    assert_eq!(
        message,
        r#"unknown query parameter "limit": /_sim/counts takes no query parameters"#
    );
    // A missing one is named too.
    let response = admin(&sim, Method::GET, "user?on_behalf_of=eu-sub", None).await;
    assert_eq!(response.status(), 400);
    let text = response.text().await.unwrap();
    assert!(text.contains("account"), "{text}");
    // A key pasted as a parameter is not sent back.
    let response = admin(&sim, Method::GET, &format!("requests?{KEY}"), None).await;
    assert_eq!(response.status(), 400);
    assert_no_key(&response.text().await.unwrap());
}
