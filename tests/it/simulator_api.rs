//! The simulated SendGrid API over real loopback HTTP: settings, validation, auth, scopes,
//! on-behalf-of, regions, rate limits, drift and the request log.

use crate::support::sim::*;
use crate::support::{KEY, PATH, assert_no_key, simulator};
use reqwest::Method;
use sendgrid_tls_operator::simulator::{Scope, SimConfig, SimKey, TlsSettings, TlsVersion};
use serde_json::json;

#[tokio::test]
async fn get_returns_sendgrid_defaults_with_version_as_a_number() {
    let sim = start().await;
    let response = Call::get(&sim).send().await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    assert_eq!(
        response.text().await.unwrap(),
        r#"{"require_tls":false,"require_valid_cert":false,"version":1.1}"#
    );
}

#[tokio::test]
async fn partial_patch_keeps_other_fields_and_returns_the_new_settings() {
    let sim = start().await;
    let (status, body) = Call::patch(&sim, r#"{"require_tls":true,"version":1.2}"#)
        .json()
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"require_tls": true, "require_valid_cert": false, "version": 1.2})
    );
    let (_, body) = Call::patch(&sim, r#"{"require_valid_cert":true}"#)
        .json()
        .await;
    assert_eq!(
        body,
        json!({"require_tls": true, "require_valid_cert": true, "version": 1.2})
    );
    let response = Call::get(&sim).send().await;
    assert_eq!(
        response.text().await.unwrap(),
        r#"{"require_tls":true,"require_valid_cert":true,"version":1.2}"#
    );
    assert_eq!(
        sim.settings("main", None),
        TlsSettings {
            require_tls: Some(true),
            require_valid_cert: Some(true),
            minimum_tls_version: Some(TlsVersion::V1_2),
        }
    );
}

