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
//! - `GET /_sim/user?account=main[&on_behalf_of=...]`: the username, user id and region of the
//!   parent, subuser (`marketing-sub`) or customer account (`account-id 1234567`): `SimUser`,
//!   `{"username":"marketing-sub","user_id":1002,"region":"global"}`.
//! - `POST /_sim/faults` (see `FaultRequest` for the JSON: latency, 5xx, dropped connections,
//!   429 bursts, a refused version), `DELETE /_sim/faults`.
//! - `POST /_sim/keys` (`{"key":..,"account":..,"scopes":[..]}`, see `SimKey`: a second key of
//!   an account is a rotation, a key of another account reaches other user ids),
//!   `DELETE /_sim/keys/{key}`.
//!
//! A query parameter an endpoint does not take is a 400 naming it, not silently ignored: a typo
//! (`on-behalf-of=` for `on_behalf_of=`) would otherwise read or change the parent account.

use super::accounts::SimAccount;
use super::api::json_response;
use super::faults::FaultRequest;
use super::settings::TlsSettings;
use super::shared::Shared;
use super::state::{SimKey, fingerprint};
use super::wire::{ApiError, ReplyBody};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, MatchedPath, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_sim/requests", get(requests).delete(clear_requests))
        .route("/_sim/counts", get(counts))
        .route("/_sim/accounts", post(add_accounts))
        .route("/_sim/settings", get(settings).put(set_settings))
        .route("/_sim/user", get(user))
        .route("/_sim/faults", post(inject).delete(clear_faults))
        .route("/_sim/keys", post(add_key))
        .route("/_sim/keys/{key}", delete(remove_key))
        .route_layer(middleware::from_fn(known_parameters))
        .route_layer(middleware::from_fn(log))
}

/// The query parameters an admin route takes.
fn parameters(route: &str) -> &'static [&'static str] {
    match route {
        "/_sim/settings" | "/_sim/user" => Whose::PARAMETERS,
        _ => &[],
    }
}

/// Refuses a query parameter the route does not take, naming it and the ones it does take.
async fn known_parameters(route: MatchedPath, request: Request, next: Next) -> Response {
    let known = parameters(route.as_str());
    let query = request.uri().query().unwrap_or_default();
    let unknown = url::form_urlencoded::parse(query.as_bytes())
        .map(|(name, _)| name)
        .find(|name| !known.contains(&name.as_ref()));
    let Some(name) = unknown else {
        return next.run(request).await;
    };
    // A key pasted into the wrong place is not sent back.
    let name = match fingerprint(&name) {
        Some(_) => "(not shown: it has the shape of an API key)".to_owned(),
        None => format!("{name:?}"),
    };
    let takes = match known {
        [] => "takes no query parameters".to_owned(),
        known => format!("takes only {}", known.join(", ")),
    };
    error(
        StatusCode::BAD_REQUEST,
        format!("unknown query parameter {name}: {} {takes}", route.as_str()),
    )
}

/// Logs admin calls by route template: `/_sim/keys/{key}` must not put a key in the log.
async fn log(route: MatchedPath, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    tracing::debug!(%method, route = route.as_str(), status, "simulator admin request");
    response
}

/// Which account: `?account=main[&on_behalf_of=marketing-sub]`.
#[derive(Deserialize)]
struct Whose {
    account: String,
    on_behalf_of: Option<String>,
}

impl Whose {
    const PARAMETERS: &'static [&'static str] = &["account", "on_behalf_of"];
}

/// As an extractor: the parameters, or a 400 (SendGrid's error shape) saying which one is
/// missing or wrong.
impl<S: Send + Sync> FromRequestParts<S> for Whose {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Whose, Response> {
        Query::<Whose>::from_request_parts(parts, state)
            .await
            .map(|Query(whose)| whose)
            .map_err(|rejection| error(StatusCode::BAD_REQUEST, rejection.body_text()))
    }
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

async fn settings(State(shared): State<Arc<Shared>>, whose: Whose) -> Response {
    let settings = shared
        .lock()
        .settings(&whose.account, whose.on_behalf_of.as_deref());
    found(settings)
}

async fn user(State(shared): State<Arc<Shared>>, whose: Whose) -> Response {
    let user = shared
        .lock()
        .user(&whose.account, whose.on_behalf_of.as_deref());
    found(user)
}

async fn set_settings(State(shared): State<Arc<Shared>>, whose: Whose, body: Bytes) -> Response {
    let changes = match parse::<TlsSettings>(&body) {
        Ok(changes) => changes,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    let changed = shared
        .lock()
        .set_from_ui(&whose.account, whose.on_behalf_of.as_deref(), changes);
    found(changed)
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

/// What was found about an account as JSON, or 404 when there is no such account.
fn found<T: Serialize>(value: Option<T>) -> Response {
    match value {
        Some(value) => json(StatusCode::OK, serde_json::to_vec(&value)),
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
