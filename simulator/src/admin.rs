//! `/_sim/...`: the simulator's own control endpoints, for a person with curl and for tests that
//! run it out of process. JSON in and out; errors use SendGrid's `{"errors":[...]}` shape.
//!
//! - `GET /_sim/requests`, `DELETE /_sim/requests`: the request log (the latest 10,000) and,
//!   on DELETE, the counts too.
//! - `GET /_sim/counts`: exact request counts by method, region, on-behalf-of, key fingerprint
//!   and status (`RequestCount`).
//! - `POST /_sim/accounts`: adds a fleet to a parent account, by name patterns:
//!   `{"account":"main","subusers":["team-{0..9999}"],"eu_subusers":[..],"customer_accounts":[..]}`
//!   (every list optional).
//! - `GET /_sim/settings?account=main[&on_behalf_of=...]`: stored settings (camelCase
//!   `TlsSettings`); `PUT` the same with a `TlsSettings` body changes them "from the UI".
//! - `POST /_sim/faults` (see `FaultRequest` for the JSON: latency, 5xx, dropped connections,
//!   429 bursts, a refused version), `DELETE /_sim/faults`.
//! - `POST /_sim/keys` (`{"key":..,"account":..,"scopes":[..]}`), `DELETE /_sim/keys/{key}`.

use super::accounts::SimAccount;
use super::api::json_response;
use super::faults::FaultRequest;
use super::settings::TlsSettings;
use super::shared::Shared;
use super::state::SimKey;
use super::wire::{ApiError, ReplyBody};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{MatchedPath, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;

pub fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_sim/requests", get(requests).delete(clear_requests))
        .route("/_sim/counts", get(counts))
        .route("/_sim/accounts", post(add_accounts))
        .route("/_sim/settings", get(settings).put(set_settings))
        .route("/_sim/faults", post(inject).delete(clear_faults))
        .route("/_sim/keys", post(add_key))
        .route("/_sim/keys/{key}", delete(remove_key))
        .route_layer(middleware::from_fn(log))
}

/// Logs admin calls by route template: `/_sim/keys/{key}` must not put a key in the log.
async fn log(route: MatchedPath, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    tracing::debug!(%method, route = route.as_str(), status, "simulator admin request");
    response
}

#[derive(Deserialize)]
struct Whose {
    account: String,
    on_behalf_of: Option<String>,
}

async fn requests(State(shared): State<Arc<Shared>>) -> Response {
    let log = shared.lock().requests();
    json(StatusCode::OK, serde_json::to_vec(&log))
}

async fn counts(State(shared): State<Arc<Shared>>) -> Response {
    let counts = shared.lock().counts();
    json(StatusCode::OK, serde_json::to_vec(&counts))
}

/// The body of `POST /_sim/accounts`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FleetRequest {
    account: String,
    #[serde(default)]
    subusers: Vec<String>,
    #[serde(default)]
    eu_subusers: Vec<String>,
    #[serde(default)]
    customer_accounts: Vec<String>,
}

async fn add_accounts(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let fleet = parse::<FleetRequest>(&body).and_then(|f| {
        SimAccount::fleet(
            &f.account,
            &f.subusers,
            &f.eu_subusers,
            &f.customer_accounts,
        )
    });
    match fleet {
        Ok(account) => {
            shared.lock().add_account(&account);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(message) => error(StatusCode::BAD_REQUEST, message),
    }
}

async fn clear_requests(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.lock().clear_requests();
    StatusCode::NO_CONTENT
}

async fn settings(State(shared): State<Arc<Shared>>, Query(whose): Query<Whose>) -> Response {
    let found = shared
        .lock()
        .settings(&whose.account, whose.on_behalf_of.as_deref());
    settings_response(found)
}

async fn set_settings(
    State(shared): State<Arc<Shared>>,
    Query(whose): Query<Whose>,
    body: Bytes,
) -> Response {
    let changes = match parse::<TlsSettings>(&body) {
        Ok(changes) => changes,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    let changed = shared
        .lock()
        .set_from_ui(&whose.account, whose.on_behalf_of.as_deref(), changes);
    settings_response(changed)
}

async fn inject(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let fault = match parse::<FaultRequest>(&body).and_then(FaultRequest::into_fault) {
        Ok(fault) => fault,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    shared.lock().inject(fault);
    StatusCode::NO_CONTENT.into_response()
}

async fn clear_faults(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.lock().clear_faults();
    StatusCode::NO_CONTENT
}

async fn add_key(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    // No serde detail here: it could quote a (misplaced) key back.
    match serde_json::from_slice::<SimKey>(&body) {
        Ok(key) => {
            shared.lock().add_key(key);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(_) => error(
            StatusCode::BAD_REQUEST,
            r#"invalid body: expected {"key":"...","account":"...","scopes":["read","update"]}"#,
        ),
    }
}

async fn remove_key(State(shared): State<Arc<Shared>>, Path(key): Path<String>) -> Response {
    if shared.lock().remove_key(&key) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        error(StatusCode::NOT_FOUND, "no such key")
    }
}

fn settings_response(settings: Option<TlsSettings>) -> Response {
    match settings {
        Some(settings) => json(StatusCode::OK, serde_json::to_vec(&settings)),
        None => error(StatusCode::NOT_FOUND, "resource not found"),
    }
}

/// Parses a JSON body; the error says what was wrong.
fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| format!("invalid body: {e}"))
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    json_response(
        status,
        ReplyBody::Errors(vec![ApiError::general(message)]).to_json(),
    )
}

fn json(status: StatusCode, body: serde_json::Result<Vec<u8>>) -> Response {
    match body {
        Ok(body) => json_response(status, body),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}
