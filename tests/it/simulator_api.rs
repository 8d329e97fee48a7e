//! The simulated SendGrid API over real loopback HTTP: settings, validation, auth, scopes,
//! on-behalf-of, regions, rate limits, drift and the request log; the identity endpoint
//! (`/v3/user/username`) and the scope list (`/v3/scopes`).

use crate::support::sim::*;
use crate::support::{KEY, KEY2, PATH, assert_no_key, simulator};
use reqwest::Method;
use sendgrid_tls_operator::simulator::{
    Fault, Scope, SimAccount, SimConfig, SimKey, SimulatorHandle, TlsSettings, TlsVersion,
};
use serde_json::{Value, json};
use url::Url;

pub use crate::support::USERNAME_PATH as USERNAME;
pub const SCOPES: &str = "/v3/scopes";

/// Status and JSON body of a GET of `path` under `base` (`global_url()` or `eu_url()`), with
/// `key` as Bearer (if any) and an optional `on-behalf-of`.
pub async fn get_at(
    base: Url,
    path: &str,
    key: Option<&str>,
    on_behalf_of: Option<&str>,
) -> (u16, Value) {
    let mut request = client().get(format!("{}{path}", base.as_str().trim_end_matches('/')));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    if let Some(on_behalf_of) = on_behalf_of {
        request = request.header("on-behalf-of", on_behalf_of);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// `GET /v3/user/username` on the global host with `key`.
async fn username(sim: &SimulatorHandle, key: &str, on_behalf_of: Option<&str>) -> (u16, Value) {
    get_at(sim.global_url(), USERNAME, Some(key), on_behalf_of).await
}

/// A key of `account` with `scopes`.
fn key_of(key: &str, account: &str, scopes: &[Scope]) -> SimKey {
    SimKey {
        key: key.into(),
        account: account.into(),
        scopes: scopes.to_vec(),
    }
}

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

#[tokio::test]
async fn username_answers_for_each_account_with_an_id_of_its_own() {
    let sim = start().await;
    // A second parent with a subuser and a customer account of the same names as main's.
    sim.add_account(
        &SimAccount::fleet("second", &["marketing-sub"], &["eu-sub"], &["1234567"]).unwrap(),
    );
    sim.add_key(key_of("SG.second-account.key", "second", &Scope::ALL));
    let mut ids = Vec::new();
    for (key, account) in [(KEY, "main"), ("SG.second-account.key", "second")] {
        for (on_behalf_of, username) in [
            (None, account),
            (Some("marketing-sub"), "marketing-sub"),
            (Some("account-id 1234567"), "customer-1234567"),
            (Some("eu-sub"), "eu-sub"),
        ] {
            let base = match on_behalf_of {
                Some("eu-sub") => sim.eu_url(),
                _ => sim.global_url(),
            };
            let (status, body) = get_at(base, USERNAME, Some(key), on_behalf_of).await;
            assert_eq!(status, 200, "{account} {on_behalf_of:?}: {body}");
            let user = sim.user(account, on_behalf_of).unwrap();
            assert_eq!(
                body,
                json!({"username": username, "user_id": user.user_id}),
                "{account} {on_behalf_of:?}"
            );
            assert!(body["user_id"].is_u64(), "an integer: {body}");
            ids.push(user.user_id);
        }
    }
    let distinct: std::collections::BTreeSet<u64> = ids.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        ids.len(),
        "every account has its own id: {ids:?}"
    );
    assert_eq!(sim.user("main", Some("ghost")), None);
    assert_eq!(sim.user("ghost", None), None);
}

#[tokio::test]
async fn a_rotated_key_reaches_the_same_ids_and_another_accounts_key_does_not() {
    let sim = start().await;
    let mut before = Vec::new();
    for on_behalf_of in [None, Some("marketing-sub"), Some("account-id 1234567")] {
        before.push(username(&sim, KEY, on_behalf_of).await);
    }
    sim.add_key(key_of(KEY2, "main", &Scope::ALL));
    sim.remove_key(KEY);
    assert_eq!(username(&sim, KEY, None).await.0, 401);
    let mut after = Vec::new();
    for on_behalf_of in [None, Some("marketing-sub"), Some("account-id 1234567")] {
        after.push(username(&sim, KEY2, on_behalf_of).await);
    }
    assert_eq!(before, after);
    assert!(
        before.iter().all(|(status, _)| *status == 200),
        "{before:?}"
    );

    sim.add_key(key_of("SG.other-account.key", "other", &Scope::ALL));
    let (status, other) = username(&sim, "SG.other-account.key", None).await;
    assert_eq!(status, 200);
    assert_eq!(other["username"], "other");
    assert!(
        before
            .iter()
            .all(|(_, body)| body["user_id"] != other["user_id"]),
        "{other} is not one of {before:?}"
    );
}

#[tokio::test]
async fn a_key_without_user_username_read_gets_403_and_scopes_say_why() {
    let sim = start().await;
    sim.add_key(key_of(
        "SG.tls-only.key",
        "main",
        &[Scope::Read, Scope::Update],
    ));
    for on_behalf_of in [None, Some("marketing-sub")] {
        let (status, body) = username(&sim, "SG.tls-only.key", on_behalf_of).await;
        assert_eq!((status, body), (403, error_body("access forbidden")));
    }
    // The key still reads and writes Enforced TLS.
    let (status, _) = Call::patch(&sim, r#"{"require_tls":true}"#)
        .key(Some("SG.tls-only.key"))
        .json()
        .await;
    assert_eq!(status, 200);

    let scopes = |key| get_at(sim.global_url(), SCOPES, Some(key), None);
    assert_eq!(
        scopes("SG.tls-only.key").await,
        (
            200,
            json!({"scopes": ["user.settings.enforced_tls.read", "user.settings.enforced_tls.update"]})
        )
    );
    assert_eq!(
        scopes(KEY).await,
        (
            200,
            json!({"scopes": [
                "user.settings.enforced_tls.read",
                "user.settings.enforced_tls.update",
                "user.username.read"
            ]})
        ),
        "default keys have user.username.read"
    );
    sim.add_key(key_of(
        "SG.username-only.key",
        "main",
        &[Scope::UsernameRead],
    ));
    assert_eq!(username(&sim, "SG.username-only.key", None).await.0, 200);
    assert_eq!(
        scopes("SG.username-only.key").await.1,
        json!({"scopes": ["user.username.read"]})
    );
    let (status, body) = get_at(sim.global_url(), SCOPES, None, None).await;
    assert_eq!((status, body), (401, error_body("authorization required")));
}

#[tokio::test]
async fn username_follows_the_region_rule() {
    let sim = start().await;
    let on = |base: Url, on_behalf_of: Option<&'static str>| async move {
        get_at(base, USERNAME, Some(KEY), on_behalf_of).await.0
    };
    let residency = error_body("Unavailable due to data residency restrictions");
    let (status, body) = username(&sim, KEY, Some("eu-sub")).await;
    assert_eq!((status, body), (451, residency));
    assert_eq!(on(sim.eu_url(), Some("eu-sub")).await, 200);
    assert_eq!(on(sim.eu_url(), Some("eu-marketing-sub")).await, 200);
    // Global accounts do not answer on the EU host.
    assert_eq!(on(sim.eu_url(), Some("marketing-sub")).await, 451);
    assert_eq!(on(sim.eu_url(), Some("account-id 1234567")).await, 451);
    assert_eq!(on(sim.eu_url(), None).await, 451);
}

#[tokio::test]
async fn username_of_an_unknown_subuser_or_account_is_the_enforced_tls_error() {
    let sim = start().await;
    for unknown in ["nobody", "account-id 999", "account-id", "MARKETING-SUB"] {
        let identity = username(&sim, KEY, Some(unknown)).await;
        let settings = Call::get(&sim).on_behalf_of(unknown).json().await;
        assert_eq!(
            identity,
            (404, error_body("resource not found")),
            "{unknown}"
        );
        assert_eq!(identity, settings, "{unknown}");
    }
}

#[tokio::test]
async fn username_is_rate_limited_faulted_and_logged_like_the_rest() {
    let sim = simulator(SimConfig {
        rate_limit_per_minute: 0,
        ..SimConfig::with_keys(&[KEY])
    })
    .await;
    let response = client()
        .get(format!(
            "{}{}",
            sim.global_url().as_str().trim_end_matches('/'),
            USERNAME
        ))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(header_number(&response, "x-ratelimit-limit"), 0);
    assert_eq!(header_number(&response, "x-ratelimit-remaining"), 0);

    let sim = start().await;
    sim.inject(Fault::ServerErrors {
        count: 1,
        status: 503,
    });
    assert_eq!(username(&sim, KEY, None).await.0, 503);
    assert_eq!(username(&sim, KEY, None).await.0, 200);
    let log = sim.requests();
    assert_eq!(
        log.iter()
            .map(|r| (r.path.as_str(), r.status))
            .collect::<Vec<_>>(),
        [(USERNAME, 503), (USERNAME, 200)]
    );
    Call::get(&sim).send().await;
    // Counts keep the endpoints apart.
    let paths: Vec<(String, u16, u64)> = sim
        .counts()
        .into_iter()
        .map(|c| (c.path, c.status, c.count))
        .collect();
    assert_eq!(
        paths,
        [
            (PATH.to_owned(), 200, 1),
            (USERNAME.to_owned(), 200, 1),
            (USERNAME.to_owned(), 503, 1)
        ]
    );
}
