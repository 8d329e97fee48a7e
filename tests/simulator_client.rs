//! The operator's own SendGrid client against the simulator: both sides of the wire agree
//! (encoding, paths with the `/eu` prefix, headers, error mapping).

mod simulator_support;

use sendgrid_tls_operator::api::{Region, TlsSettings, TlsVersion};
use sendgrid_tls_operator::reconcile::Reason;
use sendgrid_tls_operator::sendgrid::{
    Account, ApiKey, ClientConfig, Endpoints, OnBehalfOf, SendGridClient, SendGridError,
};
use sendgrid_tls_operator::simulator::{Fault, Scope, SimKey, SimulatorHandle};
use serde_json::json;
use simulator_support::*;
use std::time::Duration;

fn client_for(sim: &SimulatorHandle) -> SendGridClient {
    SendGridClient::new(ClientConfig {
        endpoints: Endpoints {
            global: sim.global_url(),
            eu: sim.eu_url(),
        },
        ..ClientConfig::default()
    })
    .unwrap()
}

fn account(key: &str, region: Region, on_behalf_of: Option<OnBehalfOf>) -> Account {
    Account {
        key: ApiKey::new(key).unwrap(),
        region,
        on_behalf_of,
    }
}

fn main_account() -> Account {
    account(KEY, Region::Global, None)
}

#[tokio::test]
async fn get_and_partial_patch_round_trip() {
    let sim = start().await;
    let client = client_for(&sim);
    assert_eq!(
        client.get(&main_account()).await.unwrap(),
        TlsSettings::SENDGRID_DEFAULTS
    );
    let changes = TlsSettings {
        require_tls: Some(false),
        require_valid_cert: None,
        minimum_tls_version: Some(TlsVersion::V1_3),
    };
    let after = client.patch(&main_account(), &changes).await.unwrap();
    assert_eq!(
        after,
        TlsSettings {
            minimum_tls_version: Some(TlsVersion::V1_3),
            ..TlsSettings::SENDGRID_DEFAULTS
        }
    );
    let log = sim.requests();
    assert_eq!(
        log[1].body,
        Some(json!({"require_tls": false, "version": 1.3}))
    );
    assert_eq!(
        log[1].key_fingerprint,
        Some(main_account().key.fingerprint())
    );
}

#[tokio::test]
async fn on_behalf_of_and_regions() {
    let sim = start().await;
    let client = client_for(&sim);
    let eu_sub = || Some(OnBehalfOf::Subuser("eu-sub".into()));
    let changes = TlsSettings {
        require_valid_cert: Some(true),
        ..TlsSettings::default()
    };
    let after = client
        .patch(&account(KEY, Region::Eu, eu_sub()), &changes)
        .await
        .unwrap();
    assert_eq!(after.require_valid_cert, Some(true));
    assert_eq!(
        sim.settings("main", Some("eu-sub")).require_valid_cert,
        Some(true)
    );
    let customer = account(
        KEY,
        Region::Global,
        Some(OnBehalfOf::AccountId("1234567".into())),
    );
    assert!(client.get(&customer).await.is_ok());

    let wrong_region = client
        .get(&account(KEY, Region::Global, eu_sub()))
        .await
        .unwrap_err();
    assert_eq!(
        wrong_region.reason(),
        Reason::DataResidency,
        "{wrong_region}"
    );
    let unknown = client
        .get(&account(
            KEY,
            Region::Global,
            Some(OnBehalfOf::Subuser("nobody".into())),
        ))
        .await
        .unwrap_err();
    assert_eq!(unknown.reason(), Reason::NotFound, "{unknown}");
}

#[tokio::test]
async fn auth_errors_map_to_their_classes() {
    let sim = start().await;
    sim.add_key(SimKey {
        key: "SG.read-only.key".into(),
        account: "main".into(),
        scopes: vec![Scope::Read],
    });
    let client = client_for(&sim);
    let read_only = account("SG.read-only.key", Region::Global, None);
    let changes = TlsSettings {
        require_tls: Some(true),
        ..TlsSettings::default()
    };
    let forbidden = client.patch(&read_only, &changes).await.unwrap_err();
    assert_eq!(forbidden.reason(), Reason::Forbidden);
    assert!(
        forbidden.to_string().contains("access forbidden"),
        "{forbidden}"
    );
    let unknown = account("SG.not-a-key.key", Region::Global, None);
    let unauthorized = client.get(&unknown).await.unwrap_err();
    assert_eq!(unauthorized.reason(), Reason::Unauthorized);
    assert!(!unauthorized.to_string().contains("SG.not-a-key.key"));
}

#[tokio::test]
async fn faults_map_to_unavailable_and_rate_limited() {
    let sim = start().await;
    let client = client_for(&sim);
    sim.inject(Fault::DropConnections { count: 1 });
    match client.get(&main_account()).await.unwrap_err() {
        SendGridError::Unavailable { status, .. } => assert_eq!(status, None),
        other => panic!("{other:?}"),
    }
    sim.inject(Fault::ServerErrors {
        count: 1,
        status: 500,
    });
    match client.get(&main_account()).await.unwrap_err() {
        SendGridError::Unavailable { status, .. } => assert_eq!(status, Some(500)),
        other => panic!("{other:?}"),
    }
    sim.inject(Fault::RateLimitBurst {
        count: 1,
        reset_after: Duration::from_secs(2),
    });
    match client.get(&main_account()).await.unwrap_err() {
        SendGridError::RateLimited { reset, .. } => assert!(reset.is_some()),
        other => panic!("{other:?}"),
    }
}
