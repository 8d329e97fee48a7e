//! The one HTTP port: `/metrics`, `/healthz` (alive) and `/readyz` (watch synced, and allowed to
//! work: leading, or a ready standby).

use super::metrics::Metrics;
use axum::{Router, extract::State, http::StatusCode, response::IntoResponse, routing::get};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::net::TcpListener;

/// Flags the probes read; set by the controller as it starts, syncs and stops.
#[derive(Clone, Default)]
pub struct Health {
    ready: Arc<AtomicBool>,
    stopping: Arc<AtomicBool>,
    role: Arc<std::sync::Mutex<&'static str>>,
}

impl Health {
    pub(crate) fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }

    pub(crate) fn set_stopping(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.ready.store(false, Ordering::SeqCst);
    }

    /// "leader" or "standby", shown by /readyz.
    pub fn set_role(&self, role: &'static str) {
        *self.role.lock().unwrap_or_else(|e| e.into_inner()) = role;
    }

    fn role(&self) -> &'static str {
        *self.role.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }
}

#[derive(Clone)]
struct Shared {
    metrics: Metrics,
    health: Health,
}

fn router(metrics: Metrics, health: Health) -> Router {
    Router::new()
        .route("/metrics", get(metrics_text))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(Shared { metrics, health })
}

/// Binds the port now (so a bad address fails at start-up) and returns the serving future.
pub async fn bind(
    addr: SocketAddr,
    metrics: Metrics,
    health: Health,
) -> std::io::Result<(SocketAddr, impl Future<Output = std::io::Result<()>>)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let app = router(metrics, health);
    Ok((local, async move { axum::serve(listener, app).await }))
}

async fn metrics_text(State(s): State<Shared>) -> impl IntoResponse {
    (
        [(
            "content-type",
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.metrics.encode(),
    )
}

async fn healthz(State(s): State<Shared>) -> impl IntoResponse {
    if s.health.stopping.load(Ordering::SeqCst) {
        (StatusCode::SERVICE_UNAVAILABLE, "stopping\n")
    } else {
        (StatusCode::OK, "ok\n")
    }
}

async fn readyz(State(s): State<Shared>) -> impl IntoResponse {
    let role = s.health.role();
    if s.health.is_ready() {
        (StatusCode::OK, format!("ready ({role})\n"))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready ({role})\n"),
        )
    }
}
