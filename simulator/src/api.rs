//! The SendGrid endpoints over HTTP, each on the global host (`/v3/...`) and the EU host
//! (`/eu/v3/...`), plus SendGrid-style 404s for other paths.

use super::endpoints::{EU_PREFIX, Endpoint};
use super::engine::{ApiRequest, Outcome, Reply, presented_fingerprint};
use super::shared::{ConnectionControl, Shared};
use super::wire::{ApiError, ReplyBody};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use std::sync::Arc;
use std::time::SystemTime;

/// The API routes. Every method reaches the handler, so a 405 also carries rate-limit headers.
pub fn router() -> Router<Arc<Shared>> {
    Endpoint::ALL
        .into_iter()
        .fold(Router::new(), |router, endpoint| {
            let path = endpoint.path();
            router
                .route(path, any(api))
                .route(&format!("{EU_PREFIX}{path}"), any(api))
        })
}

async fn api(
    State(shared): State<Arc<Shared>>,
    Extension(connection): Extension<ConnectionControl>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path();
    let Some((endpoint, region)) = Endpoint::at(path) else {
        return not_found(method, uri).await;
    };
    let request = ApiRequest {
        method: &method,
        endpoint,
        region,
        path,
        authorization: text(&headers, AUTHORIZATION.as_str()),
        // HeaderMap lookups are case-insensitive: On-Behalf-Of works too.
        on_behalf_of: text(&headers, "on-behalf-of"),
        body: &body,
    };
    let (outcome, latency) = {
        let mut state = shared.lock();
        let latency = state.latency(method == Method::PATCH);
        (state.process(&request, SystemTime::now()), latency)
    };
    let key = presented_fingerprint(request.authorization);
    let status = match &outcome {
        Outcome::Respond(reply) => reply.status.as_u16(),
        Outcome::Drop => 0,
    };
    tracing::debug!(%method, path, status, key, "simulated SendGrid request");
    // The latency delays the answer, not the decision: a slow PATCH has already landed (and is
    // in the request log) when the client times out, as with a slow network.
    if let Some(delay) = latency {
        tokio::time::sleep(delay).await;
    }
    match outcome {
        Outcome::Respond(reply) => into_response(reply),
        Outcome::Drop => connection.drop_connection().await,
    }
}

/// Any other path: SendGrid's 404 body (not logged as an API request).
pub async fn not_found(method: Method, uri: Uri) -> Response {
    // A mistyped admin path may hold a key (`/_sim/key/SG...`): leave it out of the log.
    let path = if uri.path().starts_with("/_sim/") {
        "/_sim/..."
    } else {
        uri.path()
    };
    tracing::debug!(%method, path, status = 404, "simulator: unknown path");
    json_response(
        StatusCode::NOT_FOUND,
        ReplyBody::Errors(vec![ApiError::general("resource not found")]).to_json(),
    )
}

fn text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

fn into_response(reply: Reply) -> Response {
    let mut response = json_response(reply.status, reply.body.to_json());
    let headers = response.headers_mut();
    for (name, value) in [
        ("x-ratelimit-limit", u64::from(reply.rate.limit)),
        ("x-ratelimit-remaining", u64::from(reply.rate.remaining)),
        ("x-ratelimit-reset", reply.rate.reset),
    ] {
        headers.insert(name, HeaderValue::from(value));
    }
    response
}

pub fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    (
        status,
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        body,
    )
        .into_response()
}
