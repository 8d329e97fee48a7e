//! The simulator's HTTP API called directly with reqwest, as the simulator tests (and a person
//! with curl) call it.

use super::{KEY, PATH, simulator};
use reqwest::{Client, Method, Response};
use sendgrid_tls_operator::simulator::{SimConfig, SimulatorHandle};
use serde_json::Value;
use std::time::Duration;
use url::Url;

/// A simulator with [`SimConfig::with_keys`] for [`KEY`].
pub async fn start() -> SimulatorHandle {
    simulator(SimConfig::with_keys(&[KEY])).await
}

pub fn client() -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// The Enforced TLS endpoint under a base URL (`global_url()` or `eu_url()`).
pub fn endpoint(base: &Url) -> String {
    format!("{}{PATH}", base.as_str().trim_end_matches('/'))
}

/// One call to the endpoint on `base`, with `key` as Bearer (if any), an optional
/// `on-behalf-of` and an optional raw body.
pub struct Call<'a> {
    pub method: Method,
    pub base: Url,
    pub key: Option<&'a str>,
    pub on_behalf_of: Option<&'a str>,
    pub body: Option<&'a str>,
}

impl<'a> Call<'a> {
    pub fn get(sim: &SimulatorHandle) -> Call<'a> {
        Call {
            method: Method::GET,
            base: sim.global_url(),
            key: Some(KEY),
            on_behalf_of: None,
            body: None,
        }
    }

    pub fn patch(sim: &SimulatorHandle, body: &'a str) -> Call<'a> {
        Call {
            method: Method::PATCH,
            body: Some(body),
            ..Call::get(sim)
        }
    }

    pub fn key(self, key: Option<&'a str>) -> Call<'a> {
        Call { key, ..self }
    }

    pub fn on_behalf_of(self, on_behalf_of: &'a str) -> Call<'a> {
        Call {
            on_behalf_of: Some(on_behalf_of),
            ..self
        }
    }

    pub fn eu(self, sim: &SimulatorHandle) -> Call<'a> {
        Call {
            base: sim.eu_url(),
            ..self
        }
    }

    pub async fn send(self) -> Response {
        self.try_send().await.unwrap()
    }

    pub async fn try_send(self) -> reqwest::Result<Response> {
        let mut request = client().request(self.method, endpoint(&self.base));
        if let Some(key) = self.key {
            request = request.bearer_auth(key);
        }
        if let Some(on_behalf_of) = self.on_behalf_of {
            request = request.header("on-behalf-of", on_behalf_of);
        }
        if let Some(body) = self.body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_owned());
        }
        request.send().await
    }

    /// Status and JSON body.
    pub async fn json(self) -> (u16, Value) {
        let response = self.send().await;
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }
}

/// `{"errors":[{"field":null,"message":<message>}]}`
pub fn error_body(message: &str) -> Value {
    serde_json::json!({"errors": [{"field": null, "message": message}]})
}

/// A rate-limit header as a number.
pub fn header_number(response: &Response, name: &str) -> u64 {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}
