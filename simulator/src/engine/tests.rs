//! Unit tests of the request pipeline, without HTTP.

use super::*;
use crate::accounts::Stored;
use crate::faults::Fault;
use crate::settings::{TlsSettings, TlsVersion};
use crate::state::{SimConfig, SimKey};
use std::time::{Duration, UNIX_EPOCH};

const KEY: &str = "SG.engine-test-key.key";

fn now() -> SystemTime {
    // 10 s into a minute: the window ends at 1_700_000_040.
    UNIX_EPOCH + Duration::from_secs(1_699_999_990)
}

fn state() -> SimState {
    SimState::new(SimConfig {
        rate_limit_per_minute: 5,
        ..SimConfig::with_keys(&[KEY])
    })
}

struct Req {
    method: Method,
    endpoint: Endpoint,
    region: Region,
    authorization: Option<String>,
    on_behalf_of: Option<&'static str>,
    body: &'static str,
}

fn get() -> Req {
    Req {
        method: Method::GET,
        endpoint: Endpoint::EnforcedTls,
        region: Region::Global,
        authorization: Some(format!("Bearer {KEY}")),
        on_behalf_of: None,
        body: "",
    }
}

fn patch(body: &'static str) -> Req {
    Req {
        method: Method::PATCH,
        body,
        ..get()
    }
}

/// A GET of another endpoint.
fn get_of(endpoint: Endpoint) -> Req {
    Req { endpoint, ..get() }
}

fn send(state: &mut SimState, req: &Req) -> Outcome {
    state.process(
        &ApiRequest {
            method: &req.method,
            endpoint: req.endpoint,
            region: req.region,
            path: req.endpoint.path(),
            authorization: req.authorization.as_deref(),
            on_behalf_of: req.on_behalf_of,
            body: req.body.as_bytes(),
        },
        now(),
    )
}

fn reply(state: &mut SimState, req: &Req) -> Reply {
    match send(state, req) {
        Outcome::Respond(reply) => reply,
        Outcome::Drop => panic!("dropped"),
    }
}

/// Status and the first error's message (or what kind of answer it is).
fn answer(state: &mut SimState, req: &Req) -> (u16, String) {
    let reply = reply(state, req);
    let what = match reply.body {
        ReplyBody::Settings(_) => "settings".to_owned(),
        ReplyBody::Username(_) => "username".to_owned(),
        ReplyBody::Scopes(_) => "scopes".to_owned(),
        ReplyBody::Errors(errors) => serde_json::to_value(&errors[0]).unwrap()["message"]
            .as_str()
            .unwrap()
            .to_owned(),
    };
    (reply.status.as_u16(), what)
}

#[test]
fn get_returns_defaults_with_rate_headers() {
    let reply = reply(&mut state(), &get());
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, ReplyBody::Settings(Stored::default()));
    assert_eq!(
        reply.rate,
        RateHeaders {
            limit: 5,
            remaining: 4,
            reset: 1_700_000_040
        }
    );
}

