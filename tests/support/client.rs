//! The operator's SendGrid client as the loopback tests drive it: accounts to call, an observer
//! of what it reports to telemetry, and checks on its errors.

use super::{KEY, assert_no_key};
use sendgrid_tls_operator::api::{OnBehalfOfRef, Region, TlsSettings};
use sendgrid_tls_operator::sendgrid::{
    Account, ApiKey, ClientConfig, Endpoints, OnBehalfOf, RequestObserver, SendGridClient,
    SendGridError,
};
use sendgrid_tls_operator::simulator::SimulatorHandle;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The simulator's global and EU base URLs.
pub fn endpoints(sim: &SimulatorHandle) -> Endpoints {
    Endpoints {
        global: sim.global_url(),
        eu: sim.eu_url(),
    }
}

/// The operator's SendGrid client against `endpoints`, with this request timeout.
pub fn client_for(endpoints: Endpoints, request_timeout: Duration) -> SendGridClient {
    SendGridClient::new(ClientConfig {
        connect_timeout: Duration::from_secs(2),
        request_timeout,
        endpoints,
        ..ClientConfig::default()
    })
    .unwrap()
}

pub fn account(key: &str, region: Region, on_behalf_of: Option<OnBehalfOf>) -> Account {
    Account {
        key: ApiKey::new(key).unwrap(),
        region,
        on_behalf_of,
    }
}

/// [`KEY`] on the parent account, global region.
pub fn global() -> Account {
    account(KEY, Region::Global, None)
}

pub fn subuser(name: &str) -> Option<OnBehalfOf> {
    Some(
        OnBehalfOf::from_ref(&OnBehalfOfRef {
            subuser: Some(name.into()),
            account_id: None,
        })
        .unwrap(),
    )
}

/// The error, after checking that it never shows a key.
pub fn no_key(error: SendGridError) -> SendGridError {
    assert_no_key(&format!("{error} {error:?}"));
    error
}

/// The message of `error`, after checking that it is `Unavailable` with this HTTP status (None:
/// no answer at all).
#[track_caller]
pub fn unavailable(error: &SendGridError, status: Option<u16>) -> &str {
    match error {
        SendGridError::Unavailable {
            status: got,
            message,
        } if *got == status => message,
        other => panic!("expected Unavailable {status:?}, got {other:?}"),
    }
}

/// Calls GET for `who` until the client lets it through (it must within 10s), checking that no
/// call it refused locally was sent (`sent` counts what the server received); returns the
/// answer and how many calls were refused.
pub async fn get_once_allowed(
    client: &SendGridClient,
    who: &Account,
    sent: impl Fn() -> usize,
) -> (TlsSettings, usize) {
    let before = sent();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut refused = 0;
    loop {
        match client.get(who).await {
            Ok(got) => return (got, refused),
            Err(SendGridError::RateLimited { .. }) => {
                refused += 1;
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "still blocked long after Reset"
                );
                assert_eq!(sent(), before, "a blocked call reached the server");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(other) => panic!("{other:?}"),
        }
    }
}

/// Records what the client reports to telemetry: (method, class) of each exchange.
#[derive(Default)]
pub struct Observed(Mutex<Vec<(&'static str, &'static str)>>);

impl RequestObserver for Observed {
    fn observe(&self, method: &'static str, class: &'static str, _elapsed: Duration) {
        self.0.lock().unwrap().push((method, class));
    }
}

impl Observed {
    pub fn take(&self) -> Vec<(&'static str, &'static str)> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

pub fn observed(client: SendGridClient) -> (SendGridClient, Arc<Observed>) {
    let observer = Arc::new(Observed::default());
    (client.with_observer(observer.clone()), observer)
}