#[tokio::test]
async fn an_explicit_false_is_applied() {
    let sim = start().await;
    Call::patch(&sim, r#"{"require_tls":true,"require_valid_cert":true}"#)
        .json()
        .await;
    let (status, body) = Call::patch(&sim, r#"{"require_tls":false}"#).json().await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"require_tls": false, "require_valid_cert": true, "version": 1.1})
    );
}

#[tokio::test]
async fn invalid_versions_and_types_get_400_naming_the_field() {
    let sim = start().await;
    for (body, field) in [
        (r#"{"version":1.0}"#, "version"),
        (r#"{"version":"1.2"}"#, "version"),
        (r#"{"version":1.2000000476837158}"#, "version"),
        (r#"{"require_tls":"yes"}"#, "require_tls"),
        (r#"{"require_valid_cert":1}"#, "require_valid_cert"),
    ] {
        let (status, response) = Call::patch(&sim, body).json().await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(response["errors"][0]["field"], field, "{body}: {response}");
        assert!(
            response["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains(field),
            "{response}"
        );
    }
    let (status, response) = Call::patch(&sim, "{not json").json().await;
    assert_eq!(status, 400);
    assert_eq!(response["errors"][0]["field"], serde_json::Value::Null);
    // Nothing was changed by the rejected bodies.
    assert_eq!(sim.settings("main", None), TlsSettings::SENDGRID_DEFAULTS);
}

#[tokio::test]
async fn unknown_fields_are_ignored() {
    let sim = start().await;
    let (status, body) = Call::patch(&sim, r#"{"require_tls":true,"colour":"blue"}"#)
        .json()
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["require_tls"], true);
}

#[tokio::test]
async fn missing_and_bad_keys_get_401() {
    let sim = start().await;
    let (status, body) = Call::get(&sim).key(None).json().await;
    assert_eq!((status, body), (401, error_body("authorization required")));
    let (status, body) = Call::get(&sim).key(Some("SG.wrong.key")).json().await;
    assert_eq!(status, 401);
    assert_eq!(
        body,
        json!({"errors": [{
            "field": null,
            "message": "The provided authorization grant is invalid, expired, or revoked",
            "help": null
        }]})
    );
}

#[tokio::test]
async fn a_read_only_key_cannot_patch() {
    let sim = start().await;
    sim.add_key(SimKey {
        key: "SG.read-only.key".into(),
        account: "main".into(),
        scopes: vec![Scope::Read],
    });
    let (status, _) = Call::get(&sim).key(Some("SG.read-only.key")).json().await;
    assert_eq!(status, 200);
    let (status, body) = Call::patch(&sim, r#"{"require_tls":true}"#)
        .key(Some("SG.read-only.key"))
        .json()
        .await;
    assert_eq!((status, body), (403, error_body("access forbidden")));
    assert_eq!(sim.settings("main", None), TlsSettings::SENDGRID_DEFAULTS);
}

#[tokio::test]
async fn revoked_and_rotated_keys() {
    let sim = start().await;
    sim.remove_key(KEY);
    assert_eq!(Call::get(&sim).json().await.0, 401);
    sim.add_key(SimKey {
        key: "SG.rotated.key".into(),
        account: "main".into(),
        scopes: vec![Scope::Read, Scope::Update],
    });
    assert_eq!(
        Call::get(&sim).key(Some("SG.rotated.key")).json().await.0,
        200
    );
}

#[tokio::test]
async fn on_behalf_of_reaches_subusers_and_customer_accounts() {
    let sim = start().await;
    let (status, body) = Call::patch(&sim, r#"{"version":1.3}"#)
        .on_behalf_of("marketing-sub")
        .json()
        .await;
    assert_eq!((status, body["version"].clone()), (200, json!(1.3)));
    let (status, _) = Call::patch(&sim, r#"{"require_tls":true}"#)
        .on_behalf_of("account-id 1234567")
        .json()
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        sim.settings("main", Some("marketing-sub"))
            .minimum_tls_version,
        Some(TlsVersion::V1_3)
    );
    assert_eq!(
        sim.settings("main", Some("account-id 1234567")).require_tls,
        Some(true)
    );
    // The parent is untouched.
    assert_eq!(sim.settings("main", None), TlsSettings::SENDGRID_DEFAULTS);
    for unknown in ["nobody", "account-id 999"] {
        let (status, body) = Call::get(&sim).on_behalf_of(unknown).json().await;
        assert_eq!(
            (status, body),
            (404, error_body("resource not found")),
            "{unknown}"
        );
    }
}

#[tokio::test]
async fn header_names_are_case_insensitive() {
    let sim = start().await;
    let response = client()
        .get(endpoint(&sim.global_url()))
        .header("AUTHORIZATION", format!("Bearer {KEY}"))
        .header("On-Behalf-Of", "account-id 1234567")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("X-RateLimit-Limit"));
    assert_eq!(
        sim.requests()[0].on_behalf_of.as_deref(),
        Some("account-id 1234567")
    );
}

#[tokio::test]
async fn eu_subusers_must_use_the_eu_host() {
    let sim = start().await;
    assert_eq!(sim.eu_url().as_str(), format!("http://{}/eu", sim.addr()));
    let (status, body) = Call::get(&sim).on_behalf_of("eu-sub").json().await;
    assert_eq!(
        (status, body),
        (
            451,
            error_body("Unavailable due to data residency restrictions")
        )
    );
    let (status, body) = Call::patch(&sim, r#"{"require_tls":true}"#)
        .on_behalf_of("eu-sub")
        .eu(&sim)
        .json()
        .await;
    assert_eq!((status, body["require_tls"].clone()), (200, json!(true)));
    // And global accounts do not answer on the EU host.
    let (status, _) = Call::get(&sim)
        .on_behalf_of("marketing-sub")
        .eu(&sim)
        .json()
        .await;
    assert_eq!(status, 451);
}

#[tokio::test]
async fn unknown_paths_get_404_and_other_methods_405() {
    let sim = start().await;
    let response = client()
        .get(format!("{}v3/user/settings/unknown", sim.global_url()))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let (status, body) = Call {
        method: Method::POST,
        ..Call::patch(&sim, "{}")
    }
    .json()
    .await;
    assert_eq!((status, body), (405, error_body("method not allowed")));
}

#[tokio::test]
async fn every_response_carries_rate_limit_headers_and_429_follows_the_limit() {
    const LIMIT: u32 = 3;
    let sim = simulator(SimConfig {
        rate_limit_per_minute: LIMIT,
        ..SimConfig::with_keys(&[KEY])
    })
    .await;
    // The window is a Unix minute; if one ends mid-sequence, the counts restart: try again
    // (it cannot happen twice within a second).
    for attempt in 0..2 {
        let mut resets = Vec::new();
        for i in 0..LIMIT {
            // Errors count and carry the headers too.
            let call = if i == 0 {
                Call::patch(&sim, r#"{"version":1.0}"#)
            } else {
                Call::get(&sim)
            };
            let response = call.send().await;
            assert!(response.status() == 200 || response.status() == 400);
            assert_eq!(
                header_number(&response, "x-ratelimit-limit"),
                u64::from(LIMIT)
            );
            let remaining = header_number(&response, "X-RateLimit-Remaining");
            resets.push(header_number(&response, "x-ratelimit-reset"));
            if resets[0] == resets[resets.len() - 1] {
                assert_eq!(remaining, u64::from(LIMIT - 1 - i));
            }
        }
        let refused = Call::get(&sim).send().await;
        resets.push(header_number(&refused, "x-ratelimit-reset"));
        if resets.iter().any(|reset| *reset != resets[0]) {
            assert_eq!(attempt, 0, "the window rolled over twice");
            continue;
        }
        assert_eq!(resets[0] % 60, 0, "a window ends on a minute");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(resets[0] > now - 1 && resets[0] <= now + 60);
        assert_eq!(refused.status(), 429);
        assert_eq!(header_number(&refused, "x-ratelimit-remaining"), 0);
        assert_eq!(
            refused.text().await.unwrap(),
            r#"{"errors":[{"field":null,"message":"too many requests"}]}"#
        );
        // Another key has its own window.
        sim.add_key(SimKey {
            key: "SG.second.key".into(),
            account: "main".into(),
            scopes: vec![Scope::Read],
        });
        assert_eq!(
            Call::get(&sim).key(Some("SG.second.key")).json().await.0,
            200
        );
        return;
    }
}

#[tokio::test]
async fn drift_from_the_ui_shows_in_the_next_get() {
    let sim = start().await;
    sim.set_from_ui(
        "main",
        Some("marketing-sub"),
        TlsSettings {
            require_valid_cert: Some(true),
            ..TlsSettings::default()
        },
    );
    let (_, body) = Call::get(&sim).on_behalf_of("marketing-sub").json().await;
    assert_eq!(
        body,
        json!({"require_tls": false, "require_valid_cert": true, "version": 1.1})
    );
    // Unknown accounts have no settings and cannot be changed.
    sim.set_from_ui("ghost", None, TlsSettings::SENDGRID_DEFAULTS);
    assert_eq!(sim.settings("ghost", None), TlsSettings::default());
}

#[tokio::test]
async fn the_request_log_has_fingerprints_and_never_the_key() {
    let sim = start().await;
    Call::get(&sim).send().await;
    Call::patch(&sim, r#"{"require_tls":true}"#)
        .on_behalf_of("eu-sub")
        .eu(&sim)
        .send()
        .await;
    Call::get(&sim).key(None).send().await;
    let log = sim.requests();
    assert_eq!(log.len(), 3);
    let fingerprint = crate::support::fingerprint(KEY);
    assert_eq!(log[0].method, "GET");
    assert_eq!(log[0].path, PATH);
    assert_eq!(log[0].status, 200);
    assert_eq!(
        log[0].key_fingerprint.as_deref(),
        Some(fingerprint.as_str())
    );
    assert_eq!(log[1].method, "PATCH");
    assert_eq!(log[1].path, format!("/eu{PATH}"));
    assert_eq!(log[1].region, sendgrid_tls_operator::api::Region::Eu);
    assert_eq!(log[1].on_behalf_of.as_deref(), Some("eu-sub"));
    assert_eq!(log[1].body, Some(json!({"require_tls": true})));
    assert_eq!((log[2].status, log[2].key_fingerprint.clone()), (401, None));
    assert!(log[0].at <= log[1].at && log[1].at <= log[2].at);
    assert_no_key(&serde_json::to_string(&log).unwrap());
    assert_no_key(&format!("{log:?}"));
    sim.clear_requests();
    assert!(sim.requests().is_empty());
}