#[test]
fn patch_is_partial_and_returns_the_new_settings() {
    let mut state = state();
    let first = reply(&mut state, &patch(r#"{"require_tls":true,"version":1.2}"#));
    let second = reply(&mut state, &patch(r#"{"require_valid_cert":true}"#));
    let expected = Stored {
        require_tls: true,
        require_valid_cert: true,
        version: TlsVersion::V1_2,
    };
    assert_eq!(second.body, ReplyBody::Settings(expected));
    assert_ne!(first.body, second.body);
    assert_eq!(state.settings("main", None), Some(expected.to_settings()));
}

#[test]
fn a_lagging_read_answers_what_was_there_before_the_patch() {
    let mut state = state();
    state.inject(Fault::LaggingReads { count: 1 });
    let patched = reply(&mut state, &patch(r#"{"require_tls":true}"#));
    let before = Stored::default();
    let after = Stored {
        require_tls: true,
        ..before
    };
    assert_eq!(
        patched.body,
        ReplyBody::Settings(after),
        "the PATCH answers the new settings"
    );
    assert_eq!(
        reply(&mut state, &get()).body,
        ReplyBody::Settings(before),
        "one GET lags"
    );
    assert_eq!(reply(&mut state, &get()).body, ReplyBody::Settings(after));
}

#[test]
fn a_rejected_patch_changes_nothing() {
    let mut state = state();
    let reply = reply(&mut state, &patch(r#"{"require_tls":true,"version":1.0}"#));
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        state.settings("main", None),
        Some(TlsSettings::SENDGRID_DEFAULTS)
    );
}

#[test]
fn a_refused_version_is_a_400_naming_the_field_and_changes_nothing() {
    let mut state = state();
    state.inject(Fault::RefuseVersion(TlsVersion::V1_3));
    let refused = reply(&mut state, &patch(r#"{"require_tls":true,"version":1.3}"#));
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        refused.body,
        ReplyBody::Errors(vec![ApiError::field(
            "version",
            "TLS 1.3 is not available on this account's plan"
        )])
    );
    assert_eq!(
        state.settings("main", None),
        Some(TlsSettings::SENDGRID_DEFAULTS)
    );
    // Other versions, and PATCHes that leave the version alone, go through.
    let accepted = reply(&mut state, &patch(r#"{"require_tls":true,"version":1.2}"#));
    assert_eq!(accepted.status, StatusCode::OK);
    assert_eq!(
        answer(&mut state, &patch(r#"{"require_valid_cert":true}"#)),
        (200, "settings".to_owned())
    );
}

#[test]
fn authentication_and_scopes() {
    let mut state = state();
    state.add_key(SimKey {
        key: "SG.read.key".into(),
        account: "main".into(),
        scopes: vec![Scope::Read],
    });
    let with_key = |method: Method, key: Option<&str>| Req {
        method,
        authorization: key.map(str::to_owned),
        ..patch("{}")
    };
    let cases = [
        (with_key(Method::GET, None), 401, "authorization required"),
        (
            with_key(Method::GET, Some(&format!("Basic {KEY}"))),
            401,
            "authorization required",
        ),
        (
            with_key(Method::GET, Some("Bearer ")),
            401,
            "authorization required",
        ),
        (
            with_key(Method::GET, Some("Bearer SG.unknown.key")),
            401,
            "The provided authorization grant is invalid, expired, or revoked",
        ),
        (
            with_key(Method::GET, Some(&format!("bearer  {KEY}"))),
            200,
            "settings",
        ),
        (
            with_key(Method::GET, Some("Bearer SG.read.key")),
            200,
            "settings",
        ),
        (
            with_key(Method::PATCH, Some("Bearer SG.read.key")),
            403,
            "access forbidden",
        ),
        (
            with_key(Method::DELETE, Some("Bearer SG.read.key")),
            405,
            "method not allowed",
        ),
    ];
    for (req, status, message) in cases {
        assert_eq!(
            answer(&mut state, &req),
            (status, message.to_owned()),
            "{:?} {:?}",
            req.method,
            req.authorization
        );
    }
}

#[test]
fn on_behalf_of_targets_and_regions() {
    let mut state = SimState::new(SimConfig::with_keys(&[KEY]));
    let on = |target: &'static str, region: Region| Req {
        on_behalf_of: Some(target),
        region,
        ..patch(r#"{"require_tls":true}"#)
    };
    let cases = [
        (on("marketing-sub", Region::Global), 200, "settings"),
        (on("account-id 1234567", Region::Global), 200, "settings"),
        (on("eu-sub", Region::Eu), 200, "settings"),
        (
            on("eu-sub", Region::Global),
            451,
            "Unavailable due to data residency restrictions",
        ),
        (
            on("marketing-sub", Region::Eu),
            451,
            "Unavailable due to data residency restrictions",
        ),
        (on("ghost", Region::Global), 404, "resource not found"),
        (
            on("account-id 999", Region::Global),
            404,
            "resource not found",
        ),
    ];
    for (req, status, message) in cases {
        assert_eq!(
            answer(&mut state, &req),
            (status, message.to_owned()),
            "{:?}",
            req.on_behalf_of
        );
    }
    assert_eq!(
        state.settings("main", None),
        Some(TlsSettings::SENDGRID_DEFAULTS)
    );
    for target in ["marketing-sub", "account-id 1234567", "eu-sub"] {
        assert_eq!(
            state
                .settings("main", Some(target))
                .and_then(|s| s.require_tls),
            Some(true)
        );
    }
}

#[test]
fn the_rate_limit_counts_every_request_per_key() {
    let mut state = state();
    let bad_key = Req {
        authorization: Some("Bearer SG.nope.key".into()),
        ..get()
    };
    assert_eq!(reply(&mut state, &bad_key).rate.remaining, 4);
    for remaining in (0..5).rev() {
        let reply = reply(&mut state, &get());
        assert_eq!(
            (reply.status, reply.rate.remaining),
            (StatusCode::OK, remaining)
        );
    }
    let refused = reply(&mut state, &get());
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.body, too_many_requests());
    assert_eq!(refused.rate.reset, 1_700_000_040);
}

#[test]
fn faults_come_before_everything_and_in_order() {
    let mut state = state();
    state.inject(Fault::ServerErrors {
        count: 1,
        status: 503,
    });
    state.inject(Fault::DropConnections { count: 1 });
    state.inject(Fault::RateLimitBurst {
        count: 1,
        reset_after: Duration::from_millis(2500),
    });
    let no_key = Req {
        authorization: None,
        ..get()
    };
    let first = reply(&mut state, &no_key);
    assert_eq!(first.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        first.body,
        ReplyBody::Errors(vec![ApiError::message_only("service unavailable")])
    );
    assert_eq!(send(&mut state, &get()), Outcome::Drop);
    let burst = reply(&mut state, &get());
    assert_eq!(burst.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!((burst.rate.remaining, burst.rate.reset), (0, 1_699_999_993));
    assert_eq!(reply(&mut state, &get()).status, StatusCode::OK);
}

#[test]
fn the_log_records_fingerprints_bodies_and_statuses_never_the_key() {
    let mut state = state();
    state.inject(Fault::DropConnections { count: 1 });
    send(&mut state, &get());
    send(
        &mut state,
        &Req {
            on_behalf_of: Some("marketing-sub"),
            ..patch(r#"{"require_tls":false}"#)
        },
    );
    send(&mut state, &patch("oops"));
    let log = state.requests();
    assert_eq!(
        log.iter().map(|r| r.status).collect::<Vec<_>>(),
        [0, 200, 400]
    );
    assert_eq!(log[1].method, "PATCH");
    assert_eq!(log[1].path, Endpoint::EnforcedTls.path());
    assert_eq!(log[1].on_behalf_of.as_deref(), Some("marketing-sub"));
    assert_eq!(log[1].key_fingerprint, fingerprint(KEY));
    assert_eq!(log[1].body, Some(serde_json::json!({"require_tls": false})));
    assert_eq!(log[2].body, Some(serde_json::json!("oops")));
    assert_eq!(log[0].body, None);
    let json = serde_json::to_string(&log).unwrap();
    assert!(!json.contains(KEY), "{json}");
}

#[test]
fn username_answers_for_the_account_on_behalf_of_names() {
    let mut state = SimState::new(SimConfig::with_keys(&[KEY, "SG.second.key"]));
    state.add_key(SimKey {
        key: "SG.other-account.key".into(),
        account: "other".into(),
        scopes: Scope::ALL.to_vec(),
    });
    let mut user_of = |key: &str, on_behalf_of: Option<&'static str>, region: Region| {
        let req = Req {
            authorization: Some(format!("Bearer {key}")),
            on_behalf_of,
            region,
            ..get_of(Endpoint::Username)
        };
        match reply(&mut state, &req).body {
            ReplyBody::Username(user) => (user.username, user.user_id),
            other => panic!("{on_behalf_of:?}: {other:?}"),
        }
    };
    let parent = user_of(KEY, None, Region::Global);
    let subuser = user_of(KEY, Some("marketing-sub"), Region::Global);
    let eu_subuser = user_of(KEY, Some("eu-sub"), Region::Eu);
    let customer = user_of(KEY, Some("account-id 1234567"), Region::Global);
    let other = user_of("SG.other-account.key", None, Region::Global);
    assert_eq!(parent.0, "main");
    assert_eq!(subuser.0, "marketing-sub");
    assert_eq!(eu_subuser.0, "eu-sub");
    assert_eq!(customer.0, "customer-1234567");
    assert_eq!(other.0, "other");
    let mut ids = vec![parent.1, subuser.1, eu_subuser.1, customer.1, other.1];
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 5, "every account has its own id: {ids:?}");
    // Another key of the same account reaches the same ids.
    assert_eq!(user_of("SG.second.key", None, Region::Global), parent);
    assert_eq!(
        user_of("SG.second.key", Some("marketing-sub"), Region::Global),
        subuser
    );
}

#[test]
fn username_and_scopes_share_the_checks_of_enforced_tls() {
    let mut state = state();
    state.add_key(SimKey {
        key: "SG.tls-only.key".into(),
        account: "main".into(),
        scopes: vec![Scope::Read, Scope::Update],
    });
    let tls_only = Some("Bearer SG.tls-only.key".to_owned());
    let cases = [
        (get_of(Endpoint::Username), 200, "username"),
        (
            Req {
                authorization: tls_only.clone(),
                ..get_of(Endpoint::Username)
            },
            403,
            "access forbidden",
        ),
        (
            Req {
                authorization: tls_only.clone(),
                ..get_of(Endpoint::Scopes)
            },
            200,
            "scopes",
        ),
        (
            Req {
                authorization: None,
                ..get_of(Endpoint::Username)
            },
            401,
            "authorization required",
        ),
        (
            Req {
                on_behalf_of: Some("ghost"),
                ..get_of(Endpoint::Username)
            },
            404,
            "resource not found",
        ),
        (
            Req {
                on_behalf_of: Some("eu-sub"),
                ..get_of(Endpoint::Username)
            },
            451,
            "Unavailable due to data residency restrictions",
        ),
        (
            Req {
                method: Method::PUT,
                ..get_of(Endpoint::Username)
            },
            405,
            "method not allowed",
        ),
    ];
    for (req, status, message) in cases {
        assert_eq!(
            answer(&mut state, &req),
            (status, message.to_owned()),
            "{:?} {:?} {:?}",
            req.endpoint,
            req.method,
            req.on_behalf_of
        );
    }
    // One rate window per key and endpoint: KEY made 4 username requests above, the limit is
    // 5; its Enforced TLS window is its own.
    assert_eq!(answer(&mut state, &get_of(Endpoint::Username)).0, 200);
    assert_eq!(
        answer(&mut state, &get_of(Endpoint::Username)),
        (429, "too many requests".to_owned())
    );
    assert_eq!(answer(&mut state, &get()).0, 200);
    state.inject(Fault::ServerErrors {
        count: 1,
        status: 500,
    });
    assert_eq!(
        answer(&mut state, &get_of(Endpoint::Scopes)).0,
        500,
        "faults come first on every endpoint"
    );
}

#[test]
fn scopes_lists_the_keys_scopes_by_sendgrid_name() {
    let mut state = state();
    state.add_key(SimKey {
        key: "SG.odd.key".into(),
        account: "main".into(),
        scopes: vec![Scope::UsernameRead, Scope::Read, Scope::UsernameRead],
    });
    let scopes_of = |state: &mut SimState, key: &str| {
        let req = Req {
            authorization: Some(format!("Bearer {key}")),
            ..get_of(Endpoint::Scopes)
        };
        reply(state, &req).body
    };
    assert_eq!(
        scopes_of(&mut state, KEY),
        ReplyBody::Scopes(vec![
            "user.settings.enforced_tls.read",
            "user.settings.enforced_tls.update",
            "user.username.read"
        ])
    );
    assert_eq!(
        scopes_of(&mut state, "SG.odd.key"),
        ReplyBody::Scopes(vec![
            "user.settings.enforced_tls.read",
            "user.username.read"
        ])
    );
}
