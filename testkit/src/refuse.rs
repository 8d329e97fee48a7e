//! Refusals a test injects: the next requests that match answer with an error status instead of
//! being served, as an overloaded or misbehaving API server would (a status write refused, a
//! Lease renewal that fails).

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::{Arc, Mutex};

/// Which requests to refuse, and how often.
#[derive(Clone, Debug)]
pub struct Refusal {
    /// "PATCH", "PUT", ...
    pub method: String,
    /// A part of the path, e.g. "/status" or "/leases/".
    pub path_contains: String,
    /// A part of the request body, when set (e.g. a Lease holder's identity).
    pub body_contains: Option<String>,
    /// The status answered (500, 503, 403, ...).
    pub status: u16,
    /// How many matching requests to refuse; `u32::MAX` for all of them.
    pub count: u32,
}

/// The refusals in force, shared with the server's middleware.
#[derive(Clone, Default)]
pub struct Refusals(Arc<Mutex<Vec<Refusal>>>);

impl Refusals {
    pub fn add(&self, refusal: Refusal) {
        self.lock().push(refusal);
    }

    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Refusal>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes one unit of the first refusal that matches, if any; returns its status.
    fn take(&self, method: &str, path: &str, body: &[u8]) -> Option<u16> {
        let mut refusals = self.lock();
        let at = refusals.iter().position(|r| {
            r.method == method
                && path.contains(&r.path_contains)
                && r.body_contains
                    .as_ref()
                    .is_none_or(|b| body.windows(b.len()).any(|w| w == b.as_bytes()))
        })?;
        let status = refusals[at].status;
        if refusals[at].count != u32::MAX {
            refusals[at].count -= 1;
            if refusals[at].count == 0 {
                refusals.remove(at);
            }
        }
        Some(status)
    }
}

/// The middleware: refuses a matching request with a Kubernetes `Status` body.
pub async fn refuse(State(refusals): State<Refusals>, request: Request, next: Next) -> Response {
    if refusals.lock().is_empty() {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, usize::MAX).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let path = parts.uri.path().to_string();
    match refusals.take(parts.method.as_str(), &path, &bytes) {
        Some(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let body = json!({
                "kind": "Status", "apiVersion": "v1", "status": "Failure",
                "message": format!("refused by the test: {path}"),
                "reason": status.canonical_reason().unwrap_or("Refused"),
                "code": code,
            });
            (status, axum::Json(body)).into_response()
        }
        None => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
    }
}
