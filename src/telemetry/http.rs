//! The one HTTP port: `/metrics`, `/healthz` (alive) and `/readyz` (watch synced, and allowed to
//! work: leading, or a ready standby).

use super::exposition::{self, Format};
use super::metrics::Metrics;
use axum::http::HeaderMap;
use axum::http::header::{ACCEPT, CONTENT_TYPE, VARY};
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

/// The metrics in the format the scraper's Accept header asks for.
async fn metrics_text(State(s): State<Shared>, headers: HeaderMap) -> impl IntoResponse {
    let accept = headers.get(ACCEPT).and_then(|v| v.to_str().ok());
    let format = Format::negotiate(accept);
    let openmetrics = s.metrics.encode();
    let body = match format {
        Format::OpenMetrics => openmetrics,
        Format::PrometheusText => exposition::prometheus_text(&openmetrics),
    };
    (
        [(CONTENT_TYPE, format.content_type()), (VARY, "Accept")],
        body,
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// GET /metrics over loopback with `accept` (if any); the response head and body.
    async fn scrape(addr: SocketAddr, accept: Option<&str>) -> (String, String) {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let accept = accept
            .map(|a| format!("Accept: {a}\r\n"))
            .unwrap_or_default();
        let request = format!(
            "GET /metrics HTTP/1.1\r\nHost: localhost\r\n{accept}Connection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        let (head, body) = response.split_once("\r\n\r\n").unwrap();
        (head.to_ascii_lowercase(), body.to_string())
    }

    #[tokio::test]
    async fn metrics_answer_in_the_format_the_scraper_asks_for() {
        let metrics = Metrics::default();
        metrics.reconciled(None, std::time::Duration::from_millis(3));
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        let (addr, serve) = bind(any, metrics, Health::default()).await.unwrap();
        let server = tokio::spawn(serve);

        let prometheus = "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
        let (head, body) = scrape(addr, Some(prometheus)).await;
        assert!(
            head.contains("content-type: application/openmetrics-text; version=1.0.0"),
            "{head}"
        );
        assert!(body.ends_with("# EOF\n"), "{body}");
        assert!(body.contains("# TYPE sendgrid_tls_operator_reconciles counter\n"));

        for accept in [None, Some("text/plain;version=0.0.4"), Some("*/*")] {
            let (head, body) = scrape(addr, accept).await;
            assert!(
                head.contains("content-type: text/plain; version=0.0.4"),
                "{accept:?}: {head}"
            );
            assert!(!body.contains("# EOF"), "{body}");
            assert!(body.contains("# TYPE sendgrid_tls_operator_reconciles_total counter\n"));
            assert!(body.contains("# TYPE sendgrid_tls_operator_build_info gauge\n"));
            assert!(
                body.contains("sendgrid_tls_operator_reconciles_total{result=\"success\"} 1\n")
            );
        }
        server.abort();
    }
}
