//! A scripted SendGrid for the one answer the simulator cannot give to a valid spec: 400 for a
//! value the operator sends. The CRD only admits versions 1.1/1.2/1.3 and the simulator accepts
//! all three, so this stand-in plays an account whose plan refuses TLS 1.3.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

/// One request the stub answered.
#[derive(Clone, Debug)]
pub struct StubRequest {
    pub method: String,
    pub body: Option<Value>,
    pub status: u16,
}

#[derive(Default)]
struct Inner {
    settings: Value,
    log: Vec<StubRequest>,
}

#[derive(Clone)]
pub struct Stub {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

pub const REFUSAL: &str = "TLS 1.3 is not available on this account's plan";

impl Stub {
    pub async fn start() -> Stub {
        let inner = Arc::new(Mutex::new(Inner {
            settings: json!({"require_tls": false, "require_valid_cert": false, "version": 1.1}),
            log: Vec::new(),
        }));
        let app = Router::new()
            .route("/v3/user/settings/enforced_tls", get(settings).patch(patch))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Stub { url, inner }
    }

    pub fn requests(&self) -> Vec<StubRequest> {
        self.inner.lock().unwrap().log.clone()
    }

    pub fn settings(&self) -> Value {
        self.inner.lock().unwrap().settings.clone()
    }
}

fn answer(
    inner: &mut Inner,
    method: &str,
    body: Option<Value>,
    status: StatusCode,
    reply: Value,
) -> (StatusCode, axum::Json<Value>) {
    inner.log.push(StubRequest {
        method: method.into(),
        body,
        status: status.as_u16(),
    });
    (status, axum::Json(reply))
}

async fn settings(State(inner): State<Arc<Mutex<Inner>>>) -> (StatusCode, axum::Json<Value>) {
    let mut inner = inner.lock().unwrap();
    let reply = inner.settings.clone();
    answer(&mut inner, "GET", None, StatusCode::OK, reply)
}

async fn patch(
    State(inner): State<Arc<Mutex<Inner>>>,
    body: Bytes,
) -> (StatusCode, axum::Json<Value>) {
    let mut inner = inner.lock().unwrap();
    let Ok(Value::Object(changes)) = serde_json::from_slice::<Value>(&body) else {
        let reply = json!({"errors": [{"field": null, "message": "invalid JSON"}]});
        return answer(&mut inner, "PATCH", None, StatusCode::BAD_REQUEST, reply);
    };
    let body = Some(Value::Object(changes.clone()));
    if changes.get("version") == Some(&json!(1.3)) {
        let reply = json!({"errors": [{"field": "version", "message": REFUSAL}]});
        return answer(&mut inner, "PATCH", body, StatusCode::BAD_REQUEST, reply);
    }
    for (field, value) in changes {
        inner.settings[field] = value;
    }
    let reply = inner.settings.clone();
    answer(&mut inner, "PATCH", body, StatusCode::OK, reply)
}
