//! Requests to the Kubernetes API, by verb and status class: a tower layer on the kube client
//! (`kube::client::ClientBuilder::with_layer`). A watch counts once, its time being the time to
//! its response headers (the events then stream in the body).

use http::{Method, Request, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tower_layer::Layer;
use tower_service::Service;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    verb: &'static str,
    class: &'static str,
}

/// The request metrics; also the layer that records them.
#[derive(Clone)]
pub struct KubeRequests {
    requests: Family<RequestLabels, Counter>,
    duration: Histogram,
}

impl KubeRequests {
    pub fn register(registry: &mut Registry) -> KubeRequests {
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "kube_requests",
            "Requests to the Kubernetes API by verb and status class (error: no answer)",
            requests.clone(),
        );
        let duration = Histogram::new(exponential_buckets(0.005, 2.0, 12));
        registry.register(
            "kube_request_duration_seconds",
            "Time the Kubernetes API took to answer (a watch: to start streaming)",
            duration.clone(),
        );
        KubeRequests { requests, duration }
    }

    pub(super) fn observe(&self, verb: &'static str, class: &'static str, took: Duration) {
        self.requests
            .get_or_create(&RequestLabels { verb, class })
            .inc();
        self.duration.observe(took.as_secs_f64());
    }
}

impl<S> Layer<S> for KubeRequests {
    type Service = Observed<S>;

    fn layer(&self, inner: S) -> Observed<S> {
        Observed {
            inner,
            metrics: self.clone(),
        }
    }
}

/// The kube client's service stack with every request counted.
#[derive(Clone)]
pub struct Observed<S> {
    inner: S,
    metrics: KubeRequests,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, R> Service<Request<B>> for Observed<S>
where
    S: Service<Request<B>, Response = Response<R>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let verb = verb(request.method(), request.uri());
        let metrics = self.metrics.clone();
        let started = Instant::now();
        let answer = self.inner.call(request);
        Box::pin(async move {
            let answer = answer.await;
            let class = match &answer {
                Ok(response) => class(response.status().as_u16()),
                Err(_) => "error",
            };
            metrics.observe(verb, class, started.elapsed());
            answer
        })
    }
}

/// The Kubernetes verb of a request (get, list, watch, create, update, patch, delete,
/// deletecollection), read from its method and path as the API server's RBAC does.
fn verb(method: &Method, uri: &http::Uri) -> &'static str {
    let watch = uri
        .query()
        .is_some_and(|q| q.split('&').any(|p| p == "watch=true" || p == "watch=1"));
    let collection = is_collection(uri.path());
    match *method {
        Method::GET if watch => "watch",
        Method::GET if collection => "list",
        Method::GET => "get",
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE if collection => "deletecollection",
        Method::DELETE => "delete",
        _ => "other",
    }
}

/// Whether `path` names a collection (`/api/v1/namespaces/ns/events`) rather than one object
/// (`/api/v1/namespaces/ns/events/e`).
fn is_collection(path: &str) -> bool {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let rest = match parts.as_slice() {
        ["api", _version, rest @ ..] => rest,
        ["apis", _group, _version, rest @ ..] => rest,
        _ => return false,
    };
    let rest = match rest {
        ["namespaces", _namespace, inner @ ..] if !inner.is_empty() => inner,
        other => other,
    };
    rest.len() == 1
}

/// 409 (a compare-and-swap that lost) and 429 (throttled) apart: both call for a look.
fn class(status: u16) -> &'static str {
    match status {
        200..=299 => "2xx",
        409 => "409",
        429 => "429",
        400..=499 => "4xx",
        500..=599 => "5xx",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::encoding::text::encode;
    use tower_service::Service;

    #[test]
    fn verbs_follow_method_and_path() {
        let v = |method: Method, uri: &str| verb(&method, &uri.parse().unwrap());
        let objs = "/apis/sendgrid.ops.dev/v1alpha1/namespaces/ns/sendgridenforcedtlses";
        assert_eq!(v(Method::GET, objs), "list");
        assert_eq!(v(Method::GET, &format!("{objs}?watch=true&rv=1")), "watch");
        assert_eq!(v(Method::GET, &format!("{objs}/a")), "get");
        assert_eq!(v(Method::PATCH, &format!("{objs}/a/status")), "patch");
        assert_eq!(
            v(
                Method::GET,
                "/apis/sendgrid.ops.dev/v1alpha1/sendgridenforcedtlses"
            ),
            "list"
        );
        assert_eq!(v(Method::GET, "/api/v1/namespaces"), "list");
        assert_eq!(v(Method::GET, "/api/v1/namespaces/ns"), "get");
        assert_eq!(v(Method::GET, "/api/v1/namespaces/ns/secrets/s"), "get");
        assert_eq!(
            v(Method::POST, "/apis/events.k8s.io/v1/namespaces/ns/events"),
            "create"
        );
        assert_eq!(
            v(Method::DELETE, "/api/v1/namespaces/ns/secrets"),
            "deletecollection"
        );
        assert_eq!(
            v(Method::DELETE, "/api/v1/namespaces/ns/secrets/s"),
            "delete"
        );
        assert_eq!(
            v(
                Method::PUT,
                "/apis/coordination.k8s.io/v1/namespaces/ns/leases/l"
            ),
            "update"
        );
        assert_eq!(v(Method::GET, "/version"), "get");
    }

    #[test]
    fn classes_keep_conflicts_and_throttling_apart() {
        assert_eq!(class(201), "2xx");
        assert_eq!(class(409), "409");
        assert_eq!(class(429), "429");
        assert_eq!(class(404), "4xx");
        assert_eq!(class(503), "5xx");
        assert_eq!(class(304), "other");
    }

    #[tokio::test]
    async fn the_layer_counts_each_request_by_verb_and_class() {
        let mut registry = Registry::default();
        let metrics = KubeRequests::register(&mut registry);
        let (mock, mut handle) = tower_test::mock::pair::<Request<()>, Response<()>>();
        let mut service = metrics.layer(mock);
        let server = tokio::spawn(async move {
            let (_, reply) = handle.next_request().await.unwrap();
            reply.send_response(Response::builder().status(409).body(()).unwrap());
            let (_, reply) = handle.next_request().await.unwrap();
            reply.send_error(std::io::Error::other("reset"));
        });
        let patch = Request::patch("/api/v1/namespaces/ns/secrets/s")
            .body(())
            .unwrap();
        std::future::poll_fn(|cx| service.poll_ready(cx))
            .await
            .unwrap();
        assert_eq!(service.call(patch).await.unwrap().status(), 409);
        let list = Request::get("/api/v1/secrets").body(()).unwrap();
        std::future::poll_fn(|cx| service.poll_ready(cx))
            .await
            .unwrap();
        assert!(service.call(list).await.is_err());
        server.await.unwrap();
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        assert!(
            text.contains(r#"kube_requests_total{verb="patch",class="409"} 1"#),
            "{text}"
        );
        assert!(text.contains(r#"kube_requests_total{verb="list",class="error"} 1"#));
        assert!(text.contains("kube_request_duration_seconds_count 2"));
    }
}
