//! The SendGrid client against a scripted HTTP server on loopback (`support::scripted`):
//! every status class, header and failure mode, including what a well-behaved server never does
//! (HTML bodies, silence, dropped connections, mixed-case headers). The stateful behaviour
//! against the project's SendGrid simulator is in `sendgrid_client_sim`.

use crate::support::client::*;
use crate::support::scripted::*;
use crate::support::*;
use sendgrid_tls_operator::api::Reason;
use sendgrid_tls_operator::api::{Region, TlsSettings, TlsVersion};
use sendgrid_tls_operator::sendgrid::{Endpoints, OnBehalfOf, SendGridError};
use std::time::{Duration, SystemTime};

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

    assert_eq!(got, tls(true, false, TlsVersion::V1_2));
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

    assert_eq!(got, tls(false, true, TlsVersion::V1_2));
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
        let changes = tls(true, false, version);
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
        Endpoints {
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
    assert!(matches!(error, SendGridError::Config { .. }), "{error:?}");
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
                message: "404 Not Found: resource not found".into(),
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
        let message = unavailable(&error, Some(200));
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
        tls(true, false, TlsVersion::V1_3)
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
    // Far enough ahead that a loaded machine still gets the answer well before Reset.
    let reset = now_secs() + 4;
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
    assert_eq!(error.reason(), Reason::RateLimited);
    let SendGridError::RateLimited {
        reset: got,
        message,
    } = &error
    else {
        unreachable!()
    };
    assert_eq!(*got, Some(unix(reset)));
    assert_eq!(
        message, "429 Too Many Requests: too many requests",
        "no reset time in the message: a repeated 429 must leave the status as it was"
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
        .get(&account("SG.other-key.key", Region::Global, None))
        .await
        .unwrap();
    assert_eq!(server.requests().len(), 2);

    // Allowed again once Reset has passed: poll (each refused call sends nothing).
    let (got, _) = get_once_allowed(&client, &global(), || server.requests().len()).await;
    assert_eq!(got, tls(false, false, TlsVersion::V1_1));
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
    let message = unavailable(&error, None);
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
    let endpoints = Endpoints {
        global: base.clone(),
        eu: base,
    };
    let (client, observer) = observed(client_for(endpoints, Duration::from_secs(5)));
    let error = no_key(client.get(&global()).await.unwrap_err());
    let message = unavailable(&error, None);
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
    let message = unavailable(&error, None);
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
