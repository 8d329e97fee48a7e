//! The SendGrid client against real HTTP servers on loopback: every status class, header and
//! failure mode. A scripted raw server (tests/sendgrid_support) covers what a well-behaved
//! server never does (HTML bodies, silence, dropped connections, mixed-case headers); the
//! project's SendGrid simulator covers the stateful behaviour.

mod sendgrid_support;

use sendgrid_support::{KEY, Reply, SETTINGS, ScriptedServer, account, client_for};
use sendgrid_tls_operator::api::{OnBehalfOfRef, Region, TlsSettings, TlsVersion};
use sendgrid_tls_operator::sendgrid::{
    Account, ErrorClass, OnBehalfOf, RequestObserver, SendGridClient, SendGridError,
};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const PATH: &str = "/v3/user/settings/enforced_tls";

/// Records what the client reports to telemetry.
#[derive(Default)]
struct Observed(Mutex<Vec<(&'static str, &'static str)>>);

impl RequestObserver for Observed {
    fn observe(&self, method: &'static str, class: &'static str, _elapsed: Duration) {
        self.0.lock().unwrap().push((method, class));
    }
}

impl Observed {
    fn take(&self) -> Vec<(&'static str, &'static str)> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

fn observed(client: SendGridClient) -> (SendGridClient, Arc<Observed>) {
    let observer = Arc::new(Observed::default());
    (client.with_observer(observer.clone()), observer)
}

fn global() -> Account {
    account(KEY, Region::Global, None)
}

fn subuser(name: &str) -> Option<OnBehalfOf> {
    Some(
        OnBehalfOf::from_ref(&OnBehalfOfRef {
            subuser: Some(name.into()),
            account_id: None,
        })
        .unwrap(),
    )
}

fn settings(tls: Option<bool>, cert: Option<bool>, v: Option<TlsVersion>) -> TlsSettings {
    TlsSettings {
        require_tls: tls,
        require_valid_cert: cert,
        minimum_tls_version: v,
    }
}

/// The error, after checking that its message never contains the key.
fn no_key(error: SendGridError) -> SendGridError {
    let shown = format!("{error} {error:?}");
    assert!(
        !shown.contains(KEY) && !shown.contains("test-key"),
        "{shown}"
    );
    error
}

fn unix(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

// ---------------------------------------------------------------- requests on the wire

#[tokio::test]
async fn get_sends_bearer_accept_and_user_agent_and_decodes_the_settings() {
    let server = ScriptedServer::start(vec![Reply::json(
        200,
        r#"{"require_tls":true,"require_valid_cert":false,"version":1.2}"#,
    )])
    .await;
    let (client, observer) = observed(server.client());

    let got = client.get(&global()).await.unwrap();

    assert_eq!(
        got,
        settings(Some(true), Some(false), Some(TlsVersion::V1_2))
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("GET", PATH)
    );
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(request.header("accept"), Some("application/json"));
    assert_eq!(
        request.header("user-agent"),
        Some(concat!("sendgrid-tls-operator/", env!("CARGO_PKG_VERSION")))
    );
    assert_eq!(request.header("on-behalf-of"), None);
    assert!(request.body.is_empty());
    assert_eq!(observer.take(), vec![("GET", "2xx")]);
}

#[tokio::test]
async fn patch_sends_only_the_set_fields_with_explicit_false_and_exact_version() {
    let response = r#"{"require_tls":false,"require_valid_cert":true,"version":1.2}"#;
    let server = ScriptedServer::start(vec![Reply::json(200, response)]).await;
    let (client, observer) = observed(server.client());
    let marketing = account(KEY, Region::Global, subuser("marketing-sub"));

    let changes = settings(Some(false), None, Some(TlsVersion::V1_2));
    let got = client.patch(&marketing, &changes).await.unwrap();

    assert_eq!(
        got,
        settings(Some(false), Some(true), Some(TlsVersion::V1_2))
    );
    let request = &server.requests()[0];
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("PATCH", PATH)
    );
    assert_eq!(
        request.body_text(),
        r#"{"require_tls":false,"version":1.2}"#
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("on-behalf-of"), Some("marketing-sub"));
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(observer.take(), vec![("PATCH", "2xx")]);
}

#[tokio::test]
async fn every_version_goes_out_as_its_exact_number_and_account_ids_as_account_id() {
    let server = ScriptedServer::start(vec![]).await;
    let client = server.client();
    let customer = account(
        KEY,
        Region::Global,
        Some(OnBehalfOf::AccountId("1234567".into())),
    );
    for (version, text) in [
        (TlsVersion::V1_1, "1.1"),
        (TlsVersion::V1_2, "1.2"),
        (TlsVersion::V1_3, "1.3"),
    ] {
        let changes = settings(Some(true), Some(false), Some(version));
        client.patch(&customer, &changes).await.unwrap();
        let request = server.requests().pop().unwrap();
        assert_eq!(
            request.body_text(),
            format!(r#"{{"require_tls":true,"require_valid_cert":false,"version":{text}}}"#)
        );
        assert_eq!(request.header("on-behalf-of"), Some("account-id 1234567"));
    }
}

#[tokio::test]
async fn eu_region_goes_to_the_eu_base_and_its_path_prefix() {
    let server = ScriptedServer::start(vec![]).await;
    let client = server.client();
    client
        .get(&account(KEY, Region::Eu, subuser("eu-sub")))
        .await
        .unwrap();
    client.get(&global()).await.unwrap();
    let deep = client_for(
        sendgrid_tls_operator::sendgrid::Endpoints {
            global: server.url("/proxy/global/"),
            eu: server.url("/proxy/eu"),
        },
        Duration::from_secs(5),
    );
    deep.get(&account(KEY, Region::Eu, None)).await.unwrap();
    deep.get(&global()).await.unwrap();

    let paths: Vec<String> = server.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        vec![
            format!("/eu{PATH}"),
            PATH.to_string(),
            format!("/proxy/eu{PATH}"),
            format!("/proxy/global{PATH}"),
        ]
    );
}

#[tokio::test]
async fn an_empty_patch_is_refused_without_a_request() {
    let server = ScriptedServer::start(vec![]).await;
    let (client, observer) = observed(server.client());
    let error = client
        .patch(&global(), &TlsSettings::default())
        .await
        .unwrap_err();
    assert_eq!(error.class(), ErrorClass::Config);
    assert!(server.requests().is_empty());
    assert!(observer.take().is_empty(), "nothing was exchanged");
}

// ---------------------------------------------------------------- statuses

#[tokio::test]
async fn client_errors_map_to_their_variants_with_sendgrids_text() {
    let cases: Vec<(Reply, SendGridError, &str)> = vec![
        (
            Reply::json(
                401,
                r#"{"errors":[{"field":null,"message":"The provided authorization grant is invalid, expired, or revoked","help":null}]}"#,
            ),
            SendGridError::Unauthorized {
                message: "401 Unauthorized: The provided authorization grant is invalid, expired, or revoked".into(),
            },
            "4xx",
        ),
        (
            Reply::json(403, r#"{"errors":[{"field":null,"message":"access forbidden"}]}"#),
            SendGridError::Forbidden {
                message: "403 Forbidden: access forbidden".into(),
            },
            "4xx",
        ),
        (
            Reply::json(404, r#"{"errors":[{"field":null,"message":"resource not found"}],"id":"e-1"}"#),
            SendGridError::NotFound {
                message: "404 Not Found: resource not found (error id e-1)".into(),
            },
            "4xx",
        ),
        (
            Reply::json(
                451,
                r#"{"errors":[{"field":null,"message":"Unavailable due to data residency restrictions"}]}"#,
            ),
            SendGridError::DataResidency {
                message: "451 Unavailable For Legal Reasons: Unavailable due to data residency restrictions".into(),
            },
            "4xx",
        ),
        (
            Reply::json(400, r#"{"errors":[{"field":"version","message":"must be one of 1.1, 1.2, 1.3"}]}"#),
            SendGridError::Rejected {
                status: 400,
                message: "400 Bad Request: version: must be one of 1.1, 1.2, 1.3".into(),
            },
            "4xx",
        ),
        (
            Reply::json(422, r#"{"errors":[{"field":"require_tls","message":"must be a boolean"}]}"#),
            SendGridError::Rejected {
                status: 422,
                message: "422 Unprocessable Entity: require_tls: must be a boolean".into(),
            },
            "4xx",
        ),
        (
            Reply::json(409, r#"{"error":"conflicting update"}"#),
            SendGridError::Rejected {
                status: 409,
                message: "409 Conflict: conflicting update".into(),
            },
            "4xx",
        ),
    ];
    for (reply, expected, class) in cases {
        let server = ScriptedServer::start(vec![reply]).await;
        let (client, observer) = observed(server.client());
        let error = no_key(client.get(&global()).await.unwrap_err());
        assert_eq!(error, expected);
        assert_eq!(observer.take(), vec![("GET", class)]);
        // A client error does not block the key.
        client.get(&global()).await.unwrap();
        assert_eq!(server.requests().len(), 2);
    }
}

#[tokio::test]
async fn server_errors_and_odd_bodies_are_unavailable_with_the_status() {
    let cases = vec![
        (
            Reply::json(500, r#"{"errors":[{"message":"internal error"}]}"#),
            500,
            "500 Internal Server Error: internal error",
        ),
        (Reply::json(503, ""), 503, "503 Service Unavailable"),
        (
            Reply::json(500, r#"{"error":"database on fire"}"#),
            500,
            "500 Internal Server Error: database on fire",
        ),
        (
            Reply::raw(
                502,
                "text/html",
                "<html><body><h1>502 Bad Gateway</h1></body></html>",
            ),
            502,
            "502 Bad Gateway",
        ),
        (
            Reply::raw(504, "text/plain", "upstream timed out"),
            504,
            "504 Gateway Timeout",
        ),
    ];
    for (reply, status, message) in cases {
        let server = ScriptedServer::start(vec![reply]).await;
        let (client, observer) = observed(server.client());
        let error = no_key(
            client
                .patch(&global(), &settings(Some(true), None, None))
                .await
                .unwrap_err(),
        );
        assert_eq!(
            error,
            SendGridError::Unavailable {
                status: Some(status),
                message: message.into()
            }
        );
        assert_eq!(observer.take(), vec![("PATCH", "5xx")]);
    }
}

#[tokio::test]
async fn an_unreadable_success_body_is_an_unexpected_response() {
    let cases = [
        (
            Reply::raw(200, "text/html", "<html>maintenance</html>"),
            "200 OK: unexpected response: the body is not JSON",
        ),
        (
            Reply::json(200, ""),
            "200 OK: unexpected response: empty body",
        ),
        (
            Reply::json(200, r#"{"version":1.0}"#),
            "200 OK: unexpected response: version 1.0 is not one of 1.1, 1.2, 1.3",
        ),
        (
            Reply::json(200, r#"{"require_tls":"yes"}"#),
            r#"200 OK: unexpected response: require_tls is "yes", not a boolean"#,
        ),
    ];
    for (reply, start) in cases {
        let server = ScriptedServer::start(vec![reply]).await;
        let error = no_key(server.client().get(&global()).await.unwrap_err());
        let SendGridError::Unavailable {
            status: Some(200),
            message,
        } = &error
        else {
            panic!("{error:?}");
        };
        assert!(message.starts_with(start), "{message}");
    }
}

#[tokio::test]
async fn a_version_string_or_absent_version_decodes() {
    let server = ScriptedServer::start(vec![
        Reply::json(
            200,
            r#"{"require_tls":true,"require_valid_cert":false,"version":"1.3"}"#,
        ),
        Reply::json(200, r#"{"require_tls":false,"require_valid_cert":false}"#),
    ])
    .await;
    let client = server.client();
    assert_eq!(
        client.get(&global()).await.unwrap(),
        settings(Some(true), Some(false), Some(TlsVersion::V1_3))
    );
    assert_eq!(
        client.get(&global()).await.unwrap(),
        settings(Some(false), Some(false), None)
    );
}

#[tokio::test]
async fn a_redirect_is_not_followed() {
    let server = ScriptedServer::start(vec![
        Reply::raw(302, "text/plain", "").with_header("Location", "http://127.0.0.1:9/steal"),
    ])
    .await;
    let (client, observer) = observed(server.client());
    let error = no_key(client.get(&global()).await.unwrap_err());
    assert_eq!(
        error,
        SendGridError::Unavailable {
            status: Some(302),
            message: "302 Found".into()
        }
    );
    assert_eq!(server.requests().len(), 1);
    assert_eq!(observer.take(), vec![("GET", "other")]);
}

#[tokio::test]
async fn a_key_echoed_by_the_server_is_redacted() {
    let body = format!(r#"{{"errors":[{{"message":"bad header Bearer {KEY}"}}]}}"#);
    let server = ScriptedServer::start(vec![Reply::json(401, &body)]).await;
    let error = no_key(server.client().get(&global()).await.unwrap_err());
    assert_eq!(
        error.to_string(),
        "401 Unauthorized: bad header Bearer [redacted]"
    );
}

// ---------------------------------------------------------------- rate limits

#[tokio::test]
async fn after_a_429_the_key_is_refused_locally_until_reset_then_allowed() {
    let reset = now_secs() + 2;
    let server = ScriptedServer::start(vec![
        Reply::json(
            429,
            r#"{"errors":[{"field":null,"message":"too many requests"}]}"#,
        )
        .with_header("X-Ratelimit-Limit", "150")
        .with_header("X-Ratelimit-Remaining", "0")
        .with_header("X-Ratelimit-Reset", &reset.to_string()),
    ])
    .await;
    let (client, observer) = observed(server.client());

    let error = no_key(client.get(&global()).await.unwrap_err());
    assert_eq!(error.class(), ErrorClass::RateLimited);
    let SendGridError::RateLimited {
        reset: got,
        message,
    } = &error
    else {
        unreachable!()
    };
    assert_eq!(*got, Some(unix(reset)));
    assert!(
        message.starts_with("429 Too Many Requests: too many requests (window resets at "),
        "{message}"
    );

    // Refused locally: nothing sent, for GET and PATCH alike, and clones share the limiter.
    let local = no_key(
        client
            .clone()
            .patch(&global(), &settings(Some(true), None, None))
            .await
            .unwrap_err(),
    );
    let SendGridError::RateLimited {
        reset: local_reset,
        message,
    } = &local
    else {
        panic!("{local:?}")
    };
    assert_eq!(*local_reset, Some(unix(reset)));
    assert!(
        message.contains("of 150 requests") && message.contains("request not sent"),
        "{message}"
    );
    assert_eq!(server.requests().len(), 1);
    assert_eq!(
        observer.take(),
        vec![("GET", "429"), ("PATCH", "ratelimited-local")]
    );

    // Another key is not affected.
    client
        .get(&account("SG.other-key", Region::Global, None))
        .await
        .unwrap();
    assert_eq!(server.requests().len(), 2);

    // Allowed again once Reset has passed: poll (each refused call sends nothing).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match client.get(&global()).await {
            Ok(got) => {
                assert_eq!(
                    got,
                    settings(Some(false), Some(false), Some(TlsVersion::V1_1))
                );
                break;
            }
            Err(SendGridError::RateLimited { .. }) => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "still blocked long after Reset"
                );
                assert_eq!(
                    server.requests().len(),
                    2,
                    "a blocked call reached the server"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(other) => panic!("{other:?}"),
        }
    }
    assert!(SystemTime::now() >= unix(reset));
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn remaining_zero_on_a_success_blocks_the_next_call() {
    let reset = now_secs() + 30;
    let server = ScriptedServer::start(vec![
        Reply::json(200, SETTINGS)
            .with_header("x-ratelimit-remaining", "0")
            .with_header("X-RATELIMIT-RESET", &reset.to_string()),
    ])
    .await;
    let (client, observer) = observed(server.client());
    client.get(&global()).await.unwrap();
    let error = client.get(&global()).await.unwrap_err();
    assert_eq!(
        error,
        SendGridError::RateLimited {
            reset: Some(unix(reset)),
            message: error.to_string()
        }
    );
    assert_eq!(server.requests().len(), 1);
    assert_eq!(
        observer.take(),
        vec![("GET", "2xx"), ("GET", "ratelimited-local")]
    );
}

#[tokio::test]
async fn a_429_without_reset_still_blocks_briefly() {
    let server = ScriptedServer::start(vec![
        Reply::json(
            429,
            r#"{"errors":[{"field":null,"message":"too many requests"}]}"#,
        )
        .with_header("X-RateLimit-Reset", "whenever"),
    ])
    .await;
    let client = server.client();
    let before = SystemTime::now();
    let SendGridError::RateLimited {
        reset: Some(reset), ..
    } = client.get(&global()).await.unwrap_err()
    else {
        panic!("expected RateLimited with a fallback reset")
    };
    assert!(reset > before, "the fallback block lies in the future");
    assert!(matches!(
        client.get(&global()).await,
        Err(SendGridError::RateLimited { .. })
    ));
    assert_eq!(server.requests().len(), 1);
}

// ---------------------------------------------------------------- transport failures

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let server = ScriptedServer::start(vec![Reply::Silent]).await;
    let (client, observer) = observed(client_for(server.endpoints(), Duration::from_millis(300)));
    let error = no_key(client.get(&global()).await.unwrap_err());
    let SendGridError::Unavailable {
        status: None,
        message,
    } = &error
    else {
        panic!("{error:?}")
    };
    let host = format!("GET http://{}: timed out", server.addr);
    assert!(message.starts_with(&host), "{message}");
    assert!(
        !message.contains(PATH),
        "the message leaves the URL to the host: {message}"
    );
    assert_eq!(observer.take(), vec![("GET", "timeout")]);
}

#[tokio::test]
async fn a_refused_connection_is_unavailable_connect() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let base = url::Url::parse(&format!("http://{addr}")).unwrap();
    let endpoints = sendgrid_tls_operator::sendgrid::Endpoints {
        global: base.clone(),
        eu: base,
    };
    let (client, observer) = observed(client_for(endpoints, Duration::from_secs(5)));
    let error = no_key(client.get(&global()).await.unwrap_err());
    let SendGridError::Unavailable {
        status: None,
        message,
    } = &error
    else {
        panic!("{error:?}")
    };
    assert!(
        message.starts_with(&format!("GET http://{addr}: could not connect")),
        "{message}"
    );
    assert!(message.to_lowercase().contains("refused"), "{message}");
    assert_eq!(observer.take(), vec![("GET", "connect")]);
}

#[tokio::test]
async fn a_dropped_connection_is_unavailable_connect() {
    let server = ScriptedServer::start(vec![Reply::Drop]).await;
    let (client, observer) = observed(server.client());
    let error = no_key(
        client
            .patch(&global(), &settings(None, Some(true), None))
            .await
            .unwrap_err(),
    );
    let SendGridError::Unavailable {
        status: None,
        message,
    } = &error
    else {
        panic!("{error:?}")
    };
    assert!(
        message.starts_with(&format!(
            "PATCH http://{}: connection failed (no response)",
            server.addr
        )),
        "{message}"
    );
    assert_eq!(observer.take(), vec![("PATCH", "connect")]);
    assert_eq!(
        server.requests().len(),
        1,
        "the request was sent once, never retried"
    );
}

// ---------------------------------------------------------------- against the simulator

mod simulated {
    use super::*;
    use sendgrid_tls_operator::sendgrid::{ApiKey, Endpoints};
    use sendgrid_tls_operator::simulator::{
        Fault, Scope, SimConfig, SimKey, Simulator, SimulatorHandle,
    };

    const READ_ONLY: &str = "SG.read-only.0123456789";

    async fn simulator(config: SimConfig) -> SimulatorHandle {
        Simulator::start("127.0.0.1:0".parse().unwrap(), config)
            .await
            .unwrap()
    }

    async fn standard() -> SimulatorHandle {
        let mut config = SimConfig::with_keys(&[KEY]);
        config.keys.push(SimKey {
            key: READ_ONLY.into(),
            account: "main".into(),
            scopes: vec![Scope::Read],
        });
        simulator(config).await
    }

    fn client(sim: &SimulatorHandle, request_timeout: Duration) -> SendGridClient {
        client_for(
            Endpoints {
                global: sim.global_url(),
                eu: sim.eu_url(),
            },
            request_timeout,
        )
    }

    fn customer() -> Option<OnBehalfOf> {
        Some(OnBehalfOf::AccountId("1234567".into()))
    }

    #[tokio::test]
    async fn reads_and_writes_each_account_it_is_pointed_at() {
        let sim = standard().await;
        let (client, observer) = observed(client(&sim, Duration::from_secs(5)));
        let defaults = TlsSettings::SENDGRID_DEFAULTS;
        let cases = [
            (account(KEY, Region::Global, None), None),
            (
                account(KEY, Region::Global, subuser("marketing-sub")),
                Some("marketing-sub"),
            ),
            (
                account(KEY, Region::Global, customer()),
                Some("account-id 1234567"),
            ),
            (account(KEY, Region::Eu, subuser("eu-sub")), Some("eu-sub")),
        ];
        for (who, on_behalf_of) in cases {
            assert_eq!(client.get(&who).await.unwrap(), defaults);
            let changes = settings(Some(true), None, Some(TlsVersion::V1_2));
            let after = client.patch(&who, &changes).await.unwrap();
            assert_eq!(
                after,
                settings(Some(true), Some(false), Some(TlsVersion::V1_2))
            );
            assert_eq!(sim.settings("main", on_behalf_of), after);
            // An explicit false goes out and is applied.
            let back = settings(Some(false), None, None);
            assert_eq!(
                client.patch(&who, &back).await.unwrap().require_tls,
                Some(false)
            );
            assert_eq!(sim.settings("main", on_behalf_of).require_tls, Some(false));
        }
        let log = sim.requests();
        assert_eq!(log.len(), 12);
        let fingerprint = ApiKey::new(KEY).unwrap().fingerprint();
        for entry in &log {
            assert_eq!(entry.status, 200, "{entry:?}");
            assert_eq!(entry.key_fingerprint.as_deref(), Some(fingerprint.as_str()));
        }
        assert_eq!(
            log[1].body,
            Some(serde_json::json!({"require_tls": true, "version": 1.2}))
        );
        assert_eq!(log[4].on_behalf_of.as_deref(), Some("marketing-sub"));
        assert_eq!(log[7].on_behalf_of.as_deref(), Some("account-id 1234567"));
        assert_eq!(
            (log[9].region, log[9].path.as_str()),
            (Region::Eu, "/eu/v3/user/settings/enforced_tls")
        );
        assert!(observer.take().iter().all(|(_, class)| *class == "2xx"));
    }

    #[tokio::test]
    async fn maps_the_simulators_refusals() {
        let sim = standard().await;
        let (client, observer) = observed(client(&sim, Duration::from_secs(5)));
        let change = settings(Some(true), None, None);

        let wrong_key = account("SG.unknown", Region::Global, None);
        let error = no_key(client.get(&wrong_key).await.unwrap_err());
        assert_eq!(error.class(), ErrorClass::Unauthorized, "{error}");
        assert!(
            error.to_string().starts_with("401 Unauthorized: "),
            "{error}"
        );

        let reader = account(READ_ONLY, Region::Global, None);
        client.get(&reader).await.unwrap();
        let error = no_key(client.patch(&reader, &change).await.unwrap_err());
        assert_eq!(
            error,
            SendGridError::Forbidden {
                message: "403 Forbidden: access forbidden".into()
            }
        );

        let nobody = account(KEY, Region::Global, subuser("no-such-sub"));
        let error = no_key(client.get(&nobody).await.unwrap_err());
        assert_eq!(error.class(), ErrorClass::NotFound, "{error}");

        for misplaced in [
            account(KEY, Region::Global, subuser("eu-sub")),
            account(KEY, Region::Eu, subuser("marketing-sub")),
        ] {
            let error = no_key(client.patch(&misplaced, &change).await.unwrap_err());
            assert_eq!(
                error,
                SendGridError::DataResidency {
                    message: "451 Unavailable For Legal Reasons: Unavailable due to data residency restrictions".into()
                }
            );
        }
        assert_eq!(
            sim.settings("main", Some("eu-sub")),
            TlsSettings::SENDGRID_DEFAULTS
        );
        assert_eq!(
            observer.take(),
            vec![
                ("GET", "4xx"),
                ("GET", "2xx"),
                ("PATCH", "4xx"),
                ("GET", "4xx"),
                ("PATCH", "4xx"),
                ("PATCH", "4xx")
            ]
        );
    }

    #[tokio::test]
    async fn a_rotated_key_heals_and_a_revoked_one_is_unauthorized() {
        let sim = standard().await;
        let client = client(&sim, Duration::from_secs(5));
        client.get(&global()).await.unwrap();
        sim.remove_key(KEY);
        assert_eq!(
            client.get(&global()).await.unwrap_err().class(),
            ErrorClass::Unauthorized
        );
        sim.add_key(SimKey {
            key: "SG.rotated".into(),
            account: "main".into(),
            scopes: vec![Scope::Read, Scope::Update],
        });
        client
            .get(&account("SG.rotated", Region::Global, None))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn injected_server_errors_drops_and_latency() {
        let sim = standard().await;
        let (client, observer) = observed(client(&sim, Duration::from_millis(300)));

        sim.inject(Fault::ServerErrors {
            count: 1,
            status: 503,
        });
        let error = no_key(client.get(&global()).await.unwrap_err());
        let SendGridError::Unavailable {
            status: Some(503),
            message,
        } = &error
        else {
            panic!("{error:?}")
        };
        assert!(
            message.starts_with("503 Service Unavailable: "),
            "{message}"
        );

        sim.inject(Fault::DropConnections { count: 1 });
        let error = no_key(
            client
                .patch(&global(), &settings(Some(true), None, None))
                .await
                .unwrap_err(),
        );
        assert!(
            matches!(error, SendGridError::Unavailable { status: None, .. }),
            "{error:?}"
        );

        sim.inject(Fault::Latency(Duration::from_secs(5)));
        let error = no_key(client.get(&global()).await.unwrap_err());
        let SendGridError::Unavailable {
            status: None,
            message,
        } = &error
        else {
            panic!("{error:?}")
        };
        assert!(message.contains(": timed out"), "{message}");
        sim.clear_faults();

        client.get(&global()).await.unwrap();
        assert_eq!(
            observer.take(),
            vec![
                ("GET", "5xx"),
                ("PATCH", "connect"),
                ("GET", "timeout"),
                ("GET", "2xx")
            ]
        );
        // The dropped PATCH was not applied twice or retried: one logged attempt.
        let patches = sim
            .requests()
            .into_iter()
            .filter(|r| r.method == "PATCH")
            .count();
        assert_eq!(patches, 1);
    }

    #[tokio::test]
    async fn a_429_burst_blocks_the_key_locally_until_reset() {
        let sim = standard().await;
        let (client, observer) = observed(client(&sim, Duration::from_secs(5)));
        sim.inject(Fault::RateLimitBurst {
            count: 1,
            reset_after: Duration::from_secs(1),
        });

        let error = no_key(client.get(&global()).await.unwrap_err());
        let SendGridError::RateLimited {
            reset: Some(reset),
            message,
        } = &error
        else {
            panic!("{error:?}")
        };
        assert!(
            message.starts_with("429 Too Many Requests: too many requests"),
            "{message}"
        );
        assert!(*reset > SystemTime::now() - Duration::from_secs(1));

        // Blocked locally: nothing reaches the simulator until Reset, for any account of the key.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let mut refused = 0;
        loop {
            match client
                .get(&account(KEY, Region::Global, subuser("marketing-sub")))
                .await
            {
                Ok(_) => break,
                Err(SendGridError::RateLimited { .. }) => {
                    refused += 1;
                    assert!(
                        tokio::time::Instant::now() < deadline,
                        "still blocked long after Reset"
                    );
                    assert_eq!(
                        sim.requests().len(),
                        1,
                        "a blocked call reached the simulator"
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(other) => panic!("{other:?}"),
            }
        }
        assert!(
            refused > 0,
            "the call right after a 429 was refused locally"
        );
        assert!(SystemTime::now() >= *reset);
        assert_eq!(sim.requests().len(), 2);
        let classes = observer.take();
        assert_eq!(classes.first(), Some(&("GET", "429")));
        assert_eq!(classes.last(), Some(&("GET", "2xx")));
        assert!(
            classes[1..classes.len() - 1]
                .iter()
                .all(|c| *c == ("GET", "ratelimited-local"))
        );
    }

    #[tokio::test]
    async fn an_exhausted_window_is_not_spent_further() {
        let mut config = SimConfig::with_keys(&[KEY, "SG.second"]);
        config.rate_limit_per_minute = 2;
        let sim = simulator(config).await;
        let client = client(&sim, Duration::from_secs(5));
        client.get(&global()).await.unwrap();
        // The second answer says Remaining 0 (unless a new minute began in between: then it
        // says 1 and the third call goes through, which is just as correct).
        client.get(&global()).await.unwrap();
        match client.get(&global()).await {
            Err(SendGridError::RateLimited {
                reset: Some(reset),
                message,
            }) => {
                assert!(message.ends_with("request not sent"), "{message}");
                let secs = reset.duration_since(UNIX_EPOCH).unwrap().as_secs();
                assert_eq!(secs % 60, 0, "the simulator's window ends on a minute");
                assert_eq!(sim.requests().len(), 2);
            }
            Ok(_) => assert_eq!(sim.requests().len(), 3),
            Err(other) => panic!("{other:?}"),
        }
        // Another key has its own window.
        client
            .get(&account("SG.second", Region::Global, None))
            .await
            .unwrap();
    }
}
