//! The SendGrid client against the project's SendGrid simulator: every account kind, the
//! simulator's refusals, key rotation, injected faults and rate limits, end to end over HTTP.

use crate::support::client::*;
use crate::support::*;
use sendgrid_tls_operator::api::Reason;
use sendgrid_tls_operator::api::{Region, TlsSettings, TlsVersion};
use sendgrid_tls_operator::sendgrid::{OnBehalfOf, SendGridClient, SendGridError};
use sendgrid_tls_operator::simulator::{Fault, Scope, SimConfig, SimKey, SimulatorHandle};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const READ_ONLY: &str = "SG.read-only.0123456789";

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
    client_for(endpoints(sim), request_timeout)
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
        assert_eq!(after, tls(true, false, TlsVersion::V1_2));
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
    let key = fingerprint(KEY);
    for entry in &log {
        assert_eq!(entry.status, 200, "{entry:?}");
        assert_eq!(entry.key_fingerprint.as_deref(), Some(key.as_str()));
    }
    assert_eq!(
        log[1].body,
        Some(serde_json::json!({"require_tls": true, "version": 1.2}))
    );
    assert_eq!(log[4].on_behalf_of.as_deref(), Some("marketing-sub"));
    assert_eq!(log[7].on_behalf_of.as_deref(), Some("account-id 1234567"));
    assert_eq!(
        (log[9].region, log[9].path.as_str()),
        (Region::Eu.into(), "/eu/v3/user/settings/enforced_tls")
    );
    assert!(observer.take().iter().all(|(_, class)| *class == "2xx"));
}

#[tokio::test]
async fn maps_the_simulators_refusals() {
    let sim = standard().await;
    let (client, observer) = observed(client(&sim, Duration::from_secs(5)));
    let change = settings(Some(true), None, None);

    let wrong_key = account("SG.unknown.key", Region::Global, None);
    let error = no_key(client.get(&wrong_key).await.unwrap_err());
    assert_eq!(error.reason(), Reason::Unauthorized, "{error}");
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
    assert_eq!(error.reason(), Reason::NotFound, "{error}");

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
        client.get(&global()).await.unwrap_err().reason(),
        Reason::Unauthorized
    );
    sim.add_key(SimKey {
        key: "SG.rotated.key".into(),
        account: "main".into(),
        scopes: vec![Scope::Read, Scope::Update],
    });
    client
        .get(&account("SG.rotated.key", Region::Global, None))
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
    let message = unavailable(&error, Some(503));
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
    let message = unavailable(&error, None);
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
    let marketing = account(KEY, Region::Global, subuser("marketing-sub"));
    let (_, refused) = get_once_allowed(&client, &marketing, || sim.requests().len()).await;
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
    let mut config = SimConfig::with_keys(&[KEY, "SG.second.key"]);
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
            assert!(
                message.ends_with("request not sent, retrying after the window resets"),
                "{message}"
            );
            let secs = reset.duration_since(UNIX_EPOCH).unwrap().as_secs();
            assert_eq!(secs % 60, 0, "the simulator's window ends on a minute");
            assert_eq!(sim.requests().len(), 2);
        }
        Ok(_) => assert_eq!(sim.requests().len(), 3),
        Err(other) => panic!("{other:?}"),
    }
    // Another key has its own window.
    client
        .get(&account("SG.second.key", Region::Global, None))
        .await
        .unwrap();
}
